package org.mmlab.mm.vma;

import org.mmlab.kernel.Uapi;

/**
 * {@code vm_flags} bits, with the kernel's values ({@code include/linux/mm.h}), and the
 * conversions mmap and mprotect make.
 */
public final class VmFlags {
  private VmFlags() {}

  public static final long READ = 0x1;
  public static final long WRITE = 0x2;
  public static final long EXEC = 0x4;
  public static final long SHARED = 0x8;
  public static final long MAYREAD = 0x10;
  public static final long MAYWRITE = 0x20;
  public static final long MAYEXEC = 0x40;
  public static final long MAYSHARE = 0x80;
  public static final long GROWSDOWN = 0x100;
  public static final long LOCKED = 0x2000;
  public static final long IO = 0x4000;
  public static final long SEQ_READ = 0x8000;
  public static final long RAND_READ = 0x10000;
  public static final long DONTCOPY = 0x20000;
  public static final long DONTEXPAND = 0x40000;
  public static final long ACCOUNT = 0x100000;
  public static final long NORESERVE = 0x200000;
  public static final long WIPEONFORK = 0x2000000;
  public static final long DONTDUMP = 0x4000000;
  public static final long HUGEPAGE = 0x20000000;
  public static final long NOHUGEPAGE = 0x40000000;

  /** The access bits. */
  public static final long ACCESS = READ | WRITE | EXEC;

  /** {@code calc_vm_prot_bits}: PROT_* to VM_READ/WRITE/EXEC. */
  public static long fromProt(int prot) {
    long f = 0;
    if ((prot & Uapi.PROT_READ) != 0) {
      f |= READ;
    }
    if ((prot & Uapi.PROT_WRITE) != 0) {
      f |= WRITE;
    }
    if ((prot & Uapi.PROT_EXEC) != 0) {
      f |= EXEC;
    }
    return f;
  }

  /** {@code "rw-p"} as {@code /proc/pid/maps} prints it. */
  public static String perms(long flags) {
    return String.valueOf((flags & READ) != 0 ? 'r' : '-') + ((flags & WRITE) != 0 ? 'w' : '-')
        + ((flags & EXEC) != 0 ? 'x' : '-') + ((flags & MAYSHARE) != 0 ? 's' : 'p');
  }
}
