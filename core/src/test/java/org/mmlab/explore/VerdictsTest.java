package org.mmlab.explore;

import org.mmlab.explore.Sched;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.mmlab.debug.KObject;
import org.mmlab.debug.LockClass;
import org.mmlab.sync.Atomic;
import org.mmlab.sync.Spinlock;

/** The verdicts the explorer computes by itself, each on a program built to show it, and its absence. */
class VerdictsTest {
  private static final LockClass L = LockClass.of("test:verdicts");

  private static ExploreResult explore(Explorer.Program p, String strategy, long executions) {
    return new Explorer(p, Explorer.Config.defaults().withStrategy(strategy).withExecutions(executions)
        .withMaxSteps(2_000)).explore(null);
  }

  @Test
  void retryWithNoProgressWhileNothingElseRunsIsALivelock() {
    ExploreResult r = explore(ex -> {
      Atomic flag = new Atomic(ex, "flag", 0);
      Spinlock lock = new Spinlock(ex, "lock", L);
      ex.addCpu("waiter", () -> {
        lock.lock();
        while (flag.read() == 0) {
          ex.retry("wait for flag", flag);
        }
        lock.unlock();
      });
      ex.addCpu("setter", () -> {
        lock.lock();
        flag.write(1);
        lock.unlock();
      });
      return () -> {};
    }, "random", 1_000);
    assertThat(r.verdictId()).isEqualTo("livelock");
    assertThat(r.verdict().headline()).contains("spins on atomic flag").contains("waits for spinlock lock held by CPU0");
  }

  @Test
  void retryThatAnotherCpuEndsIsNoVerdictUnderEveryStrategy() {
    for (String s : List.of("random", "pct", "fair-pct", "pos", "dfs", "portfolio")) {
      ExploreResult r = explore(ex -> {
        Atomic flag = new Atomic(ex, "flag", 0);
        ex.addCpu("waiter", () -> {
          while (flag.read() == 0) {
            ex.retry("wait for flag", flag);
          }
        });
        ex.addCpu("setter", () -> flag.write(1));
        return () -> {};
      }, s, 2_000);
      assertThat(r.verdictId()).as(s).isEqualTo("none");
    }
  }

  @Test
  void foreverChangingStateIsAPotentialLivelockConfirmedByAFairReplay() {
    ExploreResult r = explore(ex -> {
      Atomic x = new Atomic(ex, "x", 0);
      ex.addCpu("ping", () -> {
        while (true) {
          x.write(1);
          ex.retry("ping", x);
        }
      });
      ex.addCpu("pong", () -> {
        while (true) {
          x.write(0);
          ex.retry("pong", x);
        }
      });
      return () -> {};
    }, "random", 10);
    assertThat(r.verdictId()).isEqualTo("potential-livelock");
    assertThat(r.bugAtExecution()).isZero();
  }

  @Test
  void politeCpusThatResolveUnderFairSchedulingAreNotReported() {
    // Each CPU backs off while the other wants in: unfair schedules can starve both past the step
    // bound, but a fair replay always finishes, so there is no verdict.
    ExploreResult r = explore(ex -> {
      Atomic want0 = new Atomic(ex, "want0", 0);
      Atomic want1 = new Atomic(ex, "want1", 0);
      Atomic inside = new Atomic(ex, "inside", 0);
      ex.addCpu("cpu0", () -> polite(ex, want0, want1, inside));
      ex.addCpu("cpu1", () -> polite(ex, want1, want0, inside));
      return () -> {};
    }, "portfolio", 3_000);
    assertThat(r.verdictId()).isEqualTo("none");
  }

  private static void polite(Sched ex, Atomic mine, Atomic theirs, Atomic inside) {
    while (true) {
      mine.write(1);
      if (theirs.read() == 0) {
        break;
      }
      mine.write(0);
      ex.retry("back off", theirs);
    }
    assertThat(inside.addAndGet(1)).isEqualTo(1);
    inside.addAndGet(-1);
    mine.write(0);
  }

