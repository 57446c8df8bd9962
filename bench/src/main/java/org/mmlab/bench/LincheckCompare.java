package org.mmlab.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.jetbrains.lincheck.Lincheck;
import org.jetbrains.lincheck.LincheckSettings;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.mmlab.explore.ExploreResult;
import org.mmlab.explore.Explorer;
import org.mmlab.lab.Catalog;
import org.mmlab.lab.Scenario;
import org.mmlab.lab.Variant;

/**
 * Lincheck 3.7's model checker against the mmlab explorer on the same small programs, in one
 * JVM, one thread driving each (a plain {@code main}: JMH does not fit Lincheck, which attaches
 * an agent and runs its own threads).
 *
 * <h2>Programs</h2>
 * <ul>
 *   <li><b>counter 2x4</b>, the classic {@code lost-update} scenario's fixed variant: two
 *       threads each do 4 atomic increments of one counter; the end check wants 8. mmlab: the
 *       catalog's {@code lost-update update=atomic} (10 steps). Lincheck: the same body with
 *       {@link AtomicLong#incrementAndGet()} in two {@code Thread}s under
 *       {@link Lincheck#runConcurrentTest(int, Runnable)}, and also as a data-structure test
 *       ({@link ModelCheckingOptions}, 2 threads x 4 {@code @Operation inc()} on an
 *       {@link AtomicInteger}, linearizability checked).</li>
 *   <li><b>locked counter 2xR</b>, the {@link Synthetic} program: two threads each do R rounds
 *       of lock / atomic increment / unlock. mmlab: {@link org.mmlab.sync.Spinlock} +
 *       {@link org.mmlab.sync.Atomic}; Lincheck: {@link ReentrantLock} + {@link AtomicLong}.
 *       R = 4 and R = 64 (386 steps, the explorer's benchmark shape).</li>
 *   <li><b>lost update, buggy</b>: the racy read-then-write increment; wall time until each tool
 *       reports the bug (mmlab: search, replay, shrink and report; Lincheck: search and trace
 *       collection).</li>
 * </ul>
 * In the Lincheck bodies the shared state is published through a static field (see
 * {@link #shared}): with the state only captured by the threads' lambdas Lincheck 3.7 treats it
 * as thread-local, inserts no switch points on it and misses the lost update; the run prints
 * that case too.
 *
 * <h2>Counting</h2>
 * mmlab: {@link ExploreResult#executions()} over {@link ExploreResult#elapsedNanos()} of one
 * {@code explore} call (a DFS that exhausts its preemption bound stops early: its figure is the
 * time to explore everything, marked "exhausted").
 * Lincheck: invocations are counted, not assumed: {@code runConcurrentTest} bodies count their runs
 * in an instance field ({@link Counted}), data-structure tests count test-instance constructions
 * (the sequential specification is a separate class); a mismatch with the requested number is
 * printed (Lincheck stops early when it has explored every interleaving it considers). Time is
 * {@link System#nanoTime()} around the whole {@code runConcurrentTest}/{@code check} call, agent
 * attach and detach included, at two sizes, to separate the fixed cost of a check from the
 * marginal cost of an invocation (see {@link #lincheck}). Each figure is the median of the timed
 * repetitions after warm-up repetitions. mmlab runs before and again after Lincheck, to show
 * whether Lincheck's instrumentation left the JVM slower.
 *
 * <p>Run (about 2.5 minutes; the launcher's flags plus the dynamic agent; figures in
 * {@code docs/BENCHMARKS.md}):
 * <pre>
 * ./mmlab build
 * /usr/lib/jvm/temurin-25-jdk-amd64/bin/java -XX:+EnableDynamicAgentLoading \
 *   --add-exports java.base/jdk.internal.vm=ALL-UNNAMED --add-opens java.base/java.lang=ALL-UNNAMED \
 *   -XX:+UseParallelGC -cp bench/target/benchmarks.jar org.mmlab.bench.LincheckCompare
 * </pre>
 * Options: {@code --quick} (fewer repetitions), {@code --lincheck-invocations N} (default 2000 per
 * check; each Lincheck program is also timed at N / 10 to separate the fixed cost of a check).
 */
public final class LincheckCompare {
  private static final AtomicLong DS_INSTANCES = new AtomicLong();

  private static int warmups = 2;
  private static int reps = 5;
  private static int lincheckInvocations = 2000;

