package org.mmlab.mm.shmem;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.mmlab.explore.NativeSched;
import org.mmlab.kernel.Errno;
import org.mmlab.kernel.Kernel;
import org.mmlab.kernel.KernelConfig;
import org.mmlab.kernel.Process;
import org.mmlab.kernel.Uapi;

/** memfd_create and file seals, case by case as memfd_create(2), fcntl(2) and memfd_test.c check them. */
class SealsTest {
  static final int RW = Uapi.PROT_READ | Uapi.PROT_WRITE;
  Kernel k;
  Process p;

  @BeforeEach
  void boot() {
    k = new Kernel(new NativeSched(), KernelConfig.DEFAULT.withMemory(16L << 20));
    p = k.spawn();
  }

  int memfd(int flags) {
    long fd = p.memfdCreate("t", flags);
    assertThat(fd).isGreaterThanOrEqualTo(3);
    return (int) fd;
  }

  long seals(int fd) {
    return p.fcntl(fd, Uapi.F_GET_SEALS, 0);
  }

  long add(int fd, int s) {
    return p.fcntl(fd, Uapi.F_ADD_SEALS, s);
  }

  @Test
  void memfdCreateErrors() {
    assertThat(p.memfdCreate("x".repeat(250), 0)).isEqualTo(Errno.EINVAL.ret());
    assertThat(p.memfdCreate("x".repeat(249), 0)).isGreaterThanOrEqualTo(3);
    assertThat(p.memfdCreate("x", 0x100)).isEqualTo(Errno.EINVAL.ret());
    assertThat(p.memfdCreate("x", Uapi.MFD_EXEC | Uapi.MFD_NOEXEC_SEAL)).isEqualTo(Errno.EINVAL.ret());
  }

  @Test
  void withoutAllowSealingTheSealSealIsSet() {
    int fd = memfd(0);
    assertThat(seals(fd)).isEqualTo(Uapi.F_SEAL_SEAL);
    assertThat(add(fd, Uapi.F_SEAL_WRITE)).isEqualTo(Errno.EPERM.ret());
  }

  @Test
  void tmpfsFilesCannotBeSealed() {
    long fd = p.open("/dev/shm/s", Uapi.O_RDWR | Uapi.O_CREAT, 0600);
    assertThat(seals((int) fd)).isEqualTo(Uapi.F_SEAL_SEAL);
    assertThat(add((int) fd, Uapi.F_SEAL_GROW)).isEqualTo(Errno.EPERM.ret());
    assertThat(seals(1)).isEqualTo(Errno.EINVAL.ret()); // not a shmem file
  }

  @Test
  void sealsAccumulateAndSealSealFreezesThem() {
    int fd = memfd(Uapi.MFD_ALLOW_SEALING);
    assertThat(seals(fd)).isZero();
    assertThat(add(fd, Uapi.F_SEAL_SHRINK)).isZero();
    assertThat(add(fd, Uapi.F_SEAL_GROW)).isZero();
    assertThat(seals(fd)).isEqualTo(Uapi.F_SEAL_SHRINK | Uapi.F_SEAL_GROW);
    assertThat(add(fd, 0x40)).isEqualTo(Errno.EINVAL.ret());
    assertThat(add(fd, Uapi.F_SEAL_SEAL)).isZero();
    assertThat(add(fd, Uapi.F_SEAL_WRITE)).isEqualTo(Errno.EPERM.ret());
    assertThat(p.fcntl(fd, 9999, 0)).isEqualTo(Errno.EINVAL.ret());
  }

  @Test
  void addSealsNeedsAWritableDescriptor() {
    p.open("/dev/shm/dummy", Uapi.O_RDWR | Uapi.O_CREAT, 0600);
    int fd = memfd(Uapi.MFD_ALLOW_SEALING);
    // A read-only descriptor of the same memfd: through /proc/self/fd in Linux; here by a second
    // open file on the inode.
    OpenFile ro = k.tmpfs().peekInodes().stream().filter(i -> i.name().startsWith("memfd:")).findFirst()
        .map(i -> new OpenFile(i, Uapi.O_RDONLY, "/memfd:t")).orElseThrow();
    assertThat(Shmem.addSeals(ro, Uapi.F_SEAL_GROW)).isEqualTo(Errno.EPERM.ret());
    ro.put();
    assertThat(seals(fd)).isZero();
  }

