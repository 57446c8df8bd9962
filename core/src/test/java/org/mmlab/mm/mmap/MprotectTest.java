package org.mmlab.mm.mmap;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.mmlab.explore.NativeSched;
import org.mmlab.kernel.Errno;
import org.mmlab.kernel.Uapi;
import org.mmlab.mm.memory.FaultLocking;
import org.mmlab.mm.memory.FaultResult;
import org.mmlab.mm.pgtable.Entry;
import org.mmlab.mm.vma.Vma;
import org.mmlab.mm.vma.VmFlags;

/** mprotect semantics: splits and merges, the PTEs, contents, EACCES, all-or-nothing errors. */
class MprotectTest extends MachineTest {
  private static final int R = Uapi.PROT_READ;

  @Test
  void readOnlyMiddleSplitsInThreeWriteProtectsAndMergesBack() {
    m.mapFixed(X, 3, RW);
    for (int i = 0; i < 3; i++) {
      m.write(X + i * PAGE, 10 + i);
    }
    long pfn = Entry.pfn(m.pte(X + PAGE));
    Vma original = m.vmaAt(X);
    assertThat(m.sys.mprotect(m.mm, X + PAGE, PAGE, R)).isZero();
    assertThat(m.maps()).containsExactly("0x40000000-0x40001000 rw-p", "0x40001000-0x40002000 r--p",
        "0x40002000-0x40003000 rw-p");
    assertThat(m.vmaAt(X + PAGE)).as("the original VMA keeps the middle").isSameAs(original);
    assertThat(Entry.isWrite(m.pte(X + PAGE))).isFalse();
    assertThat(Entry.isWrite(m.pte(X))).isTrue();
    assertThat(m.read(X + PAGE)).isEqualTo(11);
    assertThat(m.faults.userFault(m.mm, X + PAGE, true)).isEqualTo(FaultResult.SEGV_ACCERR);

    assertThat(m.sys.mprotect(m.mm, X + PAGE, PAGE, RW)).isZero();
    assertThat(m.maps()).containsExactly("0x40000000-0x40003000 rw-p");
    assertThat(Entry.isWrite(m.pte(X + PAGE))).as("granting write changes no PTE").isFalse();
    m.write(X + PAGE, 99); // do_wp_page reuses the exclusive page
    assertThat(Entry.pfn(m.pte(X + PAGE))).isEqualTo(pfn);
    assertThat(m.read(X + PAGE)).isEqualTo(99);
    assertThat(m.read(X + 2 * PAGE)).isEqualTo(12);
  }

  @Test
  void protNoneRefusesEveryAccessAndKeepsTheContents() {
    m.mapFixed(X, 2, RW);
    m.write(X, 7);
    m.read(X + PAGE); // the zero page
    assertThat(m.sys.mprotect(m.mm, X, 2 * PAGE, Uapi.PROT_NONE)).isZero();
    assertThat(m.maps()).containsExactly("0x40000000-0x40002000 ---p");
    assertThat(Entry.isUser(m.pte(X))).isFalse();
    assertThat(Entry.isUser(m.pte(X + PAGE))).isFalse();
    assertThat(m.faults.userFault(m.mm, X, false)).isEqualTo(FaultResult.SEGV_ACCERR);
    byte[] vec = new byte[2];
    assertThat(m.sys.mincore(m.mm, X, 2 * PAGE, vec)).isZero();
    assertThat(vec).as("PROT_NONE pages stay resident").containsExactly(1, 1);
    assertThat(m.sys.mprotect(m.mm, X, 2 * PAGE, R)).isZero();
    assertThat(Entry.isUser(m.pte(X))).isTrue();
    assertThat(m.read(X)).isEqualTo(7);
    assertThat(m.read(X + PAGE)).isZero();
  }

  /**
   * The merge cases of {@code vma_merge_existing_range}: three VMAs A (rw) B (r) C (rw) side by
   * side with contiguous pgoffs; mprotect a range of B to rw and see what merges.
   */
  @ParameterizedTest(name = "[{0}, {1}) of B -> {2}")
  @CsvSource(delimiterString = "|", value = {
      "4 | 8 | 0x40000000-0x4000c000 rw-p",
      "4 | 6 | 0x40000000-0x40006000 rw-p,0x40006000-0x40008000 r--p,0x40008000-0x4000c000 rw-p",
      "6 | 8 | 0x40000000-0x40004000 rw-p,0x40004000-0x40006000 r--p,0x40006000-0x4000c000 rw-p",
      "5 | 7 | 0x40000000-0x40004000 rw-p,0x40004000-0x40005000 r--p,0x40005000-0x40007000 rw-p,"
          + "0x40007000-0x40008000 r--p,0x40008000-0x4000c000 rw-p"})
  void mergeCases(int from, int to, String expected) {
    m.mapFixed(X, 4, RW);
    m.mapFixed(X + 4 * PAGE, 4, R);
    m.mapFixed(X + 8 * PAGE, 4, RW);
    for (int i = 0; i < 12; i++) {
      m.read(X + i * PAGE);
    }
    assertThat(m.sys.mprotect(m.mm, X + from * PAGE, (to - from) * PAGE, RW)).isZero();
    assertThat(String.join(",", m.maps())).isEqualTo(expected);
    assertThat(m.mm.mapCount()).isEqualTo(expected.split(",").length);
  }

