package org.mmlab.mm.page;

import static org.mmlab.mm.page.Page.FROZEN;
import static org.mmlab.mm.page.Page.REF;

import java.util.List;
import org.mmlab.explore.BugException;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.Sched;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;

/**
 * The reference-count primitives of a {@link Page} ({@code include/linux/page_ref.h}): the
 * operations behind {@link Folio}'s {@code folio_ref_*} accessors and the allocator's
 * {@code set_page_refcounted} and {@code free_frozen_pages}, on the descriptor's own
 * {@code refcount} field. Static helpers taking the page, so that a descriptor carries no
 * extra object (see {@link Page}'s notes on size); each operation is one scheduling point on
 * the page, as it was when it lived there.
 *
 * <p>Order: reads, increments ({@link #add}, {@link #tryGet}), decrements and sets, freezing
 * ({@link #freeze}, {@link #unfreeze}, {@link #dropFrozen}), the misuse verdict.
 */
final class PageRef {
  private PageRef() {}

  static int read(Page page, String what) {
    Sched sched = page.sched();
    sched.point(OpKind.READ, page, what);
    int c = (int) REF.getAcquire(page);
    return c == FROZEN ? 0 : c;
  }

  static boolean isFrozen(Page page) {
    Sched sched = page.sched();
    sched.point(OpKind.READ, page, "folio_ref_frozen");
    return (int) REF.getAcquire(page) == FROZEN;
  }

  /** Adds {@code n} to a count the caller already holds a reference on. */
  static void add(Page page, int n, String what) {
    Sched sched = page.sched();
    sched.point(OpKind.RMW, page, what);
    int c = (int) REF.getVolatile(page);
    while (true) {
      if (c == FROZEN) {
        throw misuse(page, what + " on a frozen refcount");
      }
      if (c <= 0) {
        throw misuse(page, what + " increments a refcount of " + c + " (no reference was held)");
      }
      int witness = (int) REF.compareAndExchange(page, c, c + n);
      if (witness == c) {
        return;
      }
      c = witness;
    }
  }

  static boolean tryGet(Page page, String what) {
    Sched sched = page.sched();
    sched.point(OpKind.RMW, page, what);
    int c = (int) REF.getVolatile(page);
    while (c != 0 && c != FROZEN) {
      int witness = (int) REF.compareAndExchange(page, c, c + 1);
      if (witness == c) {
        return true;
      }
      c = witness;
    }
    sched.unchanged();
    if (c == FROZEN) {
      // The caller will spin (retry) waiting for the freezer: a wait lockdep should see.
      sched.acquiring(PageLockBit.locks(page).frozen);
    }
    return false;
  }

  /** Drops {@code n} references; true when the count reached zero. Misuse on underflow or frozen. */
  static boolean sub(Page page, int n, String what) {
    Sched sched = page.sched();
    sched.point(OpKind.RMW, page, what);
    int c = (int) REF.getVolatile(page);
    while (true) {
      if (c == FROZEN) {
        throw misuse(page, what + " on a frozen refcount");
      }
      if (c < n) {
        throw misuse(page, what + " underflows a refcount of " + c + " (by " + n + ")");
      }
      int witness = (int) REF.compareAndExchange(page, c, c - n);
      if (witness == c) {
        return c == n;
      }
      c = witness;
    }
  }

  /** {@code set_page_count} on a descriptor nobody else holds a reference to. */
  static void set(Page page, int v, String what) {
    Sched sched = page.sched();
    sched.point(OpKind.WRITE, page, what);
    int c = (int) REF.getVolatile(page);
    while (true) {
      if (c == FROZEN) {
        throw misuse(page, what + " on a frozen refcount");
      }
      int witness = (int) REF.compareAndExchange(page, c, v);
      if (witness == c) {
        return;
      }
      c = witness;
    }
  }

  static boolean freeze(Page page, int expected) {
    Sched sched = page.sched();
    sched.point(OpKind.RMW, page, "folio_ref_freeze");
    if (expected <= 0) {
      throw new IllegalArgumentException("folio_ref_freeze expects a positive count: " + expected);
    }
    if (!REF.compareAndSet(page, expected, FROZEN)) {
      sched.unchanged();
      return false;
    }
    PageLocks.Pseudo frozen = PageLockBit.locks(page).frozen;
    frozen.holder = sched.cpu();
    sched.acquired(frozen);
    return true;
  }

  static void unfreeze(Page page, int n) {
    Sched sched = page.sched();
    sched.point(OpKind.WRITE, page, "folio_ref_unfreeze");
    if (n <= 0) {
      throw misuse(page, "folio_ref_unfreeze to " + n);
    }
    int c = (int) REF.getVolatile(page);
    if (c != FROZEN) {
      throw misuse(page, "folio_ref_unfreeze of a refcount that is not frozen (count " + c + ")");
    }
    releaseFrozen(page);
    if (!REF.compareAndSet(page, FROZEN, n)) {
      throw misuse(page, "folio_ref_unfreeze raced with another unfreeze");
    }
  }

  /** Bookkeeping of the frozen pseudo-lock, before the count is published again. */
  private static void releaseFrozen(Page page) {
    Sched sched = page.sched();
    PageLocks l = PageLockBit.locksIfAny(page);
    if (l != null) {
      l.frozen.holder = null;
      sched.releasedByAnyone(l.frozen);
    }
  }

  /**
   * {@code free_frozen_pages}' precondition: the count is zero. A frozen count is the caller's
   * (it froze it to free the folio): its pseudo-lock is released and the count becomes 0. A
   * nonzero count is misuse. One point.
   */
  static void dropFrozen(Page page) {
    Sched sched = page.sched();
    sched.point(OpKind.WRITE, page, "free_frozen_pages");
    int c = (int) REF.getVolatile(page);
    if (c == FROZEN) {
      releaseFrozen(page);
      if (!REF.compareAndSet(page, FROZEN, 0)) {
        throw misuse(page, "free_frozen_pages raced with an unfreeze");
      }
    } else if (c != 0) {
      throw misuse(page, "free_frozen_pages of a page with a nonzero refcount (" + c + ")");
    }
  }

  private static BugException misuse(Page page, String what) {
    Sched sched = page.sched();
    return sched.bug(Verdict.of(VerdictKind.REFCOUNT_MISUSE,
        sched.cpu().label() + ": " + what + " (" + page.describe() + ")", List.of("state: " + page.state()), List.of(page.id())));
  }
}
