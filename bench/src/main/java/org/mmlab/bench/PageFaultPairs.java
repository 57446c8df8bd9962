package org.mmlab.bench;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import org.mmlab.explore.NativeSched;
import org.mmlab.explore.OpKind;
import org.mmlab.kernel.Kernel;
import org.mmlab.kernel.KernelConfig;
import org.mmlab.kernel.Process;
import org.mmlab.sync.Completion;

/**
 * What a second busy thread costs a page_fault1 worker, and what two workers on one kernel
 * scale to, measured by alternation inside one JVM. Worker 0 runs will-it-scale's
 * {@code page_fault1} loop without pause on kernel A while, phase by phase, a partner runs beside
 * it or nothing does. Phases of P seconds cycle through
 * <ol>
 *   <li>{@code solo}: worker 0 alone;</li>
 *   <li>{@code same}: a second page_fault1 worker with a process of its own on kernel A: what
 *       {@code ./mmlab run page-fault --threads 2} runs;</li>
 *   <li>{@code other}: a second worker on kernel B, booted with its own {@link NativeSched} in
 *       the same JVM: it shares the JVM and the machine, nothing of the model;</li>
 *   <li>{@code spin}: a plain Java arithmetic loop on another thread: the second core busy, and
 *       nothing else shared;</li>
 * </ol>
 * with a {@code solo} phase between any two partnered ones. Each partnered phase is compared
 * with the mean of the two solo phases around it, so that the machine's slow drift (a shared
 * host) cancels; the medians over the rounds are the result:
 * <ul>
 *   <li>worker 0's faults per second of its own CPU time ({@code ThreadMXBean}), partnered ÷
 *       solo: what the neighbour costs it while it runs (shared cache lines, lock waits);</li>
 *   <li>for {@code same} and {@code other}, both workers' faults per wall second ÷ worker 0's
 *       alone: the two-thread scaling, which also pays for the JIT, the collector and
 *       {@code rcuo} no longer having a core to themselves.</li>
 * </ul>
 * The main thread takes every reading (worker 0's and the partner's CPU clocks, the fault
 * counts the workers publish every 256 faults); the first 100 ms of each phase are not counted
 * (the partner wakes, refills its caches).
 *
 * <p>A paused model partner waits in {@link NativeSched#await} as a sleeping wait: its CPU is idle
 * for RCU meanwhile, and it keeps its CPU, its per-CPU lists and its half-done mapping.
 *
 * <p>Run (figures in {@code docs/BENCHMARKS.md} §5.6):
 * <pre>
 * ./mmlab build &amp;&amp; java --add-exports java.base/jdk.internal.vm=ALL-UNNAMED \
 *   --add-opens java.base/java.lang=ALL-UNNAMED --enable-native-access=ALL-UNNAMED -XX:+UseParallelGC \
 *   -XX:+UseCondCardMark -cp bench/target/benchmarks.jar org.mmlab.bench.PageFaultPairs \
 *   [PHASE_SECONDS [ROUNDS [WARMUP_SECONDS [MEMORY]]]]
 * </pre>
 * (defaults 0.5 s, 24 rounds, 6 s of warm-up in which the partners run in turn, 8 GiB per kernel:
 * the size of {@code ./mmlab run}'s default model on this machine, where each process's pages come
 * from pageblocks of its own; two processes in a zone just big enough interleave their pages).
 */
public final class PageFaultPairs {
  private PageFaultPairs() {}

  static final String[] KINDS = {"solo", "same", "other", "spin"};
  static final int SOLO = 0, SAME = 1, OTHER = 2, SPIN = 3;
  /** Before the first phase: every partner runs (the warm-up). */
  static final int ALL = -1;
  static final int DONE = -2;

  /** The current phase's kind. Written by main. */
  static volatile int phase = ALL;

  /** A worker's published fault count, alone on its cache lines. */
  @SuppressWarnings("unused")
  static final class Count {
    long p1, p2, p3, p4, p5, p6, p7;
    long faults;
    long q1, q2, q3, q4, q5, q6, q7;
    static final VarHandle FAULTS;

