package org.mmlab.sync;

import org.mmlab.testing.Threads;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.BugException;
import org.mmlab.explore.NativeSched;
import org.mmlab.explore.VerdictKind;

@Timeout(30)
class RefcountTest {
  private static final LockClass FROZEN = LockClass.pseudo("test folio refcount frozen");
  private static final LockClass PTL = LockClass.of("test ptl");

  private static void assertMisuse(Executable op, String headlinePart) {
    assertThatThrownBy(op::execute).isInstanceOfSatisfying(BugException.class, e -> {
      assertThat(e.verdict().kind()).isEqualTo(VerdictKind.REFCOUNT_MISUSE);
      assertThat(e.verdict().headline()).contains(headlinePart);
    });
  }

  // ------------------------------------------------------------ native

  @Test
  void getFromZeroIsMisuse() {
    Refcount ref = new Refcount(new NativeSched(), "ref", 0);
    assertMisuse(ref::get, "refcount of 0");
  }

  @Test
  void putBelowZeroIsMisuse() {
    Refcount ref = new Refcount(new NativeSched(), "ref", 1);
    assertThat(ref.put()).as("the last reference").isTrue();
    assertMisuse(ref::put, "underflows");
  }

  @Test
  void unfreezeOfAnUnfrozenCountIsMisuse() {
    Refcount ref = new Refcount(new NativeSched(), "ref", 1);
    assertMisuse(() -> ref.unfreeze(1), "not frozen");
  }

  @Test
  void freezeSucceedsOnlyAtTheExpectedCountAndBlocksSpeculativeGets() {
    NativeSched sched = new NativeSched();
    Refcount ref = new Refcount(sched, "ref", 2, FROZEN, null);
    assertThat(ref.freeze(1)).isFalse();
    assertThat(ref.freeze(2)).isTrue();
    assertThat(ref.isFrozen()).isTrue();
    assertThat(ref.read()).isZero();
    assertThat(ref.holders()).containsExactly(sched.cpu());
    assertThat(ref.tryGet()).isFalse();
    assertMisuse(ref::get, "frozen");
    assertMisuse(ref::put, "frozen");
    assertMisuse(() -> ref.set(3), "frozen");
    ref.unfreeze(3);
    assertThat(ref.holders()).isEmpty();
    assertThat(ref.tryGet()).isTrue();
    assertThat(ref.read()).isEqualTo(4);
    assertThat(ref.subAndTest(4)).isTrue();
    assertThat(ref.tryGet()).as("inc_not_zero on 0").isFalse();
  }

  @Test
  void anotherThreadMayUnfreezeAndTakesTheHolderWithIt() {
    NativeSched sched = new NativeSched();
    Refcount ref = new Refcount(sched, "ref", 1, FROZEN, null);
    assertThat(ref.freeze(1)).isTrue();
    Threads.run(() -> ref.unfreeze(1));
    assertThat(ref.holders()).isEmpty();
    assertThat(sched.cpu().heldCount()).isZero();
    assertThat(ref.read()).isEqualTo(1);
  }

  @Test
  void concurrentGetsAndPutsBalance() {
    Refcount ref = new Refcount(new NativeSched(), "ref", 1);
    Runnable body = () -> {
      for (int i = 0; i < 100_000; i++) {
        if (ref.tryGet()) {
          ref.put();
        }
        ref.get();
        ref.put();
      }
    };
    Threads.run(body, body);
    assertThat(ref.read()).isEqualTo(1);
  }

  @Test
  void speculativeGetsNeverSucceedWhileAnotherThreadHoldsItFrozen() {
    NativeSched sched = new NativeSched();
    Refcount ref = new Refcount(sched, "ref", 1, FROZEN, null);
    AtomicBoolean frozenSeen = new AtomicBoolean();
    AtomicBoolean stop = new AtomicBoolean();
    AtomicBoolean badGet = new AtomicBoolean();
    Threads.run(() -> {
      // At least 20,000 attempts, and on a loaded machine on until one succeeded (the getter
      // holds a reference most of the time), with a generous cap.
      long deadline = System.nanoTime() + 10_000_000_000L;
      for (int i = 0; i < 20_000 || (!frozenSeen.get() && System.nanoTime() < deadline); i++) {
        if (ref.freeze(1)) {
          frozenSeen.set(true);
          ref.unfreeze(1);
        }
      }
      stop.set(true);
    }, () -> {
      while (!stop.get()) {
        if (ref.tryGet()) {
          if (ref.read() < 2) {
            badGet.set(true);
          }
          ref.put();
        }
      }
    });
    assertThat(frozenSeen).isTrue();
    assertThat(badGet).isFalse();
    assertThat(ref.read()).isEqualTo(1);
  }

  // ------------------------------------------------------------ explore

