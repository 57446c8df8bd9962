package org.mmlab.mm.memory;

import java.util.List;
import org.mmlab.explore.Sched;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;
import org.mmlab.explore.OpKind;
import org.mmlab.mm.page.Folio;
import org.mmlab.mm.page.Gfp;
import org.mmlab.mm.page.Page;
import org.mmlab.mm.page.PageFlag;
import org.mmlab.mm.page.PhysMem;
import org.mmlab.mm.page.PtDesc;
import org.mmlab.mm.pgtable.Entry;
import org.mmlab.mm.pgtable.Level;
import org.mmlab.mm.pgtable.MmuGather;
import org.mmlab.mm.pgtable.PageTables;
import org.mmlab.mm.pgtable.PageTables.Slot;
import org.mmlab.mm.vma.MmStruct;
import org.mmlab.mm.vma.Vma;
import org.mmlab.mm.vma.VmFile;
import org.mmlab.mm.vma.VmFlags;
import org.mmlab.sync.PerCpuCounter;
import org.mmlab.sync.Spinlock;

/**
 * The fault path (anonymous memory, and file mappings through the file's {@code ->fault}) and
 * the unmapping of pages ({@code zap}, {@code unmap_mapping_range}).
 *
 * <h2>Contents</h2>
 * {@link #userFault} ({@code do_user_addr_fault}: which lock, which VMA, the access check);
 * {@link #handleMmFault} ({@code __handle_mm_fault}: tables down to the PTE);
 * {@code handlePteFault}, {@code doAnonymousPage}, {@code doFault} ({@code do_read_fault},
 * {@code do_cow_fault}, {@code do_shared_fault}), {@code doWpPage}; {@link #zap}
 * ({@code zap_page_range_single}), {@link #unmapMappingRange}.
 *
 * <h2>Locking</h2>
 * <pre>
 * per-VMA read lock, or mmap_lock for read        (userFault; none at all for RCU_ONLY)
 *   mm-&gt;page_table_lock / split PMD lock        (table allocation, in PageTables)
 *   split PTE lock                               (installing or changing a PTE)
 *     zone-&gt;lock                                 (never: pages are allocated before the PTE lock)
 * folio lock (file faults: taken by the file's -&gt;fault, held across the PTE lock, dropped after)
 * i_mmap_rwsem (unmap_mapping_range, read) -&gt; PTE lock
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
      if (vma.isAnonymous()) {
        return doAnonymousPage(vma, pmd, pte, addr, write, gfp, spec);
      }
      return spec >= 0 ? FaultResult.RETRY : doFault(vma, pmd, pte, addr, write);
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

  /** The bits of a user PTE for {@code vma}: user, writable and dirty if asked, NX unless executable. */
  private static long pteFlags(Vma vma, boolean writable) {
    return pteFlags(vma, writable, writable);
  }

  /** {@link #pteFlags(Vma, boolean)} with the dirty bit apart from the write bit. */
  private static long pteFlags(Vma vma, boolean writable, boolean dirty) {
    long f = Entry.USER | Entry.ACCESSED;
    if (writable) {
      f |= Entry.WRITE;
    }
    if (dirty) {
      f |= Entry.DIRTY;
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
    Page old = null;
    if (!Entry.isSpecial(orig)) {
      Page page = mem.pfnToPage(Entry.pfn(orig));
      if (page.testFlag(PageFlag.ANON)) {
        if (page.pageMapcount() == 1) {
          pt.store(pte, Entry.mkdirty(Entry.mkyoung(Entry.mkwrite(orig))), "wp_page_reuse");
          ptl.unlock();
          return FaultResult.HANDLED;
        }
        ptl.unlock();
        throw sched.bug(Verdict.of(VerdictKind.INVARIANT, "write-protect fault on a shared anonymous page at 0x"
            + Long.toHexString(addr) + ": copy on write after fork is not modelled yet", List.of(), List.of()));
      }
      if ((vma.flags() & VmFlags.SHARED) != 0) {
        // wp_page_shared: a page-cache page of a shared mapping is written in place (shmem has no
        // page_mkwrite to call); the folio becomes dirty.
        pt.store(pte, Entry.mkdirty(Entry.mkyoung(Entry.mkwrite(orig))), "wp_page_reuse");
        ptl.unlock();
        page.folio().folioTestSetDirty();
        return FaultResult.HANDLED;
      }
      // A page-cache page in a private mapping: copy it (keeping it alive across the unlock).
      page.getPage();
      old = page;
    }
    ptl.unlock();
    Page page = mem.allocPages(gfp | (old == null ? Gfp.ZERO : 0), 0, "wp_page_copy");
    if (page == null) {
      if (old != null) {
        old.putPage();
      }
      return FaultResult.OOM;
    }
    if (old != null) {
      copyUserHighpage(page, old);
    }
    page.folioMarkUptodate();
    ptl.lock();
    if (!specValid(vma, spec) || pt.load(pte) != orig) {
      boolean retry = !specValid(vma, spec);
      ptl.unlock();
      page.folioPut();
      if (old != null) {
        old.putPage();
      }
      return retry ? FaultResult.RETRY : FaultResult.HANDLED;
    }
    // ptep_clear_flush: no CPU may keep the read-only translation of the zero page or of the
    // page-cache page.
    pt.getAndClear(pte, "ptep_clear_flush");
    vma.mm().flusher().flushTlbRange(addr, addr + 4096);
    mapNewAnon(vma, pte, page, addr);
    if (old != null) {
      unmapFilePage(vma.mm(), old); // folio_remove_rmap_pte: the PTE's reference goes below
    }
    ptl.unlock();
    if (old != null) {
      old.putPage(); // the reference the copy held
      old.putPage(); // the reference the old PTE held, after the flush
    }
    return FaultResult.HANDLED;
  }

  /** {@code copy_user_highpage}: the contents of {@code src} into {@code dst}; one point on each. */
  private void copyUserHighpage(Page dst, Page src) {
    sched.point(OpKind.READ, src, "copy_user_highpage");
    sched.point(OpKind.WRITE, dst, "copy_user_highpage");
    mem.frames().copyPage(dst.pfn(), src.pfn());
  }

  /** {@code folio_remove_rmap_pte} for a page-cache page and its mm counter; the PTE lock is held. */
  private static void unmapFilePage(MmStruct mm, Page page) {
    page.mapcountDec();
    mm.addShmemRss(-1);
  }

  // ------------------------------------------------------------ do_fault (file mappings)

  /** {@code linear_page_index}: the file page {@code addr} maps in {@code vma}. */
  public static long linearPageIndex(Vma vma, long addr) {
    return vma.pgoff() + ((addr - vma.start()) >>> 12);
  }

  /**
   * {@code do_fault}: a PTE that is none in a file mapping (shared anonymous memory included).
   * A read maps the page-cache page ({@code do_read_fault}); a write to a private mapping copies
   * it into a new anonymous page ({@code do_cow_fault}); a write to a shared one maps it writable
   * and dirties it ({@code do_shared_fault}). The file's {@code ->fault} returns the folio locked
   * with a reference; the reference becomes the PTE's.
   */
  private FaultResult doFault(Vma vma, Slot pmd, Slot pte, long addr, boolean write) {
    VmFile file = vma.file();
    if (file == null) {
      throw new IllegalStateException("do_fault on an anonymous VMA");
    }
    boolean shared = (vma.flags() & VmFlags.SHARED) != 0;
    long pgoff = linearPageIndex(vma, addr);
    Page cow = null;
    if (write && !shared) {
      cow = mem.allocPages(Gfp.USER, 0, "do_cow_fault");
      if (cow == null) {
        return FaultResult.OOM;
      }
    }
    VmFile.FaultedFolio ff = file.fault(vma, pgoff);
    Folio folio = ff.folio();
    if (folio == null) {
      if (cow != null) {
        cow.folioPut();
      }
      return ff.outcome() == VmFile.Outcome.SIGBUS ? FaultResult.SIGBUS : FaultResult.OOM;
    }
    Page page = folio.folioPage(pgoff - folio.headPage().index());
    if (cow != null) {
      copyUserHighpage(cow, page);
      cow.folioMarkUptodate();
      folio.folioUnlock();
      folio.folioPut();
      return finishAnon(vma, pmd, pte, addr, cow);
    }
    PageTables pt = vma.mm().pageTables();
    Spinlock ptl = pt.pteLockptr(pmd, pt.load(pmd));
    ptl.lock();
    if (!Entry.isNone(pt.load(pte))) {
      ptl.unlock();
      folio.folioUnlock();
      folio.folioPut();
      return FaultResult.HANDLED;
    }
    // finish_fault / set_pte_range: a shared writable VMA maps the page writable even on a read
    // (shmem needs no write notification); only a write dirties the PTE.
    boolean writable = shared && (vma.flags() & VmFlags.WRITE) != 0;
    page.mapcountInc();
    vma.mm().addShmemRss(1);
    pt.store(pte, Entry.make(page.pfn(), pteFlags(vma, writable, write)), "set_pte_at");
    ptl.unlock();
    if (write) {
      folio.folioTestSetDirty();
    }
    folio.folioUnlock();
    return FaultResult.HANDLED;
  }

  /** The end of {@code do_cow_fault}: maps the new anonymous copy if the PTE is still none. */
  private FaultResult finishAnon(Vma vma, Slot pmd, Slot pte, long addr, Page page) {
    PageTables pt = vma.mm().pageTables();
    Spinlock ptl = pt.pteLockptr(pmd, pt.load(pmd));
    ptl.lock();
    if (!Entry.isNone(pt.load(pte))) {
      ptl.unlock();
      page.folioPut();
      return FaultResult.HANDLED;
    }
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
    zap(vma, tlb, start, end, true);
  }

  /**
   * {@link #zap(Vma, MmuGather, long, long)} with {@code zap_details}: without
   * {@code evenCows}, anonymous pages (private copies of file pages) are kept, as a hole punch
   * keeps them; a truncation removes them too.
   */
  public void zap(Vma vma, MmuGather tlb, long start, long end, boolean evenCows) {
    MmStruct mm = vma.mm();
    PageTables pt = mm.pageTables();
    long a = start;
    while (a < end) {
      long next = Math.min(Level.PMD.next(a), end);
      Slot pmd = pt.walk(a, Level.PMD);
      if (pmd != null) {
        long pmdEntry = pt.load(pmd);
        if (Entry.isPresent(pmdEntry) && !Entry.isHuge(pmdEntry)) {
          zapPteRange(mm, tlb, pmd, pmdEntry, a, next, evenCows);
        }
      }
      a = next;
    }
  }

  private void zapPteRange(MmStruct mm, MmuGather tlb, Slot pmd, long pmdEntry, long start, long end,
      boolean evenCows) {
    PageTables pt = mm.pageTables();
    // pte_offset_map_lock: the table (and its lock) found once, then the walk goes entry by entry.
    PtDesc table = pt.lowerTable(pmd.table(), pmd.index(), pmd.level(), pmdEntry);
    Spinlock ptl = table.ptl();
    ptl.lock();
    long anon = 0;
    long shmem = 0;
    for (long a = start; a < end; a += 4096) {
      Slot pte = new Slot(table, Level.PTE.index(a), Level.PTE);
      long e = pt.load(pte);
      if (Entry.isNone(e)) {
        continue;
      }
      Page page = Entry.isPresent(e) && !Entry.isSpecial(e) ? mem.pfnToPage(Entry.pfn(e)) : null;
      if (!evenCows && (page == null || page.isAnon())) {
        continue; // zap_skip_check_mapping: keep private copies (and the zero page)
      }
      long old = pt.getAndClear(pte, "ptep_get_and_clear_full");
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
      tlb.removeFolio(page, a);
    }
    if (anon > 0) {
      mm.addAnonRss(-anon);
    }
    if (shmem > 0) {
      mm.addShmemRss(-shmem);
    }
    ptl.unlock();
  }

  /**
   * {@code unmap_mapping_range}'s walk ({@code unmap_mapping_range_tree}): zaps, in every VMA of
   * {@code vmas} (the file's {@code i_mmap}), the pages of file pages [first, last]. The caller
   * holds the file's {@code i_mmap_rwsem} for read, which keeps each VMA's page tables alive
   * ({@code free_pgtables} unlinks a VMA from {@code i_mmap} before freeing them); no mmap lock is
   * taken. Each mm's pages are dropped after its TLB flush.
   */
  public void unmapMappingRange(List<Vma> vmas, long first, long last, boolean evenCows) {
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
