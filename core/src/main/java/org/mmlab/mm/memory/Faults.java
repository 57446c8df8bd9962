package org.mmlab.mm.memory;

import java.util.List;
import org.mmlab.explore.Sched;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;
import org.mmlab.mm.page.Gfp;
import org.mmlab.mm.page.Page;
import org.mmlab.mm.page.PageFlag;
import org.mmlab.mm.page.PhysMem;
import org.mmlab.mm.pgtable.Entry;
import org.mmlab.mm.pgtable.Level;
import org.mmlab.mm.pgtable.MmuGather;
import org.mmlab.mm.pgtable.PageTables;
import org.mmlab.mm.pgtable.PageTables.Slot;
import org.mmlab.mm.vma.MmStruct;
import org.mmlab.mm.vma.Vma;
import org.mmlab.mm.vma.VmFlags;
import org.mmlab.sync.PerCpuCounter;
import org.mmlab.sync.Spinlock;

/**
 * The fault path for anonymous private memory and the unmapping of pages.
 *
 * <h2>Contents</h2>
 * {@link #userFault} ({@code do_user_addr_fault}: which lock, which VMA, the access check);
 * {@link #handleMmFault} ({@code __handle_mm_fault}: tables down to the PTE);
 * {@code handlePteFault}, {@code doAnonymousPage}, {@code doWpPage}; {@link #zap}
 * ({@code zap_page_range_single}).
 *
 * <h2>Locking</h2>
 * <pre>
 * per-VMA read lock, or mmap_lock for read        (userFault; none at all for RCU_ONLY)
 *   mm-&gt;page_table_lock / split PMD lock        (table allocation, in PageTables)
 *   split PTE lock                               (installing or changing a PTE)
 *     zone-&gt;lock                                 (never: pages are allocated before the PTE lock)
 * </pre>
 * A PTE is read locklessly first ({@code pte_offset_map} then {@code ptep_get}) and checked
 * again under the PTE lock before it is changed: another CPU may have faulted the same page in
 * between ({@code pte_same}).
 *
 * <h2>The zero page</h2>
 * A read fault maps the shared zero page read-only with a special PTE: no reference and no
 * mapcount is taken for it; a write to it copies ({@code wp_page_copy}).
 *
 * <p>Simplified, and said so: no anon_vma yet (the rmap layer comes with seed 003; a new anon
 * folio's {@code mapping} points at the mm), no fork (so an anonymous page is always exclusive
 * and a write-protect fault on one reuses it), no THP, no swap.
 */
public final class Faults {
  private final Sched sched;
  private final PhysMem mem;
  private final Page zeroPage;
  private final FaultLocking locking;
  private final PerCpuCounter pgfault;

  /**
   * @param zeroPage the kernel's {@code ZERO_PAGE}: reserved, never freed
   * @param pgfault the vmstat counter of faults
   */
  public Faults(Sched sched, PhysMem mem, Page zeroPage, FaultLocking locking, PerCpuCounter pgfault) {
    this.sched = sched;
    this.mem = mem;
    this.zeroPage = zeroPage;
    this.locking = locking;
    this.pgfault = pgfault;
  }

  public FaultLocking locking() {
    return locking;
  }

  public Page zeroPage() {
    return zeroPage;
  }

  // ------------------------------------------------------------ do_user_addr_fault

  /**
   * {@code do_user_addr_fault}: handles a fault of the current task at {@code addr}. Under
   * {@link FaultLocking#PER_VMA} it tries the VMA lock first and falls back to the mmap lock;
   * under {@link FaultLocking#RCU_ONLY} it walks and allocates under RCU alone.
   */
  public FaultResult userFault(MmStruct mm, long addr, boolean write) {
    pgfault.add(1);
    if (locking == FaultLocking.PER_VMA) {
      Vma vma = mm.lockVmaUnderRcu(addr);
      if (vma != null) {
        FaultResult r = accessOk(vma, write) ? handleMmFault(vma, addr, write) : FaultResult.SEGV_ACCERR;
        mm.vmaEndRead(vma);
        return r;
      }
    } else if (locking == FaultLocking.RCU_ONLY) {
      // Everything under rcu_read_lock, allocating with GFP_NOWAIT; if that fails, give up
      // and take the mmap lock (the reclaim-and-retry of the proposal).
      mm.rcu().readLock();
      long seq = mm.mmapSeqBegin();
      FaultResult r = null;
      if ((seq & 1) == 0) {
        Vma vma = mm.vmaLookup(addr);
        if (vma != null && vma.start() <= addr && addr < vma.end()) {
          r = accessOk(vma, write) ? handleMmFault(vma, addr, write, Gfp.NOWAIT, seq) : FaultResult.SEGV_ACCERR;
        }
      }
      mm.rcu().readUnlock();
      if (r != null && r != FaultResult.OOM && r != FaultResult.RETRY) {
        return r;
      }
    }
    mm.mmapReadLock();
    try {
      Vma vma = mm.findVma(addr);
      if (vma == null || vma.start() > addr) {
        return FaultResult.SEGV_MAPERR;
      }
      if (!accessOk(vma, write)) {
        return FaultResult.SEGV_ACCERR;
      }
      return handleMmFault(vma, addr, write);
    } finally {
      mm.mmapReadUnlock();
    }
  }

