package org.mmlab.mm.shmem;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.mmlab.explore.NativeSched;
import org.mmlab.kernel.Errno;
import org.mmlab.kernel.Kernel;
import org.mmlab.kernel.KernelConfig;
import org.mmlab.kernel.Process;
import org.mmlab.kernel.Uapi;

/**
 * tmpfs files through the syscall surface: open/close/unlink, pread/pwrite, ftruncate, fstat,
 * fallocate (mode 0, KEEP_SIZE, PUNCH_HOLE) and SEEK_DATA/SEEK_HOLE, each as the man pages and
 * Linux's own tests (tmpfs, memfd_test, seek_sanity_test in xfstests) describe them.
 */
class ShmemFilesTest {
  static final long PAGE = 4096;
  Kernel k;
  Process p;

  @BeforeEach
  void boot() {
    k = new Kernel(new NativeSched(), KernelConfig.DEFAULT.withMemory(16L << 20));
    p = k.spawn();
  }

  int create(String name) {
    long fd = p.open("/dev/shm/" + name, Uapi.O_RDWR | Uapi.O_CREAT, 0644);
    assertThat(fd).isGreaterThanOrEqualTo(3);
    return (int) fd;
  }

  static byte[] filled(int n, int b) {
    byte[] d = new byte[n];
    Arrays.fill(d, (byte) b);
    return d;
  }

  long[] stat(int fd) {
    long[] st = new long[4];
    assertThat(p.fstat(fd, st)).isZero();
    return st;
  }

  @Test
  void firstDescriptorIsThreeAndLowestFreeIsReused() {
    assertThat(p.open("/dev/shm/a", Uapi.O_RDWR | Uapi.O_CREAT, 0644)).isEqualTo(3);
    assertThat(p.memfdCreate("m", 0)).isEqualTo(4);
    assertThat(p.close(3)).isZero();
    assertThat(p.open("/dev/shm/b", Uapi.O_RDWR | Uapi.O_CREAT, 0644)).isEqualTo(3);
    assertThat(p.close(99)).isEqualTo(Errno.EBADF.ret());
  }

  @Test
  void openErrors() {
    assertThat(p.open("/dev/shm/missing", Uapi.O_RDWR, 0)).isEqualTo(Errno.ENOENT.ret());
    create("x");
    assertThat(p.open("/dev/shm/x", Uapi.O_RDWR | Uapi.O_CREAT | Uapi.O_EXCL, 0644)).isEqualTo(Errno.EEXIST.ret());
    assertThat(p.open("/dev/shm", Uapi.O_RDWR, 0)).isEqualTo(Errno.EISDIR.ret());
    assertThat(p.open("/dev/shm/" + "n".repeat(256), Uapi.O_RDWR | Uapi.O_CREAT, 0644))
        .isEqualTo(Errno.ENAMETOOLONG.ret());
    assertThat(p.open("/etc/passwd", Uapi.O_RDONLY, 0)).isEqualTo(Errno.ENOENT.ret());
    assertThat(p.unlink("/dev/shm/missing")).isEqualTo(Errno.ENOENT.ret());
  }

  @Test
  void writeThenReadBackAcrossPagesAndEof() {
    int fd = create("rw");
    assertThat(p.pwrite(fd, filled(5000, 0x61), 100)).isEqualTo(5000);
    assertThat(stat(fd)[0]).isEqualTo(5100);
    byte[] buf = new byte[6000];
    assertThat(p.pread(fd, buf, 0)).isEqualTo(5100);
    assertThat(buf[99]).isZero();
    assertThat(buf[100]).isEqualTo((byte) 0x61);
    assertThat(buf[5099]).isEqualTo((byte) 0x61);
    assertThat(p.pread(fd, new byte[10], 5100)).isZero();
    assertThat(p.pread(fd, new byte[10], -1)).isEqualTo(Errno.EINVAL.ret());
  }

  @Test
  void readOnlyAndWriteOnlyDescriptorsRejectTheOtherDirection() {
    create("ro");
    int ro = (int) p.open("/dev/shm/ro", Uapi.O_RDONLY, 0);
    int wo = (int) p.open("/dev/shm/ro", Uapi.O_WRONLY, 0);
    assertThat(p.pwrite(ro, filled(1, 1), 0)).isEqualTo(Errno.EBADF.ret());
    assertThat(p.pread(wo, new byte[1], 0)).isEqualTo(Errno.EBADF.ret());
    assertThat(p.ftruncate(ro, 10)).isEqualTo(Errno.EINVAL.ret());
    assertThat(p.fallocate(ro, 0, 0, 10)).isEqualTo(Errno.EBADF.ret());
    assertThat(p.pread(0, new byte[1], 0)).isEqualTo(Errno.ESPIPE.ret());
    assertThat(p.lseek(1, 0, Uapi.SEEK_SET)).isEqualTo(Errno.ESPIPE.ret());
  }