    static {
      try {
        FAULTS = MethodHandles.lookup().findVarHandle(Count.class, "faults", long.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    long read() {
      return (long) FAULTS.getOpaque(this);
    }
  }

  /** One counted phase: its kind and the differences over its counted part. */
  record Reading(int kind, long nanos, long w0Faults, long w0Cpu, long partnerFaults, long partnerCpu, long processCpu) {}

  public static void main(String[] a) throws Exception {
    double phaseSecs = a.length > 0 ? Double.parseDouble(a[0]) : 0.5;
    int rounds = a.length > 1 ? Integer.parseInt(a[1]) : 24;
    double warmSecs = a.length > 2 ? Double.parseDouble(a[2]) : 6;
    long memory = a.length > 3 ? Long.parseLong(a[3]) : 8L << 30;
    Kernel ka = new Kernel(new NativeSched(), KernelConfig.DEFAULT.withMemory(memory));
    Kernel kb = new Kernel(new NativeSched(), KernelConfig.DEFAULT.withMemory(memory));
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    com.sun.management.OperatingSystemMXBean os =
        (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

    Count[] counts = {new Count(), new Count(), new Count()};
    Thread w0 = worker(ka, "w0", SOLO, counts[SOLO]);
    Thread same = worker(ka, "same", SAME, counts[SAME]);
    Thread other = worker(kb, "other", OTHER, counts[OTHER]);
    Thread spin = Thread.ofPlatform().name("spin").start(() -> {
      long x = 1;
      long y = 2;
      for (int ph; (ph = phase) != DONE; ) {
        if (ph == SPIN || ph == ALL) {
          for (int i = 0; i < 1_000_000; i++) {
            x += y ^ i;
            y += x * 3;
          }
        } else {
          LockSupport.parkNanos(1_000_000);
        }
      }
      if (x == y) {
        System.out.print("");
      }
    });

    // Warm-up: each partner in turn, so the JIT has seen every path.
    for (int i = 0; i < 3; i++) {
      for (int k : new int[] {SAME, OTHER, SPIN}) {
        phase = k;
        Thread.sleep((long) (warmSecs * 1000 / 9));
      }
    }
    List<Reading> readings = new ArrayList<>();
    int[] cycle = {SOLO, SAME, SOLO, OTHER, SOLO, SPIN};
    long settle = 100;
    long counted = Math.max(1, (long) (phaseSecs * 1000) - settle);
    for (int r = 0; r <= rounds; r++) {
      for (int k : r < rounds ? cycle : new int[] {SOLO}) {
        phase = k;
        Thread.sleep(settle);
        Count partner = k == SAME || k == OTHER ? counts[k] : null;
        long t0 = System.nanoTime();
        long f0 = counts[SOLO].read();
        long c0 = mx.getThreadCpuTime(w0.threadId());
        long p0 = partner == null ? 0 : partner.read();
        Thread partnerThread = k == SAME ? same : k == OTHER ? other : k == SPIN ? spin : null;
        long pc0 = partnerThread == null ? 0 : mx.getThreadCpuTime(partnerThread.threadId());
        long all0 = os.getProcessCpuTime();
        Thread.sleep(counted);
        long t1 = System.nanoTime();
        long f1 = counts[SOLO].read();
        long c1 = mx.getThreadCpuTime(w0.threadId());
        long p1 = partner == null ? 0 : partner.read();
        long pc1 = partnerThread == null ? 0 : mx.getThreadCpuTime(partnerThread.threadId());
        long all1 = os.getProcessCpuTime();
        readings.add(new Reading(k, t1 - t0, f1 - f0, c1 - c0, p1 - p0, pc1 - pc0, all1 - all0));
      }
    }
    phase = DONE;
    for (Thread t : List.of(w0, same, other, spin)) {
      t.join();
    }

    System.out.printf("PageFaultPairs: %.2f s phases, %d rounds, %d MiB per kernel%n", phaseSecs, rounds, memory >> 20);
    List<List<Double>> cpuRatios = new ArrayList<>();
    List<List<Double>> scaling = new ArrayList<>();
    List<List<Double>> soloRates = new ArrayList<>();
    List<List<Double>> partnerRatios = new ArrayList<>();
    List<List<Double>> workersShare = new ArrayList<>();
    List<List<Double>> othersShare = new ArrayList<>();
    for (int k = 0; k < KINDS.length; k++) {
      partnerRatios.add(new ArrayList<>());
      workersShare.add(new ArrayList<>());
      othersShare.add(new ArrayList<>());
      cpuRatios.add(new ArrayList<>());
      scaling.add(new ArrayList<>());
      soloRates.add(new ArrayList<>());
    }
    for (int i = 0; i < readings.size(); i++) {
      Reading r = readings.get(i);
      workersShare.get(r.kind()).add((r.w0Cpu() + r.partnerCpu()) / (double) r.nanos());
      othersShare.get(r.kind()).add((r.processCpu() - r.w0Cpu() - r.partnerCpu()) / (double) r.nanos());
      if (r.kind() == SOLO) {
        soloRates.get(SOLO).add(perCpu(r));
        continue;
      }
      if (i == 0 || i + 1 >= readings.size()) {
        continue;
      }
      Reading before = readings.get(i - 1);
      Reading after = readings.get(i + 1);
      double soloCpu = (perCpu(before) + perCpu(after)) / 2;
      double soloWall = (wall(before.w0Faults(), before) + wall(after.w0Faults(), after)) / 2;
      cpuRatios.get(r.kind()).add(perCpu(r) / soloCpu);
      if (r.partnerCpu() > 0 && r.kind() != SPIN) {
        partnerRatios.get(r.kind()).add(r.partnerFaults() / (r.partnerCpu() / 1e9) / soloCpu);
      }
      scaling.get(r.kind()).add(wall(r.w0Faults() + r.partnerFaults(), r) / soloWall);
    }
    System.out.printf("  solo: worker 0 at %s faults per CPU-second (median, min-max)%n", summary(soloRates.get(SOLO), "%,.0f"));
    for (int k = SAME; k <= SPIN; k++) {
      System.out.printf("  %-5s worker 0 per CPU-second ÷ solo: %s%n", KINDS[k], summary(cpuRatios.get(k), "%.3f"));
      if (k != SPIN) {
        System.out.printf("  %-5s the partner per CPU-second ÷ worker 0 solo: %s%n", KINDS[k], summary(partnerRatios.get(k), "%.3f"));
        System.out.printf("  %-5s both workers per wall second ÷ worker 0 solo (2 ÷ 1 threads): %s%n", KINDS[k],
            summary(scaling.get(k), "%.3f"));
      }
    }
    for (int k = SOLO; k <= SPIN; k++) {
      System.out.printf("  %-5s CPUs used: worker 0 and partner %s, the rest of the JVM %s%n", KINDS[k],
          summary(workersShare.get(k), "%.2f"), summary(othersShare.get(k), "%.3f"));
    }
    ka.sched().releaseAll();
    kb.sched().releaseAll();
  }

  private static double perCpu(Reading r) {
    return r.w0Cpu() <= 0 ? 0 : r.w0Faults() / (r.w0Cpu() / 1e9);
  }

  private static double wall(long faults, Reading r) {
    return faults / (r.nanos() / 1e9);
  }

  /** "median (min-max) over n". */
  private static String summary(List<Double> v, String fmt) {
    if (v.isEmpty()) {
      return "none";
    }
    double[] s = v.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    double med = s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    return String.format(fmt + " (" + fmt + "-" + fmt + ") over %d", med, s[0], s[s.length - 1], s.length);
  }

  /**
   * A page_fault1 worker on {@code k}, publishing its fault count into {@code count} every 256
   * faults. It runs in phases of kind {@code mine} and in the warm-up (worker 0, {@code mine} =
   * {@link #SOLO}, in every phase) and waits, idle, in the others.
   */
  private static Thread worker(Kernel k, String name, int mine, Count count) {
    NativeSched sched = (NativeSched) k.sched();
    Process p = k.spawn();
    return Thread.ofPlatform().name(name).start(() -> {
      sched.attach(name);
      Completion pause = new Completion(sched, "pause-" + name);
      try {
        PageFault1.run(p, n -> {
          Count.FAULTS.setOpaque(count, n);
          int ph = phase;
          if (ph == DONE) {
            return true;
          }
          if (mine != SOLO && ph != mine && ph != ALL) {
            sched.await(OpKind.READ, pause, "paused", () -> phase == mine || phase == DONE, true);
          }
          return false;
        });
      } finally {
        sched.detach();
      }
    });
  }
}
