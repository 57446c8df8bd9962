package org.mmlab.mm.mmap;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.mmlab.explore.NativeSched;
import org.mmlab.kernel.Errno;
import org.mmlab.kernel.Uapi;
import org.mmlab.mm.memory.FaultLocking;
import org.mmlab.mm.memory.FaultResult;
import org.mmlab.mm.pgtable.Entry;
import org.mmlab.mm.vma.VmFlags;

/** mmap semantics: placement, MAP_FIXED, merging, populate, flags and limits. */
class MmapTest extends MachineTest {
  private static final long BASE = MmapLimits.DEFAULT.mmapBase();

  @Test
  void placementIsTopDownBelowMmapBaseAndAdjacentMappingsMerge() {
    long a = m.sys.mmap(m.mm, 0, PAGE, RW, ANON, -1, 0);
    assertThat(a).isEqualTo(BASE - PAGE).isEqualTo(0x7fff_f7ff_e000L);
    long b = m.sys.mmap(m.mm, 0, 3 * PAGE, RW, ANON, -1, 0);
    assertThat(b).isEqualTo(a - 3 * PAGE);
    assertThat(m.maps()).containsExactly("0x7ffff7ffb000-0x7ffff7fff000 rw-p");
    assertThat(m.vmaAt(a).peekPgoff()).as("anonymous vm_pgoff is addr >> PAGE_SHIFT").isEqualTo(b >>> 12);
  }

  @Test
  void differentProtectionsDoNotMerge() {
    long a = m.sys.mmap(m.mm, 0, PAGE, RW, ANON, -1, 0);
    long b = m.sys.mmap(m.mm, 0, PAGE, Uapi.PROT_READ, ANON, -1, 0);
    assertThat(b).isEqualTo(a - PAGE);
    assertThat(m.maps()).containsExactly("0x7ffff7ffd000-0x7ffff7ffe000 r--p", "0x7ffff7ffe000-0x7ffff7fff000 rw-p");
  }

  @Test
  void aFreeHintIsTakenAndABusyOneIgnored() {
    assertThat(m.sys.mmap(m.mm, 0x1000_0123L, 2 * PAGE, RW, ANON, -1, 0)).as("rounded down").isEqualTo(0x1000_0000L);
    assertThat(m.sys.mmap(m.mm, 0x1000_1000L, PAGE, RW, ANON, -1, 0)).as("busy: top-down instead")
        .isEqualTo(BASE - PAGE);
    assertThat(m.sys.mmap(m.mm, 0x1000, PAGE, RW, ANON, -1, 0)).as("below mmap_min_addr: raised to it")
        .isEqualTo(Uapi.MMAP_MIN_ADDR);
    assertThat(m.sys.mmap(m.mm, Uapi.TASK_SIZE - PAGE, 2 * PAGE, RW, ANON, -1, 0)).as("hint past TASK_SIZE: ignored")
        .isEqualTo(BASE - 3 * PAGE);
  }

  @Test
  void aLengthOfWholeHugePagesIsPlacedHugePageAligned() {
    long a = m.sys.mmap(m.mm, 0, 2L << 20, RW, ANON, -1, 0);
    assertThat(a).isEqualTo(0x7fff_f7c0_0000L);
    assertThat(a % (2L << 20)).isZero();
  }

  @Test
  void map32bitSearchesUpFromOneGib() {
    assertThat(m.sys.mmap(m.mm, 0, PAGE, RW, ANON | Uapi.MAP_32BIT, -1, 0)).isEqualTo(0x4000_0000L);
    assertThat(m.sys.mmap(m.mm, 0, PAGE, RW, ANON | Uapi.MAP_32BIT, -1, 0)).isEqualTo(0x4000_1000L);
  }

  @Test
  void mapFixedReplacesAndTheReplacedRangeReadsZero() {
    m.mapFixed(X, 4, RW);
    for (int i = 0; i < 4; i++) {
      m.write(X + i * PAGE, 0x1111L * (i + 1));
    }
    assertThat(m.mm.anonRss()).isEqualTo(4);
    m.mapFixed(X + PAGE, 2, RW);
    assertThat(m.maps()).as("same flags, contiguous pgoff: merged back into one").containsExactly(
        "0x40000000-0x40004000 rw-p");
    assertThat(m.mm.anonRss()).isEqualTo(2);
    assertThat(m.read(X)).isEqualTo(0x1111L);
    assertThat(m.read(X + PAGE)).isZero();
    assertThat(m.read(X + 2 * PAGE)).isZero();
    assertThat(m.read(X + 3 * PAGE)).isEqualTo(0x4444L);
  }