  /** {@code access_error}, inverted: a write needs VM_WRITE; a read any access bit (x86). */
  private static boolean accessOk(Vma vma, boolean write) {
    long f = vma.flags();
    return write ? (f & VmFlags.WRITE) != 0 : (f & VmFlags.ACCESS) != 0;
  }

  // ------------------------------------------------------------ handle_mm_fault

  /**
   * {@code handle_mm_fault} for an anonymous private VMA: allocates the tables down to the PTE
   * and handles the PTE. The caller holds the VMA's read lock or the mmap lock (or, for the
   * rejected design, only RCU).
   */
  public FaultResult handleMmFault(Vma vma, long addr, boolean write) {
    return handleMmFault(vma, addr, write, Gfp.USER, -1);
  }

  /**
   * {@link #handleMmFault(Vma, long, boolean)} allocating with {@code gfp}; {@code spec} is the
   * {@code mmap_seq} a speculative fault started from, checked under the PTE lock before a PTE is
   * installed (-1 for a fault holding a lock).
   */
  public FaultResult handleMmFault(Vma vma, long addr, boolean write, int gfp, long spec) {
    PageTables pt = vma.mm().pageTables();
    Slot pud = pt.pudAlloc(addr, gfp);
    if (pud == null) {
      return FaultResult.OOM;
    }
    Slot pmd = pt.pmdAlloc(pud, addr, gfp);
    if (pmd == null) {
      return FaultResult.OOM;
    }
    Slot pte = pt.pteAlloc(pmd, addr, gfp);
    if (pte == null) {
      return FaultResult.OOM;
    }
    return handlePteFault(vma, pmd, pte, addr & -4096L, write, gfp, spec);
  }

  private FaultResult handlePteFault(Vma vma, Slot pmd, Slot pte, long addr, boolean write, int gfp, long spec) {
    PageTables pt = vma.mm().pageTables();
    long orig = pt.load(pte);
    if (Entry.isNone(orig)) {
      return doAnonymousPage(vma, pmd, pte, addr, write, gfp, spec);
    }
    if (!Entry.isPresent(orig)) {
      throw sched.bug(Verdict.of(VerdictKind.INVARIANT, "non-present PTE " + Entry.describe(orig) + " at 0x"
          + Long.toHexString(addr) + ": no swap or migration is modelled yet", List.of(), List.of()));
    }
    Spinlock ptl = pt.pteLockptr(pmd, pt.load(pmd));
    ptl.lock();
    if (!specValid(vma, spec)) {
      ptl.unlock();
      return FaultResult.RETRY;
    }
    long e = pt.load(pte);
    if (e != orig) {
      ptl.unlock();
      return FaultResult.HANDLED;
    }
    if (write && !Entry.isWrite(e)) {
      return doWpPage(vma, pmd, pte, ptl, addr, e, gfp, spec);
    }
    long young = Entry.mkyoung(write ? Entry.mkdirty(e) : e);
    if (young != e) {
      pt.store(pte, young, "ptep_set_access_flags");
    }
    ptl.unlock();
    return FaultResult.HANDLED;
  }

  /** For a speculative fault: the mm did not change since it started ({@code mmap_seq_read_check}). */
  private static boolean specValid(Vma vma, long spec) {
    return spec < 0 || vma.mm().mmapSeqValid(spec);
  }

  /** The bits of a user PTE for {@code vma}: user, writable if asked, NX unless executable. */
  private static long pteFlags(Vma vma, boolean writable) {
    long f = Entry.USER | Entry.ACCESSED;
    if (writable) {
      f |= Entry.WRITE | Entry.DIRTY;
    }
    if ((vma.flags() & VmFlags.EXEC) == 0) {
      f |= Entry.NX;
    }
    return f;
  }

  /** {@code do_anonymous_page}: the zero page on a read, a new zeroed page on a write. */
  private FaultResult doAnonymousPage(Vma vma, Slot pmd, Slot pte, long addr, boolean write, int gfp, long spec) {
    PageTables pt = vma.mm().pageTables();
    if (!write) {
      long entry = Entry.make(zeroPage.pfn(), pteFlags(vma, false) | Entry.SPECIAL);
      Spinlock ptl = pt.pteLockptr(pmd, pt.load(pmd));
      ptl.lock();
      if (!specValid(vma, spec)) {
        ptl.unlock();
        return FaultResult.RETRY;
      }
      if (Entry.isNone(pt.load(pte))) {
        pt.store(pte, entry, "set_pte_at");
      }
      ptl.unlock();
      return FaultResult.HANDLED;
    }
    Page page = mem.allocPages(gfp | Gfp.ZERO, 0, "do_anonymous_page");
    if (page == null) {
      return FaultResult.OOM;
    }
    page.folioMarkUptodate();
    Spinlock ptl = pt.pteLockptr(pmd, pt.load(pmd));
    ptl.lock();
    if (!specValid(vma, spec)) {
      ptl.unlock();
      page.folioPut();
      return FaultResult.RETRY;
    }
    if (!Entry.isNone(pt.load(pte))) {
      ptl.unlock();
      page.folioPut();
      return FaultResult.HANDLED;
    }
    mapNewAnon(vma, pte, page, addr);
    ptl.unlock();
    return FaultResult.HANDLED;
  }

