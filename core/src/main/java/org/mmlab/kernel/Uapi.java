package org.mmlab.kernel;

/**
 * The user-visible constants of the mm syscalls, with Linux's x86-64 values
 * ({@code include/uapi/asm-generic/mman-common.h}, {@code mman.h}, {@code linux/mman.h},
 * {@code asm-generic/siginfo.h}).
 */
public final class Uapi {
  private Uapi() {}

  public static final long PAGE_SIZE = 4096;
  public static final int PAGE_SHIFT = 12;
  /** The top of the user address space with 4-level paging ({@code TASK_SIZE_MAX}). */
  public static final long TASK_SIZE = 0x7FFF_FFFF_F000L;
  /** The lowest address mmap hands out without a hint ({@code mmap_min_addr} default). */
  public static final long MMAP_MIN_ADDR = 0x10000;

  // mmap prot
  public static final int PROT_NONE = 0x0;
  public static final int PROT_READ = 0x1;
  public static final int PROT_WRITE = 0x2;
  public static final int PROT_EXEC = 0x4;
  public static final int PROT_GROWSDOWN = 0x01000000;
  public static final int PROT_GROWSUP = 0x02000000;

  // mmap flags
  public static final int MAP_SHARED = 0x01;
  public static final int MAP_PRIVATE = 0x02;
  public static final int MAP_SHARED_VALIDATE = 0x03;
  public static final int MAP_TYPE = 0x0f;
  public static final int MAP_FIXED = 0x10;
  public static final int MAP_ANONYMOUS = 0x20;
  public static final int MAP_32BIT = 0x40;
  public static final int MAP_GROWSDOWN = 0x0100;
  public static final int MAP_DENYWRITE = 0x0800;
  public static final int MAP_EXECUTABLE = 0x1000;
  public static final int MAP_LOCKED = 0x2000;
  public static final int MAP_NORESERVE = 0x4000;
  public static final int MAP_POPULATE = 0x8000;
  public static final int MAP_NONBLOCK = 0x10000;
  public static final int MAP_STACK = 0x20000;
  public static final int MAP_HUGETLB = 0x40000;
  public static final int MAP_SYNC = 0x80000;
  public static final int MAP_FIXED_NOREPLACE = 0x100000;
  public static final int MAP_UNINITIALIZED = 0x4000000;

  // mremap flags
  public static final int MREMAP_MAYMOVE = 1;
  public static final int MREMAP_FIXED = 2;
  public static final int MREMAP_DONTUNMAP = 4;

  // madvise advice
  public static final int MADV_NORMAL = 0;
  public static final int MADV_RANDOM = 1;
  public static final int MADV_SEQUENTIAL = 2;
  public static final int MADV_WILLNEED = 3;
  public static final int MADV_DONTNEED = 4;
  public static final int MADV_FREE = 8;
  public static final int MADV_REMOVE = 9;
  public static final int MADV_DONTFORK = 10;
  public static final int MADV_DOFORK = 11;
  public static final int MADV_MERGEABLE = 12;
  public static final int MADV_UNMERGEABLE = 13;
  public static final int MADV_HUGEPAGE = 14;
  public static final int MADV_NOHUGEPAGE = 15;
  public static final int MADV_DONTDUMP = 16;
  public static final int MADV_DODUMP = 17;
  public static final int MADV_WIPEONFORK = 18;
  public static final int MADV_KEEPONFORK = 19;
  public static final int MADV_COLD = 20;
  public static final int MADV_PAGEOUT = 21;
  public static final int MADV_POPULATE_READ = 22;
  public static final int MADV_POPULATE_WRITE = 23;
  public static final int MADV_DONTNEED_LOCKED = 24;
  public static final int MADV_COLLAPSE = 25;

  // signals and si_code
  public static final int SIGBUS = 7;
  public static final int SIGSEGV = 11;
  public static final int SEGV_MAPERR = 1;
  public static final int SEGV_ACCERR = 2;
  public static final int BUS_ADRALN = 1;
  public static final int BUS_ADRERR = 2;

  // open(2) flags (asm-generic/fcntl.h, x86-64)
  public static final int O_ACCMODE = 3;
  public static final int O_RDONLY = 0;
  public static final int O_WRONLY = 1;
  public static final int O_RDWR = 2;
  public static final int O_CREAT = 0100;
  public static final int O_EXCL = 0200;
  public static final int O_NOCTTY = 0400;
  public static final int O_TRUNC = 01000;
  public static final int O_APPEND = 02000;
  public static final int O_NONBLOCK = 04000;
  public static final int O_LARGEFILE = 0100000;
  public static final int O_DIRECTORY = 0200000;
  public static final int O_NOFOLLOW = 0400000;
  public static final int O_CLOEXEC = 02000000;

  // lseek(2) whence
  public static final int SEEK_SET = 0;
  public static final int SEEK_CUR = 1;
  public static final int SEEK_END = 2;
  public static final int SEEK_DATA = 3;
  public static final int SEEK_HOLE = 4;

  // fallocate(2) modes (linux/falloc.h)
  public static final int FALLOC_FL_KEEP_SIZE = 0x01;
  public static final int FALLOC_FL_PUNCH_HOLE = 0x02;
  public static final int FALLOC_FL_NO_HIDE_STALE = 0x04;
  public static final int FALLOC_FL_COLLAPSE_RANGE = 0x08;
  public static final int FALLOC_FL_ZERO_RANGE = 0x10;
  public static final int FALLOC_FL_INSERT_RANGE = 0x20;
  public static final int FALLOC_FL_UNSHARE_RANGE = 0x40;
  /** {@code FALLOC_FL_SUPPORTED_MASK}: what {@code vfs_fallocate} knows at all. */
  public static final int FALLOC_FL_SUPPORTED_MASK = 0x7f;

  // memfd_create(2) flags (linux/memfd.h)
  public static final int MFD_CLOEXEC = 0x1;
  public static final int MFD_ALLOW_SEALING = 0x2;
  public static final int MFD_HUGETLB = 0x4;
  public static final int MFD_NOEXEC_SEAL = 0x8;
  public static final int MFD_EXEC = 0x10;

  // fcntl(2) commands and seals (linux/fcntl.h)
  public static final int F_ADD_SEALS = 1033;
  public static final int F_GET_SEALS = 1034;
  public static final int F_SEAL_SEAL = 0x1;
  public static final int F_SEAL_SHRINK = 0x2;
  public static final int F_SEAL_GROW = 0x4;
  public static final int F_SEAL_WRITE = 0x8;
  public static final int F_SEAL_FUTURE_WRITE = 0x10;
  public static final int F_SEAL_EXEC = 0x20;
  /** Every seal {@code F_ADD_SEALS} accepts. */
  public static final int F_ALL_SEALS = 0x3f;

  /** {@code MAX_LFS_FILESIZE} on 64 bits: the largest file offset. */
  public static final long MAX_LFS_FILESIZE = Long.MAX_VALUE;
}
