package org.mmlab.sync;

import org.mmlab.testing.Threads;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.BugException;
import org.mmlab.explore.ExploreSched;
import org.mmlab.explore.Sched;
import org.mmlab.explore.NativeSched;
import org.mmlab.explore.VerdictKind;

@Timeout(30)
class FlagWordTest {
  private static final int PG_LOCKED = 0;
  private static final int PG_WRITEBACK = 15;
  private static final LockClass PAGE_LOCK = LockClass.pseudo("test PG_locked");
  private static final LockClass I_MMAP = LockClass.of("test i_mmap_rwsem");

  // ------------------------------------------------------------ native

  @Test
  void bitOperationsReturnThePreviousValue() {
    NativeSched sched = new NativeSched();
    FlagWord flags = new FlagWord(sched, "flags", new HashedWaitTable(sched, "bit_wait_table", 16));
    assertThat(flags.testAndSetBit(3)).isFalse();
    assertThat(flags.testAndSetBit(3)).isTrue();
    assertThat(flags.testBit(3)).isTrue();
    flags.setBit(63);
    assertThat(flags.read()).isEqualTo((1L << 63) | (1L << 3));
    assertThat(flags.testAndClearBit(3)).isTrue();
    assertThat(flags.testAndClearBit(3)).isFalse();
    flags.clearBit(63);
    assertThat(flags.peek()).isZero();
    assertThatThrownBy(() -> flags.setBit(64)).isInstanceOf(IllegalArgumentException.class);
  }

  private long plainCounter;

  @Test
  void aBitLockExcludesTwoThreadsAndWakesSleepers() {
    NativeSched sched = new NativeSched();
    FlagWord flags = new FlagWord(sched, "flags", new HashedWaitTable(sched, "folio_wait_table", 16));
    int n = 20_000;
    Runnable body = () -> {
      for (int i = 0; i < n; i++) {
        flags.lockBit(PG_LOCKED, PAGE_LOCK);
        plainCounter++;
        if (i % 1000 == 0) {
          Thread.yield(); // make the other thread sleep on the hashed queue now and then
        }
        flags.unlockBit(PG_LOCKED);
      }
    };
    Threads.run(body, body);
    assertThat(plainCounter).isEqualTo(2L * n);
    assertThat(flags.peek()).isZero();
  }

