package org.mmlab.mm.mmu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mmlab.mm.mmu.Machine.RO;
import static org.mmlab.mm.mmu.Machine.RW;

import org.junit.jupiter.api.Test;
import org.mmlab.explore.BugException;
import org.mmlab.explore.Cpu;
import org.mmlab.mm.page.Page;
import org.mmlab.mm.pgtable.Entry;
import org.mmlab.mm.pgtable.PageTables;

/** The per-CPU TLB: hits and misses, what a flush drops, contexts, the generation check on return to user mode. */
class TlbTest {
  private static final long A = 0x40_0000L;
  private static final long PAGE = 4096;

  @Test
  void theFirstAccessWalksAndLaterOnesHit() {
    Machine m = Machine.boot();
    m.map(A, RW);
    m.map(A + PAGE, RW);
    Cpu cpu = m.sched.cpu();
    Tlb t = m.mmu.tlb(cpu);
    m.mmu.enterUser(cpu, m.mm);
    assertThat(t.isCached(m.mm, A)).isFalse();
    m.mmu.load(cpu, m.mm, A, 8);
    assertThat(t.walks()).isEqualTo(1);
    assertThat(t.isCached(m.mm, A + 0x800)).isTrue();
    for (int i = 0; i < 10; i++) {
      m.mmu.store(cpu, m.mm, A + 8 * i, 8, i);
      m.mmu.load(t, m.mm, A + 8 * i, 4);
    }
    assertThat(t.walks()).isEqualTo(1);
    m.mmu.load(cpu, m.mm, A + PAGE, 1);
    assertThat(t.walks()).isEqualTo(2);
    assertThat(t.size()).isEqualTo(2);
    // A page that aliases A's entry (64 pages further) evicts it.
    m.map(A + Tlb.ENTRIES * PAGE, RW);
    m.mmu.load(cpu, m.mm, A + Tlb.ENTRIES * PAGE, 1);
    assertThat(t.isCached(m.mm, A)).isFalse();
    assertThat(t.walks()).isEqualTo(3);
    m.mmu.enterKernel(cpu);
  }

  @Test
  void aCachedTranslationOutlivesItsEntryUntilTheFlush() {
    Machine m = Machine.boot();
    Page old = m.map(A, RW);
    m.mem.frames().store64(old.phys(), 111);
    Cpu cpu = m.sched.cpu();
    m.mmu.enterUser(cpu, m.mm);
    assertThat(m.mmu.load(cpu, m.mm, A, 8)).isEqualTo(111);
    // Remap to a new frame without flushing: the TLB still gives the old one.
    Page fresh = m.mem.allocPages(org.mmlab.mm.page.Gfp.KERNEL | org.mmlab.mm.page.Gfp.ZERO, 0, "test");
    m.mem.frames().store64(fresh.phys(), 222);
    m.setPte(A, Entry.make(fresh.pfn(), RW));
    assertThat(m.mmu.load(cpu, m.mm, A, 8)).isEqualTo(111);
    // The consistency walk sees the stale entry.
    assertThatThrownBy(m.mmu::check).isInstanceOf(BugException.class).hasMessageContaining("stale translation");
    m.mmu.flushTlbRange(m.mm, A, A + PAGE);
    assertThat(m.mmu.load(cpu, m.mm, A, 8)).isEqualTo(222);
    m.mmu.check();
    old.putPage();
    m.mmu.enterKernel(cpu);
  }

  @Test
  void aRangeFlushDropsOnlyThatRangeOfThatMm() {
    Machine m = Machine.boot();
    MmuContext other = m.mmu.newContext(m.pt, "alias"); // same tables, another tag
    for (int i = 0; i < 4; i++) {
      m.map(A + i * PAGE, RW);
    }
    Cpu cpu = m.sched.cpu();
    Tlb t = m.mmu.tlb(cpu);
    m.mmu.enterUser(cpu, m.mm);
    for (int i = 0; i < 4; i++) {
      m.mmu.load(cpu, m.mm, A + i * PAGE, 8);
    }
    // The other mm's entry for A + PAGE goes to that mm's own set: mm's entry for it stays.
    m.mmu.enterUser(cpu, other);
    m.mmu.load(cpu, other, A + PAGE, 8);
    m.mmu.enterUser(cpu, m.mm);
    long w = t.walks();
    // All of mm's entries survived the switches, and other's is there too.
    assertThat(t.isCached(m.mm, A)).isTrue();
    assertThat(t.isCached(m.mm, A + PAGE)).isTrue();
    assertThat(t.isCached(other, A + PAGE)).isTrue();
    assertThat(t.size()).isEqualTo(5);
    t.flushRange(m.mm, A + 2 * PAGE, A + 3 * PAGE);
    assertThat(t.isCached(m.mm, A)).isTrue();
    assertThat(t.isCached(m.mm, A + 2 * PAGE)).isFalse();
    assertThat(t.isCached(m.mm, A + 3 * PAGE)).isTrue();
    assertThat(t.isCached(other, A + PAGE)).isTrue();
    t.flushMm(m.mm);
    assertThat(t.isCached(m.mm, A)).isFalse();
    assertThat(t.isCached(m.mm, A + 3 * PAGE)).isFalse();
    assertThat(t.isCached(other, A + PAGE)).isTrue();
    t.flushAll();
    assertThat(t.size()).isZero();
    assertThat(t.walks()).isEqualTo(w);
    m.mmu.enterKernel(cpu);
  }

