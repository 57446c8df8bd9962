package org.mmlab.mm.memory;

import java.util.List;
import org.mmlab.explore.Sched;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;
import org.mmlab.explore.OpKind;
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
import org.mmlab.mm.vma.VmFault;
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
 * {@code handlePteFault}, {@code doAnonymousPage}, {@code doWpPage} and the PTE helpers they
 * share with the file paths; {@link #linearPageIndex}; {@link #zap}
 * ({@code zap_page_range_single}), {@link #unmapMappingRange}. The file fault paths
 * ({@code do_fault}: {@code do_read_fault}, {@code do_cow_fault}, {@code do_shared_fault};
 * {@code wp_page_shared}) are in {@link FileFaults}; the unmapping is done by {@link Zap}.
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
  /** {@code do_fault} and {@code wp_page_shared}. Immutable. */
  private final FileFaults fileFaults;
  /** {@code zap_page_range_single} and {@code unmap_mapping_range}. Immutable. */
  private final Zap zap;

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
    this.fileFaults = new FileFaults(sched, mem);
    this.zap = new Zap(mem);
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
        FaultResult r = accessOk(vma, write) ? handleMmFault(vma, addr, write, VmFault.VMA_LOCK | VmFault.ALLOW_RETRY)
            : FaultResult.SEGV_ACCERR;
        if (r != FaultResult.RETRY) {
          mm.vmaEndRead(vma);
          return r;
        }
        // VM_FAULT_RETRY: the handler released the VMA lock and slept; go on under mmap_lock.
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
    while (true) {
      mm.mmapReadLock();
      Vma vma = mm.findVma(addr);
      if (vma == null || vma.start() > addr) {
        mm.mmapReadUnlock();
        return FaultResult.SEGV_MAPERR;
      }
      if (!accessOk(vma, write)) {
        mm.mmapReadUnlock();
        return FaultResult.SEGV_ACCERR;
      }
      FaultResult r = handleMmFault(vma, addr, write, VmFault.ALLOW_RETRY);
      if (r != FaultResult.RETRY) {
        mm.mmapReadUnlock();
        return r;
      }
      // VM_FAULT_RETRY: mmap_lock was released by the handler; again with FAULT_FLAG_TRIED.
      sched.retry("do_user_addr_fault: VM_FAULT_RETRY", addr, null);
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
    return handleMmFault(vma, addr, write, gfp, spec, 0);
  }

  /**
   * {@code handle_mm_fault} of a user fault with {@code faultFlags} ({@link VmFault#ALLOW_RETRY},
   * {@link VmFault#VMA_LOCK}: which lock it holds, and that it may be retried). Returns
   * {@link FaultResult#RETRY} if a file's fault handler dropped that lock to sleep: the caller
   * must not unlock it again, and starts over.
   */
  public FaultResult handleMmFault(Vma vma, long addr, boolean write, int faultFlags) {
    return handleMmFault(vma, addr, write, Gfp.USER, -1, faultFlags);
  }

  private FaultResult handleMmFault(Vma vma, long addr, boolean write, int gfp, long spec, int faultFlags) {
    // The tables on the way as descriptors, each entry's index being its level's index of addr:
    // no Slot per level (the fault path allocates nothing on the Java heap, so a run's worker
    // threads never trigger a collection that moves their per-CPU state side by side).
    PageTables pt = vma.mm().pageTables();
    PtDesc pud = pt.pudTableAlloc(addr, gfp);
    if (pud == null) {
      return FaultResult.OOM;
    }
    PtDesc pmd = pt.pmdTableAlloc(pud, addr, gfp);
    if (pmd == null) {
      return FaultResult.OOM;
    }
    PtDesc pte = pt.pteTableAlloc(pmd, addr, gfp);
    if (pte == null) {
      return FaultResult.OOM;
    }
    return handlePteFault(vma, pmd, pte, addr & -4096L, write, gfp, spec, faultFlags);
  }

  /** {@code pte_offset_map_lock}'s lock: the PMD entry loaded again, and the lock of the table it points to. */
  private static Spinlock pteLock(PageTables pt, PtDesc pmd, long addr) {
    int i = Level.PMD.index(addr);
    return pt.pteLockptr(pmd, i, pt.load(pmd, i, Level.PMD));
  }

  /** {@code handle_pte_fault}: {@code pmd} and {@code pte} are the PMD and PTE tables holding {@code addr}'s entries. */
  private FaultResult handlePteFault(Vma vma, PtDesc pmd, PtDesc pte, long addr, boolean write, int gfp, long spec,
      int faultFlags) {
    PageTables pt = vma.mm().pageTables();
    int i = Level.PTE.index(addr);
    long orig = pt.load(pte, i, Level.PTE);
    if (Entry.isNone(orig)) {
      if (vma.isAnonymous()) {
        return doAnonymousPage(vma, pmd, pte, addr, write, gfp, spec);
      }
      // struct vm_fault is made here, on the file path only: anonymous faults allocate nothing.
      return spec >= 0 ? FaultResult.RETRY
          : fileFaults.doFault(new VmFault(vma, faultFlags), Slot.of(pmd, Level.PMD, addr), Slot.of(pte, Level.PTE, addr),
              addr, write);
    }
    if (!Entry.isPresent(orig)) {
      throw sched.bug(Verdict.of(VerdictKind.INVARIANT, "non-present PTE " + Entry.describe(orig) + " at 0x"
          + Long.toHexString(addr) + ": no swap or migration is modelled yet", List.of(), List.of()));
    }
    Spinlock ptl = pteLock(pt, pmd, addr);
    ptl.lock();
    if (!specValid(vma, spec)) {
      ptl.unlock();
      return FaultResult.RETRY;
    }
    long e = pt.load(pte, i, Level.PTE);
    if (e != orig) {
      ptl.unlock();
      return FaultResult.HANDLED;
    }
    if (write && !Entry.isWrite(e)) {
      return doWpPage(vma, pte, ptl, addr, e, gfp, spec);
    }
    long young = Entry.mkyoung(write ? Entry.mkdirty(e) : e);
    if (young != e) {
      pt.store(pte, i, young, "ptep_set_access_flags");
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
  static long pteFlags(Vma vma, boolean writable, boolean dirty) {
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
  private FaultResult doAnonymousPage(Vma vma, PtDesc pmd, PtDesc pte, long addr, boolean write, int gfp,
      long spec) {
    PageTables pt = vma.mm().pageTables();
    int i = Level.PTE.index(addr);
    if (!write) {
      long entry = Entry.make(zeroPage.pfn(), pteFlags(vma, false) | Entry.SPECIAL);
      Spinlock ptl = pteLock(pt, pmd, addr);
      ptl.lock();
      if (!specValid(vma, spec)) {
        ptl.unlock();
        return FaultResult.RETRY;
      }
      if (Entry.isNone(pt.load(pte, i, Level.PTE))) {
        pt.store(pte, i, entry, "set_pte_at");
      }
      ptl.unlock();
      return FaultResult.HANDLED;
    }
    Page page = mem.allocPages(gfp | Gfp.ZERO, 0, "do_anonymous_page");
    if (page == null) {
      return FaultResult.OOM;
    }
    page.folioMarkUptodateNonAtomic();
    Spinlock ptl = pteLock(pt, pmd, addr);
    ptl.lock();
    if (!specValid(vma, spec)) {
      ptl.unlock();
      page.folioPut();
      return FaultResult.RETRY;
    }
    if (!Entry.isNone(pt.load(pte, i, Level.PTE))) {
      ptl.unlock();
      page.folioPut();
      return FaultResult.HANDLED;
    }
    mapNewAnon(vma, pte, i, page, addr);
    ptl.unlock();
    return FaultResult.HANDLED;
  }

  /** {@code folio_add_new_anon_rmap} + counters + {@code set_pte_at}; the PTE lock is held. */
  static void mapNewAnon(Vma vma, Slot pte, Page page, long addr) {
    mapNewAnon(vma, pte.table(), pte.index(), page, addr);
  }

  /** {@link #mapNewAnon(Vma, Slot, Page, long)} into entry {@code index} of the PTE table {@code pte}. */
  static void mapNewAnon(Vma vma, PtDesc pte, int index, Page page, long addr) {
    MmStruct mm = vma.mm();
    page.setAnonMapping(mm);
    page.setIndex((addr - vma.peekStart()) / 4096 + vma.peekPgoff());
    page.mapcountInc();
    mm.addAnonRss(1);
    mm.pageTables().store(pte, index, Entry.make(page.pfn(), pteFlags(vma, true)), "set_pte_at");
  }

  /**
   * {@code do_wp_page}: a write to a present read-only PTE of a writable VMA, with the PTE lock
   * held (dropped on return). The zero page is copied ({@code wp_page_copy}); an anonymous page
   * mapped once is reused ({@code wp_can_reuse_anon_folio}).
   */
  private FaultResult doWpPage(Vma vma, PtDesc pteTable, Spinlock ptl, long addr, long orig, int gfp, long spec) {
    PageTables pt = vma.mm().pageTables();
    Slot pte = Slot.of(pteTable, Level.PTE, addr); // the copy-on-write path may allocate
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
        return FileFaults.wpPageShared(pt, pte, ptl, orig, page);
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
      copyUserHighpage(sched, mem, page, old);
    }
    page.folioMarkUptodateNonAtomic();
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
  static void copyUserHighpage(Sched sched, PhysMem mem, Page dst, Page src) {
    sched.point(OpKind.READ, src, "copy_user_highpage");
    sched.point(OpKind.WRITE, dst, "copy_user_highpage");
    mem.frames().copyPage(dst.pfn(), src.pfn());
  }

  /** {@code folio_remove_rmap_pte} for a page-cache page and its mm counter; the PTE lock is held. */
  private static void unmapFilePage(MmStruct mm, Page page) {
    page.mapcountDec();
    mm.addShmemRss(-1);
  }

  // ------------------------------------------------------------ file mappings

  /** {@code linear_page_index}: the file page {@code addr} maps in {@code vma}. */
  public static long linearPageIndex(Vma vma, long addr) {
    return vma.pgoff() + ((addr - vma.start()) >>> 12);
  }

  // ------------------------------------------------------------ zap

  /**
   * {@code zap_page_range_single}/{@code unmap_page_range}: clears the PTEs of [start, end),
   * dropping the pages' mapcounts and handing their references to {@code tlb}, which drops
   * them after the flush. The caller holds the mmap lock (for write when unmapping, for read for
   * {@code MADV_DONTNEED}) and, for munmap, has the VMA write-locked and detached.
   */
  public void zap(Vma vma, MmuGather tlb, long start, long end) {
    zap.zap(vma, tlb, start, end, true);
  }

  /**
   * {@link #zap(Vma, MmuGather, long, long)} with {@code zap_details}: without
   * {@code evenCows}, anonymous pages (private copies of file pages) are kept, as a hole punch
   * keeps them; a truncation removes them too.
   */
  public void zap(Vma vma, MmuGather tlb, long start, long end, boolean evenCows) {
    zap.zap(vma, tlb, start, end, evenCows);
  }

  /**
   * {@code unmap_mapping_range}'s walk ({@code unmap_mapping_range_tree}): zaps, in every VMA of
   * {@code vmas} (those of the file's {@code i_mmap} that {@code vma_interval_tree_foreach} found
   * for the range), the pages of file pages [first, last]. The caller
   * holds the file's {@code i_mmap_rwsem} for read, which keeps each VMA's page tables alive
   * ({@code free_pgtables} unlinks a VMA from {@code i_mmap} before freeing them); no mmap lock is
   * taken. Each mm's pages are dropped after its TLB flush.
   */
  public void unmapMappingRange(List<Vma> vmas, long first, long last, boolean evenCows) {
    zap.unmapMappingRange(vmas, first, last, evenCows);
  }
}
