package org.mmlab.mm.page;

import org.mmlab.debug.KObject;
import org.mmlab.debug.LockClass;
import org.mmlab.sync.Spinlock;

/**
 * One use of a page as a page table: the kernel's {@code struct ptdesc} from
 * {@code pagetable_ctor} to {@code pagetable_dtor}, with the split page-table lock it carries
 * ({@code ptlock_ptr}).
 *
 * <p>Page descriptors are type-stable (never freed, reused by the allocator), so a page that is
 * a table now may have been a different table before. Each use is its own {@link KObject}: the
 * {@link #ptl} belongs to it, {@code pagetable_dtor} frees it, and any later operation on that
 * lock (through a pointer taken while it was a table, or through {@link Page#ptlock} before the
 * page is reallocated) is a use-after-free verdict naming where the table was created and
 * freed. This is how the stale-PTL race of seed 000 (a table unshared and freed while another
 * CPU goes on to lock its PTL) becomes visible.
 *
 * <p>Kernel counterpart: {@code struct ptdesc} ({@code include/linux/mm_types.h}),
 * {@code pagetable_ctor}, {@code pagetable_dtor}, {@code ptlock_init}, {@code ptlock_free}.
 */
public final class PtDesc extends KObject {
  /** The page that holds the table. Immutable. */
  private final Page page;
  /** The split page-table lock ({@code ptdesc->ptl}). Immutable reference; owned by this object. */
  private final Spinlock ptl;
  /** The entries as a scheduling object. Immutable reference; owned by this object. */
  private final TableEntries entries;

  PtDesc(Page page, String kind, LockClass ptlClass) {
    super(page.sched(), kind, null, true);
    this.page = page;
    this.ptl = Spinlock.namedAfter(page.sched(), "ptl@", ptlClass, this);
    this.entries = new TableEntries(this, kind);
  }

  /** The page's name ({@code "pfn 0x1a3"}), made when a report asks: tables are made on the fault path. */
  @Override
  protected String lazyName() {
    return page.name();
  }

  /** Where {@code free_pgtables} unlinked this table to be freed, or null while it is linked. */
  private volatile org.mmlab.debug.@org.jspecify.annotations.Nullable Site unlinkedAt;

  /**
   * The table was unlinked from its parent and handed to the TLB gather: from now on only a
   * hardware walker with a stale path may read it (until the flush); software must not touch
   * it. Called by the page-table code with the parent entry cleared.
   */
  public void markUnlinked(org.mmlab.debug.Site at) {
    unlinkedAt = at;
  }

  /** Where the table was unlinked for freeing, or null. */
  public org.mmlab.debug.@org.jspecify.annotations.Nullable Site unlinkedAt() {
    return unlinkedAt;
  }

  /** The table's entries, the object entry loads and stores are points on. */
  public TableEntries entries() {
    return entries;
  }

  /** The page holding the table. */
  public Page page() {
    return page;
  }

  /** {@code ptlock_ptr}: the split page-table lock of this use of the page. */
  public Spinlock ptl() {
    return ptl;
  }
}