  @Test
  void waitOnBitReturnsOnceTheBitIsClearedAndWoken() {
    NativeSched sched = new NativeSched();
    FlagWord flags = new FlagWord(sched, "flags", new HashedWaitTable(sched, "bit_wait_table", 16));
    flags.setBit(PG_WRITEBACK);
    AtomicBoolean returned = new AtomicBoolean();
    AtomicBoolean cleared = new AtomicBoolean();
    Threads.run(() -> {
      flags.waitOnBit(PG_WRITEBACK);
      assertThat(cleared.get()).isTrue();
      returned.set(true);
    }, () -> {
      try {
        Thread.sleep(30);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      cleared.set(true);
      flags.clearAndWakeUpBit(PG_WRITEBACK);
    });
    assertThat(returned).isTrue();
  }

  @Test
  void unlockingAClearBitIsAnInvariantVerdict() {
    NativeSched sched = new NativeSched();
    FlagWord flags = new FlagWord(sched, "flags", new HashedWaitTable(sched, "t", 16));
    assertThatThrownBy(() -> flags.unlockBit(PG_LOCKED)).isInstanceOfSatisfying(BugException.class,
        e -> assertThat(e.verdict().kind()).isEqualTo(VerdictKind.INVARIANT));
  }

  @Test
  void aBitLockTakenByOneThreadMayBeUnlockedByAnother() {
    NativeSched sched = new NativeSched();
    FlagWord flags = new FlagWord(sched, "flags", new HashedWaitTable(sched, "t", 16));
    assertThat(flags.tryLockBit(PG_LOCKED, PAGE_LOCK)).isTrue();
    assertThat(flags.tryLockBit(PG_LOCKED, PAGE_LOCK)).isFalse();
    assertThat(sched.cpu().heldLocks()).extracting(Object::toString).containsExactly("bit lock test PG_locked@flags");
    Threads.run(() -> flags.unlockBit(PG_LOCKED)); // I/O completion unlocks the page
    assertThat(sched.cpu().heldCount()).isZero();
    assertThat(flags.testBit(PG_LOCKED)).isFalse();
  }

  // ------------------------------------------------------------ explore

  @Test
  void theBitLockGivesMutualExclusionInEveryExecution() {
    var r = Exploration.run(ex -> {
      FlagWord flags = new FlagWord(ex, "page#1", new HashedWaitTable(ex, "folio_wait_table", 4));
      Atomic counter = new Atomic(ex, "counter", 0);
      for (String name : new String[] {"a", "b", "c"}) {
        ex.addCpu(name, () -> {
          flags.lockBit(PG_LOCKED, PAGE_LOCK);
          counter.write(counter.read() + 1);
          flags.unlockBit(PG_LOCKED);
        });
      }
      return () -> assertThat(counter.peek()).isEqualTo(3);
    });
    assertThat(r.found()).as(r.summary()).isEmpty();
  }

  /** Waits on a bit that another CPU clears, with or without the wake-up the waiter needs. */
  private static Runnable clearBit(Sched ex, boolean wake) {
    FlagWord flags = new FlagWord(ex, "page#1", new HashedWaitTable(ex, "bit_wait_table", 4));
    flags.setBit(PG_WRITEBACK);
    ex.addCpu("waiter", () -> flags.waitOnBit(PG_WRITEBACK));
    ex.addCpu("end_writeback", () -> {
      if (wake) {
        flags.clearAndWakeUpBit(PG_WRITEBACK);
      } else {
        flags.clearBitUnlock(PG_WRITEBACK);
      }
    });
    return null;
  }

  @Test
  void waitOnBitIsNeverLeftAsleepWhenTheClearerWakes() {
    var r = Exploration.run(ex -> clearBit(ex, true));
    assertThat(r.found()).as(r.summary()).isEmpty();
  }

  @Test
  void aClearWithoutWakeUpBitLeavesTheWaiterAsleepForever() {
    var r = Exploration.run(ex -> clearBit(ex, false));
    assertThat(r.count(VerdictKind.DEADLOCK)).as(r.summary()).isPositive();
    assertThat(r.first(VerdictKind.DEADLOCK).details()).anyMatch(l -> l.contains("waits in schedule"));
  }

  @Test
  void pageLockAndARwsemInOppositeOrdersDeadlockWithTheHolderNamed() {
    var r = Exploration.run(ex -> {
      FlagWord flags = new FlagWord(ex, "page#1", new HashedWaitTable(ex, "folio_wait_table", 4));
      RwSem sem = new RwSem(ex, "i_mmap_rwsem", I_MMAP);
      ex.addCpu("truncate", () -> {
        flags.lockBit(PG_LOCKED, PAGE_LOCK);
        sem.downWrite();
        sem.upWrite();
        flags.unlockBit(PG_LOCKED);
      });
      ex.addCpu("rmap", () -> {
        sem.downRead();
        flags.lockBit(PG_LOCKED, PAGE_LOCK);
        flags.unlockBit(PG_LOCKED);
        sem.upRead();
      });
      return null;
    });
    assertThat(r.count(VerdictKind.DEADLOCK)).as(r.summary()).isPositive();
    assertThat(r.first(VerdictKind.DEADLOCK).details())
        .anyMatch(l -> l.contains("CPU1 (rmap) waits in schedule for bit lock test PG_locked@page#1")
            && l.contains("held by CPU0 (truncate)"));
    assertThat(r.lockdep().inversion()).isNotNull();
  }

  @Test
  void aPageLockHeldAtExitIsAnInvariantVerdict() {
    var r = Exploration.run(10, ex -> {
      FlagWord flags = new FlagWord(ex, "page#1", new HashedWaitTable(ex, "t", 4));
      ex.addCpu("leaker", () -> flags.lockBit(PG_LOCKED, PAGE_LOCK));
      return null;
    });
    assertThat(r.count(VerdictKind.INVARIANT)).as(r.summary()).isEqualTo(10);
  }

  @Test
  void twoWordsSharingOneHashedQueueBothMakeProgress() {
    // One queue for everything: the two words always collide. (Key filtering itself is checked
    // in WaitQueueTest: here a wrongly woken waiter re-tests its bit and sleeps again, so the
    // protocol would survive spurious wake-ups; what must not happen is a wake-up lost.)
    var r = Exploration.run(ex -> {
      HashedWaitTable table = new HashedWaitTable(ex, "folio_wait_table", 1);
      FlagWord p1 = new FlagWord(ex, "page#1", table);
      FlagWord p2 = new FlagWord(ex, "page#2", table);
      for (FlagWord p : new FlagWord[] {p1, p2}) {
        for (String who : new String[] {"x", "y"}) {
          ex.addCpu(p.name() + who, () -> {
            p.lockBit(PG_LOCKED, PAGE_LOCK);
            p.unlockBit(PG_LOCKED);
          });
        }
      }
      return null;
    });
    assertThat(r.found()).as(r.summary()).isEmpty();
  }
}
