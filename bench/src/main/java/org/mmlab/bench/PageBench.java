package org.mmlab.bench;

import java.util.concurrent.TimeUnit;
import org.mmlab.explore.CpuBackend;
import org.mmlab.explore.ExploreSched;
import org.mmlab.explore.NativeSched;
import org.mmlab.explore.strategy.RandomWalk;
import org.mmlab.mm.page.Folio;
import org.mmlab.mm.page.FramePool;
import org.mmlab.mm.page.Gfp;
import org.mmlab.mm.page.Page;
import org.mmlab.mm.page.PhysMem;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Physical memory ({@code org.mmlab.mm.page}): what the explorer pays to boot a kernel's memory
 * per execution, and the uncontended cost of the buddy allocator natively.
 *
 * <ul>
 *   <li>{@code bootSchedOnly}: a fresh {@link ExploreSched} (the explorer creates one per
 *       execution anyway): the baseline to subtract;</li>
 *   <li>{@code boot64MiB}: a fresh {@code ExploreSched} and a 64 MiB {@link PhysMem} on it (one
 *       node, one section, sixteen order-10 free blocks, no descriptors, no frames) and its
 *       release. Sample mode: the score's p0.50 is the median boot. Boot = this minus
 *       {@code bootSchedOnly} (goal: 64 MiB in at most 50 µs);</li>
 *   <li>{@code allocFreeOrder0}: {@code alloc_pages(GFP_KERNEL, 0)} + {@code __free_pages} on
 *       one thread ({@link NativeSched}, no lockdep): zone lock, split and merge of the 2 MiB...4
 *       MiB buddies (there are no per-CPU lists in the model), descriptor reset, counters;</li>
 *   <li>{@code folioAllocPutOrder0}: the same through {@code folio_alloc} / {@code folio_put};</li>
 *   <li>{@code allocThenFree1024Order0}: 1,024 order-0 allocations in a row, then their frees
 *       in the same order, per page: the pattern of a fault loop followed by {@code munmap}, where
 *       splits and merges are amortized (about one of each per page) instead of ten;</li>
 *   <li>{@code folioAllocPutOrder9}: a 2 MiB compound folio (512 descriptors linked as tails)
 *       allocated and put.</li>
 * </ul>
 *
 * <p>Run (about 2 minutes):
 * <pre>
 * ./mmlab bench PageBench -wi 3 -w 1s -i 5 -r 1s -f 1
 * </pre>
 * Kernel counterparts: {@code memblock_free_all} at boot, {@code alloc_pages}, {@code __free_pages},
 * {@code folio_alloc}, {@code folio_put}.
 */
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class PageBench {
  private static final long MIB = 1 << 20;
  static final int BATCH = 1024;

  /** A strategy and backend shared by the boots (neither is used: no CPU runs). */
  @State(Scope.Thread)
  public static class Boot {
    RandomWalk strategy;
    CpuBackend backend;
    FramePool pool;

    @Setup(Level.Trial)
    public void setUp() {
      BenchEnv.print();
      strategy = new RandomWalk();
      backend = CpuBackend.best();
      pool = new FramePool(8);
    }
  }

  /** A booted 64 MiB memory, one per thread: uncontended. */
  @State(Scope.Thread)
  public static class Mem {
    PhysMem mem;
    final Page[] batch = new Page[BATCH];

    @Setup(Level.Trial)
    public void setUp() {
      BenchEnv.print();
      mem = new PhysMem(new NativeSched(), 64 * MIB, 1, new FramePool(8));
    }

    @TearDown(Level.Trial)
    public void check() {
      if (mem.peekNrFreePages() != mem.totalPages()) {
        throw new IllegalStateException("pages leaked: " + mem.buddyinfo());
      }
      mem.checkConsistency();
      mem.release();
    }
  }

  @Benchmark
  @BenchmarkMode(Mode.SampleTime)
  @OutputTimeUnit(TimeUnit.NANOSECONDS)
  public ExploreSched bootSchedOnly(Boot b) {
    return new ExploreSched(b.backend, b.strategy, null, 20_000, false, 0);
  }

  @Benchmark
  @BenchmarkMode(Mode.SampleTime)
  @OutputTimeUnit(TimeUnit.NANOSECONDS)
  public PhysMem boot64MiB(Boot b) {
    ExploreSched ex = new ExploreSched(b.backend, b.strategy, null, 20_000, false, 0);
    PhysMem mem = new PhysMem(ex, 64 * MIB, 1, b.pool);
    mem.release();
    return mem;
  }

  @Benchmark
  @BenchmarkMode(Mode.AverageTime)
  @OutputTimeUnit(TimeUnit.NANOSECONDS)
  public long allocFreeOrder0(Mem m) {
    Page p = m.mem.allocPages(Gfp.KERNEL, 0);
    long pfn = p.pfn();
    m.mem.freePages(p, 0);
    return pfn;
  }

  @Benchmark
  @BenchmarkMode(Mode.AverageTime)
  @OutputTimeUnit(TimeUnit.NANOSECONDS)
  @OperationsPerInvocation(BATCH)
  public long allocThenFree1024Order0(Mem m) {
    Page[] pages = m.batch;
    for (int i = 0; i < BATCH; i++) {
      pages[i] = m.mem.allocPages(Gfp.KERNEL, 0);
    }
    long sum = 0;
    for (int i = 0; i < BATCH; i++) {
      sum += pages[i].pfn();
      m.mem.freePages(pages[i], 0);
    }
    return sum;
  }

  @Benchmark
  @BenchmarkMode(Mode.AverageTime)
  @OutputTimeUnit(TimeUnit.NANOSECONDS)
  public long folioAllocPutOrder0(Mem m) {
    Folio f = m.mem.folioAlloc(Gfp.KERNEL, 0);
    long pfn = f.folioPfn();
    f.folioPut();
    return pfn;
  }

  @Benchmark
  @BenchmarkMode(Mode.AverageTime)
  @OutputTimeUnit(TimeUnit.NANOSECONDS)
  public long folioAllocPutOrder9(Mem m) {
    Folio f = m.mem.folioAlloc(Gfp.KERNEL, 9);
    long pfn = f.folioPfn();
    f.folioPut();
    return pfn;
  }
}
