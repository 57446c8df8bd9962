package org.mmlab.mm.mmap;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.mmlab.explore.NativeSched;
import org.mmlab.kernel.Errno;
import org.mmlab.kernel.Uapi;
import org.mmlab.mm.memory.FaultLocking;
import org.mmlab.mm.pgtable.Entry;
import org.mmlab.mm.vma.VmFlags;

/** madvise semantics: DONTNEED zeroing, POPULATE, flag advice with splits and merges, holes. */
class MadviseTest extends MachineTest {
  @Test
  void dontneedZeroesTheRangeAndFreesItsPages() {
    m.mapFixed(X, 4, RW);
    for (int i = 0; i < 4; i++) {
      m.write(X + i * PAGE, 1 + i);
    }
    long free = m.mem.peekNrFreePages();
    assertThat(m.sys.madvise(m.mm, X + PAGE, 2 * PAGE, Uapi.MADV_DONTNEED)).isZero();
    assertThat(m.mm.anonRss()).isEqualTo(2);
    assertThat(m.mem.peekNrFreePages()).isEqualTo(free + 2);
    assertThat(m.pte(X + PAGE)).isZero();
    assertThat(m.read(X + PAGE)).isZero();
    assertThat(m.read(X + 2 * PAGE)).isZero();
    assertThat(m.read(X)).isEqualTo(1);
    assertThat(m.read(X + 3 * PAGE)).isEqualTo(4);
    assertThat(m.maps()).as("DONTNEED leaves the VMAs alone").containsExactly("0x40000000-0x40004000 rw-p");
    m.write(X + PAGE, 8);
    assertThat(m.read(X + PAGE)).isEqualTo(8);
  }

  @Test
  void dontneedOverAHoleZapsTheMappedPartsThenFailsWithEnomem() {
    m.mapFixed(X, 1, RW);
    m.mapFixed(X + 2 * PAGE, 1, RW);
    m.write(X, 1);
    m.write(X + 2 * PAGE, 2);
    assertThat(m.sys.madvise(m.mm, X, 3 * PAGE, Uapi.MADV_DONTNEED)).isEqualTo(Errno.ENOMEM.ret());
    assertThat(m.mm.anonRss()).isZero();
    assertThat(m.sys.madvise(m.mm, X + 4 * PAGE, PAGE, Uapi.MADV_DONTNEED)).as("nothing mapped at all")
        .isEqualTo(Errno.ENOMEM.ret());
  }

  @Test
  void populateReadMapsTheZeroPageAndPopulateWriteAllocates() {
    m.mapFixed(X, 4, RW);
    assertThat(m.sys.madvise(m.mm, X, 2 * PAGE, Uapi.MADV_POPULATE_READ)).isZero();
    assertThat(Entry.pfn(m.pte(X))).isEqualTo(m.faults.zeroPage().pfn());
    assertThat(m.mm.anonRss()).isZero();
    assertThat(m.sys.madvise(m.mm, X, 4 * PAGE, Uapi.MADV_POPULATE_WRITE)).isZero();
    assertThat(m.mm.anonRss()).isEqualTo(4);
    for (int i = 0; i < 4; i++) {
      assertThat(Entry.isWrite(m.pte(X + i * PAGE))).isTrue();
    }
  }

  @Test
  void populateNeedsTheAccessAndAVma() {
    m.mapFixed(X, 2, Uapi.PROT_READ);
    m.mapFixed(X + 2 * PAGE, 1, Uapi.PROT_NONE);
    m.mapFixed(X + 4 * PAGE, 1, RW);
    assertThat(m.sys.madvise(m.mm, X, PAGE, Uapi.MADV_POPULATE_WRITE)).isEqualTo(Errno.EINVAL.ret());
    assertThat(m.sys.madvise(m.mm, X + 2 * PAGE, PAGE, Uapi.MADV_POPULATE_READ)).isEqualTo(Errno.EINVAL.ret());
    assertThat(m.sys.madvise(m.mm, X, 4 * PAGE, Uapi.MADV_POPULATE_READ)).as("stops at the PROT_NONE VMA")
        .isEqualTo(Errno.EINVAL.ret());
    assertThat(m.pte(X + PAGE)).as("the pages before it were populated").isNotZero();
    assertThat(m.sys.madvise(m.mm, X + 4 * PAGE, 2 * PAGE, Uapi.MADV_POPULATE_WRITE)).isEqualTo(Errno.ENOMEM.ret());
    assertThat(m.mm.anonRss()).isEqualTo(1);
  }

  @Test
  void randomAndSequentialSetFlagsSplittingAndNormalMergesBack() {
    m.mapFixed(X, 4, RW);
    assertThat(m.sys.madvise(m.mm, X + PAGE, PAGE, Uapi.MADV_RANDOM)).isZero();
    assertThat(m.mm.mapCount()).isEqualTo(3);
    assertThat(m.vmaAt(X + PAGE).peekFlags() & VmFlags.RAND_READ).isNotZero();
    assertThat(m.sys.madvise(m.mm, X + PAGE, PAGE, Uapi.MADV_SEQUENTIAL)).isZero();
    long f = m.vmaAt(X + PAGE).peekFlags();
    assertThat(f & VmFlags.SEQ_READ).isNotZero();
    assertThat(f & VmFlags.RAND_READ).isZero();
    assertThat(m.sys.madvise(m.mm, X, 4 * PAGE, Uapi.MADV_NORMAL)).isZero();
    assertThat(m.maps()).containsExactly("0x40000000-0x40004000 rw-p");
    assertThat(m.vmaAt(X).peekFlags() & (VmFlags.SEQ_READ | VmFlags.RAND_READ)).isZero();
  }