  @Test
  void aRangeOverSeveralVmasChangesThemAllAndMergesThem() {
    m.mapFixed(X, 2, RW);
    m.mapFixed(X + 2 * PAGE, 2, R);
    m.mapFixed(X + 4 * PAGE, 2, Uapi.PROT_NONE);
    assertThat(m.sys.mprotect(m.mm, X + PAGE, 4 * PAGE, Uapi.PROT_READ | Uapi.PROT_EXEC)).isZero();
    assertThat(m.maps()).containsExactly("0x40000000-0x40001000 rw-p", "0x40001000-0x40005000 r-xp",
        "0x40005000-0x40006000 ---p");
  }

  @Test
  void protectionBeyondTheMayBitsIsEacces() {
    m.mm.mmapWriteLock();
    m.mm.replaceVmas(X, X + PAGE, java.util.List.of(new Vma(m.mm, X, X + PAGE, X >>> 12,
        VmFlags.READ | VmFlags.MAYREAD | VmFlags.MAYEXEC)));
    m.mm.mmapWriteUnlock();
    m.mapFixed(X + PAGE, 1, RW);
    String before = m.state();
    assertThat(m.sys.mprotect(m.mm, X, 2 * PAGE, RW)).isEqualTo(Errno.EACCES.ret());
    assertThat(m.sys.mprotect(m.mm, X + PAGE, PAGE, Uapi.PROT_NONE)).isZero();
    before = m.state();
    assertThat(m.sys.mprotect(m.mm, X, 2 * PAGE, R | Uapi.PROT_WRITE)).as("EACCES at the first VMA: nothing changed")
        .isEqualTo(Errno.EACCES.ret());
    assertThat(m.state()).isEqualTo(before);
    assertThat(m.sys.mprotect(m.mm, X, PAGE, Uapi.PROT_EXEC)).isZero();
    assertThat(m.maps().getFirst()).isEqualTo("0x40000000-0x40001000 --xp");
  }

  @Test
  void aHoleFailsWithEnomemAndChangesNothing() {
    m.mapFixed(X, 2, RW);
    m.mapFixed(X + 3 * PAGE, 2, RW);
    String before = m.state();
    assertThat(m.sys.mprotect(m.mm, X, 5 * PAGE, R)).isEqualTo(Errno.ENOMEM.ret());
    assertThat(m.state()).as("Linux would have changed [X, X+2p): the model changes nothing").isEqualTo(before);
    assertThat(m.sys.mprotect(m.mm, X + 2 * PAGE, PAGE, R)).isEqualTo(Errno.ENOMEM.ret());
    assertThat(m.sys.mprotect(m.mm, X - PAGE, 2 * PAGE, R)).isEqualTo(Errno.ENOMEM.ret());
    assertThat(m.state()).isEqualTo(before);
  }

  @Test
  void splitsOverTheMapCountLimitFailAndChangeNothing() {
    m = new Machine(new NativeSched(), FaultLocking.PER_VMA, MmapLimits.DEFAULT.withMaxMapCount(2), 32L << 20);
    m.mapFixed(X, 4, RW);
    m.mapFixed(X + 8 * PAGE, 4, RW);
    String before = m.state();
    assertThat(m.sys.mprotect(m.mm, X + PAGE, PAGE, R)).isEqualTo(Errno.ENOMEM.ret());
    assertThat(m.sys.mprotect(m.mm, X, PAGE, R)).isEqualTo(Errno.ENOMEM.ret());
    assertThat(m.state()).isEqualTo(before);
    assertThat(m.sys.mprotect(m.mm, X, 4 * PAGE, R)).as("no split needed").isZero();
  }

  @Test
  void lengthZeroSucceedsBeforeProtIsChecked() {
    assertThat(m.sys.mprotect(m.mm, X, 0, 0x40)).isZero();
    assertThat(m.sys.mprotect(m.mm, X, PAGE, 0x40)).isEqualTo(Errno.EINVAL.ret());
    m.mapFixed(X, 1, RW);
    assertThat(m.sys.mprotect(m.mm, X, PAGE, R | Mprotect.PROT_SEM)).as("PROT_SEM is accepted").isZero();
  }
}
