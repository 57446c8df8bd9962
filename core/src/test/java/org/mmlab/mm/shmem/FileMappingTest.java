package org.mmlab.mm.shmem;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.mmlab.explore.NativeSched;
import org.mmlab.kernel.Errno;
import org.mmlab.kernel.Kernel;
import org.mmlab.kernel.KernelConfig;
import org.mmlab.kernel.Process;
import org.mmlab.kernel.Signal;
import org.mmlab.kernel.Uapi;

/**
 * File mappings of tmpfs files and shared anonymous memory: shared vs private visibility across
 * two processes, SIGBUS past EOF, truncation and hole punching unmapping pages, mmap's file
 * errno, mincore on file mappings, /proc views.
 */
class FileMappingTest {
  static final long PAGE = 4096;
  static final int RW = Uapi.PROT_READ | Uapi.PROT_WRITE;
  Kernel k;
  Process a;
  Process b;

  @BeforeEach
  void boot() {
    k = new Kernel(new NativeSched(), KernelConfig.DEFAULT.withMemory(16L << 20));
    a = k.spawn();
    b = k.spawn();
  }

  /** A 2-page file opened read-write in both processes: the descriptors. */
  int[] sharedFile() {
    int fa = (int) a.open("/dev/shm/f", Uapi.O_RDWR | Uapi.O_CREAT, 0600);
    int fb = (int) b.open("/dev/shm/f", Uapi.O_RDWR, 0);
    assertThat(a.ftruncate(fa, 2 * PAGE)).isZero();
    return new int[] {fa, fb};
  }

  @Test
  void sharedStoresAreVisibleToPreadAndOtherProcesses() {
    int[] fd = sharedFile();
    long ma = a.mmap(0, 2 * PAGE, RW, Uapi.MAP_SHARED, fd[0], 0);
    long mb = b.mmap(0, 2 * PAGE, RW, Uapi.MAP_SHARED, fd[1], 0);
    assertThat(a.store(ma + 8, 8, 0x1122334455667788L)).isNull();
    assertThat(b.load(mb + 8, 8).value()).isEqualTo(0x1122334455667788L);
    byte[] buf = new byte[1];
    b.pread(fd[1], buf, 8);
    assertThat(buf[0]).isEqualTo((byte) 0x88);
    a.pwrite(fd[0], new byte[] {0x42}, PAGE + 3);
    assertThat(b.load(mb + PAGE + 3, 1).value()).isEqualTo(0x42);
    assertThat(k.proc().maps(a)).contains(" rw-s 00000000 00:01 ").contains("/dev/shm/f");
  }

  @Test
  void privateWritesNeverReachTheFile() {
    int[] fd = sharedFile();
    a.pwrite(fd[0], new byte[] {1, 2, 3}, 0);
    long priv = b.mmap(0, 2 * PAGE, RW, Uapi.MAP_PRIVATE, fd[1], 0);
    assertThat(b.load(priv, 1).value()).isEqualTo(1); // read fault maps the page-cache page
    assertThat(b.store(priv, 1, 9)).isNull(); // write copies it
    assertThat(b.load(priv, 1).value()).isEqualTo(9);
    byte[] buf = new byte[1];
    a.pread(fd[0], buf, 0);
    assertThat(buf[0]).isEqualTo((byte) 1);
    a.pwrite(fd[0], new byte[] {7}, 1);
    assertThat(b.load(priv + 1, 1).value()).isEqualTo(2); // the private copy is cut off from the file
    assertThat(b.store(priv + PAGE, 1, 5)).isNull(); // a write to a page never read: do_cow_fault
    a.pread(fd[0], buf, PAGE);
    assertThat(buf[0]).isZero();
    assertThat(k.proc().maps(b)).contains(" rw-p 00000000 00:01 ");
  }

  @Test
  void accessesPastEofRaiseSigbusButThePartialPageIsReadable() {
    int fd = (int) a.open("/dev/shm/e", Uapi.O_RDWR | Uapi.O_CREAT, 0600);
    a.pwrite(fd, new byte[] {5}, 100);
    long m = a.mmap(0, 3 * PAGE, RW, Uapi.MAP_SHARED, fd, 0);
    assertThat(a.load(m + 100, 1).value()).isEqualTo(5);
    assertThat(a.load(m + 200, 1).value()).isZero(); // past EOF in the EOF page: zeros
    Process.Loaded l = a.load(m + PAGE, 1);
    assertThat(l.signal()).isEqualTo(new Signal(Uapi.SIGBUS, Uapi.BUS_ADRERR, m + PAGE));
  }

