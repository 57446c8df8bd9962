package org.mmlab.mm.page;

/**
 * The bits of a page descriptor's flags word: the kernel's {@code enum pageflags}
 * ({@code include/linux/page-flags.h}) and, for {@link #BUDDY}, {@link #TABLE}, {@link #SLAB}
 * and {@link #OFFLINE}, its page types ({@code PGTY_buddy}, {@code PGTY_table}, ...), which the
 * kernel keeps in a separate {@code page_type} word and the model keeps here. {@link #ANON}
 * stands for the {@code PAGE_MAPPING_ANON} tag of the kernel's {@code mapping} pointer.
 *
 * <p>Bits 24..28 of the same word are not flags: they hold the order of a compound head (and
 * of a free buddy block's first page), see {@link Page#ORDER_SHIFT}. The kernel keeps a folio's
 * order in its first tail page and a buddy block's order in {@code page->private}.
 */
public enum PageFlag {
  /** {@code PG_locked}: the folio is locked; a sleeping bit lock with the hashed wait table ({@link Folio#folioLock}). */
  LOCKED(0),
  /** {@code PG_writeback}: the folio is being written back; waiters sleep on the bit. */
  WRITEBACK(1),
  /** {@code PG_referenced}: recently accessed (reclaim's second chance). */
  REFERENCED(2),
  /** {@code PG_uptodate}: the contents are valid; set once with release ordering ({@link Folio#folioMarkUptodate}). */
  UPTODATE(3),
  /** {@code PG_dirty}: the contents differ from the backing store. */
  DIRTY(4),
  /** {@code PG_lru}: the folio is on an LRU list. */
  LRU(5),
  /** {@code PG_head}: the first page of a compound page (a large folio); its order is in bits 24..28. */
  HEAD(6),
  /** {@code PG_active}: on the active LRU list. */
  ACTIVE(7),
  /** {@code PG_reserved}: never handed to the buddy allocator (the zero page, firmware areas). */
  RESERVED(8),
  /** {@code PG_private}: {@code private} holds file-system data. */
  PRIVATE(9),
  /** {@code PG_swapbacked}: backed by swap or shmem rather than a file (anonymous memory). */
  SWAPBACKED(10),
  /** {@code PG_unevictable}: on the unevictable list (mlocked, ramfs). */
  UNEVICTABLE(11),
  /** {@code PG_mlocked}: mapped by a locked VMA. */
  MLOCKED(12),
  /** {@code PG_anon_exclusive}: this anonymous page is exclusive to one process (no COW needed). */
  ANON_EXCLUSIVE(13),
  /** {@code PG_workingset}: refaulted recently (part of the working set). */
  WORKINGSET(14),
  /** {@code PG_hwpoison}: the frame is bad; never allocate it. */
  HWPOISON(15),
  /**
   * {@code PageBuddy} / {@code PGTY_buddy}: the first page of a free block in the buddy
   * allocator, whose order is in bits 24..28. Set and cleared under {@code zone->lock}, on
   * materialized descriptors only (a descriptor created later gets it at creation).
   */
  BUDDY(16),
  /** {@code PageTable} / {@code PGTY_table}: a page-table page, between {@code pagetable_ctor} and {@code pagetable_dtor}. */
  TABLE(17),
  /** {@code PageSlab} / {@code PGTY_slab}: owned by a slab cache. */
  SLAB(18),
  /** {@code PageOffline} / {@code PGTY_offline}: logically offline (memory hot-unplug, balloon). */
  OFFLINE(19),
  /** {@code PAGE_MAPPING_ANON}: {@code mapping} is an anon_vma (the kernel tags the pointer's low bit). */
  ANON(20);

  /** Bit number in the flags word. */
  public final int bit;

  PageFlag(int bit) {
    this.bit = bit;
  }

  /** {@code 1 << bit}. */
  public int mask() {
    return 1 << bit;
  }

  /**
   * {@code PAGE_FLAGS_CHECK_AT_FREE} and the page types: flags a page must not carry when it
   * is freed ({@code free_pages_prepare}, else "Bad page state").
   */
  static final int CHECK_AT_FREE = LOCKED.mask() | WRITEBACK.mask() | LRU.mask() | ACTIVE.mask() | PRIVATE.mask()
      | UNEVICTABLE.mask() | MLOCKED.mask() | RESERVED.mask() | BUDDY.mask() | TABLE.mask()
      | SLAB.mask() | OFFLINE.mask() | HWPOISON.mask();

  /**
   * Flags cleared when a page is freed ({@code PAGE_FLAGS_CHECK_AT_PREP}): everything else.
   * {@code PG_swapbacked} is among them: anonymous and shmem folios are freed with it set.
   */
  static final int CLEAR_AT_FREE = REFERENCED.mask() | UPTODATE.mask() | DIRTY.mask() | HEAD.mask() | SWAPBACKED.mask()
      | ANON_EXCLUSIVE.mask() | WORKINGSET.mask() | ANON.mask();

  /** Every flag bit (bits 0..23). */
  static final int ALL = (1 << 24) - 1;
}
