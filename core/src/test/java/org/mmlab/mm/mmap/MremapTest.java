package org.mmlab.mm.mmap;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.mmlab.explore.NativeSched;
import org.mmlab.kernel.Errno;
import org.mmlab.kernel.Uapi;
import org.mmlab.mm.memory.FaultLocking;
import org.mmlab.mm.memory.FaultResult;
import org.mmlab.mm.pgtable.Entry;

/** mremap semantics: shrink, grow in place, moves (MAYMOVE, FIXED, DONTUNMAP), contents surviving each. */
class MremapTest extends MachineTest {
  private static final int MAYMOVE = Uapi.MREMAP_MAYMOVE;
  private static final int FIXED_MOVE = Uapi.MREMAP_MAYMOVE | Uapi.MREMAP_FIXED;
  private static final long Y = 0x5000_0000L;

  /** Maps {@code pages} at {@code addr} and writes a distinct value into each. */
  private void fill(long addr, int pages) {
    m.mapFixed(addr, pages, RW);
    for (int i = 0; i < pages; i++) {
      m.write(addr + i * PAGE, addr + i);
    }
  }

  private void assertFilled(long at, long from, int pages) {
    for (int i = 0; i < pages; i++) {
      assertThat(m.read(at + i * PAGE)).as("page %d moved from 0x%x to 0x%x", i, from, at).isEqualTo(from + i);
    }
  }

  @Test
  void shrinkUnmapsTheTail() {
    fill(X, 4);
    assertThat(m.sys.mremap(m.mm, X, 4 * PAGE, 2 * PAGE, 0, 0)).isEqualTo(X);
    assertThat(m.maps()).containsExactly("0x40000000-0x40002000 rw-p");
    assertFilled(X, X, 2);
    assertThat(m.mm.anonRss()).isEqualTo(2);
    assertThat(m.sys.mremap(m.mm, X, 2 * PAGE, 2 * PAGE, 0, 0)).as("same length: nothing to do").isEqualTo(X);
  }

  @Test
  void growInPlaceWhenTheSpaceAfterIsFree() {
    fill(X, 2);
    assertThat(m.sys.mremap(m.mm, X, 2 * PAGE, 4 * PAGE, 0, 0)).isEqualTo(X);
    assertThat(m.maps()).containsExactly("0x40000000-0x40004000 rw-p");
    assertFilled(X, X, 2);
    assertThat(m.read(X + 3 * PAGE)).isZero();
  }

  @Test
  void growInPlaceMergesWithTheNextVma() {
    fill(X, 2);
    m.mapFixed(X + 4 * PAGE, 2, RW);
    assertThat(m.sys.mremap(m.mm, X, 2 * PAGE, 4 * PAGE, 0, 0)).isEqualTo(X);
    assertThat(m.maps()).containsExactly("0x40000000-0x40006000 rw-p");
    assertThat(m.mm.mapCount()).isEqualTo(1);
  }

  @Test
  void growBlockedWithoutMaymoveIsEnomemAndWithItMoves() {
    fill(X, 2);
    m.mapFixed(X + 2 * PAGE, 1, Uapi.PROT_READ);
    String before = m.state();
    assertThat(m.sys.mremap(m.mm, X, 2 * PAGE, 4 * PAGE, 0, 0)).isEqualTo(Errno.ENOMEM.ret());
    assertThat(m.state()).isEqualTo(before);
    long to = m.sys.mremap(m.mm, X, 2 * PAGE, 4 * PAGE, MAYMOVE, 0);
    assertThat(to).as("a new top-down address").isEqualTo(MmapLimits.DEFAULT.mmapBase() - 4 * PAGE);
    assertFilled(to, X, 2);
    assertThat(m.read(to + 3 * PAGE)).isZero();
    assertThat(m.faults.userFault(m.mm, X, false)).isEqualTo(FaultResult.SEGV_MAPERR);
    assertThat(m.vmaAt(to).peekPgoff()).as("the moved VMA keeps the pgoff its pages' index is relative to")
        .isEqualTo(X >>> 12);
    assertThat(m.maps()).containsExactly("0x40002000-0x40003000 r--p", "0x7ffff7ffb000-0x7ffff7fff000 rw-p");
  }

