package org.mmlab.mm.mmu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mmlab.mm.mmu.Machine.RO;
import static org.mmlab.mm.mmu.Machine.RW;

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.mmlab.explore.BugException;
import org.mmlab.explore.Cpu;
import org.mmlab.explore.VerdictKind;
import org.mmlab.mm.page.Page;

/** User loads and stores: widths, byte order, page crossings, ranges and their faulting address, CPU modes. */
class MmuAccessTest {
  private static final long A = 0x40_0000L;

  @ParameterizedTest(name = "width {0}")
  @ValueSource(ints = {1, 2, 4, 8})
  void storeThenLoadOfEveryWidthIsLittleEndianAndZeroExtended(int width) {
    Machine m = Machine.boot();
    Page p = m.map(A, RW);
    Cpu cpu = m.sched.cpu();
    m.mmu.enterUser(cpu, m.mm);
    long v = 0x8877_6655_4433_2211L;
    long mask = width == 8 ? -1L : (1L << (8 * width)) - 1;
    assertThat(m.mmu.store(cpu, m.mm, A + 0x10, width, v)).isNull();
    assertThat(m.mmu.load(cpu, m.mm, A + 0x10, width)).isEqualTo(v & mask);
    assertThat(m.mmu.lastFault(cpu)).isNull();
    // Byte order in the frame: the lowest byte first.
    for (int i = 0; i < 8; i++) {
      assertThat(m.mem.frames().load8(p.phys() + 0x10 + i)).isEqualTo(i < width ? 0x11 * (i + 1) : 0);
    }
    // Unaligned within the page.
    assertThat(m.mmu.store(cpu, m.mm, A + 0x21, width, v)).isNull();
    assertThat(m.mmu.load(cpu, m.mm, A + 0x21, width)).isEqualTo(v & mask);
    m.mmu.enterKernel(cpu);
  }

  @ParameterizedTest(name = "width {0}")
  @ValueSource(ints = {2, 4, 8})
  void anAccessCrossingIntoTheNextPageReachesBothFrames(int width) {
    Machine m = Machine.boot();
    Page p0 = m.map(A, RW);
    Page p1 = m.map(A + 4096, RW);
    Cpu cpu = m.sched.cpu();
    m.mmu.enterUser(cpu, m.mm);
    long addr = A + 4096 - 1;
    long v = 0x0807_0605_0403_0201L;
    long mask = width == 8 ? -1L : (1L << (8 * width)) - 1;
    assertThat(m.mmu.store(cpu, m.mm, addr, width, v)).isNull();
    assertThat(m.mem.frames().load8(p0.phys() + 4095)).isEqualTo(0x01);
    assertThat(m.mem.frames().load8(p1.phys())).isEqualTo(0x02);
    assertThat(m.mmu.load(cpu, m.mm, addr, width)).isEqualTo(v & mask);
    m.mmu.enterKernel(cpu);
  }

  @Test
  void aCrossingStoreWhoseSecondPageFaultsStoresNothing() {
    Machine m = Machine.boot();
    Page p0 = m.map(A, RW);
    m.map(A + 4096, RO);
    Cpu cpu = m.sched.cpu();
    m.mmu.enterUser(cpu, m.mm);
    assertThat(m.mmu.store(cpu, m.mm, A + 4092, 8, -1L))
        .isEqualTo(new Fault(A + 4096, true, Fault.Kind.PROTECTION));
    assertThat(m.mem.frames().load32(p0.phys() + 4092)).isZero();
    // A load across it is fine: the second page is readable.
    assertThat(m.mmu.load(cpu, m.mm, A + 4092, 8)).isZero();
    assertThat(m.mmu.lastFault(cpu)).isNull();
    // Into an unmapped page: not present, at the first byte of that page.
    m.mmu.load(cpu, m.mm, A + 2 * 4096 - 2, 4);
    assertThat(m.mmu.lastFault(cpu)).isEqualTo(new Fault(A + 2 * 4096, false, Fault.Kind.NOT_PRESENT));
    m.mmu.enterKernel(cpu);
  }

  @Test
  void invalidWidthsAreRejected() {
    Machine m = Machine.boot();
    m.map(A, RW);
    Cpu cpu = m.sched.cpu();
    m.mmu.enterUser(cpu, m.mm);
    assertThatThrownBy(() -> m.mmu.load(cpu, m.mm, A, 3)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> m.mmu.store(cpu, m.mm, A + 4095, 16, 0)).isInstanceOf(IllegalArgumentException.class);
    m.mmu.enterKernel(cpu);
  }