  @Test
  void ftruncateUnmapsTheTruncatedPagesFromEveryMapping() {
    int[] fd = sharedFile();
    long ma = a.mmap(0, 2 * PAGE, RW, Uapi.MAP_SHARED, fd[0], 0);
    long mb = b.mmap(0, 2 * PAGE, RW, Uapi.MAP_PRIVATE, fd[1], 0);
    a.store(ma + PAGE, 1, 3);
    assertThat(b.load(mb + PAGE, 1).value()).isEqualTo(3);
    b.store(mb, 1, 4); // a private copy of page 0 (kept: page 0 is not truncated)
    assertThat(a.ftruncate(fd[0], PAGE)).isZero();
    assertThat(a.load(ma + PAGE, 1).signal().signo()).isEqualTo(Uapi.SIGBUS);
    assertThat(b.load(mb + PAGE, 1).signal().signo()).isEqualTo(Uapi.SIGBUS);
    assertThat(b.load(mb, 1).value()).isEqualTo(4);
    byte[] vec = new byte[2];
    assertThat(a.mincore(ma, 2 * PAGE, vec)).isZero();
    assertThat(vec).containsExactly(1, 0);
  }

  @Test
  void punchHoleUnmapsSharedPagesAndKeepsPrivateCopies() {
    int[] fd = sharedFile();
    long ma = a.mmap(0, 2 * PAGE, RW, Uapi.MAP_SHARED, fd[0], 0);
    long mb = b.mmap(0, 2 * PAGE, RW, Uapi.MAP_PRIVATE, fd[1], 0);
    a.store(ma, 1, 1);
    a.store(ma + PAGE, 1, 2);
    b.store(mb, 1, 9); // private copy of page 0
    assertThat(b.load(mb + PAGE, 1).value()).isEqualTo(2); // page 1 mapped from the cache
    assertThat(a.fallocate(fd[0], Uapi.FALLOC_FL_PUNCH_HOLE | Uapi.FALLOC_FL_KEEP_SIZE, 0, 2 * PAGE)).isZero();
    assertThat(a.load(ma, 1).value()).isZero();
    assertThat(a.load(ma + PAGE, 1).value()).isZero();
    assertThat(b.load(mb, 1).value()).isEqualTo(9);
    assertThat(b.load(mb + PAGE, 1).value()).isZero();
  }

  @Test
  void mincoreReportsPageCacheResidencyForUnmappedPages() {
    int fd = (int) a.open("/dev/shm/mc", Uapi.O_RDWR | Uapi.O_CREAT, 0600);
    a.ftruncate(fd, 4 * PAGE);
    a.pwrite(fd, new byte[1], 2 * PAGE);
    long m = a.mmap(0, 4 * PAGE, Uapi.PROT_READ, Uapi.MAP_SHARED, fd, 0);
    byte[] vec = new byte[4];
    assertThat(a.mincore(m, 4 * PAGE, vec)).isZero();
    assertThat(vec).containsExactly(0, 0, 1, 0);
  }

  @Test
  void mmapFileErrors() {
    int rw = (int) a.open("/dev/shm/x", Uapi.O_RDWR | Uapi.O_CREAT, 0600);
    int ro = (int) a.open("/dev/shm/x", Uapi.O_RDONLY, 0);
    int wo = (int) a.open("/dev/shm/x", Uapi.O_WRONLY, 0);
    assertThat(a.mmap(0, PAGE, RW, Uapi.MAP_SHARED, 99, 0)).isEqualTo(Errno.EBADF.ret());
    assertThat(a.mmap(0, PAGE, RW, Uapi.MAP_SHARED, rw, 1)).isEqualTo(Errno.EINVAL.ret());
    assertThat(a.mmap(0, PAGE, RW, Uapi.MAP_SHARED, ro, 0)).isEqualTo(Errno.EACCES.ret());
    assertThat(a.mmap(0, PAGE, Uapi.PROT_READ, Uapi.MAP_SHARED, wo, 0)).isEqualTo(Errno.EACCES.ret());
    assertThat(a.mmap(0, PAGE, RW, Uapi.MAP_PRIVATE, ro, 0)).isPositive(); // private: read access is enough
    assertThat(a.mmap(0, PAGE, RW, 0, rw, 0)).isEqualTo(Errno.EINVAL.ret());
    assertThat(a.mmap(0, PAGE, RW, Uapi.MAP_SHARED_VALIDATE | 0x200000, rw, 0)).isEqualTo(Errno.EOPNOTSUPP.ret());
    assertThat(a.mmap(0, PAGE, RW, Uapi.MAP_SHARED, rw, -PAGE)).isEqualTo(Errno.EOVERFLOW.ret());
    assertThat(a.mmap(0, PAGE, RW, Uapi.MAP_SHARED, 1, 0)).isEqualTo(Errno.ENODEV.ret());
    assertThat(a.mmap(0, PAGE, RW, Uapi.MAP_SHARED | Uapi.MAP_HUGETLB, rw, 0)).isEqualTo(Errno.EINVAL.ret());
    assertThat(a.mmap(0, 0, RW, Uapi.MAP_SHARED, rw, 0)).isEqualTo(Errno.EINVAL.ret());
  }

