package org.mmlab.mm.page;

import java.lang.invoke.VarHandle;
import org.jspecify.annotations.Nullable;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.SyncObject;

/**
 * A folio: a head page (or an order-0 page) seen as the whole of its 2^order pages, the unit
 * the kernel's mm manages memory in ({@code struct folio}, {@code include/linux/mm_types.h};
 * accessors from {@code include/linux/mm.h}, {@code page_ref.h}, {@code page-flags.h},
 * {@code pagemap.h}).
 *
 * <p>As in the kernel a folio <em>is</em> its head page's descriptor: {@code Folio} is sealed
 * and {@link Page} its only implementation, so {@link Page#folio()} ({@code page_folio})
 * costs no allocation and a {@code Folio} parameter documents "a head, never a tail". The
 * compound order lives in the head's flags word; tails point at their head.
 *
 * <h2>Reference counting</h2>
 * The folio's count is the head's {@code _refcount}. {@link #folioTryGet} is the speculative
 * get of lockless lookups (page cache, GUP-fast, pfn walkers): it fails on zero (the folio is
 * being freed) and on a frozen count; a caller that retries must call a named retry point
 * ({@code sched.retry("...", folio.frozenRef())}) so that the explorer sees the spin. Freezing
 * ({@link #folioRefFreeze}) makes the count a pseudo-lock held by the freezer: lockdep orders
 * it against real locks and a wait-for chain through it is a deadlock verdict (seed 004).
 * {@link #folioPut} that drops the last reference frees the folio to the buddy allocator.
 *
 * <h2>Verdicts</h2>
 * <ul>
 *   <li>refcount-misuse: {@link #folioGet} from 0 or on a frozen count, a put that underflows,
 *       unfreezing a count that is not frozen, freeing with a reference still held;</li>
 *   <li>invariant ("Bad page state"): freeing a folio that is mapped, locked, on the LRU, a
 *       page table, or still has a file mapping; unlocking an unlocked folio; a folio accessor
 *       called on a tail page;</li>
 *   <li>use-after-free: freeing a folio that is already free (double free).</li>
 * </ul>
 */
public sealed interface Folio permits Page {

  private Page self(String what) {
    Page p = (Page) this;
    if (p.isTail()) {
      throw p.invariant(what + " on a tail page (VM_BUG_ON_FOLIO: use page_folio)");
    }
    return p;
  }

  /** {@code &folio->page}: the head page. */
  default Page headPage() {
    return self("folio_page");
  }

  /** {@code folio_pfn}. */
  default long folioPfn() {
    return self("folio_pfn").pfn();
  }

  /** {@code folio_order}: 0 for an order-0 page. No scheduling point (fixed while the folio is allocated). */
  default int folioOrder() {
    Page p = self("folio_order");
    return p.peekFlag(PageFlag.HEAD) ? p.peekOrder() : 0;
  }

  /** {@code folio_nr_pages}. */
  default long folioNrPages() {
    return 1L << folioOrder();
  }

  /** {@code folio_page(folio, n)}: the n-th page. */
  default Page folioPage(long n) {
    Page p = self("folio_page");
    if (n < 0 || n >= folioNrPages()) {
      throw new IndexOutOfBoundsException("page " + n + " of a folio of " + folioNrPages());
    }
    return n == 0 ? p : p.mem().pfnToPageExisting(p.pfn() + n);
  }

  // ------------------------------------------------------------ references

  /** {@code folio_ref_count} (0 while frozen). */
  default int folioRefCount() {
    return PageRef.read(self("folio_ref_count"), "folio_ref_count");
  }

  /** {@code folio_get}: the caller must already hold a reference (misuse from 0 or frozen). */
  default void folioGet() {
    PageRef.add(self("folio_get"), 1, "folio_get");
  }

  /** {@code folio_ref_add}. */
  default void folioRefAdd(int n) {
    if (n <= 0) {
      throw new IllegalArgumentException("folio_ref_add of " + n);
    }
    PageRef.add(self("folio_ref_add"), n, "folio_ref_add");
  }

  /**
   * {@code folio_try_get} ({@code folio_ref_try_add}, {@code get_page_unless_zero}): takes a
   * reference unless the count is zero or frozen. The caller then typically re-checks that
   * the folio is still the one it looked up (it may have been freed and reused).
   */
  default boolean folioTryGet() {
    return PageRef.tryGet(self("folio_try_get"), "folio_try_get");
  }

  /** {@code folio_put}: drops a reference; the last one frees the folio ({@code __folio_put}). */
  default void folioPut() {
    Page p = self("folio_put");
    p.mem().checkNotFreed(p, "folio_put");
    if (PageRef.sub(p, 1, "folio_put")) {
      p.mem().freeFolio(p, "folio_put");
    }
  }

  /** {@code folio_put_refs}: drops {@code n} references, freeing the folio at zero. */
  default void folioPutRefs(int n) {
    if (n <= 0) {
      throw new IllegalArgumentException("folio_put_refs of " + n);
    }
    Page p = self("folio_put_refs");
    p.mem().checkNotFreed(p, "folio_put_refs");
    if (PageRef.sub(p, n, "folio_put_refs")) {
      p.mem().freeFolio(p, "folio_put_refs");
    }
  }

  /**
   * {@code folio_ref_freeze}: if the count is exactly {@code expected}, freezes it (every
   * {@link #folioTryGet} fails from now on) and returns true; the current CPU then holds the
   * frozen pseudo-lock until {@link #folioRefUnfreeze}.
   */
  default boolean folioRefFreeze(int expected) {
    return PageRef.freeze(self("folio_ref_freeze"), expected);
  }

