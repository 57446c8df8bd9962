package org.mmlab.bench;

import java.util.List;
import java.util.concurrent.TimeUnit;
import org.mmlab.explore.CpuBackend;
import org.mmlab.explore.ExploreResult;
import org.mmlab.explore.Explorer;
import org.mmlab.lab.Catalog;
import org.mmlab.lab.Scenario;
import org.mmlab.lab.Variant;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Explorer throughput on one core (one driver thread, {@code @Threads(1)}): executions per
 * second and, from them, nanoseconds per step. Every benchmark invocation is one
 * {@link Explorer#explore} call with a fixed execution budget and the default master seed, so
 * every invocation runs the same executions; shrinking never runs because the programs are
 * clean (a verdict makes the benchmark fail).
 *
 * <p>Figures (throughput mode, per second):
 * <ul>
 *   <li>the primary score counts executions ({@code @OperationsPerInvocation} = the budget);</li>
 *   <li>the {@code executions} and {@code steps} secondary scores are counted from the
 *       {@link ExploreResult}s (so a systematic strategy that ran out of schedules early is
 *       still counted right); ns per step = 1e9 / steps-per-second.</li>
 * </ul>
 *
 * <p>Benchmarks:
 * <ul>
 *   <li>{@code scenario}: each fixed (clean) variant of the classic scenarios of
 *       {@link Catalog} ({@code -p scenario=NAME} or {@code -p scenario=NAME:key=value} for one
 *       added later), random walk, continuation backend;</li>
 *   <li>{@code synthetic}: {@link Synthetic} (2 CPUs x {@code rounds} lock/increment/unlock
 *       rounds: 386 steps for 64 rounds), per strategy, continuation backend;</li>
 *   <li>{@code syntheticBackend}: the same program under random walk, per backend
 *       ({@code continuation}, {@code virtual}, {@code platform}).</li>
 * </ul>
 *
 * <p>Run (about 2.5 minutes; figures in {@code docs/BENCHMARKS.md}):
 * <pre>
 * ./mmlab bench ExplorerBench -wi 3 -w 1s -i 5 -r 1s -f 1
 * </pre>
 * One group only, e.g. per strategy with 100 rounds (602 steps):
 * {@code ./mmlab bench 'ExplorerBench.synthetic$' -p rounds=100 -wi 3 -w 1s -i 5 -r 1s -f 1}.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
@Threads(1)
public class ExplorerBench {
  /** Executions per {@code explore} call for the short classic scenarios. */
  static final int SCENARIO_EXECUTIONS = 1_000;
  /** Executions per {@code explore} call for the synthetic program. */
  static final int SYNTHETIC_EXECUTIONS = 200;

  /** Executions and steps actually run, reported per second. */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.OPERATIONS)
  public static class Counts {
    public long executions;
    public long steps;

    @Setup(Level.Iteration)
    public void reset() {
      executions = 0;
      steps = 0;
    }

    void add(ExploreResult r) {
      executions += r.executions();
      steps += r.totalSteps();
    }
  }

  /**
   * A fixed (clean) variant of a classic scenario: {@code NAME} for its only fixed variant,
   * {@code NAME:key=value[,key=value]} to choose one when it has several.
   */
  @State(Scope.Thread)
  public static class ScenarioState {
    @Param({"abba-deadlock", "lost-update", "rcu-reader-freed:free=synchronize", "rcu-reader-freed:free=call-rcu",
        "frozen-refcount-spin", "lost-wakeup", "lockdep-only-abba"})
    public String scenario;

    Explorer explorer;

    @Setup(Level.Trial)
    public void setUp() {
      int colon = scenario.indexOf(':');
      String name = colon < 0 ? scenario : scenario.substring(0, colon);
      Scenario s = Catalog.byName(name).orElseThrow(() -> new IllegalArgumentException(
          "no scenario " + name + " in " + Catalog.all().stream().map(Scenario::name).toList()));
      List<Variant> fixed = Variant.all(s).stream().filter(v -> s.expected(v) == null).toList();
      Variant v;
      if (colon >= 0) {
        v = Variant.parse(s, List.of(scenario.substring(colon + 1).split(",")));
        if (s.expected(v) != null) {
          throw new IllegalArgumentException(scenario + " is a buggy variant: the benchmark needs a clean one");
        }
      } else if (fixed.size() == 1) {
        v = fixed.getFirst();
      } else {
        throw new IllegalArgumentException(name + " has fixed variants " + fixed + ": name one as " + name
            + ":key=value");
      }
      Explorer.Config cfg = Explorer.Config.defaults().withExecutions(SCENARIO_EXECUTIONS).withStrategy("random")
          .withMaxSteps(s.maxSteps());
      explorer = new Explorer(s.program(v), cfg);
      ExploreResult r = Synthetic.clean(explorer.explore(null), scenario);
      System.out.printf("%n[ExplorerBench] %s %s: %d executions, %.1f steps/execution, backend %s%n", name, v,
          r.executions(), (double) r.totalSteps() / r.executions(), r.backend());
      BenchEnv.print();
    }
  }

  /** The synthetic program under one strategy (continuation backend). */
  @State(Scope.Thread)
  public static class StrategyState {
    @Param({"random", "pct", "fair-pct", "pos", "dfs", "portfolio"})
    public String strategy;

    @Param({"64"})
    public int rounds;

    Explorer explorer;

    @Setup(Level.Trial)
    public void setUp() {
      Explorer.Config cfg = Explorer.Config.defaults().withExecutions(SYNTHETIC_EXECUTIONS).withStrategy(strategy)
          .withBackend("continuation");
      explorer = new Explorer(Synthetic.program(2, rounds), cfg);
      ExploreResult r = Synthetic.clean(explorer.explore(null), strategy);
      System.out.printf("%n[ExplorerBench] synthetic 2x%d, %s: %d executions, %.1f steps/execution%n", rounds,
          strategy, r.executions(), (double) r.totalSteps() / r.executions());
      BenchEnv.print();
    }
  }

  /** The synthetic program under random walk on one backend. */
  @State(Scope.Thread)
  public static class BackendState {
    @Param({"continuation", "virtual", "platform"})
    public String backend;

    @Param({"64"})
    public int rounds;

    Explorer explorer;

    @Setup(Level.Trial)
    public void setUp() {
      if (!CpuBackend.availableNames().contains(backend)) {
        throw new IllegalStateException("backend " + backend + " unavailable here (have " + CpuBackend.availableNames()
            + "): the JVM lacks --add-exports/--add-opens");
      }
      Explorer.Config cfg = Explorer.Config.defaults().withExecutions(SYNTHETIC_EXECUTIONS).withStrategy("random")
          .withBackend(backend);
      explorer = new Explorer(Synthetic.program(2, rounds), cfg);
      ExploreResult r = Synthetic.clean(explorer.explore(null), backend);
      System.out.printf("%n[ExplorerBench] synthetic 2x%d, backend %s: %d executions, %.1f steps/execution%n", rounds,
          r.backend(), r.executions(), (double) r.totalSteps() / r.executions());
      BenchEnv.print();
    }
  }

  @Benchmark
  @OperationsPerInvocation(SCENARIO_EXECUTIONS)
  public ExploreResult scenario(ScenarioState s, Counts c) {
    ExploreResult r = s.explorer.explore(null);
    c.add(r);
    return r;
  }

  @Benchmark
  @OperationsPerInvocation(SYNTHETIC_EXECUTIONS)
  public ExploreResult synthetic(StrategyState s, Counts c) {
    ExploreResult r = s.explorer.explore(null);
    c.add(r);
    return r;
  }

  @Benchmark
  @OperationsPerInvocation(SYNTHETIC_EXECUTIONS)
  public ExploreResult syntheticBackend(BackendState s, Counts c) {
    ExploreResult r = s.explorer.explore(null);
    c.add(r);
    return r;
  }
}
