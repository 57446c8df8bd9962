package org.mmlab.sync;

import org.mmlab.testing.Threads;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.Cpu;
import org.mmlab.explore.ExploreSched;
import org.mmlab.explore.Sched;
import org.mmlab.explore.Marker;
import org.mmlab.explore.NativeSched;
import org.mmlab.explore.VerdictKind;

@Timeout(30)
class WaitQueueTest {

  // ------------------------------------------------------------ native

  @Test
  void wakeUpWakesExclusiveWaitersOneAtATime() throws InterruptedException {
    NativeSched sched = new NativeSched();
    WaitQueue wq = new WaitQueue(sched, "wq");
    AtomicInteger queued = new AtomicInteger();
    AtomicInteger woken = new AtomicInteger();
    Runnable waiter = () -> {
      WaitQueue.Entry e = new WaitQueue.Entry(sched.cpu());
      wq.prepareToWait(e, true);
      queued.incrementAndGet();
      wq.schedule(e);
      woken.incrementAndGet();
      wq.finishWait(e);
    };
    Thread t0 = Thread.ofPlatform().start(waiter);
    Thread t1 = Thread.ofPlatform().start(waiter);
    Threads.until(() -> queued.get() == 2, "both waiters queued");
    assertThat(wq.wakeUp(1)).isEqualTo(1);
    Threads.until(() -> woken.get() == 1, "one waiter woken");
    Thread.sleep(50);
    assertThat(woken).as("the other exclusive waiter still sleeps").hasValue(1);
    assertThat(wq.peekQueued()).isEqualTo(1);
    assertThat(wq.wakeUp(1)).isEqualTo(1);
    t0.join(10_000);
    t1.join(10_000);
    assertThat(woken).hasValue(2);
    assertThat(wq.peekQueued()).isZero();
    assertThat(wq.wakeUp(1)).as("nobody left").isZero();
  }

  @Test
  void wakeUpWakesEveryNonExclusiveWaiterAndStopsAfterNrExclusive() {
    NativeSched sched = new NativeSched();
    WaitQueue wq = new WaitQueue(sched, "wq");
    WaitQueue.Entry ex1 = new WaitQueue.Entry(new Cpu(90, "excl1"));
    WaitQueue.Entry ex2 = new WaitQueue.Entry(new Cpu(91, "excl2"));
    WaitQueue.Entry shared1 = new WaitQueue.Entry(new Cpu(92, "shared1"));
    WaitQueue.Entry shared2 = new WaitQueue.Entry(new Cpu(93, "shared2"));
    wq.prepareToWait(ex1, true);
    wq.prepareToWait(shared1, false);
    wq.prepareToWait(ex2, true);
    wq.prepareToWait(shared2, false);
    assertThat(wq.wakeUp(1)).isEqualTo(3);
    assertThat(shared1.isWoken()).isTrue();
    assertThat(shared2.isWoken()).isTrue();
    assertThat(ex1.isWoken()).as("first exclusive in queue order").isTrue();
    assertThat(ex2.isWoken()).isFalse();
    assertThat(ex2.isQueued()).isTrue();
    assertThat(ex1.isQueued()).as("autoremove").isFalse();
    assertThat(wq.wakeUpAll()).isEqualTo(1);
    assertThat(wq.peekQueued()).isZero();
  }

  @Test
  void aKeyedWakeUpSkipsEntriesOfOtherWordsInTheSameQueue() {
    NativeSched sched = new NativeSched();
    WaitQueue wq = new WaitQueue(sched, "folio_wait_table[0]");
    Marker page1 = new Marker(sched, "page#1", "flags");
    Marker page2 = new Marker(sched, "page#2", "flags");
    WaitQueue.Entry w1 = WaitQueue.Entry.keyed(new Cpu(90, "w1"), page1, 0, page1);
    WaitQueue.Entry w2 = WaitQueue.Entry.keyed(new Cpu(91, "w2"), page2, 0, page2);
    WaitQueue.Entry w2bit = WaitQueue.Entry.keyed(new Cpu(92, "w2bit"), page2, 1, page2);
    wq.prepareToWait(w2, true);
    wq.prepareToWait(w2bit, true);
    wq.prepareToWait(w1, true);
    assertThat(wq.wakeUpKey(page1, 0, 1)).isEqualTo(1);
    assertThat(w1.isWoken()).isTrue();
    assertThat(w2.isWoken()).isFalse();
    assertThat(w2bit.isWoken()).isFalse();
    assertThat(wq.wakeUpKey(page2, 1, 1)).isEqualTo(1);
    assertThat(w2bit.isWoken()).isTrue();
    assertThat(w2.isQueued()).isTrue();
    assertThat(wq.wakeUpAll()).as("an unkeyed wake-up wakes keyed entries too").isEqualTo(1);
  }