  @Test
  void aRangeCrossingPagesIsCopiedBothWays() {
    Machine m = Machine.boot();
    m.map(A, RW);
    m.map(A + 4096, RW);
    m.map(A + 8192, RW);
    Cpu cpu = m.sched.cpu();
    m.mmu.enterUser(cpu, m.mm);
    byte[] src = new byte[3 * 4096 - 100];
    for (int i = 0; i < src.length; i++) {
      src[i] = (byte) (i * 7 + 3);
    }
    assertThat(m.mmu.storeBytes(cpu, m.mm, A + 50, src, 0, src.length)).isNull();
    assertThat(m.mem.frames().load8(m.phys(A + 50 + 5000))).isEqualTo(src[5000] & 0xff);
    byte[] dst = new byte[src.length + 10];
    assertThat(m.mmu.loadBytes(cpu, m.mm, A + 50, dst, 10, src.length)).isNull();
    assertThat(Arrays.copyOfRange(dst, 10, dst.length)).isEqualTo(src);
    m.mmu.enterKernel(cpu);
  }

  @Test
  void aRangeStopsAtTheFirstFaultingPageAndKeepsWhatCameBefore() {
    Machine m = Machine.boot();
    m.map(A, RW);
    m.map(A + 4096, RW);
    m.map(A + 8192, RO);
    Cpu cpu = m.sched.cpu();
    m.mmu.enterUser(cpu, m.mm);
    byte[] src = new byte[3 * 4096];
    Arrays.fill(src, (byte) 0x61);
    assertThat(m.mmu.storeBytes(cpu, m.mm, A + 100, src, 0, src.length))
        .isEqualTo(new Fault(A + 8192, true, Fault.Kind.PROTECTION));
    byte[] back = new byte[8192 - 100];
    assertThat(m.mmu.loadBytes(cpu, m.mm, A + 100, back, 0, back.length)).isNull();
    assertThat(back).containsOnly((byte) 0x61);
    assertThat(m.mem.frames().load8(m.phys(A + 8192))).isZero();
    // A read range runs into the unmapped fourth page.
    byte[] dst = new byte[4 * 4096];
    assertThat(m.mmu.loadBytes(cpu, m.mm, A + 4096, dst, 0, 3 * 4096))
        .isEqualTo(new Fault(A + 3 * 4096, false, Fault.Kind.NOT_PRESENT));
    assertThat(dst[0]).isEqualTo((byte) 0x61);
    // Faulting on the very first byte reports the start address itself.
    assertThat(m.mmu.fill(cpu, m.mm, A + 8192 + 7, 10, (byte) 1))
        .isEqualTo(new Fault(A + 8192 + 7, true, Fault.Kind.PROTECTION));
    assertThat(m.mmu.fill(cpu, m.mm, A + 4000, 200, (byte) 0x7f)).isNull();
    assertThat(m.mem.frames().load8(m.phys(A + 4199))).isEqualTo(0x7f);
    assertThat(m.mmu.loadBytes(cpu, m.mm, A, dst, 0, 0)).isNull();
    m.mmu.enterKernel(cpu);
  }

  @Test
  void theKernelAccessesUserMemoryOfTheMmItRuns() {
    Machine m = Machine.boot();
    m.map(A, RW);
    Cpu cpu = m.sched.cpu();
    Tlb t = m.mmu.tlb(cpu);
    assertThat(t.mode()).isEqualTo(Tlb.Mode.IDLE);
    m.mmu.enterUser(cpu, m.mm);
    assertThat(t.mode()).isEqualTo(Tlb.Mode.USER);
    m.mmu.enterKernel(cpu);
    assertThat(t.mode()).isEqualTo(Tlb.Mode.KERNEL);
    // copy_to_user from a syscall: the same translation and checks.
    assertThat(m.mmu.store(cpu, m.mm, A, 8, 42)).isNull();
    assertThat(m.mmu.load(cpu, m.mm, A, 8)).isEqualTo(42);
    assertThat(m.mmu.store(cpu, m.mm, A + 4096, 8, 42)).isEqualTo(new Fault(A + 4096, true, Fault.Kind.NOT_PRESENT));
    byte[] buf = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    assertThat(m.mmu.storeBytes(cpu, m.mm, A + 4090, buf, 0, buf.length))
        .isEqualTo(new Fault(A + 4096, true, Fault.Kind.NOT_PRESENT));
    assertThat(m.mmu.load(cpu, m.mm, A + 4090, 4)).isEqualTo(0x0403_0201L);
    assertThat(m.mmu.tlb(cpu).mode()).isEqualTo(Tlb.Mode.KERNEL);
    // Idle, or another mm: a programming error.
    Machine other = Machine.boot();
    assertThatThrownBy(() -> m.mmu.load(cpu, m.mmu.newContext(m.pt, "other"), A, 8))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("runs mm");
    assertThatThrownBy(() -> m.mmu.enterUser(cpu, other.mm)).isInstanceOf(IllegalArgumentException.class);
    m.mmu.idle(cpu);
    assertThat(t.mode()).isEqualTo(Tlb.Mode.IDLE);
    assertThatThrownBy(() -> m.mmu.load(cpu, m.mm, A, 8))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("idle");
  }

