package org.mmlab.mm.mmap;

import static org.mmlab.mm.mmap.VmaOps.aligned;
import static org.mmlab.mm.mmap.VmaOps.pageAlign;

import java.util.List;
import org.jspecify.annotations.Nullable;
import org.mmlab.kernel.Errno;
import org.mmlab.kernel.Uapi;
import org.mmlab.mm.memory.Faults;
import org.mmlab.mm.mmap.Layout.Seg;
import org.mmlab.mm.vma.MmStruct;
import org.mmlab.mm.vma.Vma;
import org.mmlab.mm.vma.VmFlags;

/**
 * {@code mmap}: {@code ksys_mmap_pgoff}, {@code do_mmap} and {@code mmap_region}
 * ({@code mm/mmap.c}, {@code mm/vma.c}), then {@code mm_populate} for {@code MAP_POPULATE}. The
 * order of the checks, and so which errno wins when several apply, is the kernel's (Linux 6.12).
 *
 * <h2>What is modelled, and what returns ENODEV</h2>
 * Private anonymous mappings; shared anonymous mappings (a new unlinked shmem file each,
 * {@code shmem_zero_setup}, through {@link SharedAnon}); private and shared mappings of tmpfs
 * files and memfds ({@link MmapFile}: the open mode against the map type, EACCES; the offset
 * range, EOVERFLOW; {@code MAP_SHARED_VALIDATE}'s unknown flags, EOPNOTSUPP; the memfd seals,
 * EPERM). With {@code MAP_FIXED}, {@code MAP_FIXED_NOREPLACE}, a hint, {@code MAP_POPULATE} (with
 * {@code MAP_NONBLOCK} cancelling it), {@code MAP_NORESERVE}, {@code MAP_32BIT} and
 * {@code MAP_STACK} ({@code VM_NOHUGEPAGE}, as since 6.7). These are valid in Linux but need
 * layers that come later, and return <b>ENODEV</b> ("not modelled") once every check Linux makes
 * before them has passed, so that invalid arguments still get Linux's errno:
 * <ul>
 *   <li>{@code MAP_DROPPABLE} (6.11),</li>
 *   <li>{@code MAP_HUGETLB} of anonymous memory (hugetlbfs; checked first, as Linux sets up its
 *       file first; with a tmpfs file it is EINVAL, as in Linux),</li>
 *   <li>{@code MAP_GROWSDOWN} (stack VMAs and their guard gap),</li>
 *   <li>{@code MAP_LOCKED} (mlock; after the {@code RLIMIT_MEMLOCK} check, which gives EAGAIN
 *       for a mapping larger than the limit, nothing being locked yet).</li>
 * </ul>
 * {@code MAP_SHARED_VALIDATE} with {@code MAP_ANONYMOUS} is EINVAL, as in Linux (the anonymous
 * path knows only {@code MAP_SHARED}, {@code MAP_PRIVATE} and {@code MAP_DROPPABLE}).
 * {@code MAP_SYNC}, {@code MAP_DENYWRITE}, {@code MAP_EXECUTABLE}, {@code MAP_UNINITIALIZED} and
 * unknown bits are ignored for anonymous memory and for {@code MAP_SHARED}/{@code MAP_PRIVATE}
 * file mappings; tmpfs is not mounted {@code noexec} here.
 *
 * <p>Stateless.
 */
final class Mmap {
  private Mmap() {}

  /** {@code MAP_DROPPABLE} (include/uapi/linux/mman.h, 6.11). */
  static final int MAP_DROPPABLE = 0x08;

  /** What {@code do_mmap} returns: the address and how much to populate. */
  private record Mapped(long addr, long populate) {}