  @Test
  void ftruncateShrinksAndGrowsWithZeros() {
    int fd = create("t");
    p.pwrite(fd, filled(3 * (int) PAGE, 0x55), 0);
    assertThat(stat(fd)[1]).isEqualTo(24);
    assertThat(p.ftruncate(fd, 5000)).isZero();
    assertThat(stat(fd)[0]).isEqualTo(5000);
    assertThat(stat(fd)[1]).isEqualTo(16);
    assertThat(p.ftruncate(fd, 3 * PAGE)).isZero();
    byte[] buf = new byte[3 * (int) PAGE];
    assertThat(p.pread(fd, buf, 0)).isEqualTo(3 * PAGE);
    assertThat(buf[4999]).isEqualTo((byte) 0x55);
    assertThat(buf[5000]).isZero(); // the tail of the last page was zeroed by the shrink
    assertThat(buf[2 * (int) PAGE + 1]).isZero();
    assertThat(p.ftruncate(fd, -1)).isEqualTo(Errno.EINVAL.ret());
  }

  @Test
  void fallocateAllocatesHolesThatReadAsZeroAndCountBlocks() {
    int fd = create("fa");
    assertThat(p.fallocate(fd, 0, 0, 2 * PAGE)).isZero();
    assertThat(stat(fd)).startsWith(2 * PAGE, 16);
    assertThat(p.pread(fd, new byte[8192], 0)).isEqualTo(8192);
    assertThat(p.fallocate(fd, Uapi.FALLOC_FL_KEEP_SIZE, 2 * PAGE, PAGE)).isZero();
    assertThat(stat(fd)).startsWith(2 * PAGE, 24);
  }

  @Test
  void fallocateErrorsInTheVfsOrder() {
    int fd = create("fe");
    assertThat(p.fallocate(99, 0, 0, 1)).isEqualTo(Errno.EBADF.ret());
    assertThat(p.fallocate(fd, 0, -1, 1)).isEqualTo(Errno.EINVAL.ret());
    assertThat(p.fallocate(fd, 0, 0, 0)).isEqualTo(Errno.EINVAL.ret());
    assertThat(p.fallocate(fd, 0x100, 0, 1)).isEqualTo(Errno.EOPNOTSUPP.ret());
    assertThat(p.fallocate(fd, Uapi.FALLOC_FL_PUNCH_HOLE, 0, 1)).isEqualTo(Errno.EOPNOTSUPP.ret());
    assertThat(p.fallocate(fd, Uapi.FALLOC_FL_ZERO_RANGE, 0, 1)).isEqualTo(Errno.EOPNOTSUPP.ret());
    assertThat(p.fallocate(fd, Uapi.FALLOC_FL_COLLAPSE_RANGE, 0, PAGE)).isEqualTo(Errno.EOPNOTSUPP.ret());
    assertThat(p.fallocate(fd, 0, Long.MAX_VALUE - 10, 100)).isEqualTo(Errno.EFBIG.ret());
    assertThat(p.fallocate(1, 0, 0, 1)).isEqualTo(Errno.ENODEV.ret());
    assertThat(stat(fd)).startsWith(0, 0);
  }

  @Test
  void punchHoleZeroesPartialPagesAndFreesWholeOnes() {
    int fd = create("ph");
    p.pwrite(fd, filled(4 * (int) PAGE, 0x77), 0);
    long free = k.mem().peekNrFreePages();
    assertThat(p.fallocate(fd, Uapi.FALLOC_FL_PUNCH_HOLE | Uapi.FALLOC_FL_KEEP_SIZE, 100, 2 * PAGE)).isZero();
    assertThat(stat(fd)).startsWith(4 * PAGE, 24); // page 1 freed; pages 0 and 2 partly zeroed
    assertThat(k.mem().peekNrFreePages()).isEqualTo(free + 1);
    byte[] buf = new byte[4 * (int) PAGE];
    p.pread(fd, buf, 0);
    assertThat(buf[99]).isEqualTo((byte) 0x77);
    assertThat(buf[100]).isZero();
    assertThat(buf[2 * (int) PAGE + 99]).isZero();
    assertThat(buf[2 * (int) PAGE + 100]).isEqualTo((byte) 0x77);
  }

