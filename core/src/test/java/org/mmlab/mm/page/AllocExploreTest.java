package org.mmlab.mm.page;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.ExploreResult;
import org.mmlab.explore.Explorer;
import org.mmlab.lab.Checks;
import org.mmlab.sync.Spinlock;

/**
 * The allocator and folio reference counts under the explorer: concurrent allocation and
 * freeing from two CPUs leaves no verdict and a clean walk (the explorer runs the consistency
 * walk after every execution); the classic misuses are found.
 */
@Timeout(180)
class AllocExploreTest {
  private static final long MIB = 1 << 20;
  private static final FramePool POOL = new FramePool(16);
  private static final LockClass PTL = LockClass.of("test:alloc-explore ptl");

  private static ExploreResult explore(Explorer.Program p, long executions) {
    return new Explorer(p, Explorer.Config.defaults().withExecutions(executions).withMaxSteps(5_000)
        .withTimeLimit(java.time.Duration.ofMinutes(10))).explore(null);
  }

  /** The end check every clean program shares: everything went back, fully merged once the per-CPU lists are drained. */
  private static Runnable allReturned(PhysMem mem) {
    return () -> {
      Checks.equal("free pages", mem.totalPages(), mem.peekNrFreePages());
      mem.drainAllPages();
      Checks.equal("max-order blocks", mem.totalPages() >> PhysMem.MAX_PAGE_ORDER, mem.peekFreeBlocks(PhysMem.MAX_PAGE_ORDER));
      mem.release();
    };
  }

  @Test
  void twoCpusAllocatingAndFreeingConcurrentlyLeaveNoVerdictAndACleanWalk() {
    ExploreResult r = explore(ex -> {
      PhysMem mem = new PhysMem(ex, 16 * MIB, 2, POOL);
      ex.addCpu("cpu0", () -> {
        Page a = mem.allocPages(Gfp.KERNEL, 0);
        Page b = mem.allocPages(Gfp.KERNEL | Gfp.ZERO, 3);
        mem.frames().store64(a.phys(), 1);
        mem.freePages(a, 0);
        Folio c = mem.folioAlloc(Gfp.KERNEL, 2);
        mem.freePages(b, 3);
        c.folioPut();
      });
      ex.addCpu("cpu1", () -> {
        Folio f = mem.folioAlloc(Gfp.NOWAIT, 1);
        Page g = mem.allocPagesNode(0, Gfp.KERNEL, 0, "test");
        f.folioPut();
        Page h = mem.allocPages(Gfp.KERNEL, PhysMem.MAX_PAGE_ORDER);
        mem.freePages(g, 0);
        mem.freePages(h, PhysMem.MAX_PAGE_ORDER);
      });
      return allReturned(mem);
    }, 3_000);
    assertThat(r.verdictId()).as(String.valueOf(r.verdict())).isEqualTo("none");
    assertThat(r.executions()).isEqualTo(3_000);
  }

  @Test
  void aSpeculativeGetRacingTheLastPutEitherFailsOrKeepsTheFolioAlive() {
    ExploreResult r = explore(ex -> {
      PhysMem mem = new PhysMem(ex, 8 * MIB, 1, POOL);
      Folio f = mem.folioAlloc(Gfp.KERNEL, 0);
      ex.addCpu("owner", f::folioPut);
      ex.addCpu("lookup", () -> {
        if (f.folioTryGet()) {
          f.folioPut();
        }
      });
      return allReturned(mem);
    }, 2_000);
    assertThat(r.verdictId()).as(String.valueOf(r.verdict())).isEqualTo("none");
  }

  @Test
  void aNonSpeculativeGetThroughAStalePointerIsFound() {
    ExploreResult r = explore(ex -> {
      PhysMem mem = new PhysMem(ex, 8 * MIB, 1, POOL);
      Folio f = mem.folioAlloc(Gfp.KERNEL, 0);
      ex.addCpu("owner", f::folioPut);
      ex.addCpu("lookup", () -> {
        f.folioGet(); // wrong: the lookup holds no reference, it must use folio_try_get
        f.folioPut();
      });
      return allReturned(mem);
    }, 2_000);
    assertThat(r.verdictId()).isEqualTo("refcount-misuse");
  }