  @Test
  void sharedAnonymousMemoryIsShmemAndSurvivesMremap() {
    long m = a.mmap(0, 2 * PAGE, RW, Uapi.MAP_SHARED | Uapi.MAP_ANONYMOUS, -1, 0);
    assertThat(m).isPositive();
    assertThat(a.store(m + PAGE, 8, 77)).isNull();
    assertThat(k.proc().maps(a)).contains("/dev/zero (deleted)").contains(" rw-s ");
    assertThat(k.proc().meminfo()).containsPattern("Shmem: +4 kB");
    long moved = a.mremap(m, 2 * PAGE, 2 * PAGE, Uapi.MREMAP_MAYMOVE | Uapi.MREMAP_FIXED, m + 16 * PAGE);
    assertThat(moved).isEqualTo(m + 16 * PAGE);
    assertThat(a.load(moved + PAGE, 8).value()).isEqualTo(77);
    assertThat(a.munmap(moved, 2 * PAGE)).isZero();
    assertThat(k.tmpfs().peekInodes()).isEmpty(); // the last mapping gone, the file goes
  }

  @Test
  void splitAndMergeKeepTheFileAndItsOffsets() {
    int fd = (int) a.open("/dev/shm/sm", Uapi.O_RDWR | Uapi.O_CREAT, 0600);
    a.ftruncate(fd, 4 * PAGE);
    a.pwrite(fd, new byte[] {3}, 3 * PAGE);
    long m = a.mmap(0, 4 * PAGE, RW, Uapi.MAP_SHARED, fd, 0);
    assertThat(a.mprotect(m + PAGE, PAGE, Uapi.PROT_READ)).isZero();
    assertThat(k.proc().maps(a).lines().filter(l -> l.contains("/dev/shm/sm")).count()).isEqualTo(3);
    assertThat(k.proc().maps(a)).contains(" r--s 00001000 ").contains(" rw-s 00002000 ");
    assertThat(a.load(m + 3 * PAGE, 1).value()).isEqualTo(3);
    assertThat(a.mprotect(m + PAGE, PAGE, RW)).isZero();
    assertThat(k.proc().maps(a).lines().filter(l -> l.contains("/dev/shm/sm")).count()).isEqualTo(1);
    // Two mappings of different files next to each other never merge.
    long m2 = a.mmap(m + 4 * PAGE, PAGE, RW, Uapi.MAP_SHARED | Uapi.MAP_ANONYMOUS | Uapi.MAP_FIXED, -1, 0);
    assertThat(m2).isEqualTo(m + 4 * PAGE);
    assertThat(k.proc().maps(a).lines().count()).isEqualTo(2);
  }