  private LincheckCompare() {}

  /** One measured rate. */
  record Rate(String tool, String program, String how, long count, double seconds, double marginal,
      double fixedSeconds) {
    Rate(String tool, String program, String how, long count, double seconds) {
      this(tool, program, how, count, seconds, Double.NaN, Double.NaN);
    }

    double perSecond() {
      return count / seconds;
    }
  }

  public static void main(String[] args) throws Exception {
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--quick" -> {
          warmups = 1;
          reps = 2;
        }
        case "--lincheck-invocations" -> lincheckInvocations = Integer.parseInt(args[++i]);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    BenchEnv.print();
    System.out.printf("warm-up repetitions %d, timed repetitions %d (median shown), Lincheck invocations per"
        + " check %d and %d%n%n", warmups, reps, lincheckInvocations, Math.max(1, lincheckInvocations / 10));

    Scenario lost = Catalog.byName("lost-update").orElseThrow();
    Explorer.Program lostFixed = lost.program(Variant.parse(lost, List.of("update=atomic")));
    Explorer.Program lostBuggy = lost.program(Variant.parse(lost, List.of("update=read-write")));

    List<Rate> before = new ArrayList<>();
    before.add(mmlab("counter 2x4 (lost-update, atomic)", "random", lostFixed, 20_000));
    before.add(mmlab("counter 2x4 (lost-update, atomic)", "dfs", lostFixed, 20_000));
    before.add(mmlab("locked counter 2x4", "random", Synthetic.program(2, 4), 20_000));
    before.add(mmlab("locked counter 2x4", "dfs", Synthetic.program(2, 4), 20_000));
    before.add(mmlab("locked counter 2x64", "random", Synthetic.program(2, 64), 2_000));
    before.add(mmlab("locked counter 2x64", "dfs", Synthetic.program(2, 64), 2_000));
    Rate mmBug = mmlabBug(lostBuggy);

    List<Rate> lin = new ArrayList<>();
    lin.add(lincheckLambda("counter 2x4 (lost-update, atomic)", LincheckCompare::atomicCounter));
    lin.add(lincheckDataStructure("counter 2x4 (lost-update, atomic)"));
    lin.add(lincheckLambda("locked counter 2x4", () -> lockedCounter(4)));
    lin.add(lincheckLambda("locked counter 2x64", () -> lockedCounter(64)));
    Rate linBug = lincheckBug();
    String captured = lincheckCaptured();

    List<Rate> after = new ArrayList<>();
    after.add(mmlab("counter 2x4 (lost-update, atomic)", "random", lostFixed, 20_000));
    after.add(mmlab("locked counter 2x4", "random", Synthetic.program(2, 4), 20_000));
    after.add(mmlab("locked counter 2x64", "random", Synthetic.program(2, 64), 2_000));

