package org.mmlab.sync;

import org.mmlab.testing.Threads;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.BugException;
import org.mmlab.explore.ExploreSched;
import org.mmlab.explore.Sched;
import org.mmlab.explore.NativeSched;
import org.mmlab.explore.VerdictKind;

@Timeout(30)
class RwSemTest {
  private static final LockClass SEM = LockClass.of("test rwsem");

  // ------------------------------------------------------------ native

  @Test
  void twoReadersHoldItAtTheSameTime() {
    NativeSched sched = new NativeSched();
    RwSem sem = new RwSem(sched, "sem", SEM);
    AtomicInteger inside = new AtomicInteger();
    Runnable reader = () -> {
      sem.downRead();
      inside.incrementAndGet();
      Threads.until(() -> inside.get() == 2, "both readers inside");
      sem.upRead();
    };
    Threads.run(reader, reader);
    assertThat(sem.isLocked()).isFalse();
  }

  private long a;
  private long b;

  @Test
  void writersExcludeEachOtherAndReaders() {
    NativeSched sched = new NativeSched();
    RwSem sem = new RwSem(sched, "sem", SEM);
    int n = 20_000;
    AtomicInteger torn = new AtomicInteger();
    Runnable mixed = () -> {
      for (int i = 0; i < n; i++) {
        if (i % 3 == 0) {
          sem.downRead();
          if (a != b) {
            torn.incrementAndGet();
          }
          sem.upRead();
        } else {
          sem.downWrite();
          a++;
          b++;
          sem.upWrite();
        }
      }
    };
    Threads.run(mixed, mixed);
    assertThat(torn).hasValue(0);
    long writes = 2L * (n - (n + 2) / 3);
    assertThat(a).isEqualTo(writes);
    assertThat(b).isEqualTo(writes);
  }

  @Test
  void aWaitingWriterKeepsNewReadersOut() {
    NativeSched sched = new NativeSched();
    RwSem sem = new RwSem(sched, "sem", SEM);
    AtomicBoolean reading = new AtomicBoolean();
    AtomicBoolean writerDone = new AtomicBoolean();
    AtomicBoolean trylockWhileWriterWaits = new AtomicBoolean(true);
    Threads.run(() -> {
      sem.downRead();
      reading.set(true);
      // The writer queues behind this reader; wait until it has (it shows in the state).
      Threads.until(() -> sem.state().contains("writer(s) waiting"), "the writer to queue");
      trylockWhileWriterWaits.set(sem.downReadTrylock());
      if (trylockWhileWriterWaits.get()) {
        sem.upRead();
      }
      sem.upRead();
    }, () -> {
      Threads.until(reading::get, "the reader");
      sem.downWrite();
      writerDone.set(true);
      sem.upWrite();
    });
    assertThat(trylockWhileWriterWaits).as("down_read_trylock with a writer queued").isFalse();
    assertThat(writerDone).isTrue();
  }

  @Test
  void downgradeLetsReadersInButNotWriters() {
    NativeSched sched = new NativeSched();
    RwSem sem = new RwSem(sched, "sem", SEM);
    sem.downWrite();
    sem.assertWriteLocked();
    AtomicBoolean readerTry = new AtomicBoolean();
    AtomicBoolean writerTry = new AtomicBoolean(true);
    Threads.run(() -> {
      readerTry.set(sem.downReadTrylock());
      if (readerTry.get()) {
        sem.upRead();
      }
    });
    assertThat(readerTry).as("reader while write-held").isFalse();
    sem.downgradeWrite();
    sem.assertHeld();
    assertThatThrownBy(sem::assertWriteLocked).isInstanceOf(BugException.class);
    Threads.run(() -> {
      readerTry.set(sem.downReadTrylock());
      if (readerTry.get()) {
        sem.upRead();
      }
      writerTry.set(sem.downWriteTrylock());
    });
    assertThat(readerTry).as("reader after downgrade").isTrue();
    assertThat(writerTry).as("writer after downgrade").isFalse();
    sem.upRead();
    assertThat(sem.isLocked()).isFalse();
  }

  @Test
  void upReadWithoutHoldingItIsAnInvariantVerdict() {
    NativeSched sched = new NativeSched();
    RwSem sem = new RwSem(sched, "sem", SEM);
    assertThatThrownBy(sem::upRead).isInstanceOfSatisfying(BugException.class,
        e -> assertThat(e.verdict().kind()).isEqualTo(VerdictKind.INVARIANT));
  }