  @Test
  void seekDataAndHoleAroundHolesFallocatedRangesAndEof() {
    int fd = create("sk");
    assertThat(p.lseek(fd, 0, Uapi.SEEK_DATA)).isEqualTo(Errno.ENXIO.ret()); // empty file
    p.ftruncate(fd, 8 * PAGE);
    p.pwrite(fd, filled(10, 1), 2 * PAGE);
    p.fallocate(fd, Uapi.FALLOC_FL_KEEP_SIZE, 4 * PAGE, PAGE); // allocated, not written: a hole
    p.pwrite(fd, filled(10, 1), 6 * PAGE);
    assertThat(p.lseek(fd, 0, Uapi.SEEK_DATA)).isEqualTo(2 * PAGE);
    assertThat(p.lseek(fd, 0, Uapi.SEEK_HOLE)).isZero();
    assertThat(p.lseek(fd, 2 * PAGE + 5, Uapi.SEEK_DATA)).isEqualTo(2 * PAGE + 5);
    assertThat(p.lseek(fd, 2 * PAGE, Uapi.SEEK_HOLE)).isEqualTo(3 * PAGE);
    assertThat(p.lseek(fd, 3 * PAGE, Uapi.SEEK_DATA)).isEqualTo(6 * PAGE); // skips the fallocated page
    assertThat(p.lseek(fd, 6 * PAGE, Uapi.SEEK_HOLE)).isEqualTo(7 * PAGE);
    assertThat(p.lseek(fd, 7 * PAGE, Uapi.SEEK_DATA)).isEqualTo(Errno.ENXIO.ret());
    assertThat(p.lseek(fd, 7 * PAGE, Uapi.SEEK_HOLE)).isEqualTo(7 * PAGE);
    assertThat(p.lseek(fd, 8 * PAGE, Uapi.SEEK_HOLE)).isEqualTo(Errno.ENXIO.ret()); // at EOF
    assertThat(p.lseek(fd, -1, Uapi.SEEK_DATA)).isEqualTo(Errno.ENXIO.ret());
    p.pwrite(fd, filled(1, 1), 4 * PAGE + 7); // writing makes the fallocated page data
    assertThat(p.lseek(fd, 3 * PAGE, Uapi.SEEK_DATA)).isEqualTo(4 * PAGE);
    p.fallocate(fd, Uapi.FALLOC_FL_PUNCH_HOLE | Uapi.FALLOC_FL_KEEP_SIZE, 2 * PAGE, PAGE);
    assertThat(p.lseek(fd, 0, Uapi.SEEK_DATA)).isEqualTo(4 * PAGE);
  }

  @Test
  void seekHoleAtEofOfAFullFile() {
    int fd = create("full");
    p.pwrite(fd, filled(5000, 1), 0);
    assertThat(p.lseek(fd, 0, Uapi.SEEK_HOLE)).isEqualTo(5000);
    assertThat(p.lseek(fd, 0, Uapi.SEEK_DATA)).isZero();
    assertThat(p.lseek(fd, 4999, Uapi.SEEK_DATA)).isEqualTo(4999);
    assertThat(p.lseek(fd, 5000, Uapi.SEEK_DATA)).isEqualTo(Errno.ENXIO.ret());
  }

  @Test
  void lseekSetCurEndAndErrors() {
    int fd = create("ls");
    p.pwrite(fd, filled(100, 1), 0);
    assertThat(p.lseek(fd, 10, Uapi.SEEK_SET)).isEqualTo(10);
    assertThat(p.lseek(fd, 5, Uapi.SEEK_CUR)).isEqualTo(15);
    assertThat(p.lseek(fd, -1, Uapi.SEEK_END)).isEqualTo(99);
    assertThat(p.lseek(fd, -200, Uapi.SEEK_END)).isEqualTo(Errno.EINVAL.ret());
    assertThat(p.lseek(fd, 0, 7)).isEqualTo(Errno.EINVAL.ret());
    assertThat(p.lseek(fd, 0, Uapi.SEEK_CUR)).isEqualTo(99); // failures leave the offset
  }

  @Test
  void unlinkedFileLivesWhileOpenAndIsFreedOnClose() {
    long free = k.mem().peekNrFreePages();
    int fd = create("u");
    p.pwrite(fd, filled(3 * (int) PAGE, 9), 0);
    assertThat(p.unlink("/dev/shm/u")).isZero();
    assertThat(p.open("/dev/shm/u", Uapi.O_RDWR, 0)).isEqualTo(Errno.ENOENT.ret());
    byte[] b = new byte[1];
    assertThat(p.pread(fd, b, 2 * PAGE)).isEqualTo(1);
    assertThat(b[0]).isEqualTo((byte) 9);
    assertThat(p.close(fd)).isZero();
    assertThat(k.tmpfs().peekInodes()).isEmpty();
    assertThat(k.mem().peekNrFreePages()).isEqualTo(free);
  }

  @Test
  void openTruncTruncatesAndNamedFilesSurviveClose() {
    int fd = create("keep");
    p.pwrite(fd, filled(10, 1), 0);
    p.close(fd);
    int again = (int) p.open("/dev/shm/keep", Uapi.O_RDWR, 0);
    assertThat(stat(again)[0]).isEqualTo(10);
    p.close(again);
    int t = (int) p.open("/dev/shm/keep", Uapi.O_RDWR | Uapi.O_TRUNC, 0);
    assertThat(stat(t)).startsWith(0, 0);
  }

  @Test
  void exitClosesDescriptorsAndReturnsEveryFrame() {
    long free = k.mem().peekNrFreePages();
    Process q = k.spawn();
    long fd = q.memfdCreate("x", 0);
    q.pwrite((int) fd, filled(2 * (int) PAGE, 1), 0);
    q.exit();
    assertThat(k.tmpfs().peekInodes()).isEmpty();
    assertThat(k.mem().peekNrFreePages()).isEqualTo(free);
  }
}