  @Test
  void flagAdviceOverAHoleAppliesToTheMappedPartsThenFailsWithEnomem() {
    m.mapFixed(X, 2, RW);
    m.mapFixed(X + 3 * PAGE, 2, RW);
    assertThat(m.sys.madvise(m.mm, X + PAGE, 3 * PAGE, Uapi.MADV_DONTFORK)).isEqualTo(Errno.ENOMEM.ret());
    assertThat(m.vmaAt(X).peekFlags() & VmFlags.DONTCOPY).isZero();
    assertThat(m.vmaAt(X + PAGE).peekFlags() & VmFlags.DONTCOPY).isNotZero();
    assertThat(m.vmaAt(X + 3 * PAGE).peekFlags() & VmFlags.DONTCOPY).isNotZero();
    assertThat(m.vmaAt(X + 4 * PAGE).peekFlags() & VmFlags.DONTCOPY).isZero();
    assertThat(m.mm.mapCount()).isEqualTo(4);
  }

  @Test
  void theOtherFlagAdviceSetAndClearTheirFlags() {
    m.mapFixed(X, 1, RW);
    int[][] steps = {
        {Uapi.MADV_WIPEONFORK}, {Uapi.MADV_DONTDUMP}, {Uapi.MADV_HUGEPAGE}};
    for (int[] s : steps) {
      assertThat(m.sys.madvise(m.mm, X, PAGE, s[0])).isZero();
    }
    long f = m.vmaAt(X).peekFlags();
    assertThat(f & (VmFlags.WIPEONFORK | VmFlags.DONTDUMP | VmFlags.HUGEPAGE)).isEqualTo(
        VmFlags.WIPEONFORK | VmFlags.DONTDUMP | VmFlags.HUGEPAGE);
    assertThat(m.sys.madvise(m.mm, X, PAGE, Uapi.MADV_KEEPONFORK)).isZero();
    assertThat(m.sys.madvise(m.mm, X, PAGE, Uapi.MADV_DODUMP)).isZero();
    assertThat(m.sys.madvise(m.mm, X, PAGE, Uapi.MADV_NOHUGEPAGE)).isZero();
    f = m.vmaAt(X).peekFlags();
    assertThat(f & (VmFlags.WIPEONFORK | VmFlags.DONTDUMP | VmFlags.HUGEPAGE)).isZero();
    assertThat(f & VmFlags.NOHUGEPAGE).isNotZero();
  }

  @ParameterizedTest
  @ValueSource(ints = {Uapi.MADV_WILLNEED, Uapi.MADV_COLD, Uapi.MADV_PAGEOUT, Uapi.MADV_FREE, Uapi.MADV_NORMAL})
  void noOpAdviceIsAcceptedAndKeepsTheContents(int advice) {
    m.mapFixed(X, 2, RW);
    m.write(X, 3);
    String before = m.state();
    assertThat(m.sys.madvise(m.mm, X, 2 * PAGE, advice)).isZero();
    assertThat(m.state()).isEqualTo(before);
    assertThat(m.read(X)).isEqualTo(3);
  }

  @ParameterizedTest
  @ValueSource(ints = {Uapi.MADV_MERGEABLE, Uapi.MADV_UNMERGEABLE, 5, 6, 7, 26, 99, 100, 101, 102, -1})
  void unknownAdviceIsEinval(int advice) {
    m.mapFixed(X, 1, RW);
    String before = m.state();
    assertThat(m.sys.madvise(m.mm, X, PAGE, advice)).isEqualTo(Errno.EINVAL.ret());
    assertThat(m.state()).isEqualTo(before);
  }

  @Test
  void argumentErrorsAndLengthZero() {
    m.mapFixed(X, 1, RW);
    String before = m.state();
    assertThat(m.sys.madvise(m.mm, X + 1, PAGE, Uapi.MADV_DONTNEED)).isEqualTo(Errno.EINVAL.ret());
    assertThat(m.sys.madvise(m.mm, X, -1L, Uapi.MADV_DONTNEED)).as("length rounding to 0")
        .isEqualTo(Errno.EINVAL.ret());
    assertThat(m.sys.madvise(m.mm, X, -2 * PAGE, Uapi.MADV_DONTNEED)).as("range wrapping")
        .isEqualTo(Errno.EINVAL.ret());
    assertThat(m.sys.madvise(m.mm, X + 8 * PAGE, 0, Uapi.MADV_DONTNEED)).as("length 0").isZero();
    assertThat(m.sys.madvise(m.mm, X, PAGE, Uapi.MADV_REMOVE)).as("no file").isEqualTo(Errno.EINVAL.ret());
    assertThat(m.sys.madvise(m.mm, X, PAGE, Uapi.MADV_COLLAPSE)).isEqualTo(Errno.EINVAL.ret());
    assertThat(m.state()).isEqualTo(before);
  }

  @Test
  void aSplitOverTheMapCountLimitIsEagain() {
    m = new Machine(new NativeSched(), FaultLocking.PER_VMA, MmapLimits.DEFAULT.withMaxMapCount(2), 32L << 20);
    m.mapFixed(X, 4, RW);
    m.mapFixed(X + 8 * PAGE, 4, RW);
    assertThat(m.sys.madvise(m.mm, X + PAGE, PAGE, Uapi.MADV_RANDOM)).isEqualTo(Errno.EAGAIN.ret());
    assertThat(m.mm.mapCount()).isEqualTo(2);
  }
}
