package org.mmlab.mm.page;

import static org.mmlab.mm.page.Page.FLAGS;
import static org.mmlab.mm.page.Page.FROZEN;
import static org.mmlab.mm.page.Page.INDEX;
import static org.mmlab.mm.page.Page.LINK;
import static org.mmlab.mm.page.Page.MAP;
import static org.mmlab.mm.page.Page.MAPPING;
import static org.mmlab.mm.page.Page.ORDER_MASK;
import static org.mmlab.mm.page.Page.ORDER_SHIFT;
import static org.mmlab.mm.page.Page.PRIV;
import static org.mmlab.mm.page.Page.REF;
import static org.mmlab.mm.page.Page.describeFlags;

import java.util.List;
import org.mmlab.explore.BugException;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.Sched;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;

/**
 * What the allocator ({@code mm/page_alloc.c}) does to a {@link Page} descriptor as its block
 * enters or leaves the free lists: the buddy mark and order ({@code __SetPageBuddy},
 * {@code set_buddy_order}), {@code prep_new_page} and {@code prep_compound_tail} at
 * allocation, {@code free_pages_prepare} and {@code free_tail_page_prepare} at free, and the
 * "Bad page state" checks of {@code check_new_page} and {@code free_page_is_bad}. Static
 * helpers taking the page; the points they make are on the page.
 *
 * <p>Order: the buddy mark, allocation ({@link #prepNew}, {@link #prepTail}), free
 * ({@link #prepareFree}, {@link #prepareFreeTail}), checks of the other pages of a block, then
 * the shared checks and their verdict.
 */
final class PagePrep {
  private PagePrep() {}

  /**
   * {@code __SetPageBuddy} + {@code set_buddy_order}, or {@code __ClearPageBuddy}: called by
   * the allocator under {@code zone->lock} on the first page of a block entering or leaving a
   * free list. One point.
   */
  static void setBuddy(Page page, boolean free, int order) {
    Sched sched = page.sched();
    sched.point(OpKind.RMW, page, free ? "__SetPageBuddy" : "__ClearPageBuddy");
    int clear = PageFlag.BUDDY.mask() | ORDER_MASK;
    int set = free ? PageFlag.BUDDY.mask() | (order << ORDER_SHIFT) : 0;
    int f = (int) FLAGS.getVolatile(page);
    while (true) {
      int witness = (int) FLAGS.compareAndExchange(page, f, (f & ~clear) | set);
      if (witness == f) {
        return;
      }
      f = witness;
    }
  }

  /**
   * {@code prep_new_page} for the head (or only) page of a block just taken from the free
   * lists: checks the state a free page must be in ({@code check_new_page}), resets
   * {@code private}, {@code index} and {@code mapping}, makes it a compound head of
   * {@code order} if asked, and sets the count to 1 ({@code set_page_refcounted}, a point:
   * a speculative {@code folio_try_get} through a stale pointer may race with it).
   */
  static void prepNew(Page page, int order, boolean compound) {
    Sched sched = page.sched();
    checkFree(page, "check_new_page", false);
    PRIV.setRelease(page, null);
    INDEX.setRelease(page, 0L);
    MAPPING.setRelease(page, null);
    if (compound && order > 0) {
      sched.point(OpKind.RMW, page, "prep_compound_head");
      int f = (int) FLAGS.getVolatile(page);
      while (true) {
        int next = (f & ~ORDER_MASK) | PageFlag.HEAD.mask() | (order << ORDER_SHIFT);
        int witness = (int) FLAGS.compareAndExchange(page, f, next);
        if (witness == f) {
          break;
        }
        f = witness;
      }
    }
    PageRef.set(page, 1, "set_page_refcounted");
  }

