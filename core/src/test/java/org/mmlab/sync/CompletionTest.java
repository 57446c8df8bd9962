package org.mmlab.sync;

import org.mmlab.testing.Threads;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.mmlab.explore.ExploreSched;
import org.mmlab.explore.Sched;
import org.mmlab.explore.NativeSched;
import org.mmlab.explore.VerdictKind;

@Timeout(30)
class CompletionTest {

  // ------------------------------------------------------------ native

  @Test
  void aSleepingWaiterIsWokenByComplete() {
    NativeSched sched = new NativeSched();
    Completion done = new Completion(sched, "done");
    AtomicBoolean completed = new AtomicBoolean();
    AtomicBoolean returned = new AtomicBoolean();
    Threads.run(() -> {
      done.waitForCompletion();
      assertThat(completed.get()).isTrue();
      returned.set(true);
    }, () -> {
      try {
        Thread.sleep(30); // the waiter parks meanwhile
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      completed.set(true);
      done.complete();
    });
    assertThat(returned).isTrue();
    assertThat(done.peek()).as("the completion was consumed").isZero();
  }

  @Test
  void eachCompleteLetsExactlyOneWaitThrough() {
    NativeSched sched = new NativeSched();
    Completion c = new Completion(sched, "c");
    assertThat(c.tryWaitForCompletion()).isFalse();
    assertThat(c.isDone()).isFalse();
    c.complete();
    c.complete();
    assertThat(c.isDone()).isTrue();
    assertThat(c.tryWaitForCompletion()).isTrue();
    c.waitForCompletion();
    assertThat(c.tryWaitForCompletion()).isFalse();
  }

  @Test
  void completeAllLetsEveryWaiterThroughUntilReinit() {
    NativeSched sched = new NativeSched();
    Completion c = new Completion(sched, "c");
    AtomicInteger through = new AtomicInteger();
    Runnable waiter = () -> {
      c.waitForCompletion();
      through.incrementAndGet();
    };
    Threads.run(waiter, waiter, () -> {
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      c.completeAll();
    });
    assertThat(through).hasValue(2);
    assertThat(c.tryWaitForCompletion()).as("complete_all is never consumed").isTrue();
    c.reinit();
    assertThat(c.tryWaitForCompletion()).isFalse();
  }

  @Test
  void manyCompletesAndWaitsBalance() {
    NativeSched sched = new NativeSched();
    Completion c = new Completion(sched, "c");
    int n = 20_000;
    Threads.run(() -> {
      for (int i = 0; i < n; i++) {
        c.waitForCompletion();
      }
    }, () -> {
      for (int i = 0; i < n; i++) {
        c.complete();
      }
    });
    assertThat(c.peek()).isZero();
  }

  // ------------------------------------------------------------ explore

  @Test
  void whatIsWrittenBeforeCompleteIsSeenAfterTheWaitInEveryExecution() {
    var r = Exploration.run(ex -> {
      Completion c = new Completion(ex, "c");
      Atomic data = new Atomic(ex, "data", 0);
      ex.addCpu("producer", () -> {
        data.write(42);
        c.complete();
      });
      ex.addCpu("consumer", () -> {
        c.waitForCompletion();
        assertThat(data.read()).isEqualTo(42);
      });
      return () -> assertThat(c.peek()).isZero();
    });
    assertThat(r.found()).as(r.summary()).isEmpty();
  }

  @Test
  void twoWaitersAndOneCompleteLeaveOneAsleep() {
    var r = Exploration.run(50, ex -> twoWaiters(ex, false));
    assertThat(r.count(VerdictKind.DEADLOCK)).as(r.summary()).isEqualTo(50);
    assertThat(r.first(VerdictKind.DEADLOCK).details()).anyMatch(l -> l.contains("waits in wait_for_completion"));
  }

  @Test
  void twoWaitersAndCompleteAllNeverDeadlock() {
    var r = Exploration.run(ex -> twoWaiters(ex, true));
    assertThat(r.found()).as(r.summary()).isEmpty();
  }

  private static Runnable twoWaiters(Sched ex, boolean all) {
    Completion c = new Completion(ex, "c");
    ex.addCpu("w0", c::waitForCompletion);
    ex.addCpu("w1", c::waitForCompletion);
    ex.addCpu("completer", () -> {
      if (all) {
        c.completeAll();
      } else {
        c.complete();
      }
    });
    return null;
  }
}
