package org.mmlab.sync;

import org.mmlab.testing.Threads;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.mmlab.debug.KObject;
import org.mmlab.explore.BugException;
import org.mmlab.explore.ExploreSched;
import org.mmlab.explore.NativeSched;
import org.mmlab.explore.Sched;
import org.mmlab.explore.VerdictKind;

@Timeout(30)
class RcuTest {
  /** An RCU-protected node with a field that lives in it. */
  static final class Node extends KObject {
    final Atomic val;

    Node(Sched sched, String name, long v) {
      super(sched, "node", name);
      val = new Atomic(sched, name + ".val", v, this);
    }
  }

  // ------------------------------------------------------------ native

  @Test
  void dereferenceOutsideAReadSectionIsRcuMisuse() {
    NativeSched sched = new NativeSched();
    RcuPointer<Node> ptr = new RcuPointer<>(sched, "ptr", new Node(sched, "a", 1));
    assertThatThrownBy(ptr::dereference).isInstanceOfSatisfying(BugException.class,
        e -> assertThat(e.verdict().kind()).isEqualTo(VerdictKind.RCU_MISUSE));
  }

  @Test
  void dereferenceInsideAReadSectionReturnsThePublishedObject() {
    NativeSched sched = new NativeSched();
    Rcu rcu = new Rcu(sched);
    Node a = new Node(sched, "a", 1);
    RcuPointer<Node> ptr = new RcuPointer<>(sched, "ptr", a);
    rcu.readLock();
    assertThat(rcu.inReadSection()).isTrue();
    assertThat(ptr.dereference()).isSameAs(a);
    rcu.readUnlock();
    assertThat(rcu.inReadSection()).isFalse();
  }

  @Test
  void protectedDereferenceAndReplaceNeedTheUpdateSideLock() {
    NativeSched sched = new NativeSched();
    Node a = new Node(sched, "a", 1);
    RcuPointer<Node> ptr = new RcuPointer<>(sched, "ptr", a);
    assertThat(ptr.dereferenceProtected(true)).isSameAs(a);
    assertThatThrownBy(() -> ptr.dereferenceProtected(false)).isInstanceOfSatisfying(BugException.class,
        e -> assertThat(e.verdict().kind()).isEqualTo(VerdictKind.RCU_MISUSE));
    assertThatThrownBy(() -> ptr.replace(null, false)).isInstanceOfSatisfying(BugException.class,
        e -> assertThat(e.verdict().kind()).isEqualTo(VerdictKind.RCU_MISUSE));
    assertThat(ptr.dereferenceCheck(true)).isSameAs(a);
  }

  @Test
  void freeingAPublishedObjectIsRcuMisuseAndFreeingAfterAGracePeriodIsNot() {
    NativeSched sched = new NativeSched();
    Rcu rcu = new Rcu(sched);
    Node a = new Node(sched, "a", 1);
    RcuPointer<Node> ptr = new RcuPointer<>(sched, "ptr", a);
    assertThatThrownBy(a::free).isInstanceOfSatisfying(BugException.class,
        e -> assertThat(e.verdict().headline()).contains("still RCU-published"));
    assertThat(ptr.replace(null)).isSameAs(a);
    assertThatThrownBy(a::free).isInstanceOfSatisfying(BugException.class,
        e -> assertThat(e.verdict().headline()).contains("without a grace period"));
    rcu.synchronize();
    a.free();
    assertThat(a.isFreed()).isTrue();
  }

  @Test
  void kfreeRcuWaitsForAReaderThatFoundTheObject() {
    NativeSched sched = new NativeSched();
    Rcu rcu = new Rcu(sched);
    Node a = new Node(sched, "a", 1);
    RcuPointer<Node> ptr = new RcuPointer<>(sched, "ptr", a);
    AtomicBoolean inSection = new AtomicBoolean();
    AtomicBoolean leave = new AtomicBoolean();
    AtomicBoolean freedWhileReading = new AtomicBoolean();
    long[] seen = new long[1];
    Threads.run(() -> {
      rcu.readLock();
      Node n = ptr.dereference();
      inSection.set(true);
      Threads.until(leave::get, "the updater");
      seen[0] = n.val.read(); // a use-after-free verdict if the grace period ended early
      rcu.readUnlock();
    }, () -> {
      Threads.until(inSection::get, "the reader");
      Node old = ptr.replace(new Node(sched, "b", 2));
      rcu.freeAfterGracePeriod(old);
      sleepMillis(30);
      freedWhileReading.set(old.isFreed());
      leave.set(true);
      rcu.barrier();
      assertThat(old.isFreed()).as("freed after the grace period").isTrue();
    });
    assertThat(freedWhileReading).isFalse();
    assertThat(seen[0]).isEqualTo(1);
  }

  /**
   * The callbacks thread does not outlive its work: once idle it exits, and the next
   * {@code call_rcu} starts another that runs the callback. (It used to poll every millisecond
   * forever, one thread per kernel that ever freed through RCU, holding that kernel.)
   */
  @Test
  void theCallbacksThreadExitsWhenIdleAndANewCallbackStartsAnother() {
    int rounds = 20;
    AtomicInteger ran = new AtomicInteger();
    for (int i = 0; i < rounds; i++) {
      NativeSched sched = new NativeSched();
      Rcu rcu = new Rcu(sched);
      sched.callRcu(ran::incrementAndGet);
      rcu.barrier();
    }
    assertThat(ran).hasValue(rounds);
    Threads.until(() -> rcuoThreads() == 0, "every idle rcuo thread to exit");
    NativeSched sched = new NativeSched();
    Rcu rcu = new Rcu(sched);
    sched.callRcu(ran::incrementAndGet);
    rcu.barrier();
    Threads.until(() -> rcuoThreads() == 0, "the rcuo thread to exit");
    sched.callRcu(ran::incrementAndGet);
    rcu.barrier();
    assertThat(ran).as("a callback after the thread exited still runs").hasValue(rounds + 2);
  }

