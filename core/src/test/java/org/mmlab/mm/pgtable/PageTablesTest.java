package org.mmlab.mm.pgtable;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.mmlab.explore.ExploreResult;
import org.mmlab.explore.Explorer;
import org.mmlab.explore.NativeSched;
import org.mmlab.mm.page.PhysMem;
import org.mmlab.sync.Spinlock;

class PageTablesTest {
  private static final long MIB = 1L << 20;

  private static PageTables fresh(PhysMem mem) {
    return PageTables.create(mem.sched(), mem, "mm");
  }

  /**
   * {@code lowerTable} remembers its last answer per table, but never past a free: a PTE table
   * freed and its page made a table again under the same PMD entry value is the new table.
   */
  @Test
  void aTableFreedAndItsPageReusedUnderTheSameEntryIsTheNewTable() {
    NativeSched s = new NativeSched();
    PhysMem mem = new PhysMem(s, 64 * MIB);
    PageTables pt = fresh(mem);
    long addr = 0x7f12_3456_7000L;
    PageTables.Slot pmd = pt.walk(addr, Level.PMD);
    assertThat(pmd).isNull();
    PageTables.Slot pte = pt.allocToPte(addr);
    pmd = pt.walk(addr, Level.PMD);
    long entry = pt.load(pmd);
    org.mmlab.mm.page.PtDesc old = pt.lowerTable(pmd.table(), pmd.index(), Level.PMD, entry);
    assertThat(old).isSameAs(pte.table());
    // Unlink the PTE table and free it (the gather flushes first; no TLB here), then make a new
    // one at the same place: the per-CPU list hands the same page back.
    pt.store(pmd, 0, "pmd_clear");
    MmuGather tlb = new MmuGather(pt, (from, to) -> {});
    tlb.removeTable(old, addr);
    tlb.finish();
    assertThat(old.isFreed()).isTrue();
    PageTables.Slot again = pt.allocToPte(addr);
    assertThat(pt.load(pmd)).as("the same page, so the same entry value").isEqualTo(entry);
    org.mmlab.mm.page.PtDesc now = pt.lowerTable(pmd.table(), pmd.index(), Level.PMD, entry);
    assertThat(now).isSameAs(again.table()).isNotSameAs(old);
    assertThat(now.isFreed()).isFalse();
    assertThat(pt.lowerTable(pmd.table(), pmd.index(), Level.PMD, entry)).as("and remembered").isSameAs(now);
  }

  @Test
  void allocatingDownToPteBuildsOneTablePerLevelAndTheWalkFindsIt() {
    NativeSched s = new NativeSched();
    PhysMem mem = new PhysMem(s, 64 * MIB);
    long free0 = mem.nrFreePages();
    PageTables pt = fresh(mem);
    long addr = 0x7f12_3456_7000L;
    PageTables.Slot pte = pt.allocToPte(addr);
    assertThat(pte).isNotNull();
    assertThat(pte.level()).isEqualTo(Level.PTE);
    assertThat(pte.index()).isEqualTo(Level.PTE.index(addr));
    assertThat(pt.nrTables()).isEqualTo(4);
    assertThat(mem.nrFreePages()).isEqualTo(free0 - 4);
    assertThat(pt.walk(addr, Level.PTE)).isEqualTo(pte);
    assertThat(pt.walk(addr + Level.PMD.span(), Level.PTE)).isNull();
    // A neighbour in the same PTE table shares every table.
    assertThat(pt.allocToPte(addr + 4096).table()).isSameAs(pte.table());
    assertThat(pt.nrTables()).isEqualTo(4);
    assertThat(pt.check()).isEqualTo(4);
  }

  @Test
  void freeingTheWholeRangeReturnsEveryTableAfterTheFlush() {
    NativeSched s = new NativeSched();
    PhysMem mem = new PhysMem(s, 64 * MIB);
    long free0 = mem.nrFreePages();
    PageTables pt = fresh(mem);
    for (long a = 0x400000; a < 0x400000 + 6 * Level.PMD.span(); a += Level.PMD.span()) {
      pt.allocToPte(a);
    }
    pt.allocToPte(0x7f00_0000_0000L);
    long tables = pt.nrTables();
    assertThat(tables).isEqualTo(1 + 2 + 2 + 7);
    List<long[]> flushes = new ArrayList<>();
    MmuGather tlb = new MmuGather(pt, (a, b) -> {
      flushes.add(new long[] {a, b});
      assertThat(pt.peekNrTables()).as("nothing freed before the flush").isEqualTo(tables);
    });
    pt.freePgtables(tlb, 0, Uapi.TOP, 0, 0);
    assertThat(pt.peekNrTables()).isEqualTo(tables);
    tlb.finish();
    assertThat(flushes).hasSize(1);
    assertThat(pt.nrTables()).isEqualTo(1);
    pt.destroy();
    assertThat(mem.nrFreePages()).isEqualTo(free0);
  }

  @Test
  void floorAndCeilingKeepTablesShared() {
    NativeSched s = new NativeSched();
    PhysMem mem = new PhysMem(s, 64 * MIB);
    PageTables pt = fresh(mem);
    // Two "VMAs" in one PTE table: [0x400000, 0x401000) and [0x402000, 0x403000).
    PageTables.Slot a = pt.allocToPte(0x400000);
    PageTables.Slot b = pt.allocToPte(0x402000);
    assertThat(a.table()).isSameAs(b.table());
    MmuGather tlb = new MmuGather(pt, (x, y) -> {});
    pt.freePgtables(tlb, 0x400000, 0x401000, 0, 0x402000);
    tlb.finish();
    assertThat(pt.nrTables()).isEqualTo(4);
    assertThat(pt.walk(0x402000, Level.PTE)).isEqualTo(b);
    // Now the second one goes, with nothing around it: all tables below the PGD go.
    MmuGather tlb2 = new MmuGather(pt, (x, y) -> {});
    pt.freePgtables(tlb2, 0x402000, 0x403000, 0, 0);
    tlb2.finish();
    assertThat(pt.nrTables()).isEqualTo(1);
  }

