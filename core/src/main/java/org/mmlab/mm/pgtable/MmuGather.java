package org.mmlab.mm.pgtable;

import java.util.ArrayList;
import java.util.List;
import org.mmlab.mm.page.Folio;
import org.mmlab.mm.page.PtDesc;

/**
 * The TLB gather ({@code struct mmu_gather}, {@code mm/mmu_gather.c}): unmapping and
 * {@code free_pgtables} hand it the pages and tables they unlink; it frees them only after the
 * TLB flush that makes them unreachable from every CPU, in {@link #finish}
 * ({@code tlb_finish_mmu}). Until then a CPU with a stale translation, or a hardware walker on
 * its way down, may still use them.
 *
 * <p>{@code freeBeforeFlush} is the bug this ordering prevents, as a switch: tables and pages
 * are freed as soon as they are unlinked, and the flush comes after. The explorer must find it
 * as a use-after-free (a walker reading a freed table, an access through a stale TLB entry).
 *
 * <p>Pages are batched as the kernel batches them: a gather holds at most {@link #MAX_PAGES}
 * (its on-stack bundle and {@code MAX_GATHER_BATCH_COUNT} batch pages); {@link #removeFolio}
 * returns true when that is reached, and the caller flushes early: the TLB before it drops the
 * PTE lock ({@link #flushTlbOnly}, {@code tlb_flush_mmu_tlbonly}), the pages after
 * ({@link #flushMmu}, {@code tlb_flush_mmu}), then goes on zapping. So a large munmap frees its
 * pages in steps, each after a flush. Simplified: the kernel takes each batch page from the page
 * allocator with {@code GFP_NOWAIT} (and flushes early if it cannot have one); the model counts
 * the capacity without allocating. x86 frees page tables after the flush IPIs, which also wait
 * out lockless GUP-fast walkers; the model has no GUP-fast yet.
 *
 * <p>Owned by one CPU for the duration of an unmap: not shared.
 */
public final class MmuGather {
  /** Flushes a range of an mm's translations from every CPU's TLB (the MMU layer's shootdown). */
  @FunctionalInterface
  public interface Flusher {
    /** {@code flush_tlb_mm_range}: returns when no CPU can use a translation in [start, end) any more. */
    void flushTlbRange(long start, long end);
  }

  /**
   * Pages one gather holds before a forced flush, on x86-64 with 4 KiB pages:
   * {@code MMU_GATHER_BUNDLE} (8) plus {@code MAX_GATHER_BATCH_COUNT} (10000 / 510 = 19) batches
   * of {@code MAX_GATHER_BATCH} (510 pointers in a page after the batch header).
   */
  public static final int MAX_PAGES = 8 + (10_000 / 510) * 510;

  private final PageTables tables;
  private final Flusher flusher;
  private final boolean freeBeforeFlush;
  private final List<PtDesc> freedTables = new ArrayList<>();
  private final List<Folio> freedFolios = new ArrayList<>();
  private long start = Long.MAX_VALUE;
  private long end;
  private boolean finished;

  /** {@code tlb_gather_mmu}. */
  public MmuGather(PageTables tables, Flusher flusher) {
    this(tables, flusher, false);
  }

  /** A gather that (wrongly, if {@code freeBeforeFlush}) frees before flushing. */
  public MmuGather(PageTables tables, Flusher flusher, boolean freeBeforeFlush) {
    this.tables = tables;
    this.flusher = flusher;
    this.freeBeforeFlush = freeBeforeFlush;
  }

  /** Widens the range to flush ({@code tlb_flush_pte_range} and friends). */
  public void track(long from, long to) {
    start = Math.min(start, from);
    end = Math.max(end, to);
  }

  /** {@code pte_free_tlb}/{@code pmd_free_tlb}/{@code pud_free_tlb}: a table unlinked at {@code addr}. */
  public void removeTable(PtDesc table, long addr) {
    track(addr, addr + 1);
    if (freeBeforeFlush) {
      tables.freeTable(table);
    } else {
      freedTables.add(table);
    }
  }

  /**
   * {@code __tlb_remove_folio_pages}: the caller unmapped one mapping of {@code folio} at
   * {@code addr} and hands over the reference that mapping held; it is dropped after the flush.
   * Returns true if the gather is now full: the caller must flush ({@link #flushTlbOnly} before
   * dropping the PTE lock, {@link #flushMmu} after) before it hands over more.
   */
  public boolean removeFolio(Folio folio, long addr) {
    track(addr, addr + 1);
    if (freeBeforeFlush) {
      folio.folioPut();
      return false;
    }
    freedFolios.add(folio);
    return freedFolios.size() >= MAX_PAGES;
  }

  /**
   * {@code tlb_flush_mmu_tlbonly}: flushes the range gathered so far and starts a new one
   * ({@code __tlb_reset_range}); nothing is freed.
   */
  public void flushTlbOnly() {
    if (end != 0) {
      flusher.flushTlbRange(start & -4096L, (end + 4095) & -4096L);
    }
    start = Long.MAX_VALUE;
    end = 0;
  }

  /**
   * {@code tlb_flush_mmu}: flushes the range gathered so far (if not already), then frees the
   * gathered tables and drops the gathered folios. The gather can be used on.
   */
  public void flushMmu() {
    flushTlbOnly();
    for (PtDesc t : freedTables) {
      tables.freeTable(t);
    }
    tables.mem().foliosPut(freedFolios, "tlb_batch_pages_flush");
    freedTables.clear();
    freedFolios.clear();
  }

  /** {@code tlb_finish_mmu}: flushes the range, then frees the tables and drops the folios. */
  public void finish() {
    if (finished) {
      throw new IllegalStateException("tlb_finish_mmu twice");
    }
    finished = true;
    flushMmu();
  }
}
