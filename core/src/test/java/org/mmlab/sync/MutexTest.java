package org.mmlab.sync;

import org.mmlab.testing.Threads;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.BugException;
import org.mmlab.explore.ExploreSched;
import org.mmlab.explore.Sched;
import org.mmlab.explore.NativeSched;
import org.mmlab.explore.VerdictKind;

@Timeout(30)
class MutexTest {
  private static final LockClass A = LockClass.of("test mutex A");
  private static final LockClass B = LockClass.of("test mutex B");

  // ------------------------------------------------------------ native

  private int plainCounter;

  @Test
  void twoThreadsIncrementingUnderTheMutexLoseNoUpdate() {
    NativeSched sched = new NativeSched();
    Mutex m = new Mutex(sched, "m", A);
    int n = 50_000;
    Runnable body = () -> {
      for (int i = 0; i < n; i++) {
        m.lock();
        plainCounter++;
        m.unlock();
      }
    };
    Threads.run(body, body);
    assertThat(plainCounter).isEqualTo(2 * n);
    assertThat(m.isLocked()).isFalse();
  }

  @Test
  void aSleepingWaiterIsWokenByUnlock() {
    NativeSched sched = new NativeSched();
    Mutex m = new Mutex(sched, "m", A);
    AtomicBoolean holding = new AtomicBoolean();
    AtomicBoolean released = new AtomicBoolean();
    AtomicBoolean gotIt = new AtomicBoolean();
    Threads.run(() -> {
      m.lock();
      holding.set(true);
      sleep(50); // long enough for the other thread to stop spinning and park
      released.set(true);
      m.unlock();
    }, () -> {
      Threads.until(holding::get, "the first thread to hold the mutex");
      m.lock();
      assertThat(released.get()).as("mutual exclusion").isTrue();
      gotIt.set(true);
      m.unlock();
    });
    assertThat(gotIt).isTrue();
  }

  @Test
  void tryLockFailsWhileAnotherThreadHoldsIt() {
    NativeSched sched = new NativeSched();
    Mutex m = new Mutex(sched, "m", A);
    AtomicBoolean holding = new AtomicBoolean();
    AtomicBoolean done = new AtomicBoolean();
    AtomicBoolean tryResult = new AtomicBoolean(true);
    Threads.run(() -> {
      m.lock();
      holding.set(true);
      Threads.until(done::get, "the trylock");
      m.unlock();
    }, () -> {
      Threads.until(holding::get, "the holder");
      tryResult.set(m.tryLock());
      done.set(true);
    });
    assertThat(tryResult).isFalse();
    assertThat(m.tryLock()).isTrue();
    m.unlock();
  }

  @Test
  void unlockByANonOwnerIsAnInvariantVerdict() {
    NativeSched sched = new NativeSched();
    Mutex m = new Mutex(sched, "m", A);
    assertThatThrownBy(m::unlock).isInstanceOfSatisfying(BugException.class,
        e -> assertThat(e.verdict().kind()).isEqualTo(VerdictKind.INVARIANT));
  }

  @Test
  void recursiveLockIsReportedNativelyInsteadOfHanging() {
    NativeSched sched = new NativeSched();
    Mutex m = new Mutex(sched, "m", A);
    m.lock();
    assertThatThrownBy(m::lock).isInstanceOfSatisfying(BugException.class,
        e -> assertThat(e.verdict().kind()).isEqualTo(VerdictKind.DEADLOCK));
    m.unlock();
  }

  @Test
  void mutexLockUnderASpinlockIsSleepingInAtomicContext() {
    NativeSched sched = new NativeSched();
    Spinlock s = new Spinlock(sched, "s", LockClass.of("test spinlock"));
    Mutex m = new Mutex(sched, "m", A);
    s.lock();
    assertThatThrownBy(m::lock).isInstanceOfSatisfying(BugException.class,
        e -> assertThat(e.verdict().headline()).contains("may sleep").contains("spinlock s"));
    s.unlock();
    assertThat(m.tryLock()).as("trylock does not sleep: allowed under a spinlock too").isTrue();
    m.unlock();
  }

