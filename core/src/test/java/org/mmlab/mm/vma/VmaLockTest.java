package org.mmlab.mm.vma;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.mmlab.explore.ExploreResult;
import org.mmlab.explore.ExploreSched;
import org.mmlab.explore.Explorer;
import org.mmlab.explore.NativeSched;
import org.mmlab.explore.Sched;
import org.mmlab.mm.page.PhysMem;
import org.mmlab.mm.pgtable.PageTables;
import org.mmlab.sync.Atomic;

/** The 6.4 per-VMA lock protocol, and what each of lock_vma_under_rcu's re-checks is for. */
class VmaLockTest {
  private static final long START = 0x400000;
  private static final long END = 0x600000;
  private static final long ADDR = 0x500000;

  private static MmStruct mmWithOneVma(Sched s, MmStruct.Checks checks) {
    PhysMem mem = new PhysMem(s, 16L << 20);
    MmStruct mm = new MmStruct(s, "mm", PageTables.create(s, mem, "mm"), checks);
    mm.mmapWriteLock();
    mm.link(new Vma(mm, START, END, 0, VmFlags.READ | VmFlags.WRITE | VmFlags.MAYREAD | VmFlags.MAYWRITE));
    mm.mmapWriteUnlock();
    return mm;
  }

  @Test
  void aReaderGetsTheVmaUnlessItIsWriteLocked() {
    NativeSched s = new NativeSched();
    MmStruct mm = mmWithOneVma(s, MmStruct.Checks.ALL);
    Vma v = mm.lockVmaUnderRcu(ADDR);
    assertThat(v).isNotNull();
    assertThat(v.peekStart()).isEqualTo(START);
    mm.vmaEndRead(v);
    assertThat(mm.lockVmaUnderRcu(END)).isNull();
    mm.mmapWriteLock();
    mm.vmaStartWrite(v);
    assertThat(mm.vmaStartRead(v)).as("write-locked until the mmap write lock is dropped").isFalse();
    mm.mmapWriteUnlock();
    Vma again = mm.lockVmaUnderRcu(ADDR);
    assertThat(again).isSameAs(v);
    mm.vmaEndRead(again);
    assertThat(mm.vmaLockEvents()[0]).isEqualTo(2);
  }

  /** A fault under the VMA lock (falling back to the mmap lock) against munmap of its VMA. */
  private static Explorer.Program faultVersusMunmap(MmStruct.Checks checks, boolean freeWithoutGracePeriod,
      boolean downgrade) {
    return faultVersusMunmap(checks, freeWithoutGracePeriod, downgrade, !downgrade);
  }

  /**
   * @param shrink munmap first trims the VMA (as a split would) before removing it: a reader that
   *     holds the VMA while it is write-locked sees it change
   */
  private static Explorer.Program faultVersusMunmap(MmStruct.Checks checks, boolean freeWithoutGracePeriod,
      boolean downgrade, boolean shrink) {
    return ex -> {
      MmStruct mm = mmWithOneVma(ex, checks);
      Atomic readers = new Atomic(ex, "readers holding the vma", 0);
      ex.addCpu("fault", () -> {
        Vma v = mm.lockVmaUnderRcu(ADDR);
        if (v != null) {
          readers.addAndGet(1);
          long end = v.end();
          ex.retry("touch", null);
          assertThat(v.isDetached()).as("a read-locked VMA is attached").isFalse();
          assertThat(v.end()).as("a read-locked VMA does not change").isEqualTo(end);
          assertThat(v.start() <= ADDR && ADDR < end).isTrue();
          readers.addAndGet(-1);
          mm.vmaEndRead(v);
        } else {
          mm.mmapReadLock();
          mm.vmaLookup(ADDR);
          mm.mmapReadUnlock();
        }
      });
      ex.addCpu("munmap", () -> {
        mm.mmapWriteLock();
        Vma v = mm.vmaLookup(ADDR);
        mm.vmaStartWrite(v);
        assertThat(readers.read()).as("vma_start_write waited for the readers").isZero();
        if (shrink) {
          v.setEnd(ADDR);
        }
        mm.unlink(v);
        if (downgrade) {
          mm.mmapWriteDowngrade();
          ex.retry("zap under the read lock", null);
          mm.mmapReadUnlock();
        } else {
          mm.mmapWriteUnlock();
        }
        if (freeWithoutGracePeriod) {
          v.free();
        } else {
          mm.freeVma(v);
        }
      });
      return () -> {};
    };
  }

  private static ExploreResult explore(Explorer.Program p, String strategy, long n) {
    return new Explorer(p, Explorer.Config.defaults().withStrategy(strategy).withExecutions(n)).explore(null);
  }

  @ParameterizedTest
  @ValueSource(strings = {"random", "pct", "pos", "dfs", "portfolio"})
  void theProtocolKeepsAReaderAwayFromAVmaBeingUnmapped(String strategy) {
    assertThat(explore(faultVersusMunmap(MmStruct.Checks.ALL, false, false), strategy, 5_000).verdictId()).isEqualTo("none");
    assertThat(explore(faultVersusMunmap(MmStruct.Checks.ALL, false, true), strategy, 5_000).verdictId()).isEqualTo("none");
  }

  @Test
  void freeingTheVmaWithoutAGracePeriodIsFound() {
    ExploreResult r = explore(faultVersusMunmap(MmStruct.Checks.ALL, true, false), "portfolio", 5_000);
    assertThat(r.verdictId()).isIn("rcu-misuse", "use-after-free");
  }

  @Test
  void withoutTheSequenceRecheckAReaderHoldsAWriteLockedVma() {
    ExploreResult r = explore(faultVersusMunmap(new MmStruct.Checks(false, true, true), false, false), "portfolio",
        20_000);
    assertThat(r.verdictId()).isEqualTo("assertion");
    System.out.println(r.verdict().headline());
  }

  @Test
  void withoutTheDetachedCheckADowngradeHandsOutADetachedVma() {
    // reference/upstream.md §2 P4: the downgrade ends the write lock of the detached VMA.
    ExploreResult r = explore(faultVersusMunmap(new MmStruct.Checks(true, true, false), false, true), "portfolio",
        20_000);
    assertThat(r.verdictId()).isEqualTo("assertion");
    assertThat(r.verdict().headline()).containsAnyOf("attached", "does not change", "expected");
  }

  @Test
  void theSameChecksOffGiveNoVerdictWithoutTheRaceTheyClose() {
    // Without a downgrade the detached check is not needed: the write lock lasts until the VMA is gone.
    assertThat(explore(faultVersusMunmap(new MmStruct.Checks(true, true, false), false, false), "portfolio", 5_000)
        .verdictId()).isEqualTo("none");
  }

  @Test
  void writeLockingNeedsTheMmapWriteLock() {
    ExploreResult r = new Explorer(ex -> {
      MmStruct mm = mmWithOneVma(ex, MmStruct.Checks.ALL);
      ex.addCpu("bad", () -> {
        mm.mmapReadLock();
        try {
          mm.vmaStartWrite(mm.vmaLookup(ADDR));
        } finally {
          mm.mmapReadUnlock();
        }
      });
      return () -> {};
    }, Explorer.Config.defaults().withExecutions(10)).explore(null);
    assertThat(r.verdictId()).isEqualTo("invariant");
    assertThat(r.verdict().headline()).contains("for write");
    assertThat(List.of(ExploreSched.class)).isNotEmpty();
  }
}
