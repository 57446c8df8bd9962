package org.mmlab.mm.memory;

import java.util.List;
import org.mmlab.mm.page.Page;
import org.mmlab.mm.page.PtDesc;
import org.mmlab.mm.page.PhysMem;
import org.mmlab.mm.pgtable.Entry;
import org.mmlab.mm.pgtable.Level;
import org.mmlab.mm.pgtable.MmuGather;
import org.mmlab.mm.pgtable.PageTables;
import org.mmlab.mm.pgtable.PageTables.Slot;
import org.mmlab.mm.vma.MmStruct;
import org.mmlab.mm.vma.Vma;
import org.mmlab.sync.Spinlock;

/**
 * The unmapping of pages, called by {@link Faults}: {@code zap_page_range_single} /
 * {@code unmap_page_range} down to {@code zap_pte_range}, and {@code unmap_mapping_range}'s walk
 * of a file's mappings. Each clears PTEs under the PTE lock, drops the pages' mapcounts and
 * hands their references to an {@link MmuGather}, which drops them after the TLB flush.
 *
 * <p>Ordered: zap of a range, its PTE-table loop, then {@code unmap_mapping_range}.
 */
final class Zap {
  /** Physical memory: the page of a PTE's pfn. Immutable. */
  private final PhysMem mem;

  Zap(PhysMem mem) {
    this.mem = mem;
  }

  /**
   * {@code zap_page_range_single}/{@code unmap_page_range} with {@code zap_details}: clears the
   * PTEs of [start, end), PMD by PMD (see {@link Faults#zap(Vma, MmuGather, long, long)} for
   * what the caller holds). Without {@code evenCows}, anonymous pages (private copies of file
   * pages) are kept, as a hole punch keeps them; a truncation removes them too.
   */
  void zap(Vma vma, MmuGather tlb, long start, long end, boolean evenCows) {
    MmStruct mm = vma.mm();
    PageTables pt = mm.pageTables();
    long a = start;
    while (a < end) {
      long next = Math.min(Level.PMD.next(a), end);
      Slot pmd = pt.walk(a, Level.PMD);
      if (pmd != null) {
        long pmdEntry = pt.load(pmd);
        if (Entry.isPresent(pmdEntry) && !Entry.isHuge(pmdEntry)) {
          long stopped = zapPteRange(mm, tlb, pmd, pmdEntry, a, next, evenCows);
          if (stopped != next) {
            a = stopped; // the gather filled and was flushed: the rest of this PMD, from a new walk
            continue;
          }
        }
      }
      a = next;
    }
  }

  /**
   * {@code zap_pte_range}: the PTEs of [start, end) in one PTE table, under its PTE lock. Returns
   * where it stopped: {@code end}, or earlier if the gather filled ({@link MmuGather#MAX_PAGES});
   * then the TLB was flushed before the PTE lock was dropped and the pages freed after it.
   */
  private long zapPteRange(MmStruct mm, MmuGather tlb, Slot pmd, long pmdEntry, long start, long end,
      boolean evenCows) {
    PageTables pt = mm.pageTables();
    // pte_offset_map_lock: the table (and its lock) found once, then the walk goes entry by entry.
    PtDesc table = pt.lowerTable(pmd.table(), pmd.index(), pmd.level(), pmdEntry);
    Spinlock ptl = table.ptl();
    ptl.lock();
    long anon = 0;
    long shmem = 0;
    boolean forceFlush = false;
    long a = start;
    for (; a < end; a += 4096) {
      int i = Level.PTE.index(a);
      long e = pt.load(table, i, Level.PTE);
      if (Entry.isNone(e)) {
        continue;
      }
      Page page = Entry.isPresent(e) && !Entry.isSpecial(e) ? mem.pfnToPage(Entry.pfn(e)) : null;
      if (!evenCows && (page == null || page.isAnon())) {
        continue; // zap_skip_check_mapping: keep private copies (and the zero page)
      }
      long old = pt.getAndClear(table, i, "ptep_get_and_clear_full");
      tlb.track(a, a + 4096);
      if (page == null) {
        continue;
      }
      page.mapcountDec();
      if (page.isAnon()) {
        anon++;
      } else {
        shmem++;
        if (Entry.isDirty(old)) {
          page.folio().folioTestSetDirty(); // folio_mark_dirty for a dirty PTE of a file page
        }
      }
      if (tlb.removeFolio(page, a)) {
        forceFlush = true;
        a += 4096;
        break;
      }
    }
    if (anon > 0) {
      mm.addAnonRss(-anon);
    }
    if (shmem > 0) {
      mm.addShmemRss(-shmem);
    }
    if (forceFlush) {
      tlb.flushTlbOnly(); // before the PTE lock goes: no CPU may keep a translation of a page about to be freed
    }
    ptl.unlock();
    if (forceFlush) {
      tlb.flushMmu();
    }
    return a;
  }

  /**
   * {@code unmap_mapping_range_tree}: see {@link Faults#unmapMappingRange} (the caller holds
   * {@code i_mmap_rwsem} for read). Each VMA's overlap with file pages [first, last] is zapped
   * with a gather of its own, finished (flushed, then the pages dropped) before the next VMA.
   */
  void unmapMappingRange(List<Vma> vmas, long first, long last, boolean evenCows) {
    for (Vma vma : vmas) {
      long vbegin = vma.pgoff();
      long vpages = (vma.end() - vma.start()) >>> 12;
      long vend = vbegin + vpages - 1;
      if (vend < first || vbegin > last) {
        continue;
      }
      long from = Math.max(first, vbegin);
      long to = Math.min(last, vend);
      long start = vma.start() + ((from - vbegin) << 12);
      long end = vma.start() + ((to - vbegin + 1) << 12);
      MmStruct mm = vma.mm();
      MmuGather tlb = new MmuGather(mm.pageTables(), mm.flusher());
      zap(vma, tlb, start, end, evenCows);
      tlb.finish();
    }
  }
}