  /** {@code prep_compound_tail}: this page becomes a tail of {@code head}. No scheduling point (see {@link Page#folio()}). */
  static void prepTail(Page page, Page head) {
    checkFree(page, "check_new_page", false);
    PRIV.setRelease(page, null);
    MAPPING.setRelease(page, null);
    INDEX.setRelease(page, 0L);
    LINK.setRelease(page, head);
  }

  /**
   * {@code free_pages_prepare} for the head (or only) page: the state checks of
   * {@code free_page_is_bad} (a verdict if the page is still mapped, locked, on the LRU, a
   * table ...), then the flags that do not survive a free are cleared (one point) and an
   * anonymous mapping dropped.
   */
  static void prepareFree(Page page, String what) {
    Sched sched = page.sched();
    checkFree(page, what, true);
    sched.point(OpKind.RMW, page, "free_pages_prepare");
    int f = (int) FLAGS.getVolatile(page);
    while (true) {
      int witness = (int) FLAGS.compareAndExchange(page, f, f & ~(PageFlag.CLEAR_AT_FREE | ORDER_MASK));
      if (witness == f) {
        break;
      }
      f = witness;
    }
    if ((f & PageFlag.ANON.mask()) != 0) {
      MAPPING.setRelease(page, null);
    }
  }

  /** {@code free_tail_page_prepare}: checks a tail of {@code head} and makes it a plain page again. */
  static void prepareFreeTail(Page page, Page head, String what) {
    Object l = LINK.getAcquire(page);
    if (l != head) {
      throw badPage(page, what, "tail page of pfn 0x" + Long.toHexString(head.pfn()) + " has a wrong compound_head");
    }
    checkFree(page, what, false);
    LINK.setRelease(page, null);
  }

  /** {@code free_pages_prepare} for a non-head page of a non-compound block: checks only. */
  static void checkFreePart(Page page, String what) {
    checkFree(page, what, false);
  }

  /** {@code check_new_pages} for a non-head page of a non-compound block: checks only. */
  static void checkNewPart(Page page, String what) {
    checkFree(page, what, false);
  }

  /**
   * The checks of a page entering or leaving the allocator: count zero, not mapped, no
   * mapping (except an anonymous one at free), no flag of {@link PageFlag#CHECK_AT_FREE}.
   * Reads without scheduling points ({@code free_page_is_bad}, {@code check_new_page}).
   */
  private static void checkFree(Page page, String what, boolean atFree) {
    Sched sched = page.sched();
    int c = (int) REF.getAcquire(page);
    int flagsNow = (int) FLAGS.getAcquire(page);
    if (c != 0) {
      throw sched.bug(Verdict.of(VerdictKind.REFCOUNT_MISUSE,
          sched.cpu().label() + ": " + what + ": " + page.name() + " has a nonzero refcount ("
              + (c == FROZEN ? "frozen" : c) + ")",
          List.of("Bad page state: a page is freed or reused while a reference to it is held", "state: " + page.state()),
          List.of(page.id())));
    }
    int m = (int) MAP.getAcquire(page);
    if (m != -1) {
      throw badPage(page, what, "nonzero mapcount (" + (m + 1) + "): freed while mapped");
    }
    Object mp = MAPPING.getAcquire(page);
    if (mp != null && !(atFree && (flagsNow & PageFlag.ANON.mask()) != 0)) {
      throw badPage(page, what, "non-NULL mapping (still in a page cache?)");
    }
    int bad = flagsNow & PageFlag.CHECK_AT_FREE;
    if (atFree) {
      bad &= ~PageFlag.BUDDY.mask();
    }
    if (bad != 0) {
      throw badPage(page, what, "flags set that must be clear: " + describeFlags(bad));
    }
  }

  private static BugException badPage(Page page, String what, String reason) {
    Sched sched = page.sched();
    return sched.bug(Verdict.of(VerdictKind.INVARIANT,
        sched.cpu().label() + ": Bad page state in " + what + ": " + page.name() + ": " + reason,
        List.of("state: " + page.state()), List.of(page.id())));
  }
}
