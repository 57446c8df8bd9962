package org.mmlab.mm.page;

import org.mmlab.testing.Threads;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mmlab.mm.page.BuddyAllocatorTest.boot64;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.ExploreResult;
import org.mmlab.explore.Explorer;
import org.mmlab.explore.NativeSched;
import org.mmlab.lab.Checks;
import org.mmlab.sync.Atomic;
import org.mmlab.sync.Spinlock;

/** The folio lock (PG_locked with sleepers on the hashed folio wait table), natively and explored. */
@Timeout(120)
class FolioLockTest {
  private static final LockClass SPIN = LockClass.of("test:folio-lock spinlock");
  static final FramePool POOL = new FramePool(16);
  private static final long MIB = 1 << 20;

  // ------------------------------------------------------------ native

  private long plainCounter;

  @Test
  void theFolioLockExcludesTwoThreadsAndWakesSleepers() {
    NativeSched sched = new NativeSched();
    PhysMem mem = boot64(sched);
    Folio f = mem.folioAlloc(Gfp.KERNEL, 0);
    int n = 20_000;
    Runnable body = () -> {
      for (int i = 0; i < n; i++) {
        f.folioLock();
        plainCounter++;
        if (i % 500 == 0) {
          Thread.yield(); // let the other thread go to sleep on the wait table now and then
        }
        f.folioUnlock();
      }
    };
    Threads.run(body, body);
    assertThat(plainCounter).isEqualTo(2L * n);
    assertThat(f.folioTestLocked()).isFalse();
    f.folioPut();
  }

  @Test
  void aSleeperIsWokenByTheUnlockAndGetsTheLock() {
    NativeSched sched = new NativeSched();
    PhysMem mem = boot64(sched);
    Folio f = mem.folioAlloc(Gfp.KERNEL, 0);
    AtomicBoolean unlocked = new AtomicBoolean();
    AtomicLong waitedNanos = new AtomicLong();
    f.folioLock();
    Threads.run(() -> {
      long t0 = System.nanoTime();
      f.folioLock(); // sleeps: the main thread holds it
      waitedNanos.set(System.nanoTime() - t0);
      assertThat(unlocked.get()).isTrue();
      assertThat(f.folioTrylock()).isFalse();
      f.folioUnlock();
    }, () -> {
      Threads.sleep(50);
      unlocked.set(true);
      f.folioUnlock(); // any CPU may unlock a folio
    });
    assertThat(waitedNanos.get()).isGreaterThan(20_000_000L);
    assertThat(f.folioTrylock()).isTrue();
    f.folioUnlock();
    f.folioPut();
  }

  @Test
  void waitLockedReturnsOnceTheFolioIsUnlocked() {
    NativeSched sched = new NativeSched();
    PhysMem mem = boot64(sched);
    Folio f = mem.folioAlloc(Gfp.KERNEL, 0);
    f.folioLock();
    AtomicBoolean unlocked = new AtomicBoolean();
    Threads.run(() -> {
      f.folioWaitLocked();
      assertThat(unlocked.get()).isTrue();
    }, () -> {
      Threads.sleep(30);
      unlocked.set(true);
      f.folioUnlock();
    });
    f.folioPut();
  }

  // ------------------------------------------------------------ explored

  private static ExploreResult explore(Explorer.Program p, long executions) {
    return new Explorer(p, Explorer.Config.defaults().withExecutions(executions).withMaxSteps(5_000)).explore(null);
  }

  @Test
  void underTheExplorerTheFolioLockMakesAReadModifyWriteAtomic() {
    ExploreResult r = explore(ex -> {
      PhysMem mem = new PhysMem(ex, 8 * MIB, 1, POOL);
      Folio f = mem.folioAlloc(Gfp.KERNEL, 0);
      Atomic counter = new Atomic(ex, "counter", 0);
      Runnable body = () -> {
        f.folioLock();
        long v = counter.read();
        counter.write(v + 1);
        f.folioUnlock();
      };
      ex.addCpu("a", body);
      ex.addCpu("b", body);
      return () -> {
        Checks.equal("counter", 2L, counter.peek());
        f.folioPut();
        mem.release();
      };
    }, 2_000);
    assertThat(r.verdictId()).as(String.valueOf(r.verdict())).isEqualTo("none");
  }

  @Test
  void underTheExplorerTwoFolioLocksTakenInOppositeOrdersDeadlock() {
    ExploreResult r = explore(ex -> {
      PhysMem mem = new PhysMem(ex, 8 * MIB, 1, POOL);
      Folio a = mem.folioAlloc(Gfp.KERNEL, 0);
      Folio b = mem.folioAlloc(Gfp.KERNEL, 0);
      ex.addCpu("ab", () -> {
        a.folioLock();
        b.folioLock();
        b.folioUnlock();
        a.folioUnlock();
      });
      ex.addCpu("ba", () -> {
        b.folioLock();
        a.folioLock();
        a.folioUnlock();
        b.folioUnlock();
      });
      return mem::release;
    }, 2_000);
    assertThat(r.verdictId()).as(String.valueOf(r.verdict())).isEqualTo("deadlock");
    assertThat(r.verdict().headline()).contains("page lock");
  }

  @Test
  void underTheExplorerTakingTheFolioLockUnderASpinlockIsAVerdict() {
    ExploreResult r = explore(ex -> {
      PhysMem mem = new PhysMem(ex, 8 * MIB, 1, POOL);
      Folio f = mem.folioAlloc(Gfp.KERNEL, 0);
      Spinlock lock = new Spinlock(ex, "lock", SPIN);
      ex.addCpu("bad", () -> {
        lock.lock();
        f.folioLock();
        f.folioUnlock();
        lock.unlock();
      });
      return mem::release;
    }, 10);
    assertThat(r.verdictId()).isEqualTo("invariant");
    assertThat(r.verdict().headline()).contains("may sleep");
  }

  @Test
  void underTheExplorerAWaiterOnTheLockedBitSeesTheUnlockersWrite() {
    ExploreResult r = explore(ex -> {
      PhysMem mem = new PhysMem(ex, 8 * MIB, 1, POOL);
      Folio f = mem.folioAlloc(Gfp.KERNEL, 0);
      Atomic data = new Atomic(ex, "data", 0);
      Atomic locked = new Atomic(ex, "locked", 0);
      ex.addCpu("writer", () -> {
        f.folioLock();
        locked.write(1);
        data.write(1);
        f.folioUnlock();
      });
      ex.addCpu("waiter", () -> {
        while (locked.read() == 0) {
          ex.retry("wait until the writer holds the lock", locked);
        }
        f.folioWaitLocked();
        Checks.equal("data after folio_wait_locked", 1L, data.read());
      });
      return () -> {
        f.folioPut();
        mem.release();
      };
    }, 1_000);
    assertThat(r.verdictId()).as(String.valueOf(r.verdict())).isEqualTo("none");
  }
}
