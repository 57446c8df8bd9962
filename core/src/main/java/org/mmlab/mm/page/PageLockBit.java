package org.mmlab.mm.page;

import static org.mmlab.mm.page.Page.FLAGS;
import static org.mmlab.mm.page.Page.LINK;

import java.lang.invoke.VarHandle;
import org.jspecify.annotations.Nullable;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.Sched;
import org.mmlab.sync.HashedWaitTable;
import org.mmlab.sync.MightSleep;
import org.mmlab.sync.WaitQueue;

/**
 * {@code PG_locked} as a sleeping lock: the folio lock of {@code mm/filemap.c}
 * ({@code folio_lock}, {@code folio_trylock}, {@code folio_unlock}, {@code folio_wait_locked},
 * the wait-bit machinery of {@code folio_wait_bit_common} and {@code folio_wake_bit}) on a
 * {@link Page}'s flags word, and the lazily created {@link PageLocks} side object whose
 * pseudo-locks the lock and the frozen reference count are reported as. Static helpers taking
 * the page (no extra object per descriptor); every step is a scheduling point on the page.
 *
 * <p>Order: the side object ({@link #locks}, {@link #locksIfAny}), taking the lock (fast path,
 * then the sleeping part), trylock, unlock, waiting without taking it, then the single steps
 * (wake-up, test-and-set, test) they are built from.
 */
final class PageLockBit {
  private PageLockBit() {}

  /** The pseudo-lock objects, created on first use (a CAS natively; in step order when exploring). */
  static PageLocks locks(Page page) {
    Object l = LINK.getAcquire(page);
    if (l instanceof PageLocks pl) {
      return pl;
    }
    if (l instanceof Page) {
      throw page.invariant("a lock or frozen count of a tail page (use its folio)");
    }
    PageLocks fresh = new PageLocks(page);
    Object witness = LINK.compareAndExchange(page, (Object) null, fresh);
    if (witness == null) {
      return fresh;
    }
    if (witness instanceof PageLocks pl) {
      return pl;
    }
    throw page.invariant("a lock or frozen count of a page that just became a tail");
  }

  static @Nullable PageLocks locksIfAny(Page page) {
    return LINK.getAcquire(page) instanceof PageLocks pl ? pl : null;
  }

  /** {@code folio_lock}: see {@link Folio#folioLock}. */
  static void lock(Page page) {
    Sched sched = page.sched();
    MightSleep.check(sched, "folio_lock");
    PageLocks.Pseudo bl = locks(page).locked;
    sched.acquiring(bl);
    if (!tryTakeLocked(page, "folio_lock")) {
      lockSlow(page, bl);
    }
    bl.holder = sched.cpu();
    sched.acquired(bl);
  }

  /** The sleeping part: the kernel's {@code folio_wait_bit_common} with an exclusive entry. */
  private static void lockSlow(Page page, PageLocks.Pseudo bl) {
    Sched sched = page.sched();
    WaitQueue q = waitTable(page).queueFor(page, PageFlag.LOCKED.bit);
    WaitQueue.Entry e = WaitQueue.Entry.keyed(sched.cpu(), page, PageFlag.LOCKED.bit, bl);
    while (true) {
      q.prepareToWait(e, true);
      if (tryTakeLocked(page, "test_and_set_bit_lock")) {
        break;
      }
      q.schedule(e);
      if (tryTakeLocked(page, "test_and_set_bit_lock")) {
        break;
      }
    }
    q.finishWait(e);
  }

  static boolean trylock(Page page) {
    Sched sched = page.sched();
    PageLocks.Pseudo bl = locks(page).locked;
    if (!tryTakeLocked(page, "folio_trylock")) {
      return false;
    }
    bl.holder = sched.cpu();
    sched.acquired(bl);
    return true;
  }

  /**
   * {@code folio_unlock}: clears {@code PG_locked} with release ordering and wakes one
   * exclusive waiter. Any CPU may unlock (I/O completion does); unlocking an unlocked folio is
   * an invariant verdict.
   */
  static void unlock(Page page) {
    Sched sched = page.sched();
    sched.point(OpKind.UNLOCK, page, "folio_unlock");
    int m = PageFlag.LOCKED.mask();
    if (((int) FLAGS.getOpaque(page) & m) == 0) {
      throw page.invariant("folio_unlock of a folio that is not locked");
    }
    PageLocks l = locksIfAny(page);
    if (l != null) {
      // Bookkeeping before the release: once the bit is clear another CPU may take it.
      l.locked.holder = null;
      sched.releasedByAnyone(l.locked);
    }
    FLAGS.getAndBitwiseAndRelease(page, ~m);
    wakeLocked(page);
  }

  /** {@code folio_wait_locked}: sleeps until the folio is unlocked, without taking the lock. */
  static void waitLocked(Page page) {
    Sched sched = page.sched();
    MightSleep.check(sched, "folio_wait_locked");
    if (!testLockedForWait(page, "folio_wait_locked")) {
      return;
    }
    PageLocks.Pseudo bl = locks(page).locked;
    WaitQueue q = waitTable(page).queueFor(page, PageFlag.LOCKED.bit);
    WaitQueue.Entry e = WaitQueue.Entry.keyed(sched.cpu(), page, PageFlag.LOCKED.bit, bl);
    while (true) {
      q.prepareToWait(e, false);
      if (!testLockedForWait(page, "test_bit_acquire")) {
        break;
      }
      q.schedule(e);
      if (!testLockedForWait(page, "test_bit_acquire")) {
        break;
      }
    }
    q.finishWait(e);
  }

  /**
   * {@code folio_wake_bit}: a full barrier (the clear before the lockless test for sleepers,
   * pairing with the sleeper queueing before it tests the bit; see {@code FlagWord}'s notes),
   * then a keyed wake-up of one exclusive waiter and every non-exclusive one.
   */
  private static void wakeLocked(Page page) {
    Sched sched = page.sched();
    if (!sched.exploring) {
      VarHandle.fullFence();
    }
    WaitQueue q = waitTable(page).queueFor(page, PageFlag.LOCKED.bit);
    if (q.active()) {
      q.wakeUpKey(page, PageFlag.LOCKED.bit, 1);
    }
  }

  /** One step: takes {@code PG_locked} if clear (test-and-test-and-set, acquire ordering). */
  private static boolean tryTakeLocked(Page page, String what) {
    Sched sched = page.sched();
    sched.point(OpKind.LOCK, page, what);
    int m = PageFlag.LOCKED.mask();
    if (((int) FLAGS.getVolatile(page) & m) != 0) {
      sched.unchanged();
      return false;
    }
    return ((int) FLAGS.getAndBitwiseOrAcquire(page, m) & m) == 0;
  }

  private static boolean testLockedForWait(Page page, String what) {
    Sched sched = page.sched();
    sched.point(OpKind.READ, page, what);
    return ((int) FLAGS.getVolatile(page) & PageFlag.LOCKED.mask()) != 0;
  }

  private static HashedWaitTable waitTable(Page page) {
    return page.mem().folioWaitTable();
  }
}