    System.out.println();
    System.out.println("=== rates (median of " + reps + " timed repetitions) ===");
    System.out.printf("%-9s %-36s %-34s %10s %12s %12s %10s%n", "tool", "program", "how", "count", "per second",
        "marginal/s", "fixed ms");
    for (List<Rate> l : List.of(before, lin, after)) {
      for (Rate r : l) {
        System.out.printf(Locale.ROOT, "%-9s %-36s %-34s %10d %12.1f %12.1f %10.0f%n", r.tool(),
            r.program(), (l == after ? "after Lincheck: " : "") + r.how(), r.count(), r.perSecond(), r.marginal(),
            r.fixedSeconds() * 1e3);
      }
    }
    System.out.println();
    System.out.println("=== ratios: mmlab executions/s over Lincheck invocations/s, same program ===");
    System.out.println("    (whole check = Lincheck's rate over a whole check; marginal = without its fixed cost)");
    for (Rate l : lin) {
      for (Rate m : before) {
        if (m.program().equals(l.program()) && !m.how().contains("exhausted")) {
          System.out.printf(Locale.ROOT, "%-36s mmlab %-6s / Lincheck %-34s whole check %7.1fx, marginal %7.1fx%n",
              l.program(), m.how(), l.how(), m.perSecond() / l.perSecond(), m.perSecond() / l.marginal());
        }
      }
    }
    System.out.println();
    System.out.println("=== lost update (buggy): wall time to a reported bug, median ===");
    System.out.printf(Locale.ROOT, "mmlab    %-40s %9.1f ms (%d executions)%n", mmBug.how(), mmBug.seconds() * 1e3,
        mmBug.count());
    System.out.printf(Locale.ROOT, "Lincheck %-40s %9.1f ms (%d invocations)%n", linBug.how(), linBug.seconds() * 1e3,
        linBug.count());
    System.out.printf(Locale.ROOT, "ratio (Lincheck time / mmlab time) = %.1fx%n", linBug.seconds() / mmBug.seconds());
    System.out.println(captured);
    System.out.println();
    System.out.println("=== mmlab before vs after Lincheck ran in this JVM (random walk) ===");
    for (Rate a : after) {
      for (Rate b : before) {
        if (b.program().equals(a.program()) && b.how().equals(a.how())) {
          System.out.printf(Locale.ROOT, "%-36s before %10.1f/s  after %10.1f/s  (after/before %.2f)%n", a.program(),
              b.perSecond(), a.perSecond(), a.perSecond() / b.perSecond());
        }
      }
    }
  }

  // ------------------------------------------------------------ mmlab

  private static Rate mmlab(String program, String strategy, Explorer.Program p, long executions) {
    Explorer.Config cfg = Explorer.Config.defaults().withStrategy(strategy).withExecutions(executions);
    Explorer explorer = new Explorer(p, cfg);
    long[] count = new long[reps];
    double[] secs = new double[reps];
    long steps = 0;
    boolean exhausted = false;
    for (int i = 0; i < warmups + reps; i++) {
      ExploreResult r = Synthetic.clean(explorer.explore(null), program);
      if (i >= warmups) {
        count[i - warmups] = r.executions();
        secs[i - warmups] = r.elapsedNanos() / 1e9;
        steps = r.totalSteps() / Math.max(1, r.executions());
        exhausted = r.exhausted();
      }
    }
    Rate rate = median("mmlab", program, strategy, count, secs);
    if (exhausted) {
      rate = new Rate("mmlab", program, strategy + " (exhausted)", rate.count(), rate.seconds());
      System.out.printf(Locale.ROOT, "mmlab    %-36s %-10s explored everything within its bound in %d executions, %.2f ms%n",
          program, strategy, rate.count(), rate.seconds() * 1e3);
    }
    System.out.printf(Locale.ROOT, "mmlab    %-36s %-10s %9.0f executions/s (%d executions of %d steps per repetition)%n",
        program, strategy, rate.perSecond(), rate.count(), steps);
    return rate;
  }

  private static Rate mmlabBug(Explorer.Program buggy) {
    Explorer explorer = new Explorer(buggy, Explorer.Config.defaults().withStrategy("random"));
    long[] count = new long[reps];
    double[] secs = new double[reps];
    for (int i = 0; i < warmups + reps; i++) {
      ExploreResult r = explorer.explore(null);
      if (r.verdict() == null) {
        throw new IllegalStateException("mmlab did not find the lost update");
      }
      if (i >= warmups) {
        count[i - warmups] = r.bugAtExecution() + 1;
        secs[i - warmups] = r.elapsedNanos() / 1e9;
      }
    }
    return median("mmlab", "lost update (buggy)", "random walk, to a shrunk report", count, secs);
  }

  // ------------------------------------------------------------ Lincheck

  /** The shared state of one Lincheck invocation. */
  static final class Shared {
    final ReentrantLock lock = new ReentrantLock();
    final AtomicLong counter = new AtomicLong();
    volatile long racy;
  }

  /**
   * Published through a static field before the threads start, and read back from it by them.
   * Lincheck 3.7 decides which objects are shared by watching references escape; an object
   * created in the body and only captured by the threads' lambdas stays "local" to it, and
   * accesses to it are not switch points (see {@link #lincheckCaptured}). The static makes
   * every access a switch point, as every mmlab primitive access is a scheduling point.
   */
  static volatile Shared shared;

  /** Lincheck body: two threads x 4 atomic increments, then the end check. */
  static void atomicCounter() {
    shared = new Shared();
    Runnable inc = () -> {
      Shared s = shared;
      for (int i = 0; i < 4; i++) {
        s.counter.incrementAndGet();
      }
    };
    runTwo(inc, inc);
    if (shared.counter.get() != 8) {
      throw new AssertionError("counter " + shared.counter.get());
    }
  }

  /** Lincheck body: two threads x {@code rounds} lock / atomic increment / unlock. */
  static void lockedCounter(int rounds) {
    shared = new Shared();
    Runnable inc = () -> {
      Shared s = shared;
      for (int i = 0; i < rounds; i++) {
        s.lock.lock();
        s.counter.incrementAndGet();
        s.lock.unlock();
      }
    };
    runTwo(inc, inc);
    if (shared.counter.get() != 2L * rounds) {
      throw new AssertionError("counter " + shared.counter.get());
    }
  }

  /** Lincheck body: the lost update, two threads x 4 read-then-write increments. */
  static void racyCounter() {
    shared = new Shared();
    Runnable inc = () -> {
      Shared s = shared;
      for (int i = 0; i < 4; i++) {
        long v = s.racy;
        s.racy = v + 1;
      }
    };
    runTwo(inc, inc);
    if (shared.racy != 8) {
      throw new AssertionError("lost update: counter " + shared.racy);
    }
  }

  /** The same lost update, with the state only captured by the lambdas (never in a static). */
  static void racyCounterCaptured() {
    Shared c = new Shared();
    Runnable inc = () -> {
      for (int i = 0; i < 4; i++) {
        long v = c.racy;
        c.racy = v + 1;
      }
    };
    runTwo(inc, inc);
    if (c.racy != 8) {
      throw new AssertionError("lost update: counter " + c.racy);
    }
  }

  /**
   * A Lincheck body that counts its runs in an instance field. Not a static: Lincheck's snapshot
   * tracker restores static state, and everything reachable from it, after every invocation (a
   * static counter reads 0 afterwards); the body object is reachable only from Lincheck's runner.
   */
  static final class Counted implements Runnable {
    private final Runnable body;
    long runs;

    Counted(Runnable body) {
      this.body = body;
    }

    @Override
    public void run() {
      runs++;
      body.run();
    }
  }

  /**
   * Lincheck's settings for these programs: its defaults (analyzeStdLib, 10 loop iterations
   * before a forced switch, recursion bound 20) but a loop bound of {@value #LOOP_BOUND}: with the
   * default bound of 50, Lincheck 3.7 reports the correct 2x64 locked counter as "Concurrent test
   * has hung" (a false livelock) once one thread's loop passes 50 iterations. The setting is not
   * public in {@code runConcurrentTest}; its internal overload is (Kotlin {@code internal}).
   */
  static final int LOOP_BOUND = 10_000;

  static final LincheckSettings SETTINGS = new LincheckSettings(true, 10, LOOP_BOUND, 20);

  private static void runConcurrentTest(int invocations, Runnable body) {
    Lincheck.runConcurrentTestInternal$lincheck(invocations, SETTINGS, body);
  }

  private static void runTwo(Runnable a, Runnable b) {
    Thread t1 = new Thread(a);
    Thread t2 = new Thread(b);
    t1.start();
    t2.start();
    try {
      t1.join();
      t2.join();
    } catch (InterruptedException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Runs one Lincheck check of {@code invocations} invocations; returns the invocations it ran. */
  @FunctionalInterface
  interface Check {
    long run(int invocations);
  }

  private static Rate lincheckLambda(String program, Runnable body) {
    return lincheck(program, "runConcurrentTest", n -> {
      Counted counted = new Counted(body);
      runConcurrentTest(n, counted);
      return counted.runs;
    });
  }

  /**
   * Times {@code check} at {@link #lincheckInvocations} invocations and at a tenth of that. The
   * rate over the whole check is the large run's; the marginal rate, (n_large - n_small) /
   * (t_large - t_small), leaves out the fixed cost of a check (agent attach, instrumentation,
   * detach), which the fixed cost = t_small - n_small / marginal estimates.
   */
  private static Rate lincheck(String program, String how, Check check) {
    int large = lincheckInvocations;
    int small = Math.max(1, large / 10);
    Rate atSmall = null;
    Rate atLarge = null;
    for (int n : new int[] {small, large}) {
      long[] count = new long[reps];
      double[] secs = new double[reps];
      for (int i = 0; i < warmups + reps; i++) {
        long t0 = System.nanoTime();
        long runs = check.run(n);
        long t1 = System.nanoTime();
        if (i >= warmups) {
          count[i - warmups] = runs;
          secs[i - warmups] = (t1 - t0) / 1e9;
        }
        if (runs != n) {
          System.out.printf("  (Lincheck ran %d invocations for %d requested)%n", runs, n);
        }
      }
      Rate r = median("Lincheck", program, how, count, secs);
      if (n == small) {
        atSmall = r;
      } else {
        atLarge = r;
      }
    }
    double marginal = (atLarge.count() - atSmall.count()) / (atLarge.seconds() - atSmall.seconds());
    double fixed = atSmall.seconds() - atSmall.count() / marginal;
    Rate rate = new Rate("Lincheck", program, how, atLarge.count(), atLarge.seconds(), marginal, fixed);
    System.out.printf(Locale.ROOT, "Lincheck %-36s %-26s %9.1f invocations/s over the whole check of %d (%.1f at"
        + " %d); marginal %.1f/s, fixed cost of a check %.0f ms%n", program, how, rate.perSecond(), atLarge.count(),
        atSmall.perSecond(), atSmall.count(), marginal, fixed * 1e3);
    return rate;
  }

  /** Data-structure test: 2 threads x 4 {@code inc()} on an atomic counter, linearizability. */
  public static class CounterTest {
    private final AtomicInteger c = new AtomicInteger();

    public CounterTest() {
      DS_INSTANCES.incrementAndGet();
    }

    @Operation
    public int inc() {
      return c.incrementAndGet();
    }
  }

  /** The sequential specification of {@link CounterTest} (kept apart so its instances are not counted). */
  public static class CounterSpec {
    private int c;

    @Operation
    public int inc() {
      return ++c;
    }
  }

  private static Rate lincheckDataStructure(String program) {
    int iterations = 5;
    return lincheck(program, "ModelCheckingOptions, " + iterations + " iterations", n -> {
      int perIteration = Math.max(1, n / iterations);
      long n0 = DS_INSTANCES.get();
      new ModelCheckingOptions().iterations(iterations).invocationsPerIteration(perIteration).threads(2)
          .actorsPerThread(4).actorsBefore(0).actorsAfter(0).sequentialSpecification(CounterSpec.class)
          .minimizeFailedScenario(false).check(CounterTest.class);
      return DS_INSTANCES.get() - n0;
    });
  }

  private static Rate lincheckBug() {
    long[] count = new long[reps];
    double[] secs = new double[reps];
    for (int i = 0; i < warmups + reps; i++) {
      Counted counted = new Counted(LincheckCompare::racyCounter);
      long t0 = System.nanoTime();
      boolean found = false;
      try {
        runConcurrentTest(100_000, counted);
      } catch (AssertionError e) {
        found = true;
      }
      long t1 = System.nanoTime();
      if (!found) {
        throw new IllegalStateException("Lincheck did not find the lost update");
      }
      if (i >= warmups) {
        count[i - warmups] = counted.runs;
        secs[i - warmups] = (t1 - t0) / 1e9;
      }
    }
    return median("Lincheck", "lost update (buggy)", "runConcurrentTest, to its report (body runs)", count, secs);
  }

  /**
   * The lost update with the counter object only captured by the threads' lambdas: how many
   * interleavings Lincheck runs and whether it reports the bug.
   */
  private static String lincheckCaptured() {
    Counted counted = new Counted(LincheckCompare::racyCounterCaptured);
    long t0 = System.nanoTime();
    String outcome;
    try {
      runConcurrentTest(10_000, counted);
      outcome = "no bug reported";
    } catch (AssertionError e) {
      outcome = "bug reported";
    }
    long t1 = System.nanoTime();
    return String.format(Locale.ROOT, "Lincheck, same bug with the counter captured by the lambdas (not in a static):"
        + " %s after %d body runs (10000 requested), %.1f ms", outcome, counted.runs, (t1 - t0) / 1e6);
  }

  // ------------------------------------------------------------ helpers

  /** The repetition with the median rate. */
  private static Rate median(String tool, String program, String how, long[] count, double[] secs) {
    Integer[] idx = new Integer[count.length];
    for (int i = 0; i < idx.length; i++) {
      idx[i] = i;
    }
    Arrays.sort(idx, (a, b) -> Double.compare(count[a] / secs[a], count[b] / secs[b]));
    int m = idx[idx.length / 2];
    return new Rate(tool, program, how, count[m], secs[m]);
  }
}
