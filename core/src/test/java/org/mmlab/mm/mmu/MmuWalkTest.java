package org.mmlab.mm.mmu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mmlab.mm.mmu.Machine.RO;
import static org.mmlab.mm.mmu.Machine.RW;

import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.mmlab.explore.Cpu;
import org.mmlab.kernel.Uapi;
import org.mmlab.mm.page.Folio;
import org.mmlab.mm.page.Gfp;
import org.mmlab.mm.page.Page;
import org.mmlab.mm.pgtable.Entry;
import org.mmlab.mm.pgtable.Level;
import org.mmlab.mm.pgtable.PageTables;

/** The hardware walk and the x86 permission checks, one row per kind of entry. */
class MmuWalkTest {
  private static final long A = 0x7f12_3456_7000L;

  /** How the page tables look at {@link #A}. */
  private record Shape(String name, Consumer<Machine> build) {
    @Override
    public String toString() {
      return name;
    }
  }

  /**
   * The matrix: a shape of the tables at {@code A}, then the expected result of a read and of a
   * write: null for allowed, else the fault kind.
   */
  static Stream<Arguments> matrix() {
    return Stream.of(
        Arguments.of(new Shape("no tables at all", m -> {}), Fault.Kind.NOT_PRESENT, Fault.Kind.NOT_PRESENT),
        Arguments.of(new Shape("tables, pte_none", m -> m.pt.allocToPte(A)), Fault.Kind.NOT_PRESENT,
            Fault.Kind.NOT_PRESENT),
        Arguments.of(new Shape("migration entry", m -> m.setPte(A, Entry.migration(0x123, true))),
            Fault.Kind.NOT_PRESENT, Fault.Kind.NOT_PRESENT),
        Arguments.of(new Shape("present rw user", m -> m.map(A, RW)), null, null),
        Arguments.of(new Shape("present read-only user", m -> m.map(A, RO)), null, Fault.Kind.PROTECTION),
        Arguments.of(new Shape("present rw kernel-only", m -> m.map(A, Entry.WRITE)), Fault.Kind.PROTECTION,
            Fault.Kind.PROTECTION),
        Arguments.of(new Shape("PMD entry without the user bit", m -> {
          m.map(A, RW);
          PageTables.Slot pmd = m.pt.walk(A, Level.PMD);
          m.pt.store(pmd, m.pt.load(pmd) & ~Entry.USER, "pmd_populate_kernel");
        }), Fault.Kind.PROTECTION, Fault.Kind.PROTECTION),
        Arguments.of(new Shape("PUD entry read-only", m -> {
          m.map(A, RW);
          PageTables.Slot pud = m.pt.walk(A, Level.PUD);
          m.pt.store(pud, m.pt.load(pud) & ~Entry.WRITE, "pud_wrprotect");
        }), null, Fault.Kind.PROTECTION),
        Arguments.of(new Shape("2 MiB leaf rw", m -> m.mapHugePmd(Level.PMD.floor(A), RW)), null, null),
        Arguments.of(new Shape("2 MiB leaf read-only", m -> m.mapHugePmd(Level.PMD.floor(A), RO)), null,
            Fault.Kind.PROTECTION));
  }

  @ParameterizedTest(name = "{0}: read {1}, write {2}")
  @MethodSource("matrix")
  void accessResultMatchesTheEntries(Shape shape, Fault.Kind read, Fault.Kind write) {
    Machine m = Machine.boot();
    shape.build().accept(m);
    Cpu cpu = m.sched.cpu();
    m.mmu.enterUser(cpu, m.mm);
    Fault r = m.mmu.access(cpu, m.mm, A + 8, false);
    Fault w = m.mmu.access(cpu, m.mm, A + 8, true);
    assertThat(r == null ? null : r.kind()).isEqualTo(read);
    assertThat(w == null ? null : w.kind()).isEqualTo(write);
    if (r != null) {
      assertThat(r).isEqualTo(new Fault(A + 8, false, read));
    }
    if (w != null) {
      assertThat(w).isEqualTo(new Fault(A + 8, true, write));
    }
    // A real load and store agree with the probe.
    m.mmu.load(cpu, m.mm, A + 8, 8);
    assertThat(m.mmu.lastFault(cpu)).isEqualTo(r);
    assertThat(m.mmu.store(cpu, m.mm, A + 8, 8, 1)).isEqualTo(w);
    m.mmu.enterKernel(cpu);
  }

  @Test
  void faultKindsMapToTheSegvCodes() {
    assertThat(Fault.Kind.NOT_PRESENT.segvCode).isEqualTo(Uapi.SEGV_MAPERR);
    assertThat(Fault.Kind.PROTECTION.segvCode).isEqualTo(Uapi.SEGV_ACCERR);
  }

