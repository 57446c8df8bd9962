package org.mmlab.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;
import org.mmlab.explore.Cpu;
import org.mmlab.explore.NativeSched;
import org.mmlab.mm.mmu.Mmu;
import org.mmlab.mm.mmu.MmuContext;
import org.mmlab.mm.mmu.Tlb;
import org.mmlab.mm.page.FramePool;
import org.mmlab.mm.page.Gfp;
import org.mmlab.mm.page.Page;
import org.mmlab.mm.page.PhysMem;
import org.mmlab.mm.pgtable.Entry;
import org.mmlab.mm.pgtable.PageTables;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The MMU's fast path ({@code org.mmlab.mm.mmu}) natively: an 8-byte user load and store that
 * hit the TLB, against a raw {@link MemorySegment} access of the same kind in the same run (the
 * issue's goal: within 3x).
 *
 * <ul>
 *   <li>{@code rawLoad}/{@code rawStore}: {@code get}/{@code set(JAVA_LONG_UNALIGNED, off)} on a
 *       4 KiB off-heap segment: the floor;</li>
 *   <li>{@code framesLoad}/{@code framesStore}: the same through the simulated RAM
 *       ({@code Frames.load64}/{@code store64} at the page's physical address): chunk lookup,
 *       bounds, touched bitmap;</li>
 *   <li>{@code mmuLoad}/{@code mmuStore}: a user access of the page, in user mode, with the CPU's
 *       {@link Tlb} at hand: the native hit path ({@code UserAccess.loadFast}): the user-mode
 *       test, the flush-request poll, the entry's tag for this kind of access (rights folded
 *       in), for a store the line mask, the stale-translation check of the page descriptor, then
 *       the frame access;</li>
 *   <li>{@code mmuLoadByCpu}: the same looked up by {@link Cpu} (the per-CPU slot).</li>
 * </ul>
 * One thread, one mapped page, every access a TLB hit (the benchmark thread is the CPU; set-up
 * runs on it: JMH runs a thread-scoped state's set-up on its own thread).
 *
 * <p>Run (about 1 minute; figures in {@code docs/BENCHMARKS.md}):
 * <pre>
 * ./mmlab bench MmuBench -wi 3 -w 1s -i 5 -r 1s -f 1
 * </pre>
 * Kernel counterpart: none (the hardware's TLB hit); {@code get_user}/{@code put_user} in spirit.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class MmuBench {
  private static final long ADDR = 0x7f00_0000_0000L;
  private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED;

  /** A machine with one mapped page, in user mode on the benchmark thread's CPU. */
  @State(Scope.Thread)
  public static class Machine {
    NativeSched sched;
    PhysMem mem;
    Mmu mmu;
    MmuContext mm;
    Cpu cpu;
    Tlb tlb;
    Page page;
    MemorySegment raw;
    /** Offset within the page; a field so that it is not a constant. */
    long off = 0x238;
    long value = 0x1122_3344_5566_7788L;

    @Setup(Level.Trial)
    public void setUp() {
      BenchEnv.print();
      sched = new NativeSched();
      mem = new PhysMem(sched, 64L << 20, 1, new FramePool(4));
      PageTables pt = PageTables.create(sched, mem, "bench");
      mmu = new Mmu(mem);
      mm = mmu.newContext(pt, "bench");
      page = mem.allocPages(Gfp.KERNEL | Gfp.ZERO, 0, "bench");
      PageTables.Slot pte = pt.allocToPte(ADDR);
      pt.store(pte, Entry.make(page.pfn(), Entry.WRITE | Entry.USER), "set_pte_at");
      mem.frames().store64(page.phys() + off, value);
      cpu = sched.cpu();
      tlb = mmu.tlb(cpu);
      mmu.enterUser(cpu, mm);
      raw = Arena.ofAuto().allocate(4096, 4096);
      raw.set(LONG, off, value);
      if (mmu.load64(tlb, mm, ADDR + off) != value || tlb.walks() != 1) {
        throw new IllegalStateException("set-up: the mapping does not work");
      }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
      if (tlb.walks() != 1) {
        throw new IllegalStateException("expected TLB hits only, saw " + tlb.walks() + " walks");
      }
      mmu.enterKernel(cpu);
      mem.release();
    }
  }

  @Benchmark
  public long rawLoad(Machine m) {
    return m.raw.get(LONG, m.off);
  }

  @Benchmark
  public void rawStore(Machine m) {
    m.raw.set(LONG, m.off, m.value);
  }

  @Benchmark
  public long framesLoad(Machine m) {
    return m.mem.frames().load64(m.page.phys() + m.off);
  }

  @Benchmark
  public void framesStore(Machine m) {
    m.mem.frames().store64(m.page.phys() + m.off, m.value);
  }

  @Benchmark
  public long mmuLoad(Machine m) {
    return m.mmu.load64(m.tlb, m.mm, ADDR + m.off);
  }

  @Benchmark
  public Object mmuStore(Machine m) {
    return m.mmu.store64(m.tlb, m.mm, ADDR + m.off, m.value);
  }

  @Benchmark
  public long mmuLoadByCpu(Machine m) {
    return m.mmu.load(m.cpu, m.mm, ADDR + m.off, 8);
  }
}