  /**
   * {@code mmap(addr, len, prot, flags, fd, off)}: see {@link MmSyscalls#mmap}. Takes and drops
   * the mmap lock for write, then populates under it for read.
   */
  static long mmap(MmStruct mm, Faults faults, MmapLimits limits, long addr, long len, int prot, int flags,
      @Nullable MmapFile file, @Nullable SharedAnon sharedAnon, long off) {
    if (!aligned(off)) {
      return Errno.EINVAL.ret(); // sys_mmap on x86-64, before anything else
    }
    boolean anon = (flags & Uapi.MAP_ANONYMOUS) != 0;
    if (!anon && file == null) {
      return Errno.EBADF.ret(); // fget(fd) found no file
    }
    if ((flags & Uapi.MAP_HUGETLB) != 0) {
      // An anonymous MAP_HUGETLB sets up a hugetlbfs file (not modelled); a file that is not on
      // hugetlbfs cannot be mapped with it.
      return anon ? Errno.ENODEV.ret() : Errno.EINVAL.ret();
    }
    Mapped m;
    mm.mmapWriteLock();
    try {
      m = doMmap(mm, faults, limits, addr, len, prot, flags, anon ? null : file, sharedAnon, off);
    } catch (MmError e) {
      return e.errno.ret();
    } finally {
      mm.mmapWriteUnlock();
    }
    if (m.populate() != 0) {
      Populate.mmPopulate(mm, faults, m.addr(), m.populate());
    }
    return m.addr();
  }

  /** {@code do_mmap}; the mmap lock is held for write. */
  private static Mapped doMmap(MmStruct mm, Faults faults, MmapLimits limits, long addr, long len, int prot,
      int flags, @Nullable MmapFile file, @Nullable SharedAnon sharedAnon, long off) {
    MmError.check(len != 0, Errno.EINVAL);
    if ((flags & Uapi.MAP_FIXED_NOREPLACE) != 0) {
      flags |= Uapi.MAP_FIXED;
    }
    if ((flags & Uapi.MAP_FIXED) == 0) {
      addr = roundHintToMin(addr, limits);
    }
    long alen = pageAlign(len);
    MmError.check(alen != 0, Errno.ENOMEM);
    long pgoff = off >>> Uapi.PAGE_SHIFT;
    // The pgoff + pages overflow check (EOVERFLOW): pgoff < 2^52 on 64 bits, it cannot fire.
    MmError.check(mm.mapCount() <= limits.maxMapCount(), Errno.ENOMEM);
    long vmFlags = VmFlags.fromProt(prot) | calcVmFlagBits(flags) | VmFlags.MAYREAD | VmFlags.MAYWRITE
        | VmFlags.MAYEXEC;
    addr = UnmappedArea.get(mm, limits, addr, alen, flags);
    if ((flags & Uapi.MAP_FIXED_NOREPLACE) != 0) {
      MmError.check(mm.tree().findFrom(addr, addr + alen) == null, Errno.EEXIST);
    }
    if ((flags & Uapi.MAP_LOCKED) != 0) {
      // can_do_mlock is true with a non-zero RLIMIT_MEMLOCK; mlock_future_ok with nothing locked yet.
      MmError.check(limits.rlimitMemlock() != 0, Errno.EPERM);
      MmError.check(alen <= limits.rlimitMemlock(), Errno.EAGAIN);
    }
    boolean sharedAnonymous = false;
    if (file != null) {
      vmFlags = fileMmapFlags(file, flags, vmFlags, alen, pgoff);
    } else {
      switch (flags & Uapi.MAP_TYPE) {
        case Uapi.MAP_SHARED -> {
          MmError.check((vmFlags & VmFlags.GROWSDOWN) == 0, Errno.EINVAL);
          pgoff = 0; // shared anonymous memory ignores the offset
          vmFlags |= VmFlags.SHARED | VmFlags.MAYSHARE;
          sharedAnonymous = true;
        }
        case MAP_DROPPABLE -> {
          MmError.check((flags & (Uapi.MAP_LOCKED | Uapi.MAP_HUGETLB)) == 0, Errno.EINVAL);
          MmError.check((vmFlags & VmFlags.GROWSDOWN) == 0, Errno.EINVAL);
          throw new MmError(Errno.ENODEV); // not modelled
        }
        case Uapi.MAP_PRIVATE -> pgoff = addr >>> Uapi.PAGE_SHIFT;
        default -> throw new MmError(Errno.EINVAL);
      }
    }
    MmError.check((flags & (Uapi.MAP_GROWSDOWN | Uapi.MAP_LOCKED)) == 0, Errno.ENODEV); // not modelled
    if ((flags & Uapi.MAP_NORESERVE) != 0) {
      vmFlags |= VmFlags.NORESERVE; // honoured unless vm.overcommit_memory = 2, not modelled
    }
    long got;
    if (sharedAnonymous) {
      // shmem_zero_setup: a new unlinked shmem file of the mapping's size backs it.
      MmapFile shm = sharedAnon == null ? null : sharedAnon.create(alen);
      MmError.check(shm != null, Errno.ENOMEM);
      try {
        got = mmapRegion(mm, faults, limits, addr, alen, vmFlags, pgoff, shm);
      } finally {
        shm.put();
      }
    } else {
      got = mmapRegion(mm, faults, limits, addr, alen, vmFlags, pgoff, file);
    }
    boolean populate = (flags & (Uapi.MAP_POPULATE | Uapi.MAP_NONBLOCK)) == Uapi.MAP_POPULATE;
    return new Mapped(got, populate ? alen : 0);
  }