  @Test
  void aNeighbourInTheNextPmdKeepsThePmdTableButNotThePteTable() {
    NativeSched s = new NativeSched();
    PhysMem mem = new PhysMem(s, 64 * MIB);
    PageTables pt = fresh(mem);
    pt.allocToPte(0x400000);
    pt.allocToPte(0x600000);
    assertThat(pt.nrTables()).isEqualTo(5);
    MmuGather tlb = new MmuGather(pt, (x, y) -> {});
    pt.freePgtables(tlb, 0x400000, 0x401000, 0, 0x600000);
    tlb.finish();
    assertThat(pt.nrTables()).isEqualTo(4);
    assertThat(pt.walk(0x400000, Level.PTE)).isNull();
    assertThat(pt.walk(0x600000, Level.PTE)).isNotNull();
    assertThat(pt.check()).isEqualTo(4);
  }

  @Test
  void twoCpusAllocatingTheSameTablesPublishOneAndFreeTheOther() {
    ExploreResult r = new Explorer(ex -> {
      PhysMem mem = new PhysMem(ex, 16 * MIB);
      long free0 = mem.nrFreePages();
      PageTables pt = fresh(mem);
      PageTables.Slot[] got = new PageTables.Slot[2];
      ex.addCpu("fault0", () -> got[0] = pt.allocToPte(0x400000));
      ex.addCpu("fault1", () -> got[1] = pt.allocToPte(0x401000));
      return () -> {
        assertThat(got[0].table()).isSameAs(got[1].table());
        assertThat(pt.check()).isEqualTo(4);
        MmuGather tlb = new MmuGather(pt, (x, y) -> {});
        pt.freePgtables(tlb, 0, Uapi.TOP, 0, 0);
        tlb.finish();
        pt.destroy();
        assertThat(mem.nrFreePages()).isEqualTo(free0);
      };
    }, Explorer.Config.defaults().withExecutions(3_000)).explore(null);
    assertThat(r.verdictId()).isEqualTo("none");
  }

  /**
   * The seed-001 shape in miniature: CPU0 found the PMD slot of its address and allocates a PTE
   * table into it, holding only the split PMD lock (no mmap or VMA lock); CPU1 unmaps the range
   * and frees its tables, which include that PMD table.
   */
  private static Explorer.Program faultVersusFreePgtables() {
    return ex -> {
      PhysMem mem = new PhysMem(ex, 16 * MIB);
      PageTables pt = fresh(mem);
      pt.allocToPte(0x400000);
      PageTables.Slot pmd = pt.walk(0x600000, Level.PMD);
      ex.addCpu("fault", () -> pt.pteAlloc(pmd, 0x600000));
      ex.addCpu("munmap", () -> {
        MmuGather tlb = new MmuGather(pt, (x, y) -> {});
        pt.freePgtables(tlb, 0x400000, 0x800000, 0, 0);
        tlb.finish();
      });
      return pt::check;
    };
  }

  @Test
  void aFaultAllocatingTablesWhileTheyAreFreedIsAUseAfterFreeOrALeak() {
    ExploreResult r = new Explorer(faultVersusFreePgtables(), Explorer.Config.defaults().withExecutions(10_000))
        .explore(null);
    // Either outcome the thread names: the new table stored into (or the lock taken of) the
    // freed PMD table, or stored before the free and leaked with it.
    assertThat(r.verdictId()).isIn("use-after-free", "invariant");
    assertThat(r.verdict().headline()).containsAnyOf("pmd table", "tables reachable");
    ExploreResult dfs = new Explorer(faultVersusFreePgtables(),
        Explorer.Config.defaults().withStrategy("dfs").withExecutions(10_000)).explore(null);
    assertThat(dfs.verdictId()).isEqualTo("use-after-free");
    assertThat(dfs.verdict().headline()).contains("pmd table");
    assertThat(dfs.found().verdict().details()).anySatisfy(d -> assertThat(d).startsWith("freed:").contains("munmap"));
  }

  @Test
  void pteLocksAreSplitPerTable() {
    NativeSched s = new NativeSched();
    PhysMem mem = new PhysMem(s, 64 * MIB);
    PageTables pt = fresh(mem);
    PageTables.Slot a = pt.allocToPte(0x400000);
    PageTables.Slot b = pt.allocToPte(0x600000);
    PageTables.Slot pmdA = pt.walk(0x400000, Level.PMD);
    PageTables.Slot pmdB = pt.walk(0x600000, Level.PMD);
    Spinlock la = pt.pteLockptr(pmdA, pt.load(pmdA));
    Spinlock lb = pt.pteLockptr(pmdB, pt.load(pmdB));
    assertThat(la).isNotSameAs(lb).isSameAs(a.table().ptl());
    assertThat(lb).isSameAs(b.table().ptl());
    assertThat(pt.pmdLockptr(pmdA)).isSameAs(pmdA.table().ptl()).isSameAs(pt.pmdLockptr(pmdB));
  }

  /** The top of the user address space, rounded to a PGD entry. */
  static final class Uapi {
    static final long TOP = 0x8000_0000_0000L;
  }
}