  /** {@code folio_ref_unfreeze}: publishes {@code n} (at least 1) as the count of a frozen folio, with release ordering. */
  default void folioRefUnfreeze(int n) {
    PageRef.unfreeze(self("folio_ref_unfreeze"), n);
  }

  /** True if the count is frozen (a speculative get would fail). */
  default boolean folioRefFrozen() {
    return PageRef.isFrozen(self("folio_ref_frozen"));
  }

  /**
   * The frozen count as a pseudo-lock: the object a caller retries on after a failed
   * {@link #folioTryGet}, so that a wait-for chain names the freezer and says that a
   * pseudo-lock is in the cycle.
   */
  default SyncObject frozenRef() {
    return PageLockBit.locks(self("folio_ref_frozen")).frozen;
  }

  // ------------------------------------------------------------ the folio lock

  /**
   * {@code folio_lock}: takes {@code PG_locked} as a sleeping lock, sleeping on the hashed
   * folio wait table while another CPU holds it. May sleep: holding a spinlock or being in an
   * RCU read section is a verdict. Lockdep class {@code PG_locked} (a pseudo-lock).
   */
  default void folioLock() {
    PageLockBit.lock(self("folio_lock"));
  }

  /** {@code folio_trylock}: true if the folio was unlocked and is now locked by the caller. */
  default boolean folioTrylock() {
    return PageLockBit.trylock(self("folio_trylock"));
  }

  /** {@code folio_unlock}: unlocks and wakes a waiter; any CPU may unlock; unlocking an unlocked folio is a verdict. */
  default void folioUnlock() {
    PageLockBit.unlock(self("folio_unlock"));
  }

  /** {@code folio_test_locked}. */
  default boolean folioTestLocked() {
    return self("folio_test_locked").testFlag(PageFlag.LOCKED);
  }

  /** {@code folio_wait_locked}: sleeps until the folio is unlocked, without taking the lock. May sleep. */
  default void folioWaitLocked() {
    PageLockBit.waitLocked(self("folio_wait_locked"));
  }

  // ------------------------------------------------------------ state flags

  /**
   * {@code folio_test_uptodate}: with acquire ordering, so that a reader that sees the flag
   * sees the contents written before {@link #folioMarkUptodate} (the kernel's {@code smp_rmb}).
   */
  default boolean folioTestUptodate() {
    return self("folio_test_uptodate").testFlag(PageFlag.UPTODATE);
  }

  /** {@code folio_mark_uptodate}: sets {@code PG_uptodate} with release ordering (the kernel's {@code smp_wmb} first). */
  default void folioMarkUptodate() {
    self("folio_mark_uptodate").markUptodateRelease();
  }

  /**
   * {@code __folio_mark_uptodate}: {@link #folioMarkUptodate} for a folio whose flags no other CPU
   * writes yet (a new anonymous or copy-on-write folio before its PTE is set): the same ordering,
   * without the atomic read-modify-write.
   */
  default void folioMarkUptodateNonAtomic() {
    self("__folio_mark_uptodate").markUptodateNonAtomic();
  }

  /** {@code folio_test_dirty}. */
  default boolean folioTestDirty() {
    return self("folio_test_dirty").testFlag(PageFlag.DIRTY);
  }

  /**
   * {@code folio_test_set_dirty}: marks the folio dirty; true if it already was. (The kernel's
   * {@code folio_mark_dirty} also tells the address space; the page-cache layer does that.)
   */
  default boolean folioTestSetDirty() {
    return self("folio_test_set_dirty").testAndSetFlag(PageFlag.DIRTY);
  }

  /** {@code folio_test_clear_dirty} ({@code folio_clear_dirty_for_io}'s core): true if it was dirty. */
  default boolean folioTestClearDirty() {
    return self("folio_test_clear_dirty").testAndClearFlag(PageFlag.DIRTY);
  }

  /** {@code folio_test_large}. No scheduling point (fixed while allocated). */
  default boolean folioTestLarge() {
    return folioOrder() > 0;
  }

  /** {@code folio_test_anon}. */
  default boolean folioTestAnon() {
    return self("folio_test_anon").isAnon();
  }

  /** {@code folio_mapping}-like: {@code folio->mapping} (an address space or anon_vma), or null. */
  default @Nullable Object folioMapping() {
    return self("folio_mapping").mapping();
  }

  // ------------------------------------------------------------ mapcount

  /**
   * {@code folio_mapcount}: the number of page-table entries mapping any page of the folio.
   * One scheduling point on the head; the per-page counts are then read racily (the kernel
   * reads one {@code _large_mapcount}; the model sums the pages', which a later layer may
   * replace with a folio-wide counter, together with the entire mapcount of PMD mappings).
   */
  default int folioMapcount() {
    Page p = self("folio_mapcount");
    p.sched().point(OpKind.READ, p, "folio_mapcount");
    int order = p.peekFlag(PageFlag.HEAD) ? p.peekOrder() : 0;
    int n = p.peekMapcount() + 1;
    for (long i = 1; i < (1L << order); i++) {
      n += p.mem().pfnToPageExisting(p.pfn() + i).peekMapcount() + 1;
    }
    VarHandle.acquireFence();
    return n;
  }

  /** {@code folio_mapped}: mapped by at least one page-table entry. */
  default boolean folioMapped() {
    return folioMapcount() > 0;
  }
}
