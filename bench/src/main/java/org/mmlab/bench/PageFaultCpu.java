package org.mmlab.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.mmlab.explore.NativeSched;
import org.mmlab.kernel.Kernel;
import org.mmlab.kernel.KernelConfig;
import org.mmlab.kernel.Process;

/**
 * will-it-scale's {@code page_fault1} in processes mode on the model, like
 * {@code ./mmlab run page-fault}, but measured after a 3 s warm-up and reported both per wall
 * second and per second of the workers' own CPU time ({@code ThreadMXBean}). On a shared,
 * overloaded machine the wall-clock rate mostly says how much of a core each worker got; faults
 * per thread-CPU-second say how fast the model is while it runs, and comparing it between 1 and 2
 * threads shows what the threads cost each other (shared cache lines, lock waits), independently
 * of whether two cores were free.
 *
 * <p>With {@code separate}, each worker boots a kernel of its own (of the same size each), in the
 * same JVM: what one kernel's shared state costs two workers, apart from what the JVM and the
 * machine cost them (BENCHMARKS §5.5). With {@code one-sched}, the same kernels share one
 * {@link NativeSched}: whether the scheduler's state (CPU lookup, RCU, wait table) is what they
 * share.
 *
 * <p>Run ({@code THREADS} workers, {@code SECONDS} measured after the warm-up, {@code MEMORY}
 * bytes per kernel, default {@code THREADS} × 132 MiB + 16 MiB; figures in
 * {@code docs/BENCHMARKS.md} §5):
 * <pre>
 * ./mmlab build &amp;&amp; java --add-exports java.base/jdk.internal.vm=ALL-UNNAMED \
 *   --add-opens java.base/java.lang=ALL-UNNAMED --enable-native-access=ALL-UNNAMED -XX:+UseParallelGC \
 *   -XX:+UseCondCardMark \
 *   -cp bench/target/benchmarks.jar org.mmlab.bench.PageFaultCpu THREADS SECONDS [shared|separate|one-sched [MEMORY]]
 * </pre>
 * (the launcher's flags; without {@code -XX:+UseCondCardMark} two workers on one kernel lose
 * 5-20% each to the collector's card table, BENCHMARKS §5.6).
 */
public final class PageFaultCpu {
  private PageFaultCpu() {}

  public static void main(String[] a) throws Exception {
    int threads = Integer.parseInt(a[0]);
    double seconds = Double.parseDouble(a[1]);
    String mode = a.length > 2 ? a[2] : "shared";
    if (!List.of("shared", "separate", "one-sched").contains(mode)) {
      throw new IllegalArgumentException("mode must be shared, separate or one-sched: " + mode);
    }
    boolean separate = !mode.equals("shared");
    long memory = a.length > 3 ? Long.parseLong(a[3]) : threads * (PageFault1.MEMSIZE + (4L << 20)) + (16L << 20);
    int kernels = separate ? threads : 1;
    NativeSched oneSched = mode.equals("one-sched") ? new NativeSched() : null;
    List<Kernel> ks = new ArrayList<>();
    for (int i = 0; i < kernels; i++) {
      ks.add(new Kernel(oneSched != null ? oneSched : new NativeSched(), KernelConfig.DEFAULT.withMemory(memory)));
    }
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    long[] faults = new long[threads];
    long[] cpu = new long[threads];
    List<Thread> ts = new ArrayList<>();
    CountDownLatch go = new CountDownLatch(1);
    long[] start = new long[1];
    long[] mstart = new long[threads];
    for (int i = 0; i < threads; i++) {
      int idx = i;
      Kernel k = ks.get(separate ? i : 0);
      NativeSched sched = (NativeSched) k.sched();
      Process p = k.spawn();
      Thread t = new Thread(() -> {
        sched.attach("cpu" + idx);
        try {
          go.await();
          long warmEnd = start[0] + 3_000_000_000L;
          long deadline = warmEnd + (long) (seconds * 1e9);
          // The counts stay in locals until the end: faults[] is one array the workers share,
          // and a store into it per fault made the two cores fight over its cache line (the
          // figures of BENCHMARKS §5.1 and §5.2 taken with this class before that include it).
          long[] c0 = {-1};
          long[] measuredFrom = {0};
          long n = PageFault1.run(p, total -> {
            long now = System.nanoTime();
            if (c0[0] < 0 && now >= warmEnd) {
              c0[0] = mx.getCurrentThreadCpuTime();
              measuredFrom[0] = total;
              mstart[idx] = now;
            }
            return now >= deadline;
          });
          faults[idx] = n - measuredFrom[0];
          cpu[idx] = mx.getCurrentThreadCpuTime() - c0[0];
        } catch (InterruptedException e) {
          throw new RuntimeException(e);
        } finally {
          sched.detach();
        }
      });
      ts.add(t);
      t.start();
    }
    start[0] = System.nanoTime();
    go.countDown();
    for (Thread t : ts) {
      t.join();
    }
    double wall = (System.nanoTime() - mstart[0]) / 1e9;
    long total = 0;
    long cpuTotal = 0;
    for (int i = 0; i < threads; i++) {
      total += faults[i];
      cpuTotal += cpu[i];
    }
    System.out.printf("threads %d, %s: %,d faults, %,.0f faults/s wall, %,.0f faults per thread-CPU-s (CPU %.2f s of %.2f s wall x %d)%n",
        threads, mode.equals("shared") ? "one kernel" : mode.equals("separate") ? "a kernel each" : "a kernel each, one scheduler", total, total / wall, total / (cpuTotal / 1e9), cpuTotal / 1e9,
        wall, threads);
    for (Kernel k : ks) {
      if (oneSched == null || k == ks.get(0)) {
        k.sched().releaseAll();
      }
    }
  }
}