  @Test
  void aWalkGivesTheFrameAndTheEffectiveRights() {
    Machine m = Machine.boot();
    Page p = m.map(A, RO);
    Translation t = m.mmu.walk(m.mm, A + 0x123);
    assertThat(t).isEqualTo(new Translation(p.pfn(), false, true, Level.PTE));
    assertThat(t.pageSize()).isEqualTo(4096);
    assertThat(t.phys(A + 0x123)).isEqualTo(p.phys() + 0x123);
    assertThat(t.check(false)).isNull();
    assertThat(t.check(true)).isEqualTo(Fault.Kind.PROTECTION);
    assertThat(m.mmu.walk(m.mm, A + 4096)).isNull();
  }

  @Test
  void aTwoMibLeafTranslatesEveryPieceOfItsFolio() {
    Machine m = Machine.boot();
    long base = Level.PMD.floor(A);
    Folio f = m.mapHugePmd(base, RW);
    Translation t = m.mmu.walk(m.mm, base + 0x12_3456);
    assertThat(t).isEqualTo(new Translation(f.folioPfn() + 0x123, true, true, Level.PMD));
    assertThat(t.pageSize()).isEqualTo(2 * Machine.MIB);
    // Loads and stores reach the right subpage.
    Cpu cpu = m.sched.cpu();
    m.mmu.enterUser(cpu, m.mm);
    assertThat(m.mmu.store(cpu, m.mm, base + 0x1f_fff8, 8, 0x1122_3344_5566_7788L)).isNull();
    assertThat(m.mem.frames().load64(f.folioPfn() * 4096 + 0x1f_fff8)).isEqualTo(0x1122_3344_5566_7788L);
    assertThat(m.mmu.load(cpu, m.mm, base + 0x1f_fff8, 8)).isEqualTo(0x1122_3344_5566_7788L);
    m.mmu.enterKernel(cpu);
  }

  @Test
  void aOneGibLeafTranslatesToTheFrameOfTheAddressWithinIt() {
    Machine m = new Machine(new org.mmlab.explore.NativeSched(), 1L << 30);
    // A 1 GiB leaf mapping physical [0, 1 GiB): any allocated page in it is reachable.
    long base = 1L << 39; // PUD-aligned
    PageTables.Slot pud = m.pt.pudAlloc(base);
    m.pt.store(pud, Entry.make(0, RW | Entry.HUGE), "set_pud_at");
    Page p = m.mem.allocPages(Gfp.KERNEL | Gfp.ZERO, 0, "test");
    long va = base + p.phys() + 0x40;
    assertThat(m.mmu.walk(m.mm, va)).isEqualTo(new Translation(p.pfn(), true, true, Level.PUD));
    assertThat(m.mmu.walk(m.mm, va).pageSize()).isEqualTo(1L << 30);
    Cpu cpu = m.sched.cpu();
    m.mmu.enterUser(cpu, m.mm);
    assertThat(m.mmu.store(cpu, m.mm, va, 4, 0xcafe_f00dL)).isNull();
    assertThat(m.mem.frames().load32(p.phys() + 0x40)).isEqualTo(0xcafe_f00dL);
    m.mmu.enterKernel(cpu);
    m.pt.store(pud, 0, "pud_clear");
    m.mmu.flushTlbMm(m.mm);
  }

  @Test
  void addressesAboveTheUserHalfAreNotPresent() {
    Machine m = Machine.boot();
    Cpu cpu = m.sched.cpu();
    m.mmu.enterUser(cpu, m.mm);
    for (long a : new long[] {1L << 47, 0xffff_8000_0000_0000L, -8L}) {
      assertThat(m.mmu.access(cpu, m.mm, a, false)).isEqualTo(new Fault(a, false, Fault.Kind.NOT_PRESENT));
      assertThat(m.mmu.walk(m.mm, a)).isNull();
    }
    m.mmu.enterKernel(cpu);
  }

  @Test
  void aLeafPointingAtAFrameNeverAllocatedIsACorruptTable() {
    Machine m = Machine.boot();
    long pfn = m.mem.totalPages() - 1;
    m.setPte(A, Entry.make(pfn, RW));
    Cpu cpu = m.sched.cpu();
    m.mmu.enterUser(cpu, m.mm);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> m.mmu.load(cpu, m.mm, A, 8))
        .isInstanceOf(org.mmlab.explore.BugException.class)
        .hasMessageContaining("never allocated");
    m.mmu.enterKernel(cpu);
  }
}