  /**
   * Splits, merges ({@code vma_merge} moving a neighbour's start and page offset too), a move and
   * an in-place growth by mremap all change which file pages a VMA maps, so each one takes the
   * VMA out of the file's {@code i_mmap} interval tree and puts it back at its new range. A hole
   * punch and a truncation afterwards find the VMAs through the tree's range query: the punched
   * page reads zero and every page past the new size raises SIGBUS in every mapping, while the
   * pages below it keep their data. The consistency walk after each step checks each VMA's keys.
   */
  @Test
  void truncateAfterSplitMergeAndMremapUnmapsExactlyTheTruncatedPages() {
    int fd = (int) a.open("/dev/shm/t", Uapi.O_RDWR | Uapi.O_CREAT, 0600);
    int fdb = (int) b.open("/dev/shm/t", Uapi.O_RDWR, 0);
    assertThat(a.ftruncate(fd, 8 * PAGE)).isZero();
    long m = a.mmap(0, 8 * PAGE, RW, Uapi.MAP_SHARED, fd, 0);
    for (int i = 0; i < 8; i++) {
      assertThat(a.store(m + i * PAGE, 1, 10 + i)).isNull();
    }
    // Split in three: [0, 1] rw, [2, 3] r, [4, 7] rw (file pages).
    assertThat(a.mprotect(m + 2 * PAGE, 2 * PAGE, Uapi.PROT_READ)).isZero();
    k.check();
    // Page 4 joins the read-only middle: it grows to [2, 4], its neighbour now starts at page 5.
    assertThat(a.mprotect(m + 4 * PAGE, PAGE, Uapi.PROT_READ)).isZero();
    k.check();
    // Pages 5 and 6 move far away; page 7 stays behind on its own.
    long far = m + 64 * PAGE;
    assertThat(a.mremap(m + 5 * PAGE, 2 * PAGE, 2 * PAGE, Uapi.MREMAP_MAYMOVE | Uapi.MREMAP_FIXED, far)).isEqualTo(far);
    k.check();
    // The moved part grows in place over file page 7 as well (page 7 is then mapped twice).
    assertThat(a.mremap(far, 2 * PAGE, 3 * PAGE, 0, 0)).isEqualTo(far);
    k.check();
    // Back to read-write: [0, 1] and [2, 4] merge into [0, 4].
    assertThat(a.mprotect(m + 2 * PAGE, 3 * PAGE, RW)).isZero();
    k.check();
    long mb = b.mmap(0, 4 * PAGE, RW, Uapi.MAP_SHARED, fdb, 3 * PAGE);
    assertThat(k.proc().maps(a).lines().filter(l -> l.contains("/dev/shm/t")).count()).isEqualTo(3);
    var mapping = k.tmpfs().peekInodes().getFirst().mapping();
    assertThat(mapping.peekIMmap()).extracting(v -> v.peekPgoff()).containsExactly(0L, 3L, 5L, 7L);
    // Every page through every mapping, faulting them all in.
    for (int i = 0; i < 5; i++) {
      assertThat(a.load(m + i * PAGE, 1).value()).isEqualTo(10 + i);
    }
    for (int i = 0; i < 3; i++) {
      assertThat(a.load(far + i * PAGE, 1).value()).isEqualTo(15 + i);
    }
    assertThat(a.load(m + 7 * PAGE, 1).value()).isEqualTo(17);
    for (int i = 0; i < 4; i++) {
      assertThat(b.load(mb + i * PAGE, 1).value()).isEqualTo(13 + i);
    }
    // Punch file page 1, then truncate to 3 pages.
    assertThat(a.fallocate(fd, Uapi.FALLOC_FL_PUNCH_HOLE | Uapi.FALLOC_FL_KEEP_SIZE, PAGE, PAGE)).isZero();
    assertThat(a.load(m + PAGE, 1).value()).isZero();
    assertThat(a.ftruncate(fd, 3 * PAGE)).isZero();
    assertThat(a.load(m, 1).value()).isEqualTo(10);
    assertThat(a.load(m + 2 * PAGE, 1).value()).isEqualTo(12);
    for (long addr : new long[] {m + 3 * PAGE, m + 4 * PAGE, m + 7 * PAGE, far, far + PAGE, far + 2 * PAGE}) {
      assertThat(a.load(addr, 1).signal()).as("0x%x", addr).isEqualTo(new Signal(Uapi.SIGBUS, Uapi.BUS_ADRERR, addr));
    }
    for (int i = 0; i < 4; i++) {
      assertThat(b.load(mb + i * PAGE, 1).signal().signo()).isEqualTo(Uapi.SIGBUS);
    }
    k.check();
  }

  @Test
  void exitOfBothProcessesReturnsEveryFrame() {
    long free = k.mem().peekNrFreePages();
    int[] fd = sharedFile();
    long ma = a.mmap(0, 2 * PAGE, RW, Uapi.MAP_SHARED, fd[0], 0);
    long mb = b.mmap(0, 2 * PAGE, RW, Uapi.MAP_PRIVATE, fd[1], 0);
    a.store(ma, 1, 1);
    b.store(mb + PAGE, 1, 1);
    a.unlink("/dev/shm/f");
    a.exit();
    b.exit();
    assertThat(k.tmpfs().peekInodes()).isEmpty();
    assertThat(k.mem().peekNrFreePages()).isEqualTo(free + 2); // the two PGDs of a and b
  }
}