  @Test
  void lockOnAFreedObjectIsAUseAfterFreeNamingAllocFreeAndUse() {
    ExploreResult r = explore(ex -> {
      KObject table = new KObject(ex, "pte table", "#1");
      Spinlock ptl = new Spinlock(ex, "ptl", L, table);
      ex.addCpu("fault", () -> {
        ptl.lock();
        ptl.unlock();
      });
      ex.addCpu("munmap", table::free);
      return () -> {};
    }, "portfolio", 1_000);
    assertThat(r.verdictId()).isEqualTo("use-after-free");
    assertThat(r.found().verdict().details()).anySatisfy(d -> assertThat(d).startsWith("allocated: setup"))
        .anySatisfy(d -> assertThat(d).startsWith("freed:").contains("munmap"))
        .anySatisfy(d -> assertThat(d).startsWith("used:").contains("fault").contains("spin_lock"));
  }

  @Test
  void finishingWithALockHeldIsAnInvariantViolation() {
    ExploreResult r = explore(ex -> {
      Spinlock l = new Spinlock(ex, "l", L);
      ex.addCpu("leaker", l::lock);
      return () -> {};
    }, "random", 1);
    assertThat(r.verdictId()).isEqualTo("invariant");
    assertThat(r.verdict().headline()).contains("finished holding [spinlock l]");
  }

  @Test
  void anExceptionInModelCodeIsAVerdict() {
    ExploreResult r = explore(ex -> {
      ex.addCpu("thrower", () -> {
        throw new IllegalStateException("boom");
      });
      return () -> {};
    }, "random", 1);
    assertThat(r.verdictId()).isEqualTo("exception");
    assertThat(r.verdict().headline()).contains("boom");
  }

  /** Two CPUs increment x without a lock: a lost update ends at 1 (wrong-result), else 2 (invariant). */
  private static Explorer.Program twoOutcomes() {
    return ex -> {
      Atomic x = new Atomic(ex, "x", 0);
      for (String name : List.of("a", "b")) {
        ex.addCpu(name, () -> x.write(x.read() + 1));
      }
      return () -> {
        VerdictKind k = x.read() == 1 ? VerdictKind.WRONG_RESULT : VerdictKind.INVARIANT;
        throw new BugException(Verdict.of(k, "x is " + x.read(), List.of(), List.of()));
      };
    };
  }

  @Test
  void seekingAKindGoesOnPastOtherKindsAndListsThem() {
    int sawOtherFirst = 0;
    for (long seed = 1; seed <= 10; seed++) {
      Explorer.Config cfg = Explorer.Config.defaults().withStrategy("random").withSeed(seed).withExecutions(1_000);
      ExploreResult first = new Explorer(twoOutcomes(), cfg).explore(null);
      ExploreResult sought = new Explorer(twoOutcomes(), cfg.withSeek(VerdictKind.WRONG_RESULT)).explore(null);
      assertThat(first.alsoFound()).isEmpty();
      assertThat(sought.verdictId()).isEqualTo("wrong-result");
      assertThat(sought.found().replayIdentical()).isTrue();
      if (first.verdictId().equals("invariant")) {
        sawOtherFirst++;
        assertThat(sought.bugAtExecution()).isGreaterThan(first.bugAtExecution());
        assertThat(sought.alsoFound()).singleElement().satisfies(o -> {
          assertThat(o.kind()).isEqualTo(VerdictKind.INVARIANT);
          assertThat(o.execution()).isEqualTo(first.bugAtExecution());
          assertThat(o.headline()).isEqualTo("x is 2");
        });
      } else {
        assertThat(sought.bugAtExecution()).isEqualTo(first.bugAtExecution());
        assertThat(sought.alsoFound()).isEmpty();
      }
    }
    assertThat(sawOtherFirst).as("seeds whose first verdict is the other kind").isPositive();
  }

  @Test
  void aSoughtKindThatNeverComesEndsWithTheFirstOtherFinding() {
    ExploreResult r = new Explorer(twoOutcomes(), Explorer.Config.defaults().withStrategy("random").withSeed(3)
        .withExecutions(300).withSeek(VerdictKind.DEADLOCK)).explore(null);
    assertThat(r.executions()).isEqualTo(300);
    assertThat(r.verdictId()).isIn("wrong-result", "invariant");
    assertThat(r.alsoFound()).singleElement().satisfies(o -> assertThat(o.kind()).isNotEqualTo(r.verdict().kind()));
    assertThat(r.alsoFound().getFirst().execution()).isGreaterThan(r.bugAtExecution());
  }
}
