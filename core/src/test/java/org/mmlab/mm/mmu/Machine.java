package org.mmlab.mm.mmu;

import org.mmlab.explore.NativeSched;
import org.mmlab.explore.Sched;
import org.mmlab.mm.page.Folio;
import org.mmlab.mm.page.Gfp;
import org.mmlab.mm.page.Page;
import org.mmlab.mm.page.PhysMem;
import org.mmlab.mm.pgtable.Entry;
import org.mmlab.mm.pgtable.Level;
import org.mmlab.mm.pgtable.MmuGather;
import org.mmlab.mm.pgtable.PageTables;
import org.mmlab.sync.Spinlock;

/** A test machine: memory, one mm's page tables, the MMU and the mm's context; helpers that map and unmap. */
final class Machine {
  static final long MIB = 1L << 20;
  static final long RW = Entry.WRITE | Entry.USER;
  static final long RO = Entry.USER;
  static final long TOP = 1L << 47;

  final Sched sched;
  final PhysMem mem;
  final PageTables pt;
  final Mmu mmu;
  final MmuContext mm;

  Machine(Sched sched, long bytes) {
    this.sched = sched;
    this.mem = new PhysMem(sched, bytes);
    this.pt = PageTables.create(sched, mem, "mm");
    this.mmu = new Mmu(mem);
    this.mm = mmu.newContext(pt, "mm");
  }

  /** A native machine with 64 MiB. */
  static Machine boot() {
    return new Machine(new NativeSched(), 64 * MIB);
  }

  /** Maps a fresh zeroed order-0 page at {@code addr} with PTE {@code flags}. */
  Page map(long addr, long flags) {
    Page p = mem.allocPages(Gfp.KERNEL | Gfp.ZERO, 0, "test mapping");
    setPte(addr, Entry.make(p.pfn(), flags));
    return p;
  }

  /** {@code set_pte_at} under the PTE lock, allocating tables on the way. */
  void setPte(long addr, long entry) {
    PageTables.Slot s = pt.allocToPte(addr);
    Spinlock ptl = s.table().ptl();
    ptl.lock();
    pt.store(s, entry, "set_pte_at");
    ptl.unlock();
  }

  /** {@code ptep_get_and_clear} under the PTE lock; returns the old entry. */
  long clearPte(long addr) {
    PageTables.Slot s = pt.walk(addr, Level.PTE);
    Spinlock ptl = s.table().ptl();
    ptl.lock();
    long old = pt.getAndClear(s, "ptep_get_and_clear");
    ptl.unlock();
    return old;
  }

  /** A huge leaf: a 2 MiB folio mapped by a PMD entry at {@code addr} (2 MiB aligned). */
  Folio mapHugePmd(long addr, long flags) {
    Folio f = mem.folioAlloc(Gfp.KERNEL | Gfp.ZERO, 9, "test thp");
    PageTables.Slot pmd = pt.pmdAlloc(pt.pudAlloc(addr), addr);
    pt.store(pmd, Entry.make(f.folioPfn(), flags | Entry.HUGE), "set_pmd_at");
    return f;
  }

  /** The physical address {@code addr} maps to, by a walk without points. */
  long phys(long addr) {
    Translation t = Walk.decode(Walk.peekWalk(sched, pt, addr));
    if (t == null) {
      throw new AssertionError("0x" + Long.toHexString(addr) + " is not mapped");
    }
    return t.phys(addr);
  }

  /** Unmaps the order-0 pages at {@code addrs}, frees every table through the MMU's flusher, frees the PGD. */
  void teardown(long... addrs) {
    MmuGather tlb = new MmuGather(pt, mmu.flusher(mm));
    for (long a : addrs) {
      long old = clearPte(a);
      tlb.removeFolio(mem.peekPage(Entry.pfn(old)).folio(), a);
    }
    pt.freePgtables(tlb, 0, TOP, 0, 0);
    tlb.finish();
    pt.destroy();
  }
}
