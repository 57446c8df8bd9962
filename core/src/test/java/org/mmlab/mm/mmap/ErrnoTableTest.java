package org.mmlab.mm.mmap;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.function.ToLongFunction;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.mmlab.kernel.Errno;
import org.mmlab.kernel.Uapi;
import org.mmlab.mm.vma.MmStruct;
import org.mmlab.mm.vma.Vma;
import org.mmlab.mm.vma.VmFlags;

/**
 * Every errno case of the man pages that the model can hit, one row each, on one fixture: each
 * call must fail with Linux's errno and leave the mm exactly as it was (VMAs with flags and pgoff,
 * RSS, map count, free pages, tables).
 *
 * <pre>
 * A  [X,     X+4p)  rw-p, pages 0 and 1 written
 * B  [X+6p,  X+8p)  r--p, page 0 read (zero page)
 * C  [X+10p, X+11p) r--p without VM_MAYWRITE (as a read-only file mapping would be)
 * </pre>
 */
class ErrnoTableTest extends MachineTest {
  private static final long A = X;
  private static final long B = X + 6 * PAGE;
  private static final long C = X + 10 * PAGE;
  private static final long Y = 0x5000_0000L;
  private static final long TASK = Uapi.TASK_SIZE;
  private static final int R = Uapi.PROT_READ;

  record Case(String name, Errno errno, ToLongFunction<Machine> call) {
    @Override
    public String toString() {
      return errno + ": " + name;
    }
  }

  private static Case c(String name, Errno errno, ToLongFunction<Machine> call) {
    return new Case(name, errno, call);
  }