  @Test
  void frozenRefcountAndALockInOppositeOrdersIsALockdepInversion() {
    var r = Exploration.run(ex -> {
      Spinlock ptl = new Spinlock(ex, "ptl", PTL);
      Refcount ref = new Refcount(ex, "folio ref", 1, FROZEN, null);
      ex.addCpu("lookup", () -> {
        ptl.lock();
        if (ref.tryGet()) { // one attempt only: no retry, so no livelock
          ref.put();
        }
        ptl.unlock();
      });
      ex.addCpu("collapse", () -> {
        if (ref.freeze(1)) {
          ptl.lock();
          ptl.unlock();
          ref.unfreeze(1);
        }
      });
      return null;
    });
    assertThat(r.found()).as("no execution deadlocks: " + r.summary()).isEmpty();
    assertThat(r.lockdep().inversion()).as("lockdep inversion").isNotNull();
    assertThat(r.lockdep().inversion().details()).anyMatch(l -> l.contains("pseudo-lock"));
  }

  @Test
  void spinningOnAFrozenRefcountUnderTheLockTheFreezerNeedsIsALivelock() {
    var r = Exploration.run(ex -> {
      Spinlock ptl = new Spinlock(ex, "ptl", PTL);
      Refcount ref = new Refcount(ex, "folio ref", 1, FROZEN, null);
      ex.addCpu("lookup", () -> {
        ptl.lock();
        while (!ref.tryGet()) {
          ex.retry("folio_try_get", ref);
        }
        ref.put();
        ptl.unlock();
      });
      ex.addCpu("collapse", () -> {
        while (!ref.freeze(1)) {
          ex.retry("folio_ref_freeze", ref);
        }
        ptl.lock();
        ptl.unlock();
        ref.unfreeze(1);
      });
      return null;
    });
    // A spin whose wait-for chain closes a cycle through the frozen pseudo-lock: the explorer
    // calls it a deadlock (a livelock if it does not see the cycle); either way it is found.
    var found = r.found().stream()
        .filter(v -> v.kind() == VerdictKind.DEADLOCK || v.kind() == VerdictKind.LIVELOCK).toList();
    assertThat(found).as(r.summary()).isNotEmpty();
    assertThat(found.getFirst().details())
        .anyMatch(l -> l.contains("spins at retry point 'folio_try_get'")
            && l.contains("refcount folio ref held by CPU1 (collapse)"))
        .anyMatch(l -> l.contains("CPU1 (collapse) waits in spin_lock") && l.contains("held by CPU0 (lookup)"));
  }

  @Test
  void freezeWaitingForTheExpectedCountCompletesInEveryExecution() {
    var r = Exploration.run(ex -> {
      Refcount ref = new Refcount(ex, "folio ref", 2, FROZEN, null);
      Atomic contents = new Atomic(ex, "contents", 1);
      ex.addCpu("migrate", () -> {
        while (!ref.freeze(1)) {
          ex.retry("folio_ref_freeze", ref);
        }
        contents.write(2);
        ref.unfreeze(1);
      });
      ex.addCpu("user", () -> {
        ref.put(); // drops its reference: now the count is the expected one
        if (ref.tryGet()) {
          assertThat(ref.isFrozen()).isFalse();
          ref.put();
        }
      });
      return () -> assertThat(ref.peek()).isEqualTo(1);
    });
    assertThat(r.found()).as(r.summary()).isEmpty();
  }

  @Test
  void aRefcountLeftFrozenAtExitIsAnInvariantVerdict() {
    var r = Exploration.run(10, ex -> {
      Refcount ref = new Refcount(ex, "folio ref", 1, FROZEN, null);
      ex.addCpu("forgetful", () -> ref.freeze(1));
      return null;
    });
    assertThat(r.count(VerdictKind.INVARIANT)).as(r.summary()).isEqualTo(10);
  }

  @Test
  void aWaiterHoldingAReferenceMakesTheFreezeRetryForeverWhichIsFound() {
    // Seed 002's shape in miniature: the waiter keeps its reference while it waits for the
    // migrator, so the migrator's freeze never sees the expected count.
    var r = Exploration.run(ex -> {
      Refcount ref = new Refcount(ex, "folio ref", 1, FROZEN, null);
      Completion migrated = new Completion(ex, "migrated");
      ex.addCpu("migrate", () -> {
        while (!ref.freeze(1)) {
          ex.retry("folio_ref_freeze", ref);
        }
        ref.unfreeze(1);
        migrated.complete();
      });
      ex.addCpu("waiter", () -> {
        if (ref.tryGet()) {
          migrated.waitForCompletion();
          ref.put();
        }
      });
      return null;
    });
    assertThat(r.count(VerdictKind.LIVELOCK)).as(r.summary()).isPositive();
  }
}