  /**
   * The file part of {@code do_mmap}: {@code file_mmap_ok} (EOVERFLOW when the mapped range
   * would end beyond {@code MAX_LFS_FILESIZE}), the map type against the open mode (EACCES),
   * {@code MAP_SHARED_VALIDATE}'s unknown flags (EOPNOTSUPP), then the memfd seals. Returns the
   * VMA flags.
   */
  private static long fileMmapFlags(MmapFile file, int flags, long vmFlags, long alen, long pgoff) {
    long maxsize = Long.MAX_VALUE; // MAX_LFS_FILESIZE: a regular file's limit
    MmError.check(Long.compareUnsigned(pgoff, (maxsize - alen) >>> Uapi.PAGE_SHIFT) <= 0, Errno.EOVERFLOW);
    int type = flags & Uapi.MAP_TYPE;
    if (type == Uapi.MAP_SHARED_VALIDATE) {
      MmError.check((flags & ~LEGACY_AND_VALIDATED) == 0, Errno.EOPNOTSUPP);
      MmError.check((flags & Uapi.MAP_SYNC) == 0, Errno.EOPNOTSUPP); // tmpfs is not DAX
      type = Uapi.MAP_SHARED;
    }
    switch (type) {
      case Uapi.MAP_SHARED -> {
        MmError.check((vmFlags & VmFlags.WRITE) == 0 || file.writable(), Errno.EACCES);
        vmFlags |= VmFlags.SHARED | VmFlags.MAYSHARE;
        if (!file.writable()) {
          vmFlags &= ~(VmFlags.MAYWRITE | VmFlags.SHARED);
        }
        vmFlags = privateChecks(file, vmFlags);
      }
      case Uapi.MAP_PRIVATE -> vmFlags = privateChecks(file, vmFlags);
      default -> throw new MmError(Errno.EINVAL);
    }
    long sealed = file.checkSealsMmap(vmFlags);
    if (sealed < 0) {
      throw new MmError(Errno.of((int) -sealed).orElse(Errno.EPERM));
    }
    return sealed;
  }

  /** The {@code MAP_PRIVATE} case (which {@code MAP_SHARED} falls through to). */
  private static long privateChecks(MmapFile file, long vmFlags) {
    MmError.check(file.readable(), Errno.EACCES);
    MmError.check((vmFlags & VmFlags.GROWSDOWN) == 0, Errno.EINVAL);
    return vmFlags;
  }

  /** {@code LEGACY_MAP_MASK} plus {@code MAP_SYNC}: what {@code MAP_SHARED_VALIDATE} accepts. */
  private static final int LEGACY_AND_VALIDATED = Uapi.MAP_TYPE | Uapi.MAP_FIXED | Uapi.MAP_ANONYMOUS
      | Uapi.MAP_DENYWRITE | Uapi.MAP_EXECUTABLE | Uapi.MAP_UNINITIALIZED | Uapi.MAP_GROWSDOWN | Uapi.MAP_LOCKED
      | Uapi.MAP_NORESERVE | Uapi.MAP_POPULATE | Uapi.MAP_NONBLOCK | Uapi.MAP_STACK | Uapi.MAP_HUGETLB
      | Uapi.MAP_SYNC | Uapi.MAP_FIXED_NOREPLACE | Uapi.MAP_32BIT;

  /** {@code round_hint_to_min}: a hint rounded down to a page, and up to {@code mmap_min_addr}. */
  static long roundHintToMin(long hint, MmapLimits limits) {
    long h = hint & -VmaOps.PAGE;
    if (h != 0 && Long.compareUnsigned(h, limits.mmapMinAddr()) < 0) {
      return pageAlign(limits.mmapMinAddr());
    }
    return h;
  }

