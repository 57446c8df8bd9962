package org.mmlab.mm.mmu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mmlab.mm.mmu.Machine.MIB;
import static org.mmlab.mm.mmu.Machine.RW;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.mmlab.explore.Cpu;
import org.mmlab.explore.ExploreResult;
import org.mmlab.explore.Explorer;
import org.mmlab.mm.page.Page;
import org.mmlab.mm.pgtable.Level;
import org.mmlab.mm.pgtable.MmuGather;
import org.mmlab.mm.pgtable.PageTables;
import org.mmlab.sync.Spinlock;

/**
 * The shootdown guarantee under the explorer. CPU0 is in user mode and loads; CPU1 unmaps (or
 * tears the tables down) and frees through a {@link MmuGather} whose flusher is the MMU's. With
 * the gather's order (flush, then free) no strategy finds anything; with the pages or tables
 * freed before the flush, the explorer finds the use-after-free.
 */
class ShootdownExploreTest {
  private static final long ADDR = 0x40_0000L;
  private static final long VALUE = 0x1234_5678_9abc_def0L;
  private static final int LOADS = 3;
  private static final long EXECUTIONS = 3_000;

  /**
   * (a)/(b): CPU0 loads {@code ADDR} in a loop; CPU1 clears the PTE under the PTE lock, hands
   * the page to the gather and finishes it (flush, then free; or free, then flush).
   */
  static Explorer.Program unmapWhileLoading(boolean freeBeforeFlush) {
    return ex -> {
      Machine m = new Machine(ex, 16 * MIB);
      Page page = m.map(ADDR, RW);
      m.mem.frames().store64(page.phys(), VALUE);
      List<Long> seen = new ArrayList<>();
      ex.addCpu("user", () -> {
        Cpu me = ex.cpu();
        m.mmu.enterUser(me, m.mm);
        for (int i = 0; i < LOADS; i++) {
          long v = m.mmu.load(me, m.mm, ADDR, 8);
          if (m.mmu.lastFault(me) != null) {
            break; // the kernel's fault path would run now: SIGSEGV, the mapping is gone
          }
          seen.add(v);
        }
        m.mmu.enterKernel(me);
      });
      ex.addCpu("munmap", () -> {
        MmuGather tlb = new MmuGather(m.pt, m.mmu.flusher(m.mm), freeBeforeFlush);
        PageTables.Slot pte = m.pt.walk(ADDR, Level.PTE);
        Spinlock ptl = pte.table().ptl();
        ptl.lock();
        m.pt.getAndClear(pte, "ptep_get_and_clear");
        ptl.unlock();
        tlb.removeFolio(page, ADDR);
        tlb.finish();
      });
      return () -> {
        assertThat(seen).as("every completed load saw the page's contents").allMatch(v -> v == VALUE);
        assertThat(page.peekRefCount()).isZero();
      };
    };
  }

  /**
   * (c): CPU0 loads three unmapped addresses under one PTE table, so each load walks all four
   * levels; CPU1 frees every table of the range through the gather.
   */
  static Explorer.Program walkWhileFreeingTables(boolean freeBeforeFlush) {
    return ex -> {
      Machine m = new Machine(ex, 16 * MIB);
      m.pt.allocToPte(ADDR);
      List<Fault> faults = new ArrayList<>();
      ex.addCpu("user", () -> {
        Cpu me = ex.cpu();
        m.mmu.enterUser(me, m.mm);
        for (int i = 0; i < LOADS; i++) {
          m.mmu.load(me, m.mm, ADDR + i * 4096L, 8);
          faults.add(m.mmu.lastFault(me));
        }
        m.mmu.enterKernel(me);
      });
      ex.addCpu("munmap", () -> {
        MmuGather tlb = new MmuGather(m.pt, m.mmu.flusher(m.mm), freeBeforeFlush);
        m.pt.freePgtables(tlb, ADDR, ADDR + Level.PMD.span(), 0, 0);
        tlb.finish();
      });
      return () -> {
        assertThat(faults).hasSize(LOADS).allSatisfy(f -> assertThat(f.kind()).isEqualTo(Fault.Kind.NOT_PRESENT));
        assertThat(m.pt.check()).isEqualTo(1);
      };
    };
  }

