package org.mmlab.mm.memory;

import org.mmlab.explore.Sched;
import org.mmlab.mm.page.Folio;
import org.mmlab.mm.page.Gfp;
import org.mmlab.mm.page.Page;
import org.mmlab.mm.page.PhysMem;
import org.mmlab.mm.pgtable.Entry;
import org.mmlab.mm.pgtable.PageTables;
import org.mmlab.mm.pgtable.PageTables.Slot;
import org.mmlab.mm.vma.Vma;
import org.mmlab.mm.vma.VmFault;
import org.mmlab.mm.vma.VmFile;
import org.mmlab.mm.vma.VmFlags;
import org.mmlab.sync.Spinlock;

/**
 * The fault paths of file mappings (shared anonymous memory included), called by
 * {@link Faults}: {@code do_fault} with its three cases ({@code do_read_fault},
 * {@code do_cow_fault}, {@code do_shared_fault}), the PTE installation of {@code finish_fault},
 * and {@code wp_page_shared}. The file's {@code ->fault} returns the folio locked with a
 * reference; the folio lock is held across the PTE lock and dropped after it (see the lock
 * order in {@link Faults}).
 *
 * <p>Ordered: {@code do_fault}, the end of {@code do_cow_fault}, {@code wp_page_shared}.
 */
final class FileFaults {
  /** The scheduler of the copy's points. Immutable. */
  private final Sched sched;
  /** Physical memory: where the copy of a private write goes. Immutable. */
  private final PhysMem mem;

  FileFaults(Sched sched, PhysMem mem) {
    this.sched = sched;
    this.mem = mem;
  }

  /**
   * {@code do_fault}: a PTE that is none in a file mapping (shared anonymous memory included).
   * A read maps the page-cache page ({@code do_read_fault}); a write to a private mapping copies
   * it into a new anonymous page ({@code do_cow_fault}); a write to a shared one maps it writable
   * and dirties it ({@code do_shared_fault}). The file's {@code ->fault} returns the folio locked
   * with a reference; the reference becomes the PTE's.
   */
  FaultResult doFault(VmFault vmf, Slot pmd, Slot pte, long addr, boolean write) {
    Vma vma = vmf.vma();
    VmFile file = vma.file();
    if (file == null) {
      throw new IllegalStateException("do_fault on an anonymous VMA");
    }
    boolean shared = (vma.flags() & VmFlags.SHARED) != 0;
    long pgoff = Faults.linearPageIndex(vma, addr);
    Page cow = null;
    if (write && !shared) {
      cow = mem.allocPages(Gfp.USER, 0, "do_cow_fault");
      if (cow == null) {
        return FaultResult.OOM;
      }
    }
    VmFile.FaultedFolio ff = file.fault(vmf, pgoff);
    while (ff.outcome() == VmFile.Outcome.NOPAGE) {
      // Only faults that may not drop their lock get NOPAGE: here GUP's (MAP_POPULATE,
      // MADV_POPULATE_*), which finds no page (follow_page_mask) and faults again (faultin_page).
      sched.retry("faultin_page: VM_FAULT_NOPAGE", pgoff, null);
      ff = file.fault(vmf, pgoff);
    }
    Folio folio = ff.folio();
    if (folio == null) {
      if (cow != null) {
        cow.folioPut();
      }
      return switch (ff.outcome()) {
        case SIGBUS -> FaultResult.SIGBUS;
        case RETRY -> FaultResult.RETRY; // the fault's lock was released: start over
        case OK, OOM, NOPAGE -> FaultResult.OOM;
      };
    }
    Page page = folio.folioPage(pgoff - folio.headPage().index());
    if (cow != null) {
      Faults.copyUserHighpage(sched, mem, cow, page);
      cow.folioMarkUptodateNonAtomic();
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
    pt.store(pte, Entry.make(page.pfn(), Faults.pteFlags(vma, writable, write)), "set_pte_at");
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
    Faults.mapNewAnon(vma, pte, page, addr);
    ptl.unlock();
    return FaultResult.HANDLED;
  }

  /**
   * {@code wp_page_shared}: a write to a present read-only PTE of a page-cache page in a shared
   * mapping, with the PTE lock held (dropped on return). The page is written in place (shmem has
   * no {@code page_mkwrite} to call): the PTE becomes writable, dirty and young, and the folio
   * dirty.
   */
  static FaultResult wpPageShared(PageTables pt, Slot pte, Spinlock ptl, long orig, Page page) {
    pt.store(pte, Entry.mkdirty(Entry.mkyoung(Entry.mkwrite(orig))), "wp_page_reuse");
    ptl.unlock();
    page.folio().folioTestSetDirty();
    return FaultResult.HANDLED;
  }
}