  @Test
  void growingAPartInsideAVmaMovesThatPart() {
    fill(X, 4);
    long to = m.sys.mremap(m.mm, X + PAGE, 2 * PAGE, 3 * PAGE, MAYMOVE, 0);
    assertThat(to).isPositive();
    assertFilled(to, X + 1, 2);
    assertThat(m.maps()).containsExactly("0x40000000-0x40001000 rw-p", "0x40003000-0x40004000 rw-p",
        "0x7ffff7ffc000-0x7ffff7fff000 rw-p");
    assertFilled(X, X, 1);
    assertThat(m.read(X + 3 * PAGE)).isEqualTo(X + 3);
  }

  @Test
  void fixedMoveReplacesTheDestination() {
    fill(X, 3);
    fill(Y, 4);
    long rssBefore = m.mm.anonRss();
    assertThat(m.sys.mremap(m.mm, X, 3 * PAGE, 3 * PAGE, FIXED_MOVE, Y + PAGE)).isEqualTo(Y + PAGE);
    assertFilled(Y + PAGE, X, 3);
    assertThat(m.read(Y)).isEqualTo(Y);
    assertThat(m.maps()).as("the moved VMA's pgoff is X's: it does not merge with Y's remnant")
        .containsExactly("0x50000000-0x50001000 rw-p", "0x50001000-0x50004000 rw-p");
    assertThat(m.mm.anonRss()).isEqualTo(rssBefore - 3);
  }

  @Test
  void fixedMoveInsideItsOwnVma() {
    fill(X, 8);
    assertThat(m.sys.mremap(m.mm, X, 2 * PAGE, 2 * PAGE, FIXED_MOVE, X + 4 * PAGE)).isEqualTo(X + 4 * PAGE);
    assertThat(m.maps()).containsExactly("0x40002000-0x40004000 rw-p", "0x40004000-0x40006000 rw-p",
        "0x40006000-0x40008000 rw-p");
    assertFilled(X + 4 * PAGE, X, 2);
    assertFilled(X + 2 * PAGE, X + 2, 2);
    assertFilled(X + 6 * PAGE, X + 6, 2);
    assertThat(m.mm.anonRss()).isEqualTo(6);
  }

  @Test
  void fixedMoveWithShrinkUnmapsTheTailFirst() {
    fill(X, 4);
    assertThat(m.sys.mremap(m.mm, X, 4 * PAGE, 2 * PAGE, FIXED_MOVE, Y)).isEqualTo(Y);
    assertFilled(Y, X, 2);
    assertThat(m.maps()).containsExactly("0x50000000-0x50002000 rw-p");
    assertThat(m.mm.anonRss()).isEqualTo(2);
  }

  @Test
  void movingBackRestoresTheOriginalVmaByMerging() {
    fill(X, 4);
    assertThat(m.sys.mremap(m.mm, X + PAGE, PAGE, PAGE, FIXED_MOVE, Y)).isEqualTo(Y);
    assertThat(m.mm.mapCount()).isEqualTo(3);
    assertThat(m.sys.mremap(m.mm, Y, PAGE, PAGE, FIXED_MOVE, X + PAGE)).isEqualTo(X + PAGE);
    assertThat(m.maps()).as("pgoffs contiguous again").containsExactly("0x40000000-0x40004000 rw-p");
    assertFilled(X, X, 4);
  }

  @Test
  void dontunmapKeepsTheOldVmaEmpty() {
    fill(X, 2);
    long to = m.sys.mremap(m.mm, X, 2 * PAGE, 2 * PAGE, MAYMOVE | Uapi.MREMAP_DONTUNMAP, 0);
    assertThat(to).isPositive();
    assertFilled(to, X, 2);
    assertThat(m.vmaAt(X)).isNotNull();
    assertThat(m.pte(X)).isZero();
    assertThat(m.read(X)).as("the old range faults in fresh zero pages").isZero();
    assertThat(m.mm.anonRss()).isEqualTo(2);
  }

  @Test
  void dontunmapUsesNewAddrAsAHint() {
    fill(X, 1);
    assertThat(m.sys.mremap(m.mm, X, PAGE, PAGE, MAYMOVE | Uapi.MREMAP_DONTUNMAP, Y)).isEqualTo(Y);
    assertFilled(Y, X, 1);
  }

  @Test
  void movedPtesKeepTheirPagesAndTablesFollow() {
    fill(X, 1);
    long pfn = Entry.pfn(m.pte(X));
    long to = m.sys.mremap(m.mm, X, PAGE, PAGE, FIXED_MOVE, X + (4L << 20));
    assertThat(Entry.pfn(m.pte(to))).isEqualTo(pfn);
    assertThat(m.pt().peekNrTables()).as("the old PTE table was freed with the old range").isEqualTo(4);
  }