  @Test
  void anAccessThroughAStaleTranslationToAFreedPageIsAUseAfterFree() {
    Machine m = Machine.boot();
    Page p = m.map(A, RW);
    Cpu cpu = m.sched.cpu();
    m.mmu.enterUser(cpu, m.mm);
    assertThat(m.mmu.load(cpu, m.mm, A, 8)).isZero();
    // The bug: unmapped and freed without a TLB flush.
    m.clearPte(A);
    p.putPage();
    assertThatThrownBy(() -> m.mmu.load(cpu, m.mm, A, 8))
        .isInstanceOfSatisfying(BugException.class, e -> {
          assertThat(e.verdict().kind()).isEqualTo(VerdictKind.USE_AFTER_FREE);
          assertThat(e.verdict().headline())
              .isEqualTo("user access through a stale translation to freed pfn 0x" + Long.toHexString(p.pfn()));
        });
    m.mmu.flushTlbMm(m.mm);
    m.mmu.load(cpu, m.mm, A, 8);
    assertThat(m.mmu.lastFault(cpu)).isEqualTo(new Fault(A, false, Fault.Kind.NOT_PRESENT));
    m.mmu.enterKernel(cpu);
  }

  @Test
  void theHitPathLeavesAStaleTranslationToTheChecksAndAFrozenPageToTheAccess() {
    Machine m = Machine.boot();
    Page p = m.map(A, RW);
    Cpu cpu = m.sched.cpu();
    Tlb t = m.mmu.tlb(cpu);
    m.mmu.enterUser(cpu, m.mm);
    assertThat(m.mmu.store(cpu, m.mm, A + 8, 8, 42)).isNull(); // fills, touches the frame, marks the line
    assertThat(m.mmu.load(cpu, m.mm, A + 8, 8)).isEqualTo(42);
    assertThat(m.mmu.store(cpu, m.mm, A + 8, 8, 43)).isNull();
    long walks = t.walks();
    // A frozen count (migration, collapse) is a page in use: the accesses complete.
    assertThat(p.folioRefFreeze(1)).isTrue();
    assertThat(m.mmu.load(cpu, m.mm, A + 8, 8)).isEqualTo(43);
    assertThat(m.mmu.store(cpu, m.mm, A + 8, 8, 44)).isNull();
    p.folioRefUnfreeze(1);
    // The bug: unmapped and freed without a TLB flush; both kinds of access hit the cached entry.
    m.clearPte(A);
    p.putPage();
    String headline = "user access through a stale translation to freed pfn 0x" + Long.toHexString(p.pfn());
    assertThatThrownBy(() -> m.mmu.load(cpu, m.mm, A + 8, 8))
        .isInstanceOfSatisfying(BugException.class, e -> assertThat(e.verdict().headline()).isEqualTo(headline));
    assertThatThrownBy(() -> m.mmu.store(cpu, m.mm, A + 8, 8, 45))
        .isInstanceOfSatisfying(BugException.class, e -> assertThat(e.verdict().headline()).isEqualTo(headline));
    assertThat(t.walks()).isEqualTo(walks);
    m.mmu.flushTlbMm(m.mm);
    m.mmu.enterKernel(cpu);
  }

  @Test
  void anEntryStillMappingAFreedPageIsReportedAsSuch() {
    Machine m = Machine.boot();
    Page p = m.map(A, RW);
    p.putPage(); // freed while mapped
    Cpu cpu = m.sched.cpu();
    m.mmu.enterUser(cpu, m.mm);
    assertThatThrownBy(() -> m.mmu.store(cpu, m.mm, A, 1, 1))
        .isInstanceOfSatisfying(BugException.class, e -> assertThat(e.verdict().headline())
            .startsWith("user access through a page-table entry that still maps freed pfn"));
    m.mmu.enterKernel(cpu);
    m.clearPte(A);
    m.mmu.flushTlbMm(m.mm);
  }
}