  @Test
  void mapFixedWithAnotherProtectionSplits() {
    m.mapFixed(X, 4, RW);
    m.mapFixed(X + PAGE, 1, Uapi.PROT_READ);
    m.mapFixed(X + 3 * PAGE, 3, Uapi.PROT_NONE);
    assertThat(m.maps()).containsExactly("0x40000000-0x40001000 rw-p", "0x40001000-0x40002000 r--p",
        "0x40002000-0x40003000 rw-p", "0x40003000-0x40006000 ---p");
  }

  @Test
  void fixedNoreplaceFailsOverAMappingAndSucceedsBesideIt() {
    m.mapFixed(X, 2, RW);
    String before = m.state();
    int noreplace = ANON | Uapi.MAP_FIXED_NOREPLACE;
    assertThat(m.sys.mmap(m.mm, X + PAGE, 2 * PAGE, RW, noreplace, -1, 0)).isEqualTo(Errno.EEXIST.ret());
    assertThat(m.state()).isEqualTo(before);
    assertThat(m.sys.mmap(m.mm, X + 2 * PAGE, PAGE, RW, noreplace, -1, 0)).isEqualTo(X + 2 * PAGE);
    assertThat(m.maps()).containsExactly("0x40000000-0x40003000 rw-p");
  }

  @Test
  void populateWriteFaultsAWritableMappingAndReadFaultsAReadOnlyOne() {
    long a = m.sys.mmap(m.mm, X, 8 * PAGE, RW, FIXED | Uapi.MAP_POPULATE, -1, 0);
    assertThat(a).isEqualTo(X);
    assertThat(m.mm.anonRss()).isEqualTo(8);
    for (int i = 0; i < 8; i++) {
      long e = m.pte(X + i * PAGE);
      assertThat(Entry.isWrite(e) && !Entry.isSpecial(e)).isTrue();
    }
    long r = m.sys.mmap(m.mm, X + 16 * PAGE, 4 * PAGE, Uapi.PROT_READ, FIXED | Uapi.MAP_POPULATE, -1, 0);
    assertThat(r).isEqualTo(X + 16 * PAGE);
    assertThat(m.mm.anonRss()).as("read faults map the zero page").isEqualTo(8);
    assertThat(Entry.pfn(m.pte(r))).isEqualTo(m.faults.zeroPage().pfn());
    long none = m.sys.mmap(m.mm, X + 32 * PAGE, 4 * PAGE, Uapi.PROT_NONE, FIXED | Uapi.MAP_POPULATE, -1, 0);
    assertThat(m.pte(none)).as("PROT_NONE is not populated").isZero();
    long nb = m.sys.mmap(m.mm, X + 48 * PAGE, 4 * PAGE, RW, FIXED | Uapi.MAP_POPULATE | Uapi.MAP_NONBLOCK, -1, 0);
    assertThat(m.pte(nb)).as("MAP_NONBLOCK cancels MAP_POPULATE").isZero();
  }

  @Test
  void noreserveSetsTheFlagAndEscapesTheOvercommitHeuristic() {
    long huge = 1L << 30; // larger than the machine's 32 MiB
    assertThat(m.sys.mmap(m.mm, 0, huge, RW, ANON, -1, 0)).isEqualTo(Errno.ENOMEM.ret());
    assertThat(m.sys.mmap(m.mm, 0, huge, Uapi.PROT_READ, ANON, -1, 0)).as("read-only: not charged")
        .isPositive();
    long a = m.sys.mmap(m.mm, 0, huge, RW, ANON | Uapi.MAP_NORESERVE, -1, 0);
    assertThat(a).isPositive();
    assertThat(m.vmaAt(a).peekFlags() & VmFlags.NORESERVE).isNotZero();
    m.write(a + huge - PAGE, 7);
    assertThat(m.read(a + huge - PAGE)).isEqualTo(7);
  }

  @Test
  void overcommitAlwaysChargesNothing() {
    m = new Machine(new NativeSched(), FaultLocking.PER_VMA, MmapLimits.DEFAULT.withOvercommitGuess(false), 32L << 20);
    assertThat(m.sys.mmap(m.mm, 0, 1L << 30, RW, ANON, -1, 0)).isPositive();
  }