  /** {@code folio_add_new_anon_rmap} + counters + {@code set_pte_at}; the PTE lock is held. */
  private void mapNewAnon(Vma vma, Slot pte, Page page, long addr) {
    MmStruct mm = vma.mm();
    page.setAnonMapping(mm);
    page.setIndex((addr - vma.peekStart()) / 4096 + vma.peekPgoff());
    page.mapcountInc();
    mm.addAnonRss(1);
    mm.pageTables().store(pte, Entry.make(page.pfn(), pteFlags(vma, true)), "set_pte_at");
  }

  /**
   * {@code do_wp_page}: a write to a present read-only PTE of a writable VMA, with the PTE lock
   * held (dropped on return). The zero page is copied ({@code wp_page_copy}); an anonymous page
   * mapped once is reused ({@code wp_can_reuse_anon_folio}).
   */
  private FaultResult doWpPage(Vma vma, Slot pmd, Slot pte, Spinlock ptl, long addr, long orig, int gfp,
      long spec) {
    PageTables pt = vma.mm().pageTables();
    if (!Entry.isSpecial(orig)) {
      Page page = mem.pfnToPage(Entry.pfn(orig));
      if (page.testFlag(PageFlag.ANON) && page.pageMapcount() == 1) {
        pt.store(pte, Entry.mkdirty(Entry.mkyoung(Entry.mkwrite(orig))), "wp_page_reuse");
        ptl.unlock();
        return FaultResult.HANDLED;
      }
      ptl.unlock();
      throw sched.bug(Verdict.of(VerdictKind.INVARIANT, "write-protect fault on a shared anonymous page at 0x"
          + Long.toHexString(addr) + ": copy on write after fork is not modelled yet", List.of(), List.of()));
    }
    ptl.unlock();
    Page page = mem.allocPages(gfp | Gfp.ZERO, 0, "wp_page_copy");
    if (page == null) {
      return FaultResult.OOM;
    }
    page.folioMarkUptodate();
    ptl.lock();
    if (!specValid(vma, spec)) {
      ptl.unlock();
      page.folioPut();
      return FaultResult.RETRY;
    }
    if (pt.load(pte) != orig) {
      ptl.unlock();
      page.folioPut();
      return FaultResult.HANDLED;
    }
    // ptep_clear_flush: no CPU may keep the read-only zero-page translation.
    pt.getAndClear(pte, "ptep_clear_flush");
    vma.mm().flusher().flushTlbRange(addr, addr + 4096);
    mapNewAnon(vma, pte, page, addr);
    ptl.unlock();
    return FaultResult.HANDLED;
  }

  // ------------------------------------------------------------ zap

  /**
   * {@code zap_page_range_single}/{@code unmap_page_range}: clears the PTEs of [start, end),
   * dropping the pages' mapcounts and handing their references to {@code tlb}, which drops
   * them after the flush. The caller holds the mmap lock (for write when unmapping, for read for
   * {@code MADV_DONTNEED}) and, for munmap, has the VMA write-locked and detached.
   */
  public void zap(Vma vma, MmuGather tlb, long start, long end) {
    MmStruct mm = vma.mm();
    PageTables pt = mm.pageTables();
    long a = start;
    while (a < end) {
      long next = Math.min(Level.PMD.next(a), end);
      Slot pmd = pt.walk(a, Level.PMD);
      if (pmd != null) {
        long pmdEntry = pt.load(pmd);
        if (Entry.isPresent(pmdEntry) && !Entry.isHuge(pmdEntry)) {
          zapPteRange(mm, tlb, pmd, pmdEntry, a, next);
        }
      }
      a = next;
    }
  }

  private void zapPteRange(MmStruct mm, MmuGather tlb, Slot pmd, long pmdEntry, long start, long end) {
    PageTables pt = mm.pageTables();
    Spinlock ptl = pt.pteLockptr(pmd, pmdEntry);
    ptl.lock();
    long anon = 0;
    for (long a = start; a < end; a += 4096) {
      Slot pte = pt.lower(pmd, pmdEntry, a);
      if (Entry.isNone(pt.load(pte))) {
        continue;
      }
      long old = pt.getAndClear(pte, "ptep_get_and_clear_full");
      tlb.track(a, a + 4096);
      if (!Entry.isPresent(old) || Entry.isSpecial(old)) {
        continue;
      }
      Page page = mem.pfnToPage(Entry.pfn(old));
      page.mapcountDec();
      anon++;
      tlb.removeFolio(page, a);
    }
    if (anon > 0) {
      mm.addAnonRss(-anon);
    }
    ptl.unlock();
  }
}