  @Test
  void mremapErrorsChangeNothing() {
    fill(X, 4);
    fill(Y, 2);
    String before = m.state();
    long[][] cases = {
        // {old, oldLen, newLen, flags, newAddr, errno}
        {X, PAGE, PAGE, 8, 0, Errno.EINVAL.value()},
        {X, PAGE, PAGE, Uapi.MREMAP_FIXED, Y, Errno.EINVAL.value()},
        {X, PAGE, 2 * PAGE, MAYMOVE | Uapi.MREMAP_DONTUNMAP, 0, Errno.EINVAL.value()},
        {X, PAGE, PAGE, Uapi.MREMAP_DONTUNMAP, 0, Errno.EINVAL.value()},
        {X + 1, PAGE, PAGE, 0, 0, Errno.EINVAL.value()},
        {X, PAGE, 0, 0, 0, Errno.EINVAL.value()},
        {X - PAGE, PAGE, 2 * PAGE, MAYMOVE, 0, Errno.EFAULT.value()},
        {X, 5 * PAGE, 6 * PAGE, MAYMOVE, 0, Errno.EFAULT.value()},
        {X, 0, PAGE, MAYMOVE, 0, Errno.EINVAL.value()},
        {X, PAGE, PAGE, FIXED_MOVE, X + 1, Errno.EINVAL.value()},
        {X, 2 * PAGE, 2 * PAGE, FIXED_MOVE, X + PAGE, Errno.EINVAL.value()},
        {X + 2 * PAGE, PAGE, 2 * PAGE, FIXED_MOVE, X + PAGE, Errno.EINVAL.value()},
        {X, PAGE, PAGE, FIXED_MOVE, Uapi.TASK_SIZE, Errno.EINVAL.value()},
        {X, PAGE, PAGE, FIXED_MOVE, 0x1000, Errno.EPERM.value()},
        {X + 3 * PAGE, 2 * PAGE, 2 * PAGE, FIXED_MOVE, Y, Errno.EFAULT.value()},
        {X + 3 * PAGE, 2 * PAGE, 3 * PAGE, 0, 0, Errno.EFAULT.value()},
    };
    for (long[] c : cases) {
      long r = m.sys.mremap(m.mm, c[0], c[1], c[2], (int) c[3], c[4]);
      assertThat(r).as("mremap(0x%x, 0x%x, 0x%x, %d, 0x%x)", c[0], c[1], c[2], c[3], c[4]).isEqualTo(-c[5]);
      assertThat(m.state()).as("unchanged after mremap(0x%x, 0x%x, 0x%x, %d, 0x%x)", c[0], c[1], c[2], c[3], c[4])
          .isEqualTo(before);
    }
  }

  @Test
  void theFixedChecksRunBeforeItsUnmaps() {
    fill(X, 2);
    fill(Y, 2);
    String before = m.state();
    // Old range beyond its VMA: Linux unmaps [Y, Y+3p) and then fails with EFAULT; the model fails first.
    assertThat(m.sys.mremap(m.mm, X, 3 * PAGE, 3 * PAGE, FIXED_MOVE, Y)).isEqualTo(Errno.EFAULT.ret());
    assertThat(m.state()).isEqualTo(before);
  }

  @Test
  void theMoveNeedsFourMapsOfRoom() {
    m = new Machine(new NativeSched(), FaultLocking.PER_VMA, MmapLimits.DEFAULT.withMaxMapCount(5), 32L << 20);
    fill(X, 2);
    m.mapFixed(X + 2 * PAGE, 1, Uapi.PROT_READ);
    String before = m.state();
    assertThat(m.sys.mremap(m.mm, X, 2 * PAGE, 4 * PAGE, MAYMOVE, 0)).as("map_count 2 >= 5 - 3")
        .isEqualTo(Errno.ENOMEM.ret());
    assertThat(m.sys.mremap(m.mm, X, PAGE, PAGE, FIXED_MOVE, Y)).as("map_count + 2 >= 5 - 3")
        .isEqualTo(Errno.ENOMEM.ret());
    assertThat(m.state()).isEqualTo(before);
    assertThat(m.sys.mremap(m.mm, X, 2 * PAGE, PAGE, 0, 0)).as("shrinking needs no room").isEqualTo(X);
  }
}
