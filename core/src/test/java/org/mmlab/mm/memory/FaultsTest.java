package org.mmlab.mm.memory;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.mmlab.explore.ExploreResult;
import org.mmlab.explore.Explorer;
import org.mmlab.explore.NativeSched;
import org.mmlab.explore.Sched;
import org.mmlab.mm.page.Gfp;
import org.mmlab.mm.page.Page;
import org.mmlab.mm.page.PageFlag;
import org.mmlab.mm.page.PhysMem;
import org.mmlab.mm.pgtable.Entry;
import org.mmlab.mm.pgtable.Level;
import org.mmlab.mm.pgtable.MmuGather;
import org.mmlab.mm.pgtable.PageTables;
import org.mmlab.mm.vma.MmStruct;
import org.mmlab.mm.vma.Vma;
import org.mmlab.mm.vma.VmFlags;
import org.mmlab.sync.PerCpuCounter;

class FaultsTest {
  private static final long START = 0x400000;
  private static final long END = 0x600000;
  private static final long RW = VmFlags.READ | VmFlags.WRITE | VmFlags.MAYREAD | VmFlags.MAYWRITE;

  /** A small machine: memory, the zero page, one mm with one VMA. */
  record Box(PhysMem mem, Faults faults, MmStruct mm, long freeAtStart) {
    PageTables pt() {
      return mm.pageTables();
    }

    long pte(long addr) {
      PageTables.Slot s = pt().walk(addr, Level.PTE);
      return s == null ? 0 : pt().peek(s);
    }

    /** munmap of the whole VMA, as do_vmi_align_munmap does it, optionally downgrading. */
    void munmap(Vma vma, boolean downgrade) {
      mm.mmapWriteLock();
      mm.vmaStartWrite(vma);
      mm.unlink(vma);
      if (downgrade) {
        mm.mmapWriteDowngrade();
      }
      MmuGather tlb = new MmuGather(pt(), mm.flusher());
      faults.zap(vma, tlb, vma.peekStart(), vma.peekEnd());
      pt().freePgtables(tlb, vma.peekStart(), vma.peekEnd(), 0, 0);
      tlb.finish();
      if (downgrade) {
        mm.mmapReadUnlock();
      } else {
        mm.mmapWriteUnlock();
      }
      mm.freeVma(vma);
    }
  }

  static Box box(Sched s, FaultLocking locking, long flags) {
    PhysMem mem = new PhysMem(s, 16L << 20);
    long free0 = mem.nrFreePages();
    Page zero = mem.allocPages(Gfp.KERNEL | Gfp.ZERO, 0, "zero page");
    zero.setFlag(PageFlag.RESERVED);
    Faults f = new Faults(s, mem, zero, locking, new PerCpuCounter(s, "pgfault"));
    MmStruct mm = new MmStruct(s, "mm", PageTables.create(s, mem, "mm"), MmStruct.Checks.ALL);
    mm.mmapWriteLock();
    mm.link(new Vma(mm, START, END, START >>> 12, flags));
    mm.mmapWriteUnlock();
    return new Box(mem, f, mm, free0);
  }

  @Test
  void aReadMapsTheZeroPageAndAWriteCopiesIt() {
    Box b = box(new NativeSched(), FaultLocking.PER_VMA, RW);
    assertThat(b.faults().userFault(b.mm(), 0x401234, false)).isEqualTo(FaultResult.HANDLED);
    long e = b.pte(0x401000);
    assertThat(Entry.pfn(e)).isEqualTo(b.faults().zeroPage().pfn());
    assertThat(Entry.isSpecial(e)).isTrue();
    assertThat(Entry.isWrite(e)).isFalse();
    assertThat(b.mm().anonRss()).isZero();
    assertThat(b.faults().userFault(b.mm(), 0x401234, true)).isEqualTo(FaultResult.HANDLED);
    long w = b.pte(0x401000);
    assertThat(Entry.isWrite(w)).isTrue();
    assertThat(Entry.isDirty(w)).isTrue();
    assertThat(Entry.pfn(w)).isNotEqualTo(b.faults().zeroPage().pfn());
    Page p = b.mem().pfnToPage(Entry.pfn(w));
    assertThat(p.peekMapcount()).isZero();
    assertThat(p.isAnon()).isTrue();
    assertThat(b.mm().anonRss()).isEqualTo(1);
    assertThat(b.mem().frames().load64(p.phys())).isZero();
    MmWalk.check(b.mem(), java.util.List.of(b.mm()));
  }

