package org.mmlab.bench;

import java.util.concurrent.TimeUnit;
import org.mmlab.explore.NativeSched;
import org.mmlab.kernel.Kernel;
import org.mmlab.kernel.KernelConfig;
import org.mmlab.kernel.Process;
import org.mmlab.kernel.Uapi;
import org.mmlab.mm.mmap.MmapLimits;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The whole system-call round of the goal: {@code mmap} of one anonymous page, one write
 * fault on it, {@code munmap}, in a process that already has {@code vmas} mappings (100, 10,000,
 * 100,000; goal: at most 2x from 100 to 100,000). Everything goes through the model's syscall
 * surface on a natively booted kernel: the VMA tree, the per-VMA lock fault path, page-table
 * allocation and freeing, the buddy allocator and its per-CPU lists, the TLB gather.
 *
 * <p>Set-up: {@code vmas} one-page mappings at {@code 0x10_0000_0000 + 2 i} pages, each followed
 * by a one-page hole; protections alternate {@code PROT_READ} / {@code PROT_NONE}, so nothing
 * merges (with the holes, not even with the benchmark's read-write page). {@code vm.max_map_count}
 * is raised to 200,000 (a real process needs the same sysctl for 100,000 mappings).
 * <ul>
 *   <li>{@code top}: {@code mmap(NULL, 4096, RW)} (placed top-down below {@code mmap_base}, far
 *       above the set-up mappings, like page_fault1's mapping), a store, {@code munmap};</li>
 *   <li>{@code hole}: the same with a hint, the hole after a pseudo-random mapping (the page then
 *       sits between two mappings, its tables are allocated and freed each time).</li>
 * </ul>
 * One thread (attached as the CPU), one process.
 *
 * <p>Run (about 2 minutes; figures in {@code docs/BENCHMARKS.md} §6):
 * <pre>
 * ./mmlab bench MmapFaultMunmapBench -wi 3 -w 1s -i 5 -r 1s -f 1
 * </pre>
 * On a loaded machine the wall clock mostly measures how long the thread waited for a core. The
 * class's {@link #main} measures the same rounds in the benchmark thread's CPU time instead
 * (median and minimum of 31 batches of 2,000 rounds after 20,000 warm-up rounds, per size and
 * shape), which the load affects much less:
 * <pre>
 * ./mmlab build &amp;&amp; java --add-exports java.base/jdk.internal.vm=ALL-UNNAMED \
 *   --add-opens java.base/java.lang=ALL-UNNAMED --enable-native-access=ALL-UNNAMED -XX:+UseParallelGC -Xmn64m \
 *   -cp bench/target/benchmarks.jar org.mmlab.bench.MmapFaultMunmapBench [VMAS...]
 * </pre>
 * Kernel counterparts: {@code do_mmap}, {@code handle_mm_fault} ({@code do_anonymous_page}),
 * {@code do_vmi_munmap}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "-Xmn64m")
@State(Scope.Thread)
public class MmapFaultMunmapBench {
  private static final long BASE = 0x10_0000_0000L;
  private static final long PAGE = Uapi.PAGE_SIZE;
  private static final int RW = Uapi.PROT_READ | Uapi.PROT_WRITE;
  private static final int ANON = Uapi.MAP_PRIVATE | Uapi.MAP_ANONYMOUS;

  @Param({"100", "10000", "100000"})
  int vmas;

  private NativeSched sched;
  private Kernel kernel;
  private Process proc;
  /** xorshift state for {@code hole}'s choice. */
  private long rng = 0x9E37_79B9_7F4A_7C15L;

  @Setup(Level.Trial)
  public void boot() {
    BenchEnv.print();
    sched = new NativeSched();
    kernel = new Kernel(sched, KernelConfig.DEFAULT.withLimits(MmapLimits.DEFAULT.withMaxMapCount(200_000)));
    sched.attach("bench");
    proc = kernel.spawn();
    for (int i = 0; i < vmas; i++) {
      int prot = i % 2 == 0 ? Uapi.PROT_READ : Uapi.PROT_NONE;
      long a = proc.mmap(BASE + 2L * i * PAGE, PAGE, prot, ANON | Uapi.MAP_FIXED, -1, 0);
      if (a != BASE + 2L * i * PAGE) {
        throw new IllegalStateException("set-up mmap " + i + " returned " + a);
      }
    }
    if (proc.mm().mapCount() != vmas) {
      throw new IllegalStateException(proc.mm().mapCount() + " VMAs after set-up, expected " + vmas);
    }
  }

  @TearDown(Level.Trial)
  public void shutdown() {
    proc.exit();
    sched.consistencyWalk();
    sched.detach();
    sched.releaseAll();
  }

  @Benchmark
  public long top() {
    return round(0);
  }

  @Benchmark
  public long hole() {
    rng ^= rng << 13;
    rng ^= rng >>> 7;
    rng ^= rng << 17;
    long i = Long.remainderUnsigned(rng, vmas);
    return round(BASE + (2 * i + 1) * PAGE);
  }

  /** Per-thread CPU time per round, median and minimum over batches, for every size (or those given as arguments) and shape (see the class notes). */
  public static void main(String[] args) {
    java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
    int warm = 20_000;
    int batches = 31;
    int perBatch = 2_000;
    int[] sizes = args.length == 0 ? new int[] {100, 10_000, 100_000}
        : java.util.Arrays.stream(args).mapToInt(Integer::parseInt).toArray();
    for (int n : sizes) {
      MmapFaultMunmapBench b = new MmapFaultMunmapBench();
      b.vmas = n;
      b.boot();
      for (String shape : new String[] {"top", "hole"}) {
        boolean top = shape.equals("top");
        for (int i = 0; i < warm; i++) {
          long unused = top ? b.top() : b.hole();
        }
        long[] ns = new long[batches];
        for (int k = 0; k < batches; k++) {
          long c0 = mx.getCurrentThreadCpuTime();
          for (int i = 0; i < perBatch; i++) {
            long unused = top ? b.top() : b.hole();
          }
          ns[k] = (mx.getCurrentThreadCpuTime() - c0) / perBatch;
        }
        java.util.Arrays.sort(ns);
        System.out.printf("%-5s vmas=%,7d  CPU ns/round: median %,6d  min %,6d%n", shape, n, ns[batches / 2], ns[0]);
      }
      b.shutdown();
    }
  }

  private long round(long hint) {
    long a = proc.mmap(hint, PAGE, RW, ANON, -1, 0);
    if (hint != 0 && a != hint) {
      throw new IllegalStateException("mmap placed the page at " + a + ", not at the hole " + hint);
    }
    if (proc.store(a + 8, 8, a) != null) {
      throw new IllegalStateException("store faulted");
    }
    if (proc.munmap(a, PAGE) != 0) {
      throw new IllegalStateException("munmap failed");
    }
    return a;
  }
}