  static Stream<Case> cases() {
    return Stream.of(
        // mmap(2)
        c("mmap length 0", Errno.EINVAL, x -> x.sys.mmap(x.mm, 0, 0, RW, ANON, -1, 0)),
        c("mmap offset not page aligned", Errno.EINVAL, x -> x.sys.mmap(x.mm, 0, PAGE, RW, ANON, -1, 100)),
        c("mmap neither MAP_PRIVATE nor MAP_SHARED", Errno.EINVAL,
            x -> x.sys.mmap(x.mm, 0, PAGE, RW, Uapi.MAP_ANONYMOUS, -1, 0)),
        c("mmap MAP_SHARED_VALIDATE anonymous", Errno.EINVAL,
            x -> x.sys.mmap(x.mm, 0, PAGE, RW, Uapi.MAP_SHARED_VALIDATE | Uapi.MAP_ANONYMOUS, -1, 0)),
        c("mmap unknown map type 4", Errno.EINVAL,
            x -> x.sys.mmap(x.mm, 0, PAGE, RW, 0x04 | Uapi.MAP_ANONYMOUS, -1, 0)),
        c("mmap MAP_FIXED address not aligned", Errno.EINVAL, x -> x.sys.mmap(x.mm, Y + 1, PAGE, RW, FIXED, -1, 0)),
        c("mmap length overflows when rounded", Errno.ENOMEM, x -> x.sys.mmap(x.mm, 0, -1L, RW, ANON, -1, 0)),
        c("mmap length beyond TASK_SIZE", Errno.ENOMEM, x -> x.sys.mmap(x.mm, 0, TASK + PAGE, R, ANON, -1, 0)),
        c("mmap no room", Errno.ENOMEM, x -> x.sys.mmap(x.mm, 0, TASK - Uapi.MMAP_MIN_ADDR, R, ANON, -1, 0)),
        c("mmap MAP_FIXED beyond TASK_SIZE", Errno.ENOMEM,
            x -> x.sys.mmap(x.mm, TASK - PAGE, 2 * PAGE, RW, FIXED, -1, 0)),
        c("mmap MAP_FIXED unaligned beyond TASK_SIZE", Errno.ENOMEM,
            x -> x.sys.mmap(x.mm, TASK - 1, PAGE, RW, FIXED, -1, 0)),
        c("mmap private writable larger than RAM", Errno.ENOMEM, x -> x.sys.mmap(x.mm, 0, 1L << 40, RW, ANON, -1, 0)),
        c("mmap MAP_FIXED_NOREPLACE over A", Errno.EEXIST,
            x -> x.sys.mmap(x.mm, A + 3 * PAGE, 2 * PAGE, RW, ANON | Uapi.MAP_FIXED_NOREPLACE, -1, 0)),
        c("mmap MAP_FIXED below mmap_min_addr", Errno.EPERM, x -> x.sys.mmap(x.mm, PAGE, PAGE, RW, FIXED, -1, 0)),
        c("mmap a file descriptor", Errno.EBADF, x -> x.sys.mmap(x.mm, 0, PAGE, RW, Uapi.MAP_PRIVATE, 3, 0)),
        c("mmap no MAP_ANONYMOUS beats length 0", Errno.EBADF, x -> x.sys.mmap(x.mm, 0, 0, RW, Uapi.MAP_PRIVATE, 3, 0)),
        c("mmap unaligned offset beats a bad fd", Errno.EINVAL,
            x -> x.sys.mmap(x.mm, 0, PAGE, RW, Uapi.MAP_PRIVATE, 3, 1)),
        c("mmap MAP_LOCKED beyond RLIMIT_MEMLOCK", Errno.EAGAIN,
            x -> x.sys.mmap(x.mm, 0, 9L << 20, RW, ANON | Uapi.MAP_LOCKED, -1, 0)),
        c("mmap MAP_SHARED|MAP_ANONYMOUS|MAP_GROWSDOWN", Errno.EINVAL,
            x -> x.sys.mmap(x.mm, 0, PAGE, RW, Uapi.MAP_SHARED | Uapi.MAP_ANONYMOUS | Uapi.MAP_GROWSDOWN, -1, 0)),
        c("mmap MAP_SHARED|MAP_ANONYMOUS|MAP_FIXED_NOREPLACE over A: EEXIST first", Errno.EEXIST,
            x -> x.sys.mmap(x.mm, A, PAGE, RW, Uapi.MAP_SHARED | Uapi.MAP_ANONYMOUS | Uapi.MAP_FIXED_NOREPLACE, -1, 0)),
        // munmap(2)
        c("munmap address not aligned", Errno.EINVAL, x -> x.sys.munmap(x.mm, A + 1, PAGE)),
        c("munmap length 0", Errno.EINVAL, x -> x.sys.munmap(x.mm, A, 0)),
        c("munmap start beyond TASK_SIZE", Errno.EINVAL, x -> x.sys.munmap(x.mm, TASK + PAGE, PAGE)),
        c("munmap range beyond TASK_SIZE", Errno.EINVAL, x -> x.sys.munmap(x.mm, A, TASK)),
        // mprotect(2)
        c("mprotect address not aligned", Errno.EINVAL, x -> x.sys.mprotect(x.mm, A + 1, PAGE, R)),
        c("mprotect unknown prot bit", Errno.EINVAL, x -> x.sys.mprotect(x.mm, A, PAGE, 0x10)),
        c("mprotect PROT_GROWSDOWN|PROT_GROWSUP", Errno.EINVAL,
            x -> x.sys.mprotect(x.mm, A, PAGE, R | Uapi.PROT_GROWSDOWN | Uapi.PROT_GROWSUP)),
        c("mprotect PROT_GROWSDOWN on a VMA that does not grow", Errno.EINVAL,
            x -> x.sys.mprotect(x.mm, A, PAGE, R | Uapi.PROT_GROWSDOWN)),
        c("mprotect PROT_GROWSUP (no VM_GROWSUP on x86)", Errno.EINVAL,
            x -> x.sys.mprotect(x.mm, A, PAGE, R | Uapi.PROT_GROWSUP)),
        c("mprotect start not mapped", Errno.ENOMEM, x -> x.sys.mprotect(x.mm, A - PAGE, 2 * PAGE, R)),
        c("mprotect nothing mapped", Errno.ENOMEM, x -> x.sys.mprotect(x.mm, Y, PAGE, R)),
        c("mprotect a hole between A and B", Errno.ENOMEM, x -> x.sys.mprotect(x.mm, A, 8 * PAGE, R)),
        c("mprotect past the end of B", Errno.ENOMEM, x -> x.sys.mprotect(x.mm, B, 3 * PAGE, R)),
        c("mprotect range wrapping", Errno.ENOMEM, x -> x.sys.mprotect(x.mm, A, -PAGE, R)),
        c("mprotect start beyond 2^63", Errno.ENOMEM, x -> x.sys.mprotect(x.mm, 1L << 63, PAGE, R)),
        c("mprotect PROT_WRITE without VM_MAYWRITE", Errno.EACCES, x -> x.sys.mprotect(x.mm, C, PAGE, RW)),
        c("mprotect EACCES before a later hole", Errno.EACCES, x -> x.sys.mprotect(x.mm, C, 4 * PAGE, RW)),
        c("mprotect a hole before a later EACCES", Errno.ENOMEM, x -> x.sys.mprotect(x.mm, B, 5 * PAGE, RW)),
        c("mprotect private writable larger than RAM", Errno.ENOMEM,
            x -> {
              x.sys.mmap(x.mm, Y, 1L << 40, R, FIXED, -1, 0);
              String s = x.state();
              long r = x.sys.mprotect(x.mm, Y, 1L << 40, RW);
              assertThat(x.state()).isEqualTo(s);
              x.sys.munmap(x.mm, Y, 1L << 40);
              return r;
            }),
        // mremap(2)
        c("mremap unknown flag", Errno.EINVAL, x -> x.sys.mremap(x.mm, A, PAGE, PAGE, 8, 0)),
        c("mremap MREMAP_FIXED without MREMAP_MAYMOVE", Errno.EINVAL,
            x -> x.sys.mremap(x.mm, A, PAGE, PAGE, Uapi.MREMAP_FIXED, Y)),
        c("mremap MREMAP_DONTUNMAP resizing", Errno.EINVAL,
            x -> x.sys.mremap(x.mm, A, PAGE, 2 * PAGE, Uapi.MREMAP_MAYMOVE | Uapi.MREMAP_DONTUNMAP, 0)),
        c("mremap old address not aligned", Errno.EINVAL, x -> x.sys.mremap(x.mm, A + 1, PAGE, PAGE, 0, 0)),
        c("mremap new length 0", Errno.EINVAL, x -> x.sys.mremap(x.mm, A, PAGE, 0, 0, 0)),
        c("mremap old length 0 of a private mapping", Errno.EINVAL,
            x -> x.sys.mremap(x.mm, A, 0, PAGE, Uapi.MREMAP_MAYMOVE, 0)),
        c("mremap new address not aligned", Errno.EINVAL,
            x -> x.sys.mremap(x.mm, A, PAGE, PAGE, Uapi.MREMAP_MAYMOVE | Uapi.MREMAP_FIXED, Y + 1)),
        c("mremap overlapping ranges", Errno.EINVAL,
            x -> x.sys.mremap(x.mm, A, 2 * PAGE, 2 * PAGE, Uapi.MREMAP_MAYMOVE | Uapi.MREMAP_FIXED, A + PAGE)),
        c("mremap new range beyond TASK_SIZE", Errno.EINVAL,
            x -> x.sys.mremap(x.mm, A, PAGE, 2 * PAGE, Uapi.MREMAP_MAYMOVE | Uapi.MREMAP_FIXED, TASK - PAGE)),
        c("mremap no VMA at the old address", Errno.EFAULT, x -> x.sys.mremap(x.mm, Y, PAGE, 2 * PAGE, 0, 0)),
        c("mremap old range beyond its VMA", Errno.EFAULT,
            x -> x.sys.mremap(x.mm, A + 2 * PAGE, 4 * PAGE, 5 * PAGE, Uapi.MREMAP_MAYMOVE, 0)),
        c("mremap fixed, old range beyond its VMA", Errno.EFAULT,
            x -> x.sys.mremap(x.mm, A + 2 * PAGE, 4 * PAGE, 4 * PAGE, Uapi.MREMAP_MAYMOVE | Uapi.MREMAP_FIXED, Y)),
        c("mremap cannot grow in place", Errno.ENOMEM, x -> x.sys.mremap(x.mm, A, 2 * PAGE, 3 * PAGE, 0, 0)),
        c("mremap fixed below mmap_min_addr", Errno.EPERM,
            x -> x.sys.mremap(x.mm, A, PAGE, PAGE, Uapi.MREMAP_MAYMOVE | Uapi.MREMAP_FIXED, PAGE)),
        // madvise(2)
        c("madvise unknown advice", Errno.EINVAL, x -> x.sys.madvise(x.mm, A, PAGE, 42)),
        c("madvise MADV_MERGEABLE without KSM", Errno.EINVAL, x -> x.sys.madvise(x.mm, A, PAGE, Uapi.MADV_MERGEABLE)),
        c("madvise address not aligned", Errno.EINVAL, x -> x.sys.madvise(x.mm, A + 1, PAGE, Uapi.MADV_DONTNEED)),
        c("madvise range wrapping", Errno.EINVAL, x -> x.sys.madvise(x.mm, A, -2 * PAGE, Uapi.MADV_DONTNEED)),
        c("madvise MADV_REMOVE of anonymous memory", Errno.EINVAL,
            x -> x.sys.madvise(x.mm, A, PAGE, Uapi.MADV_REMOVE)),
        c("madvise MADV_POPULATE_WRITE of a read-only VMA", Errno.EINVAL,
            x -> x.sys.madvise(x.mm, B, PAGE, Uapi.MADV_POPULATE_WRITE)),
        c("madvise nothing mapped", Errno.ENOMEM, x -> x.sys.madvise(x.mm, Y, PAGE, Uapi.MADV_DONTNEED)),
        c("madvise flag advice, nothing mapped", Errno.ENOMEM, x -> x.sys.madvise(x.mm, Y, PAGE, Uapi.MADV_RANDOM)),
        c("madvise populate, nothing mapped", Errno.ENOMEM,
            x -> x.sys.madvise(x.mm, Y, PAGE, Uapi.MADV_POPULATE_READ)),
        c("madvise beyond TASK_SIZE", Errno.ENOMEM, x -> x.sys.madvise(x.mm, TASK, PAGE, Uapi.MADV_DONTNEED)),
        // mincore(2)
        c("mincore address not aligned", Errno.EINVAL, x -> x.sys.mincore(x.mm, A + 1, PAGE, new byte[1])),
        c("mincore nothing mapped", Errno.ENOMEM, x -> x.sys.mincore(x.mm, Y, PAGE, new byte[1])),
        c("mincore beyond TASK_SIZE", Errno.ENOMEM, x -> x.sys.mincore(x.mm, TASK, PAGE, new byte[1])),
        c("mincore vector too short", Errno.EFAULT, x -> x.sys.mincore(x.mm, A, 4 * PAGE, new byte[3])));
  }

  private void fixture() {
    m.mapFixed(A, 4, RW);
    m.write(A, 1);
    m.write(A + PAGE, 2);
    m.mapFixed(B, 2, R);
    m.read(B);
    MmStruct mm = m.mm;
    mm.mmapWriteLock();
    mm.replaceVmas(C, C + PAGE, List.of(new Vma(mm, C, C + PAGE, C >>> 12, VmFlags.READ | VmFlags.MAYREAD)));
    mm.mmapWriteUnlock();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void failsWithLinuxErrnoAndChangesNothing(Case c) {
    fixture();
    String before = m.state();
    assertThat(c.call().applyAsLong(m)).as(c.name()).isEqualTo(c.errno().ret());
    assertThat(m.state()).as("the mm after: " + c.name()).isEqualTo(before);
    assertThat(m.read(A)).isEqualTo(1);
    assertThat(m.read(A + PAGE)).isEqualTo(2);
  }
}