  @Test
  void twoCpusFreeingTheSamePageIsFound() {
    ExploreResult r = explore(ex -> {
      PhysMem mem = new PhysMem(ex, 8 * MIB, 1, POOL);
      Page p = mem.allocPages(Gfp.KERNEL, 0);
      ex.addCpu("a", () -> mem.freePages(p, 0));
      ex.addCpu("b", () -> mem.freePages(p, 0));
      return allReturned(mem);
    }, 2_000);
    assertThat(r.verdictId()).isIn("use-after-free", "refcount-misuse");
  }

  @Test
  void aLookupRetryingOnAFrozenFolioProceedsOnceUnfrozen() {
    ExploreResult r = explore(ex -> {
      PhysMem mem = new PhysMem(ex, 8 * MIB, 1, POOL);
      Folio f = mem.folioAlloc(Gfp.KERNEL, 0);
      ex.addCpu("freezer", () -> {
        if (f.folioRefFreeze(1)) {
          f.folioRefUnfreeze(1);
        }
      });
      ex.addCpu("lookup", () -> {
        while (!f.folioTryGet()) {
          ex.retry("folio_try_get", f.frozenRef());
        }
        f.folioPut();
      });
      return () -> {
        f.folioPut();
        allReturned(mem).run();
      };
    }, 2_000);
    assertThat(r.verdictId()).as(String.valueOf(r.verdict())).isEqualTo("none");
  }

  @Test
  void spinningOnAFrozenFolioUnderALockTheFreezerNeedsIsADeadlockThroughAPseudoLock() {
    ExploreResult r = explore(ex -> {
      PhysMem mem = new PhysMem(ex, 8 * MIB, 1, POOL);
      Folio f = mem.folioAlloc(Gfp.KERNEL, 0);
      Spinlock ptl = new Spinlock(ex, "ptl", PTL);
      ex.addCpu("collapse", () -> {
        if (f.folioRefFreeze(1)) {
          ptl.lock(); // the seed-004 shape: the freezer then needs the PTL
          ptl.unlock();
          f.folioRefUnfreeze(1);
        }
      });
      ex.addCpu("lookup", () -> {
        ptl.lock();
        while (!f.folioTryGet()) {
          ex.retry("folio_try_get", f.frozenRef());
        }
        ptl.unlock();
        f.folioPut();
      });
      return () -> {
        f.folioPut();
        mem.release();
      };
    }, 2_000);
    assertThat(r.verdictId()).as(String.valueOf(r.verdict())).isEqualTo("deadlock");
    assertThat(r.verdict().details()).anyMatch(l -> l.contains("pseudo-lock"));
  }

  @Test
  void explorationIsDeterministic() {
    Explorer.Program p = ex -> {
      PhysMem mem = new PhysMem(ex, 8 * MIB, 1, POOL);
      Page shared = mem.allocPages(Gfp.KERNEL, 0);
      ex.addCpu("a", () -> {
        Page x = mem.allocPages(Gfp.KERNEL, 1);
        mem.pfnToPage(shared.pfn() + 7).testFlag(PageFlag.BUDDY);
        mem.freePages(x, 1);
      });
      ex.addCpu("b", () -> {
        mem.freePages(shared, 0);
        mem.freePages(shared, 0); // a double free: found in some interleaving, always the same one
      });
      return allReturned(mem);
    };
    ExploreResult first = explore(p, 500);
    ExploreResult second = explore(p, 500);
    assertThat(first.verdictId()).isNotEqualTo("none");
    assertThat(second.bugAtExecution()).isEqualTo(first.bugAtExecution());
    assertThat(second.verdict().headline()).isEqualTo(first.verdict().headline());
    assertThat(first.found().replayIdentical()).as("the replay reproduced the trace").isTrue();
  }
}