  @Test
  void theWalkCatchesAMapcountThatDisagreesWithThePtes() {
    Box b = box(new NativeSched(), FaultLocking.PER_VMA, RW);
    b.faults().userFault(b.mm(), START, true);
    Page p = b.mem().pfnToPage(Entry.pfn(b.pte(START)));
    p.mapcountInc();
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> MmWalk.check(b.mem(), java.util.List.of(b.mm())))
        .hasMessageContaining("mapcount");
    p.mapcountDec();
    MmWalk.check(b.mem(), java.util.List.of(b.mm()));
  }

  @Test
  void aWriteFaultAllocatesAndMunmapGivesEverythingBack() {
    Box b = box(new NativeSched(), FaultLocking.PER_VMA, RW);
    for (long a = START; a < START + 64 * 4096; a += 4096) {
      assertThat(b.faults().userFault(b.mm(), a, true)).isEqualTo(FaultResult.HANDLED);
    }
    assertThat(b.mm().anonRss()).isEqualTo(64);
    MmWalk.check(b.mem(), java.util.List.of(b.mm()));
    b.munmap(b.mm().tree().peek().lookup(START).value(), false);
    assertThat(b.mm().anonRss()).isZero();
    assertThat(b.pt().nrTables()).isEqualTo(1);
    // Everything but the zero page and the PGD is free again.
    assertThat(b.mem().nrFreePages()).isEqualTo(b.freeAtStart() - 2);
  }

  /**
   * A zap of more pages than one gather holds flushes early, as {@code zap_pte_range} does when
   * {@code __tlb_remove_folio_pages} reports the batches full: the TLB flush for the first
   * {@link MmuGather#MAX_PAGES} pages, then their freeing, then the rest and its own flush.
   */
  @Test
  void aZapLargerThanTheGatherFlushesAndFreesInSteps() {
    NativeSched s = new NativeSched();
    PhysMem mem = new PhysMem(s, 64L << 20);
    Page zero = mem.allocPages(Gfp.KERNEL | Gfp.ZERO, 0, "zero page");
    zero.setFlag(PageFlag.RESERVED);
    Faults f = new Faults(s, mem, zero, FaultLocking.PER_VMA, new PerCpuCounter(s, "pgfault"));
    MmStruct mm = new MmStruct(s, "mm", PageTables.create(s, mem, "mm"), MmStruct.Checks.ALL);
    long pages = MmuGather.MAX_PAGES + 100;
    long end = START + pages * 4096;
    Vma vma = new Vma(mm, START, end, START >>> 12, RW);
    mm.mmapWriteLock();
    mm.link(vma);
    mm.mmapWriteUnlock();
    for (long a = START; a < end; a += 4096) {
      assertThat(f.userFault(mm, a, true)).isEqualTo(FaultResult.HANDLED);
    }
    long freeBefore = mem.nrFreePages();
    java.util.List<long[]> flushes = new java.util.ArrayList<>(); // {start, end, free pages when flushed}
    MmuGather tlb = new MmuGather(mm.pageTables(), (from, to) -> {
      mm.flusher().flushTlbRange(from, to);
      flushes.add(new long[] {from, to, mem.nrFreePages()});
    });
    mm.mmapWriteLock();
    f.zap(vma, tlb, START, end);
    assertThat(flushes).as("the forced flush, before any page went back").hasSize(1);
    assertThat(flushes.get(0)).containsExactly(START, START + MmuGather.MAX_PAGES * 4096L, freeBefore);
    assertThat(mem.nrFreePages()).as("the first batch freed after its flush").isEqualTo(freeBefore + MmuGather.MAX_PAGES);
    tlb.finish();
    mm.mmapWriteUnlock();
    assertThat(flushes).hasSize(2);
    assertThat(flushes.get(1)).containsExactly(START + MmuGather.MAX_PAGES * 4096L, end, freeBefore + MmuGather.MAX_PAGES);
    assertThat(mem.nrFreePages()).isEqualTo(freeBefore + pages);
    assertThat(mm.anonRss()).isZero();
  }

  @Test
  void signalsForNoVmaAndForForbiddenAccess() {
    Box b = box(new NativeSched(), FaultLocking.PER_VMA, VmFlags.READ | VmFlags.MAYREAD);
    assertThat(b.faults().userFault(b.mm(), END, false)).isEqualTo(FaultResult.SEGV_MAPERR);
    assertThat(b.faults().userFault(b.mm(), 0x1000, true)).isEqualTo(FaultResult.SEGV_MAPERR);
    assertThat(b.faults().userFault(b.mm(), START, true)).isEqualTo(FaultResult.SEGV_ACCERR);
    assertThat(b.faults().userFault(b.mm(), START, false)).isEqualTo(FaultResult.HANDLED);
    Box none = box(new NativeSched(), FaultLocking.MMAP_LOCK, 0);
    assertThat(none.faults().userFault(none.mm(), START, false)).isEqualTo(FaultResult.SEGV_ACCERR);
  }

  @ParameterizedTest
  @EnumSource(FaultLocking.class)
  void twoCpusWriteFaultingOnePageMapOnePage(FaultLocking locking) {
    ExploreResult r = new Explorer(ex -> {
      Box b = box(ex, locking, RW);
      ex.addCpu("fault0", () -> b.faults().userFault(b.mm(), 0x401000, true));
      ex.addCpu("fault1", () -> b.faults().userFault(b.mm(), 0x401008, true));
      return () -> {
        MmWalk.check(b.mem(), java.util.List.of(b.mm()));
        assertThat(b.mm().anonRss()).isEqualTo(1);
        assertThat(b.mem().nrFreePages()).isEqualTo(b.freeAtStart() - 6);
      };
    }, Explorer.Config.defaults().withExecutions(3_000)).explore(null);
    assertThat(r.verdictId()).isEqualTo("none");
  }

  /** The seed-001 experiment in miniature: a fault races munmap of its own VMA. */
  private static ExploreResult faultVersusMunmap(FaultLocking locking, boolean downgrade, String strategy) {
    return new Explorer(ex -> {
      Box b = box(ex, locking, RW);
      b.faults().userFault(b.mm(), START, true);
      Vma vma = b.mm().tree().peek().lookup(START).value();
      ex.addCpu("fault", () -> b.faults().userFault(b.mm(), START + Level.PMD.span() / 2, true));
      ex.addCpu("munmap", () -> b.munmap(vma, downgrade));
      return () -> {
        MmWalk.check(b.mem(), java.util.List.of(b.mm()));
        assertThat(b.pt().check()).as("page tables after the race").isGreaterThanOrEqualTo(1);
        assertThat(b.mm().anonRss()).isZero();
      };
    }, Explorer.Config.defaults().withStrategy(strategy).withExecutions(5_000)).explore(null);
  }

  @ParameterizedTest
  @EnumSource(value = FaultLocking.class, names = {"PER_VMA", "MMAP_LOCK"})
  void theLandedDesignsSurviveAFaultRacingMunmap(FaultLocking locking) {
    for (String s : new String[] {"random", "pct", "pos", "dfs"}) {
      assertThat(faultVersusMunmap(locking, false, s).verdictId()).as(locking + " " + s).isEqualTo("none");
      assertThat(faultVersusMunmap(locking, true, s).verdictId()).as(locking + " downgrade " + s).isEqualTo("none");
    }
  }

  @Test
  void allocatingTablesUnderRcuOnlyRacingMunmapIsFound() {
    ExploreResult r = faultVersusMunmap(FaultLocking.RCU_ONLY, false, "portfolio");
    System.out.println(r.verdictId() + ": " + r.verdict().headline());
    assertThat(r.verdictId()).isIn("use-after-free", "invariant");
  }
}