  @Test
  void mutexLockInsideAnRcuReadSectionIsRcuMisuse() {
    NativeSched sched = new NativeSched();
    Rcu rcu = new Rcu(sched);
    Mutex m = new Mutex(sched, "m", A);
    rcu.readLock();
    assertThatThrownBy(m::lock).isInstanceOfSatisfying(BugException.class,
        e -> assertThat(e.verdict().kind()).isEqualTo(VerdictKind.RCU_MISUSE));
    rcu.readUnlock();
  }

  // ------------------------------------------------------------ explore

  /** Two CPUs each do a read-then-write increment of a shared word, as two steps. */
  private static Runnable increments(Sched ex, @Nullable Mutex m, int times) {
    Atomic counter = new Atomic(ex, "counter", 0);
    for (String name : new String[] {"inc0", "inc1"}) {
      ex.addCpu(name, () -> {
        for (int i = 0; i < times; i++) {
          if (m != null) {
            m.lock();
          }
          long v = counter.read();
          counter.write(v + 1);
          if (m != null) {
            m.unlock();
          }
        }
      });
    }
    return () -> assertThat(counter.peek()).as("counter").isEqualTo(2L * times);
  }

  @Test
  void explorerFindsTheLostUpdateWithoutTheMutex() {
    var r = Exploration.run(ex -> increments(ex, null, 2));
    assertThat(r.count(VerdictKind.ASSERTION)).as(r.summary()).isPositive();
  }

  @Test
  void theMutexPreventsTheLostUpdateInEveryExecution() {
    var r = Exploration.run(ex -> increments(ex, new Mutex(ex, "m", A), 2));
    assertThat(r.found()).as(r.summary()).isEmpty();
  }

  @Test
  void aMutexHeldAtExitIsAnInvariantVerdict() {
    var r = Exploration.run(20, ex -> {
      Mutex m = new Mutex(ex, "m", A);
      ex.addCpu("leaker", m::lock);
      return null;
    });
    assertThat(r.count(VerdictKind.INVARIANT)).as(r.summary()).isEqualTo(20);
    assertThat(r.first(VerdictKind.INVARIANT).headline()).contains("finished holding").contains("mutex m");
  }

  @Test
  void abbaDeadlocksWithAWaitForChainAndLockdepSeesTheInversion() {
    AtomicInteger clean = new AtomicInteger();
    var r = Exploration.run(ex -> {
      Mutex a = new Mutex(ex, "a", A);
      Mutex b = new Mutex(ex, "b", B);
      ex.addCpu("ab", () -> {
        a.lock();
        b.lock();
        b.unlock();
        a.unlock();
      });
      ex.addCpu("ba", () -> {
        b.lock();
        a.lock();
        a.unlock();
        b.unlock();
      });
      return clean::incrementAndGet;
    });
    assertThat(r.count(VerdictKind.DEADLOCK)).as(r.summary()).isPositive();
    assertThat(clean.get()).as("executions without deadlock").isPositive();
    assertThat(r.first(VerdictKind.DEADLOCK).details()).anyMatch(l -> l.contains("held by CPU"));
    assertThat(r.lockdep().inversion()).isNotNull();
  }

  @Test
  void trylockNeverBlocksSoTheReverseOrderWithTrylockNeverDeadlocks() {
    var r = Exploration.run(ex -> {
      Mutex a = new Mutex(ex, "a", A);
      Mutex b = new Mutex(ex, "b", B);
      ex.addCpu("ab", () -> {
        a.lock();
        b.lock();
        b.unlock();
        a.unlock();
      });
      ex.addCpu("ba-trylock", () -> {
        b.lock();
        if (a.tryLock()) {
          a.unlock();
        }
        b.unlock();
      });
      return null;
    });
    assertThat(r.found()).as(r.summary()).isEmpty();
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