  /**
   * rcuo takes callbacks in batches, one grace period each ({@code NativeSched.RCU_TICK_NANOS}
   * apart): a burst of call_rcu from two CPUs while a third keeps entering read sections all run,
   * none before the reader has left the section it was in at the call_rcu, and the burst drains in far less
   * time than a grace period per callback would take (2,000 × 8 ms).
   */
  @Test
  void aBurstOfCallbacksRunsInBatchesAfterTheirGracePeriods() {
    NativeSched sched = new NativeSched();
    Rcu rcu = new Rcu(sched);
    int perProducer = 1000;
    AtomicInteger ran = new AtomicInteger();
    AtomicInteger early = new AtomicInteger();
    AtomicBoolean done = new AtomicBoolean();
    // The reader's sections, numbered: entered is counted inside a section, left before its end.
    java.util.concurrent.atomic.AtomicLong entered = new java.util.concurrent.atomic.AtomicLong();
    java.util.concurrent.atomic.AtomicLong left = new java.util.concurrent.atomic.AtomicLong();
    long started = System.nanoTime();
    Runnable producer = () -> {
      for (int i = 0; i < perProducer; i++) {
        long begun = entered.get(); // sections begun before this call_rcu: all must end before its callback
        sched.callRcu(() -> {
          if (left.get() < begun) {
            early.incrementAndGet();
          }
          ran.incrementAndGet();
        });
        if (i % 100 == 99) {
          sleepMillis(5); // rcuo may go back to waiting: the next call_rcu must wake it
        }
      }
    };
    Threads.run(() -> {
      while (!done.get()) {
        rcu.readLock();
        entered.incrementAndGet();
        for (int i = 0; i < 100; i++) {
          Thread.onSpinWait();
        }
        left.incrementAndGet();
        rcu.readUnlock();
      }
    }, () -> {
      try {
        Threads.run(producer, producer);
        rcu.barrier();
      } finally {
        done.set(true);
      }
    });
    long millis = (System.nanoTime() - started) / 1_000_000;
    assertThat(ran).hasValue(2 * perProducer);
    assertThat(early).as("callbacks run before a read section begun before their call_rcu had ended").hasValue(0);
    assertThat(millis).as("milliseconds for the burst").isLessThan(2_000);
  }

  private static long rcuoThreads() {
    Threads.sleep(10);
    return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals("rcuo") && t.isAlive()).count();
  }

  @Test
  void synchronizeInsideAReadSectionIsRcuMisuse() {
    NativeSched sched = new NativeSched();
    Rcu rcu = new Rcu(sched);
    rcu.readLock();
    assertThatThrownBy(rcu::synchronize).isInstanceOfSatisfying(BugException.class,
        e -> assertThat(e.verdict().kind()).isEqualTo(VerdictKind.RCU_MISUSE));
    rcu.readUnlock();
  }

  // ------------------------------------------------------------ explore

  /** CPU0 reads the node under RCU; CPU1 replaces it and frees the old one, per {@code free}. */
  private static @Nullable Runnable replaceAndFree(Sched ex, String how) {
    Rcu rcu = new Rcu(ex);
    Node a = new Node(ex, "a", 1);
    RcuPointer<Node> ptr = new RcuPointer<>(ex, "ptr", a);
    ex.addCpu("reader", () -> {
      rcu.readLock();
      Node n = ptr.dereference();
      n.val.read();
      rcu.readUnlock();
    });
    ex.addCpu("updater", () -> {
      Node b = new Node(ex, "b", 2);
      Node old = ptr.replace(b);
      switch (how) {
        case "synchronize" -> {
          rcu.synchronize();
          old.free();
        }
        case "kfree_rcu" -> rcu.freeAfterGracePeriod(old);
        case "no grace period" -> old.free();
        default -> throw new IllegalArgumentException(how);
      }
    });
    return () -> assertThat(a.isFreed()).as("the old node is freed by the end").isTrue();
  }

  @Test
  void synchronizeThenFreeNeverFreesUnderAReader() {
    var r = Exploration.run(ex -> replaceAndFree(ex, "synchronize"));
    assertThat(r.found()).as(r.summary()).isEmpty();
  }

  @Test
  void kfreeRcuNeverFreesUnderAReader() {
    var r = Exploration.run(ex -> replaceAndFree(ex, "kfree_rcu"));
    assertThat(r.found()).as(r.summary()).isEmpty();
  }

  @Test
  void freeingWithoutAGracePeriodIsFound() {
    var r = Exploration.run(ex -> replaceAndFree(ex, "no grace period"));
    assertThat(r.count(VerdictKind.RCU_MISUSE)).as(r.summary()).isPositive();
    assertThat(r.first(VerdictKind.RCU_MISUSE).headline()).contains("without a grace period");
  }

  @Test
  void dereferenceOutsideAReadSectionIsFoundUnderTheExplorer() {
    var r = Exploration.run(10, ex -> {
      RcuPointer<Node> ptr = new RcuPointer<>(ex, "ptr", new Node(ex, "a", 1));
      ex.addCpu("sloppy", ptr::dereference);
      return null;
    });
    assertThat(r.count(VerdictKind.RCU_MISUSE)).as(r.summary()).isEqualTo(10);
  }

  private static void sleepMillis(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
