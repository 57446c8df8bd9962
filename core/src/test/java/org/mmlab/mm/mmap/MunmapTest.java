package org.mmlab.mm.mmap;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.mmlab.explore.NativeSched;
import org.mmlab.kernel.Errno;
import org.mmlab.kernel.Uapi;
import org.mmlab.mm.memory.FaultLocking;
import org.mmlab.mm.memory.FaultResult;
import org.mmlab.mm.vma.Vma;

/** munmap semantics: splits, holes, page-table freeing within the neighbours' bounds, the map-count limit. */
class MunmapTest extends MachineTest {
  @Test
  void munmapOfMiddlePageSplitsVma() {
    m.mapFixed(X, 3, RW);
    for (int i = 0; i < 3; i++) {
      m.write(X + i * PAGE, 100 + i);
    }
    Vma original = m.vmaAt(X);
    assertThat(m.sys.munmap(m.mm, X + PAGE, PAGE)).isZero();
    assertThat(m.maps()).containsExactly("0x40000000-0x40001000 rw-p", "0x40002000-0x40003000 rw-p");
    assertThat(m.vmaAt(X)).as("__split_vma(new_below): the part left below is a new VMA").isNotSameAs(original);
    assertThat(m.vmaAt(X + 2 * PAGE).peekPgoff()).as("the upper part keeps its pgoff").isEqualTo((X >>> 12) + 2);
    assertThat(original.peekDetached()).isTrue();
    assertThat(m.read(X)).isEqualTo(100);
    assertThat(m.read(X + 2 * PAGE)).isEqualTo(102);
    assertThat(m.faults.userFault(m.mm, X + PAGE, false)).isEqualTo(FaultResult.SEGV_MAPERR);
    assertThat(m.mm.anonRss()).isEqualTo(2);
  }

  @Test
  void munmapAcrossVmasAndHolesUnmapsWhatIsThere() {
    m.mapFixed(X, 2, RW);
    m.mapFixed(X + 3 * PAGE, 2, Uapi.PROT_READ);
    m.mapFixed(X + 6 * PAGE, 2, RW);
    m.write(X + 7 * PAGE, 9);
    assertThat(m.sys.munmap(m.mm, X + PAGE, 6 * PAGE)).isZero();
    assertThat(m.maps()).containsExactly("0x40000000-0x40001000 rw-p", "0x40007000-0x40008000 rw-p");
    assertThat(m.read(X + 7 * PAGE)).isEqualTo(9);
  }

  @Test
  void unmappingNothingSucceedsAndAnUnalignedLengthRoundsUp() {
    assertThat(m.sys.munmap(m.mm, X, PAGE)).isZero();
    m.mapFixed(X, 2, RW);
    assertThat(m.sys.munmap(m.mm, X, 1)).isZero();
    assertThat(m.maps()).containsExactly("0x40001000-0x40002000 rw-p");
  }

  @Test
  void pageTablesAreFreedOnlyWhereNoNeighbourUsesThem() {
    long pmd = 2L << 20;
    m.mapFixed(X, 1, RW);
    m.mapFixed(X + pmd, 512, RW); // a whole PTE table's worth
    m.mapFixed(X + 2 * pmd + PAGE, 1, RW);
    m.write(X, 1);
    m.write(X + pmd, 2);
    m.write(X + 2 * pmd + PAGE, 3);
    long tables = m.pt().peekNrTables(); // PGD, PUD, PMD, 3 PTE tables
    assertThat(tables).isEqualTo(6);
    assertThat(m.sys.munmap(m.mm, X + pmd, pmd)).isZero();
    assertThat(m.pt().peekNrTables()).as("the middle PTE table, used by nobody else, is freed").isEqualTo(5);
    assertThat(m.sys.munmap(m.mm, X + 2 * pmd + PAGE, PAGE)).isZero();
    assertThat(m.pt().peekNrTables()).isEqualTo(4);
    assertThat(m.read(X)).isEqualTo(1);
  }

  @Test
  void theTableUnderTwoVmasSurvivesUnmappingOne() {
    m.mapFixed(X, 1, RW);
    m.mapFixed(X + 2 * PAGE, 1, Uapi.PROT_READ);
    m.write(X, 1);
    m.read(X + 2 * PAGE);
    long tables = m.pt().peekNrTables();
    assertThat(m.sys.munmap(m.mm, X + 2 * PAGE, PAGE)).isZero();
    assertThat(m.pt().peekNrTables()).as("the PTE table still maps X").isEqualTo(tables);
    assertThat(m.read(X)).isEqualTo(1);
  }

  @Test
  void splittingOneVmaInThreeAtTheMapCountLimitFails() {
    m = new Machine(new NativeSched(), FaultLocking.PER_VMA, MmapLimits.DEFAULT.withMaxMapCount(2), 32L << 20);
    m.mapFixed(X, 4, RW);
    m.mapFixed(X + 8 * PAGE, 4, RW);
    String before = m.state();
    assertThat(m.sys.munmap(m.mm, X + PAGE, PAGE)).isEqualTo(Errno.ENOMEM.ret());
    assertThat(m.state()).isEqualTo(before);
    assertThat(m.sys.munmap(m.mm, X, PAGE)).as("a split at one end does not raise the count").isZero();
    assertThat(m.sys.munmap(m.mm, X + 3 * PAGE, 6 * PAGE)).as("nor do splits at both ends of a range").isZero();
    assertThat(m.maps()).containsExactly("0x40001000-0x40003000 rw-p", "0x40009000-0x4000c000 rw-p");
  }

  /**
   * A call spanning many VMAs costs O(n log n), not O(n^2): 20,000 VMAs merged by one mprotect,
   * split again by madvise, unmapped by one munmap.
   */
  @Test
  @Timeout(30)
  void callsSpanningManyVmasScale() {
    int n = 20_000;
    for (int i = 0; i < n; i++) {
      m.mapFixed(X + i * PAGE, 1, i % 2 == 0 ? RW : Uapi.PROT_READ);
    }
    assertThat(m.mm.mapCount()).isEqualTo(n);
    assertThat(m.sys.mprotect(m.mm, X, n * PAGE, RW)).isZero();
    assertThat(m.maps()).containsExactly("0x40000000-0x44e20000 rw-p");
    assertThat(m.sys.mprotect(m.mm, X, n * PAGE, Uapi.PROT_READ)).isZero();
    for (int i = 0; i < n; i += 2) {
      assertThat(m.sys.madvise(m.mm, X + i * PAGE, PAGE, Uapi.MADV_RANDOM)).isZero();
    }
    assertThat(m.mm.mapCount()).isEqualTo(n);
    assertThat(m.sys.munmap(m.mm, X, n * PAGE)).isZero();
    assertThat(m.mm.mapCount()).isZero();
  }

  @Test
  void munmapErrors() {
    m.mapFixed(X, 2, RW);
    String before = m.state();
    assertThat(m.sys.munmap(m.mm, X + 1, PAGE)).isEqualTo(Errno.EINVAL.ret());
    assertThat(m.sys.munmap(m.mm, X, 0)).isEqualTo(Errno.EINVAL.ret());
    assertThat(m.sys.munmap(m.mm, Uapi.TASK_SIZE, PAGE)).isEqualTo(Errno.EINVAL.ret());
    assertThat(m.sys.munmap(m.mm, Uapi.TASK_SIZE - PAGE, 2 * PAGE)).isEqualTo(Errno.EINVAL.ret());
    assertThat(m.sys.munmap(m.mm, X, -1L)).isEqualTo(Errno.EINVAL.ret());
    assertThat(m.state()).isEqualTo(before);
  }
}
