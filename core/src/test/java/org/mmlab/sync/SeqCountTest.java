package org.mmlab.sync;

import org.mmlab.testing.Threads;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.BugException;
import org.mmlab.explore.ExploreSched;
import org.mmlab.explore.Sched;
import org.mmlab.explore.NativeSched;
import org.mmlab.explore.VerdictKind;

@Timeout(30)
class SeqCountTest {
  private static final LockClass LOCK = LockClass.of("test seqlock");

  // ------------------------------------------------------------ native

  /** Written only inside write sections; read by the reader with no lock (plain fields on purpose). */
  private long first;
  private long second;

  @Test
  void nativeReadersNeverAcceptATornPair() {
    NativeSched sched = new NativeSched();
    Spinlock lock = new Spinlock(sched, "lock", LOCK);
    SeqCount seq = new SeqCount(sched, "seq", lock, null);
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong accepted = new AtomicLong();
    AtomicLong torn = new AtomicLong();
    Threads.run(() -> {
      // Until the reader has accepted a read too: on a loaded machine the writer's 200,000
      // sections can end before the reader thread first gets a core.
      for (long i = 1; i <= 200_000 || accepted.get() == 0; i++) {
        lock.lock();
        seq.writeBegin();
        first = i;
        second = -i;
        seq.writeEnd();
        lock.unlock();
      }
      stop.set(true);
    }, () -> {
      while (!stop.get()) {
        long f;
        long s;
        int start;
        do {
          start = seq.readBegin();
          f = first;
          s = second;
        } while (seq.readRetry(start));
        accepted.incrementAndGet();
        if (f != -s) {
          torn.incrementAndGet();
        }
      }
    });
    assertThat(torn).hasValue(0);
    assertThat(accepted.get()).isPositive();
    assertThat(seq.peek() % 2).isZero();
  }

  @Test
  void writeBeginWithoutTheAssociatedLockIsAnInvariantVerdict() {
    NativeSched sched = new NativeSched();
    Spinlock lock = new Spinlock(sched, "lock", LOCK);
    SeqCount seq = new SeqCount(sched, "seq", lock, null);
    assertThatThrownBy(seq::writeBegin).isInstanceOfSatisfying(BugException.class,
        e -> assertThat(e.verdict().headline()).contains("without holding spinlock lock"));
  }

  @Test
  void unbalancedWriteEndIsAnInvariantVerdict() {
    NativeSched sched = new NativeSched();
    SeqCount seq = new SeqCount(sched, "seq");
    assertThatThrownBy(seq::writeEnd).isInstanceOfSatisfying(BugException.class,
        e -> assertThat(e.verdict().kind()).isEqualTo(VerdictKind.INVARIANT));
  }

  @Test
  void readRetryIsFalseWithoutAWriteAndTrueAfterOne() {
    NativeSched sched = new NativeSched();
    SeqCount seq = new SeqCount(sched, "seq");
    int start = seq.readBegin();
    assertThat(seq.readRetry(start)).isFalse();
    seq.writeBegin();
    assertThat(seq.rawRead() % 2).isOne();
    seq.writeEnd();
    assertThat(seq.readRetry(start)).isTrue();
  }

  // ------------------------------------------------------------ explore

  /** A reader of the pair (x, y) that the writer keeps equal; optionally ignores readRetry. */
  private static Runnable pair(Sched ex, boolean honourRetry) {
    Spinlock lock = new Spinlock(ex, "lock", LOCK);
    SeqCount seq = new SeqCount(ex, "seq", lock, null);
    Atomic x = new Atomic(ex, "x", 0);
    Atomic y = new Atomic(ex, "y", 0);
    ex.addCpu("writer", () -> {
      for (int i = 1; i <= 2; i++) {
        lock.lock();
        seq.writeBegin();
        x.write(i);
        y.write(i);
        seq.writeEnd();
        lock.unlock();
      }
    });
    ex.addCpu("reader", () -> {
      long vx;
      long vy;
      int start;
      do {
        start = seq.readBegin();
        vx = x.read();
        vy = y.read();
      } while (seq.readRetry(start) && honourRetry);
      assertThat(vx).as("x vs y").isEqualTo(vy);
    });
    return null;
  }

  @Test
  void readersThatRetryNeverSeeATornPairInAnyExecution() {
    var r = Exploration.run(ex -> pair(ex, true));
    assertThat(r.found()).as(r.summary()).isEmpty();
  }

  @Test
  void explorerFindsTheTornPairWhenTheReaderIgnoresRetry() {
    var r = Exploration.run(ex -> pair(ex, false));
    assertThat(r.count(VerdictKind.ASSERTION)).as(r.summary()).isPositive();
  }

  @Test
  void aWriterWithoutTheLockIsFoundUnderTheExplorer() {
    var r = Exploration.run(10, ex -> {
      Spinlock lock = new Spinlock(ex, "lock", LOCK);
      SeqCount seq = new SeqCount(ex, "seq", lock, null);
      ex.addCpu("writer", () -> {
        seq.writeBegin();
        seq.writeEnd();
      });
      return null;
    });
    assertThat(r.count(VerdictKind.INVARIANT)).as(r.summary()).isEqualTo(10);
  }

  @Test
  void aReaderWaitingOnAWriterThatNeverEndsDeadlocks() {
    var r = Exploration.run(20, ex -> {
      SeqCount seq = new SeqCount(ex, "seq");
      ex.addCpu("writer", seq::writeBegin);
      ex.addCpu("reader", () -> {
        int start;
        do {
          start = seq.readBegin();
        } while (seq.readRetry(start));
      });
      return null;
    });
    // Either the reader got in before the write began (and finished), or it waits forever.
    assertThat(r.count(VerdictKind.DEADLOCK)).as(r.summary()).isPositive();
    assertThat(r.first(VerdictKind.DEADLOCK).details())
        .anyMatch(l -> l.contains("waits in read_seqcount_begin for seqcount seq"));
  }
}