  /** {@code calc_vm_flag_bits} for the flags the model keeps. */
  private static long calcVmFlagBits(int flags) {
    long f = 0;
    if ((flags & Uapi.MAP_GROWSDOWN) != 0) {
      f |= VmFlags.GROWSDOWN;
    }
    if ((flags & Uapi.MAP_LOCKED) != 0) {
      f |= VmFlags.LOCKED;
    }
    if ((flags & Uapi.MAP_STACK) != 0) {
      f |= VmFlags.NOHUGEPAGE;
    }
    return f;
  }

  /**
   * {@code mmap_region}: unmaps what [addr, addr + len) replaces ({@code MAP_FIXED}), checks the
   * commit charge, merges the new range with its neighbours or makes it a VMA, and publishes the
   * result in one step; then zaps the replaced range and frees the replaced VMAs after a grace
   * period. The mmap lock is held for write throughout; every VMA involved is write-locked from
   * the commit to the unlock.
   *
   * <p>Order, simplified: the kernel clears the old PTEs while the old VMAs are still in the tree
   * and then stores the new VMA; here the old VMAs leave and the new one enters in one
   * publication, and the PTEs are cleared after it. Nothing can fault there in between: the VMAs
   * are write-locked and the mmap lock is held for write.
   */
  static long mmapRegion(MmStruct mm, Faults faults, MmapLimits limits, long addr, long len, long vmFlags,
      long pgoff) {
    return mmapRegion(mm, faults, limits, addr, len, vmFlags, pgoff, null);
  }

  /**
   * {@link #mmapRegion(MmStruct, Faults, MmapLimits, long, long, long, long)} for a mapping of
   * {@code file} (null: anonymous). A shared mapping that may be written is counted in the file's
   * {@code i_mmap_writable} first ({@code mapping_map_writable}: EPERM under
   * {@code F_SEAL_WRITE}), for as long as the call runs; the new VMA's own count comes with its
   * link in {@code i_mmap}.
   */
  static long mmapRegion(MmStruct mm, Faults faults, MmapLimits limits, long addr, long len, long vmFlags,
      long pgoff, @Nullable MmapFile file) {
    boolean writableShared = file != null && sharedMayWrite(vmFlags);
    if (writableShared) {
      MmError.check(file.mapWritable(), Errno.EPERM);
    }
    try {
      long end = addr + len;
      Layout l = new Layout(mm).loadAround(addr, end);
      VmaOps.Unmap u = VmaOps.unmap(l, addr, end, limits);
      if (accountable(vmFlags)) {
        long charged = (len >>> Uapi.PAGE_SHIFT) - accountedPages(u);
        if (charged > 0) {
          enoughMemory(mm, limits, charged);
        }
      }
      VmaOps.mergeNew(l, addr, end, pgoff, vmFlags, file);
      List<Vma> gone = l.commit();
      if (u != null) {
        VmaOps.unmapRegion(mm, faults, u);
      }
      VmaOps.freeAll(mm, gone);
      return addr;
    } finally {
      if (writableShared) {
        file.unmapWritable();
      }
    }
  }

  /** {@code is_shared_maywrite}: {@code VM_SHARED} and {@code VM_MAYWRITE}. */
  public static boolean sharedMayWrite(long vmFlags) {
    return (vmFlags & (VmFlags.SHARED | VmFlags.MAYWRITE)) == (VmFlags.SHARED | VmFlags.MAYWRITE);
  }

  /**
   * {@code accountable_mapping}: a private writable mapping without {@code VM_NORESERVE} is
   * charged against the commit limit. (The model keeps no {@code VM_ACCOUNT} flag; this test
   * stands for it.)
   */
  static boolean accountable(long vmFlags) {
    return (vmFlags & (VmFlags.NORESERVE | VmFlags.SHARED | VmFlags.WRITE)) == VmFlags.WRITE;
  }

  private static long accountedPages(VmaOps.@Nullable Unmap u) {
    long n = 0;
    if (u != null) {
      for (Seg s : u.segs()) {
        if (accountable(s.flags)) {
          n += s.pages();
        }
      }
    }
    return n;
  }

  /**
   * {@code security_vm_enough_memory_mm} under {@code vm.overcommit_memory = 0}: a charge larger
   * than RAM plus swap fails (the model has no swap); under 1 nothing fails. Throws ENOMEM.
   */
  static void enoughMemory(MmStruct mm, MmapLimits limits, long pages) {
    if (limits.overcommitGuess()) {
      MmError.check(pages <= mm.pageTables().mem().totalPages(), Errno.ENOMEM);
    }
  }
}