  @Test
  void theVmFlagsComeFromProtPlusEveryMayBit() {
    long a = m.sys.mmap(m.mm, 0, PAGE, Uapi.PROT_READ | Uapi.PROT_EXEC, ANON | Uapi.MAP_STACK, -1, 0);
    assertThat(m.vmaAt(a).peekFlags()).isEqualTo(VmFlags.READ | VmFlags.EXEC | VmFlags.MAYREAD | VmFlags.MAYWRITE
        | VmFlags.MAYEXEC | VmFlags.NOHUGEPAGE);
  }

  @Test
  void theMapCountLimitIsExceededByOneAsInLinux() {
    m = new Machine(new NativeSched(), FaultLocking.PER_VMA, MmapLimits.DEFAULT.withMaxMapCount(3), 32L << 20);
    for (int i = 0; i < 4; i++) {
      assertThat(m.sys.mmap(m.mm, X + i * 2 * PAGE, PAGE, RW, FIXED, -1, 0)).isEqualTo(X + i * 2 * PAGE);
    }
    assertThat(m.mm.mapCount()).as("do_mmap refuses only map_count > max").isEqualTo(4);
    String before = m.state();
    assertThat(m.sys.mmap(m.mm, X + 10 * PAGE, PAGE, RW, FIXED, -1, 0)).isEqualTo(Errno.ENOMEM.ret());
    assertThat(m.state()).isEqualTo(before);
  }

  @Test
  void unmodelledButValidRequestsReturnEnodev() {
    String before = m.state();
    // Shared anonymous memory needs shmem: without a file system installed (a bare MmSyscalls,
    // no Kernel) there is nothing to back it, ENOMEM as shmem_zero_setup failing gives.
    assertThat(m.sys.mmap(m.mm, 0, PAGE, RW, Uapi.MAP_SHARED | Uapi.MAP_ANONYMOUS, -1, 0))
        .isEqualTo(Errno.ENOMEM.ret());
    assertThat(m.sys.mmap(m.mm, 0, PAGE, RW, Mmap.MAP_DROPPABLE | Uapi.MAP_ANONYMOUS, -1, 0))
        .isEqualTo(Errno.ENODEV.ret());
    assertThat(m.sys.mmap(m.mm, 0, PAGE, RW, ANON | Uapi.MAP_HUGETLB, -1, 0)).isEqualTo(Errno.ENODEV.ret());
    assertThat(m.sys.mmap(m.mm, 0, PAGE, RW, ANON | Uapi.MAP_GROWSDOWN, -1, 0)).isEqualTo(Errno.ENODEV.ret());
    assertThat(m.sys.mmap(m.mm, 0, PAGE, RW, ANON | Uapi.MAP_LOCKED, -1, 0)).isEqualTo(Errno.ENODEV.ret());
    assertThat(m.sys.mmap(m.mm, 0, 16L << 20, RW, ANON | Uapi.MAP_LOCKED, -1, 0)).as("over RLIMIT_MEMLOCK")
        .isEqualTo(Errno.EAGAIN.ret());
    assertThat(m.sys.mmap(m.mm, 0, PAGE, RW, Uapi.MAP_SHARED | Uapi.MAP_ANONYMOUS | Uapi.MAP_GROWSDOWN, -1, 0))
        .as("invalid before unmodelled").isEqualTo(Errno.EINVAL.ret());
    assertThat(m.state()).isEqualTo(before);
  }

  @Test
  void aPrivilegedProcessMayMapBelowMmapMinAddr() {
    assertThat(m.sys.mmap(m.mm, 0, PAGE, RW, FIXED, -1, 0)).isEqualTo(Errno.EPERM.ret());
    m = new Machine(new NativeSched(), FaultLocking.PER_VMA, MmapLimits.DEFAULT.withCapSysRawio(true), 32L << 20);
    assertThat(m.sys.mmap(m.mm, 0, PAGE, RW, FIXED, -1, 0)).isZero();
    m.write(0, 42);
    assertThat(m.read(0)).isEqualTo(42);
  }

  @Test
  void aReadOfANewMappingFaultsTheZeroPageAndAWriteCopiesIt() {
    long a = m.sys.mmap(m.mm, 0, PAGE, RW, ANON, -1, 0);
    assertThat(m.read(a)).isZero();
    assertThat(Entry.isSpecial(m.pte(a))).isTrue();
    m.write(a, 5);
    assertThat(m.read(a)).isEqualTo(5);
    assertThat(m.faults.userFault(m.mm, a + PAGE, false)).isEqualTo(FaultResult.SEGV_MAPERR);
  }
}