  @Test
  void waitEventReturnsOnceTheConditionIsSetAndTheQueueWoken() {
    NativeSched sched = new NativeSched();
    WaitQueue wq = new WaitQueue(sched, "wq");
    Atomic flag = new Atomic(sched, "flag", 0);
    AtomicInteger done = new AtomicInteger();
    Threads.run(() -> {
      wq.waitEvent(() -> flag.read() != 0);
      done.incrementAndGet();
    }, () -> {
      try {
        Thread.sleep(30);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      flag.write(1);
      wq.wakeUpAll();
    });
    assertThat(done).hasValue(1);
  }

  // ------------------------------------------------------------ explore

  /** A waiter for {@code flag != 0} and a waker; the waiter checks before queueing if {@code buggy}. */
  private static Runnable waitForFlag(Sched ex, boolean buggy) {
    WaitQueue wq = new WaitQueue(ex, "wq");
    Atomic flag = new Atomic(ex, "flag", 0);
    ex.addCpu("waiter", () -> {
      if (!buggy) {
        wq.waitEvent(() -> flag.read() != 0);
        return;
      }
      // The lost wake-up: the condition is checked before the entry is queued.
      WaitQueue.Entry e = new WaitQueue.Entry(ex.cpu());
      while (flag.read() == 0) {
        wq.prepareToWait(e, false);
        wq.schedule(e);
      }
      wq.finishWait(e);
    });
    ex.addCpu("waker", () -> {
      flag.write(1);
      wq.wakeUpAll();
    });
    return null;
  }

  @Test
  void waitEventNeverLosesAWakeUpInAnyExecution() {
    var r = Exploration.run(ex -> waitForFlag(ex, false));
    assertThat(r.found()).as(r.summary()).isEmpty();
  }

  @Test
  void checkingTheConditionBeforeQueueingLosesAWakeUpWhichIsADeadlock() {
    var r = Exploration.run(ex -> waitForFlag(ex, true));
    assertThat(r.count(VerdictKind.DEADLOCK)).as(r.summary()).isPositive();
    assertThat(r.first(VerdictKind.DEADLOCK).details())
        .anyMatch(l -> l.contains("waits in schedule for wait queue wq"));
  }

  @Test
  void exclusiveWaitersAreWokenOneAtATimeInEveryExecution() {
    var r = Exploration.run(ex -> {
      WaitQueue wq = new WaitQueue(ex, "wq");
      Atomic queued = new Atomic(ex, "queued", 0);
      Atomic woken = new Atomic(ex, "woken", 0);
      for (String name : new String[] {"w0", "w1"}) {
        ex.addCpu(name, () -> {
          WaitQueue.Entry e = new WaitQueue.Entry(ex.cpu());
          wq.prepareToWait(e, true);
          queued.addAndGet(1);
          wq.schedule(e);
          woken.addAndGet(1);
          wq.finishWait(e);
        });
      }
      ex.addCpu("waker", () -> {
        while (queued.read() < 2) {
          ex.retry("wait for sleepers", queued);
        }
        assertThat(wq.wakeUp(1)).isEqualTo(1);
        while (woken.read() < 1) {
          ex.retry("wait for the first", woken);
        }
        assertThat(woken.read()).as("only one exclusive waiter woken").isEqualTo(1);
        assertThat(wq.wakeUp(1)).isEqualTo(1);
      });
      return () -> assertThat(woken.peek()).isEqualTo(2);
    });
    assertThat(r.found()).as(r.summary()).isEmpty();
  }

  @Test
  void scheduleWhileHoldingASpinlockIsSleepingInAtomicContext() {
    var r = Exploration.run(5, ex -> {
      WaitQueue wq = new WaitQueue(ex, "wq");
      Spinlock lock = new Spinlock(ex, "lock", LockClass.of("test wq user lock"));
      ex.addCpu("bad", () -> {
        WaitQueue.Entry e = new WaitQueue.Entry(ex.cpu());
        lock.lock();
        wq.prepareToWait(e, false);
        wq.schedule(e);
      });
      return null;
    });
    assertThat(r.count(VerdictKind.INVARIANT)).as(r.summary()).isEqualTo(5);
    assertThat(r.first(VerdictKind.INVARIANT).headline()).contains("may sleep");
  }
}