  @Test
  void shrinkAndGrowSeals() {
    int fd = memfd(Uapi.MFD_ALLOW_SEALING);
    p.ftruncate(fd, 8192);
    add(fd, Uapi.F_SEAL_SHRINK);
    assertThat(p.ftruncate(fd, 4096)).isEqualTo(Errno.EPERM.ret());
    assertThat(p.ftruncate(fd, 16384)).isZero();
    add(fd, Uapi.F_SEAL_GROW);
    assertThat(p.ftruncate(fd, 32768)).isEqualTo(Errno.EPERM.ret());
    assertThat(p.pwrite(fd, new byte[10], 16380)).isEqualTo(Errno.EPERM.ret()); // would grow
    assertThat(p.pwrite(fd, new byte[10], 0)).isEqualTo(10);
    assertThat(p.fallocate(fd, 0, 0, 65536)).isEqualTo(Errno.EPERM.ret());
    assertThat(p.fallocate(fd, Uapi.FALLOC_FL_KEEP_SIZE, 0, 65536)).isZero();
    long[] st = new long[4];
    p.fstat(fd, st);
    assertThat(st[0]).isEqualTo(16384);
  }

  @Test
  void writeSealForbidsWritesPunchesAndWritableSharedMappings() {
    int fd = memfd(Uapi.MFD_ALLOW_SEALING);
    p.ftruncate(fd, 8192);
    assertThat(add(fd, Uapi.F_SEAL_WRITE)).isZero();
    assertThat(p.pwrite(fd, new byte[1], 0)).isEqualTo(Errno.EPERM.ret());
    assertThat(p.fallocate(fd, Uapi.FALLOC_FL_PUNCH_HOLE | Uapi.FALLOC_FL_KEEP_SIZE, 0, 4096))
        .isEqualTo(Errno.EPERM.ret());
    assertThat(p.mmap(0, 8192, RW, Uapi.MAP_SHARED, fd, 0)).isEqualTo(Errno.EPERM.ret());
    long ro = p.mmap(0, 8192, Uapi.PROT_READ, Uapi.MAP_SHARED, fd, 0);
    assertThat(ro).isPositive();
    assertThat(p.mprotect(ro, 8192, RW)).isEqualTo(Errno.EACCES.ret()); // VM_MAYWRITE was cleared
    long priv = p.mmap(0, 8192, RW, Uapi.MAP_PRIVATE, fd, 0);
    assertThat(priv).isPositive(); // private mappings never write the file
    assertThat(p.store(priv, 1, 5)).isNull();
  }

  @Test
  void writeSealIsBusyWhileAWritableSharedMappingExists() {
    int fd = memfd(Uapi.MFD_ALLOW_SEALING);
    p.ftruncate(fd, 4096);
    long a = p.mmap(0, 4096, RW, Uapi.MAP_SHARED, fd, 0);
    assertThat(a).isPositive();
    assertThat(add(fd, Uapi.F_SEAL_WRITE)).isEqualTo(Errno.EBUSY.ret());
    assertThat(add(fd, Uapi.F_SEAL_FUTURE_WRITE)).isZero(); // no EBUSY: only future mappings
    assertThat(p.store(a, 1, 7)).isNull(); // the existing mapping still writes
    assertThat(p.mmap(0, 4096, RW, Uapi.MAP_SHARED, fd, 0)).isEqualTo(Errno.EPERM.ret());
    assertThat(p.munmap(a, 4096)).isZero();
    assertThat(add(fd, Uapi.F_SEAL_WRITE)).isZero();
  }
}