  // ------------------------------------------------------------ explore

  @Test
  void recursiveDownReadWithAWriterQueuedDeadlocks() {
    var r = Exploration.run(ex -> {
      RwSem sem = new RwSem(ex, "mmap_lock", SEM);
      ex.addCpu("reader", () -> {
        sem.downRead();
        sem.downRead();
        sem.upRead();
        sem.upRead();
      });
      ex.addCpu("writer", () -> {
        sem.downWrite();
        sem.upWrite();
      });
      return null;
    });
    assertThat(r.count(VerdictKind.DEADLOCK)).as(r.summary()).isPositive();
    assertThat(r.found()).allMatch(v -> v.kind() == VerdictKind.DEADLOCK);
    assertThat(r.first(VerdictKind.DEADLOCK).details())
        .anyMatch(l -> l.contains("CPU0 (reader) waits in down_read") && l.contains("held by itself"))
        .anyMatch(l -> l.contains("CPU1 (writer) waits in down_write") && l.contains("held by CPU0 (reader)"));
  }

  @Test
  void nonRecursiveReadersAndAWriterNeverDeadlock() {
    var r = Exploration.run(ex -> {
      RwSem sem = new RwSem(ex, "mmap_lock", SEM);
      ex.addCpu("reader", () -> {
        sem.downRead();
        sem.upRead();
        sem.downRead();
        sem.upRead();
      });
      ex.addCpu("writer", () -> {
        sem.downWrite();
        sem.upWrite();
      });
      return null;
    });
    assertThat(r.found()).as(r.summary()).isEmpty();
  }

  /** Readers check that a pair written under the write lock is never seen half-updated. */
  private static Runnable pairUnderRwsem(Sched ex, boolean readersLock) {
    RwSem sem = new RwSem(ex, "sem", SEM);
    Atomic x = new Atomic(ex, "x", 0);
    Atomic y = new Atomic(ex, "y", 0);
    for (String name : new String[] {"reader0", "reader1"}) {
      ex.addCpu(name, () -> {
        if (readersLock) {
          sem.downRead();
        }
        long vx = x.read();
        long vy = y.read();
        if (readersLock) {
          sem.upRead();
        }
        assertThat(vx).as("x vs y").isEqualTo(vy);
      });
    }
    ex.addCpu("writer", () -> {
      for (int i = 1; i <= 2; i++) {
        sem.downWrite();
        x.write(i);
        y.write(i);
        sem.upWrite();
      }
    });
    return null;
  }

  @Test
  void readersUnderTheRwsemNeverSeeAHalfWrittenPair() {
    var r = Exploration.run(ex -> pairUnderRwsem(ex, true));
    assertThat(r.found()).as(r.summary()).isEmpty();
  }

  @Test
  void explorerFindsTheHalfWrittenPairWhenReadersSkipTheLock() {
    var r = Exploration.run(ex -> pairUnderRwsem(ex, false));
    assertThat(r.count(VerdictKind.ASSERTION)).as(r.summary()).isPositive();
  }

  @Test
  void downgradedReadHoldIsReleasedWithUpReadAndReadersShareIt() {
    var r = Exploration.run(ex -> {
      RwSem sem = new RwSem(ex, "sem", SEM);
      Atomic phase = new Atomic(ex, "phase", 0);
      ex.addCpu("downgrader", () -> {
        sem.downWrite();
        phase.write(1); // mid-update: never visible to a reader
        phase.write(2);
        sem.downgradeWrite();
        sem.assertHeld();
        sem.upRead();
      });
      ex.addCpu("reader", () -> {
        sem.downRead();
        assertThat(phase.read()).as("a reader never sees a write in progress").isNotEqualTo(1);
        sem.upRead();
      });
      return () -> assertThat(sem.state()).isEqualTo("free");
    });
    assertThat(r.found()).as(r.summary()).isEmpty();
  }

  @Test
  void writeHeldAtExitIsAnInvariantVerdict() {
    var r = Exploration.run(10, ex -> {
      RwSem sem = new RwSem(ex, "sem", SEM);
      ex.addCpu("leaker", sem::downWrite);
      return null;
    });
    assertThat(r.count(VerdictKind.INVARIANT)).as(r.summary()).isEqualTo(10);
  }
}