  @Test
  void theShootdownFlushesTheCallersOwnTlbForTheRangeOnly() {
    Machine m = Machine.boot();
    m.map(A, RW);
    m.map(A + PAGE, RW);
    Cpu cpu = m.sched.cpu();
    Tlb t = m.mmu.tlb(cpu);
    m.mmu.enterUser(cpu, m.mm);
    m.mmu.load(cpu, m.mm, A, 8);
    m.mmu.load(cpu, m.mm, A + PAGE, 8);
    long gen = m.mm.peekTlbGen();
    m.mmu.flushTlbRange(m.mm, A + PAGE, A + 2 * PAGE);
    assertThat(m.mm.peekTlbGen()).isEqualTo(gen + 1);
    assertThat(t.isCached(m.mm, A)).isTrue();
    assertThat(t.isCached(m.mm, A + PAGE)).isFalse();
    // Its TLB is current with the new generation: returning to user mode flushes nothing more.
    m.mmu.enterKernel(cpu);
    m.mmu.enterUser(cpu, m.mm);
    assertThat(t.isCached(m.mm, A)).isTrue();
    m.mmu.flushTlbMm(m.mm);
    assertThat(t.size()).isZero();
    m.mmu.enterKernel(cpu);
  }

  @Test
  void aCpuSkippedInTheKernelFlushesWhenItReturnsToUserMode() {
    Machine m = Machine.boot();
    Page old = m.map(A, RW);
    m.mem.frames().store64(old.phys(), 1);
    Cpu other = new Cpu(7, "other"); // driven from this thread; never waited for, it is not in user mode
    Tlb t = m.mmu.tlb(other);
    m.mmu.enterUser(other, m.mm);
    assertThat(m.mmu.load(other, m.mm, A, 8)).isEqualTo(1);
    m.mmu.enterKernel(other);
    // This thread's CPU remaps and flushes: `other` is in the kernel, so it is not waited for.
    Page fresh = m.mem.allocPages(org.mmlab.mm.page.Gfp.KERNEL | org.mmlab.mm.page.Gfp.ZERO, 0, "test");
    m.mem.frames().store64(fresh.phys(), 2);
    m.setPte(A, Entry.make(fresh.pfn(), RW));
    m.mmu.flushTlbRange(m.mm, A, A + PAGE);
    old.putPage();
    assertThat(t.isCached(m.mm, A)).as("skipped: the entry is still there").isTrue();
    // A kernel access to user memory checks the generation first.
    assertThat(m.mmu.load(other, m.mm, A, 8)).isEqualTo(2);
    m.setPte(A, Entry.make(fresh.pfn(), RO));
    m.mmu.flushTlbRange(m.mm, A, A + PAGE);
    m.mmu.enterUser(other, m.mm);
    assertThat(t.isCached(m.mm, A)).as("dropped on return to user mode").isFalse();
    assertThat(m.mmu.store(other, m.mm, A, 8, 3)).isEqualTo(new Fault(A, true, Fault.Kind.PROTECTION));
    m.mmu.idle(other);
    assertThat(t.mode()).isEqualTo(Tlb.Mode.IDLE);
  }

  @Test
  void contextsOfSeveralMmsCoexistUntilEvicted() {
    Machine m = Machine.boot();
    m.map(A, RW);
    Cpu cpu = m.sched.cpu();
    Tlb t = m.mmu.tlb(cpu);
    MmuContext[] mms = new MmuContext[Tlb.NR_CONTEXTS + 1];
    for (int i = 0; i < mms.length; i++) {
      mms[i] = i == 0 ? m.mm : m.mmu.newContext(m.pt, "mm" + i);
    }
    // Fill one entry per mm at distinct indexes: A + i pages.
    for (int i = 0; i < Tlb.NR_CONTEXTS; i++) {
      m.map(A + (i + 1) * PAGE, RW);
    }
    for (int i = 0; i < Tlb.NR_CONTEXTS; i++) {
      m.mmu.enterUser(cpu, mms[i]);
      m.mmu.load(cpu, mms[i], A + (i + 1) * PAGE, 8);
    }
    for (int i = 0; i < Tlb.NR_CONTEXTS; i++) {
      assertThat(t.isCached(mms[i], A + (i + 1) * PAGE)).isTrue();
    }
    // A seventh mm evicts the oldest context, and its entries with it.
    m.mmu.enterUser(cpu, mms[Tlb.NR_CONTEXTS]);
    assertThat(t.isCached(mms[0], A + PAGE)).isFalse();
    assertThat(t.isCached(mms[1], A + 2 * PAGE)).isTrue();
    m.mmu.enterKernel(cpu);
  }

  @Test
  void aPermissionMissRefreshesTheEntryFromTheTables() {
    Machine m = Machine.boot();
    Page p = m.map(A, RO);
    Cpu cpu = m.sched.cpu();
    Tlb t = m.mmu.tlb(cpu);
    m.mmu.enterUser(cpu, m.mm);
    m.mmu.load(cpu, m.mm, A, 8);
    assertThat(m.mmu.store(cpu, m.mm, A, 8, 5)).isEqualTo(new Fault(A, true, Fault.Kind.PROTECTION));
    // The fault path makes it writable (an upgrade needs no flush): the retry walks again and succeeds.
    PageTables.Slot s = m.pt.walk(A, org.mmlab.mm.pgtable.Level.PTE);
    m.pt.store(s, Entry.make(p.pfn(), RW), "do_wp_page");
    assertThat(m.mmu.store(cpu, m.mm, A, 8, 5)).isNull();
    assertThat(t.walks()).isEqualTo(3);
    assertThat(m.mmu.load(cpu, m.mm, A, 8)).isEqualTo(5);
    m.mmu.enterKernel(cpu);
  }
}