  private static ExploreResult explore(Explorer.Program p, String strategy, long executions) {
    ExploreResult r = new Explorer(p, Explorer.Config.defaults().withStrategy(strategy).withExecutions(executions))
        .explore(null);
    System.out.printf("%-10s %-16s executions=%d steps=%d exhausted=%b found-at=%d%n", strategy, r.verdictId(),
        r.executions(), r.totalSteps(), r.exhausted(), r.bugAtExecution());
    return r;
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"random", "pct", "pos", "dfs", "portfolio"})
  void noCpuUsesAStaleTranslationOnceTheFlushReturned(String strategy) {
    ExploreResult r = explore(unmapWhileLoading(false), strategy, EXECUTIONS);
    assertThat(r.verdictId()).as(String.valueOf(r.verdict())).isEqualTo("none");
    assertThat(r.executions() == EXECUTIONS || r.exhausted()).isTrue();
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"random", "pct", "pos", "dfs", "portfolio"})
  void freeingThePageBeforeTheFlushIsFoundAsAUseAfterFree(String strategy) {
    ExploreResult r = explore(unmapWhileLoading(true), strategy, EXECUTIONS);
    assertThat(r.verdictId()).isEqualTo("use-after-free");
    assertThat(r.verdict().headline()).startsWith("user access through a stale translation to freed pfn 0x");
    assertThat(r.verdict().details()).anySatisfy(d -> assertThat(d).contains("CPU0 (user): user load"));
    assertThat(r.found().replayIdentical()).isTrue();
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"random", "pct", "pos", "dfs", "portfolio"})
  void aWalkerNeverReadsATableFreedUnderIt(String strategy) {
    ExploreResult r = explore(walkWhileFreeingTables(false), strategy, EXECUTIONS);
    assertThat(r.verdictId()).as(String.valueOf(r.verdict())).isEqualTo("none");
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"random", "pct", "pos", "dfs", "portfolio"})
  void freeingTablesBeforeTheFlushIsFoundAsAUseAfterFreeByTheWalker(String strategy) {
    ExploreResult r = explore(walkWhileFreeingTables(true), strategy, EXECUTIONS);
    assertThat(r.verdictId()).isEqualTo("use-after-free");
    assertThat(r.verdict().headline()).containsPattern("p[gum]d_get|pte|hardware walk");
    assertThat(r.verdict().details()).anySatisfy(d -> assertThat(d).startsWith("freed:").contains("munmap"));
    assertThat(r.verdict().details()).anySatisfy(d -> assertThat(d).startsWith("used:").contains("user"));
    assertThat(r.found().replayIdentical()).isTrue();
  }

  @Test
  void aUserCpuThatFinishesInUserModeDoesNotHoldTheFlusher() {
    ExploreResult r = explore(ex -> {
      Machine m = new Machine(ex, 16 * MIB);
      Page page = m.map(ADDR, RW);
      ex.addCpu("user", () -> {
        m.mmu.enterUser(ex.cpu(), m.mm);
        m.mmu.load(ex.cpu(), m.mm, ADDR, 8);
      });
      ex.addCpu("munmap", () -> {
        MmuGather tlb = new MmuGather(m.pt, m.mmu.flusher(m.mm));
        m.clearPte(ADDR);
        tlb.removeFolio(page, ADDR);
        tlb.finish();
      });
      return () -> assertThat(page.peekRefCount()).isZero();
    }, "dfs", EXECUTIONS);
    assertThat(r.verdictId()).as(String.valueOf(r.verdict())).isEqualTo("none");
  }

  @Test
  void everyScheduleWithUpToFourPreemptionsKeepsTheGuarantee() {
    ExploreResult unmap = explore(unmapWhileLoading(false), "dfs:4", 200_000);
    assertThat(unmap.verdictId()).as(String.valueOf(unmap.verdict())).isEqualTo("none");
    assertThat(unmap.exhausted()).isTrue();
    ExploreResult tables = explore(walkWhileFreeingTables(false), "dfs:4", 200_000);
    assertThat(tables.verdictId()).as(String.valueOf(tables.verdict())).isEqualTo("none");
    assertThat(tables.exhausted()).isTrue();
  }

  /** The control experiment: the same gather with a flush that waits for nobody is found. */
  @Test
  void aFlushThatDoesNotWaitForTheOtherCpuIsFound() {
    ExploreResult r = explore(ex -> {
      Machine m = new Machine(ex, 16 * MIB);
      Page page = m.map(ADDR, RW);
      ex.addCpu("user", () -> {
        m.mmu.enterUser(ex.cpu(), m.mm);
        for (int i = 0; i < LOADS; i++) {
          m.mmu.load(ex.cpu(), m.mm, ADDR, 8);
        }
        m.mmu.enterKernel(ex.cpu());
      });
      ex.addCpu("munmap", () -> {
        MmuGather tlb = new MmuGather(m.pt, (start, end) -> m.mmu.tlb(ex.cpu()).flushRange(m.mm, start, end));
        m.clearPte(ADDR);
        tlb.removeFolio(page, ADDR);
        tlb.finish();
      });
      return () -> {};
    }, "portfolio", EXECUTIONS);
    // Either the load through the stale entry after the free, or, when no load came after it, the
    // consistency walk's finding that a TLB counting as current still holds the entry.
    assertThat(r.verdictId()).isIn("use-after-free", "invariant");
    assertThat(r.verdict().headline()).contains("stale translation");
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"continuation", "virtual", "platform"})
  void theSameSeedGivesTheSameExplorationOnEveryBackend(String backend) {
    Explorer.Config c = Explorer.Config.defaults().withStrategy("random").withExecutions(200);
    ExploreResult best = new Explorer(walkWhileFreeingTables(false), c).explore(null);
    ExploreResult other = new Explorer(walkWhileFreeingTables(false), c.withBackend(backend)).explore(null);
    assertThat(other.totalSteps()).isEqualTo(best.totalSteps());
    ExploreResult bug = new Explorer(unmapWhileLoading(true), c.withBackend(backend)).explore(null);
    assertThat(bug.bugAtExecution()).isEqualTo(new Explorer(unmapWhileLoading(true), c).explore(null).bugAtExecution());
  }
}
