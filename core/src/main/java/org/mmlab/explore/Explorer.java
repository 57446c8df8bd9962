package org.mmlab.explore;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.Lockdep;
import org.mmlab.explore.strategy.Guided;
import org.mmlab.explore.strategy.Portfolio;

/**
 * Runs a program many times under a strategy until it finds a bug, the execution budget or the
 * time limit runs out, or a systematic strategy has explored everything within its bounds.
 *
 * <h2>Overview</h2>
 * <ol>
 *   <li>Execution {@code i} gets the seed {@link Rng#executionSeed}(master, i), a fresh
 *       {@link ExploreSched}, and the program's set-up; then the CPUs run under the strategy.</li>
 *   <li>A definite verdict stops the exploration (with {@link Config#seek} set, only one of
 *       that kind does: others are noted and the search goes on). A step-bound hit is confirmed first: the
 *       prefix is replayed and continued under a fair random scheduler; only if that does not
 *       finish either is it a potential livelock. A lock-order inversion (lockdep's graph is
 *       shared by all executions) is kept and reported only if nothing definite turns up.</li>
 *   <li>A found schedule is replayed to check that it reproduces the identical trace, shrunk
 *       to the fewest preemptions ({@link Shrinker}), and replayed once more with every step's
 *       details captured for the report.</li>
 * </ol>
 */
public final class Explorer {
  /** The default master seed, printed with every run ("mmlab" in ASCII). */
  public static final long DEFAULT_SEED = 0x6d6d6c6162L;

  /**
   * Whether the explorer's own wall-clock limits apply: an exploration's default time limit (30 s,
   * {@link Config#defaults}) and the {@link Shrinker}'s 5 s. The system property
   * {@code mmlab.explore.countedBudgetsOnly=true} turns them off, so that only counted budgets
   * (executions, steps, shrink runs) end a search and a loaded machine explores exactly what a
   * quiet one does. The test suite sets it: a CI run at load 200 once ended an exploration at the
   * default 30 s after 117 of its 200 executions, and a test comparing two backends' step counts
   * failed. A time limit given explicitly ({@link Config#withTimeLimit}, {@code --time-limit})
   * always applies.
   */
  public static final boolean WALL_CLOCK_LIMITS = !Boolean.getBoolean("mmlab.explore.countedBudgetsOnly");

  /** The default time limit: 30 s, or a day (in effect none) without {@link #WALL_CLOCK_LIMITS}. */
  public static final Duration DEFAULT_TIME_LIMIT = WALL_CLOCK_LIMITS ? Duration.ofSeconds(30) : Duration.ofDays(1);

  /** A program to explore: builds its state on the boot CPU, adds its CPUs, returns its end check. */
  @FunctionalInterface
  public interface Program {
    /**
     * Builds the state for one execution with {@code ex}'s primitives, adds the CPUs with
     * {@link Sched#addCpu} (explored, or run on real threads by {@link StressRunner}), and returns the check to run after every CPU finished
     * (the scenario's assertions and the consistency walk).
     */
    Runnable setup(Sched ex);
  }

  /** Progress, reported about twice a second. */
  public record Progress(long executions, long elapsedNanos) {}

  /**
   * How to explore.
   *
   * @param strategy a strategy name (see {@link Strategies})
   * @param executions the execution budget
   * @param masterSeed the master seed
   * @param timeLimit stop after this long
   * @param maxSteps the step bound of one execution
   * @param backend backend name ({@code best}, {@code continuation}, {@code virtual}, {@code platform})
   * @param shrink shrink a found schedule to the fewest preemptions
   * @param seek the verdict kind to look for: a definite verdict of another kind is noted as
   *     {@link ExploreResult#alsoFound()} and the exploration goes on, until one of this kind, the
   *     budget or the time limit (then the first other finding is the result); null stops at the
   *     first definite verdict of any kind. A confirmed potential livelock ends the search either
   *     way (its confirmation alone costs four step bounds)
   */
  public record Config(String strategy, long executions, long masterSeed, Duration timeLimit, long maxSteps,
      String backend, boolean shrink, @Nullable VerdictKind seek) {
    public static Config defaults() {
      return new Config("portfolio", 10_000, DEFAULT_SEED, DEFAULT_TIME_LIMIT, 20_000, "best", true, null);
    }

    public Config withStrategy(String s) {
      return new Config(s, executions, masterSeed, timeLimit, maxSteps, backend, shrink, seek);
    }

    public Config withExecutions(long n) {
      return new Config(strategy, n, masterSeed, timeLimit, maxSteps, backend, shrink, seek);
    }

    public Config withSeed(long seed) {
      return new Config(strategy, executions, seed, timeLimit, maxSteps, backend, shrink, seek);
    }

    public Config withTimeLimit(Duration d) {
      return new Config(strategy, executions, masterSeed, d, maxSteps, backend, shrink, seek);
    }

    public Config withMaxSteps(long m) {
      return new Config(strategy, executions, masterSeed, timeLimit, m, backend, shrink, seek);
    }

    public Config withBackend(String b) {
      return new Config(strategy, executions, masterSeed, timeLimit, maxSteps, b, shrink, seek);
    }

    public Config withShrink(boolean s) {
      return new Config(strategy, executions, masterSeed, timeLimit, maxSteps, backend, s, seek);
    }

    /** Keep exploring past definite verdicts of other kinds until one of {@code kind} (null: stop at the first). */
    public Config withSeek(@Nullable VerdictKind kind) {
      return new Config(strategy, executions, masterSeed, timeLimit, maxSteps, backend, shrink, kind);
    }
  }

  /** One recorded execution: enough to replay it. */
  public record Recorded(long index, long seed, String strategy, byte[] schedule, long traceHash) {}

  /** The outcome of one execution. */
  record Outcome(@Nullable Verdict verdict, byte[] schedule, long traceHash, long steps, int preemptions,
      boolean stepBound, List<StepRecord> records, List<StepRecord> pending, List<String> cpuNames,
      String divergence) {}

  private final Program program;
  private final Config config;
  private final CpuBackend backend;

  public Explorer(Program program, Config config) {
    this.program = program;
    this.config = config;
    this.backend = CpuBackend.named(config.backend());
  }

  public CpuBackend backend() {
    return backend;
  }

  /** Explores until a bug, the budget, the time limit or exhaustion. */
  public ExploreResult explore(@Nullable Consumer<Progress> progress) {
    long t0 = System.nanoTime();
    long deadline = t0 + config.timeLimit().toNanos();
    long nextProgress = t0 + 500_000_000L;
    Strategy strategy = Strategies.named(config.strategy());
    Lockdep lockdep = new Lockdep();
    List<Recorded> edgeExecutions = new ArrayList<>();
    long totalSteps = 0;
    long i = 0;
    Verdict verdict = null;
    Recorded found = null;
    String foundBy = null;
    List<Recorded> foundChain = List.of();
    List<ExploreResult.Other> others = new ArrayList<>();
    Recorded firstOther = null;
    String firstOtherBy = null;
    Verdict firstOtherVerdict = null;
    for (; i < config.executions(); i++) {
      if (strategy.exhausted()) {
        break;
      }
      long now = System.nanoTime();
      if (now >= deadline) {
        break;
      }
      if (progress != null && now >= nextProgress) {
        progress.accept(new Progress(i, now - t0));
        nextProgress = now + 500_000_000L;
      }
      long seed = Rng.executionSeed(config.masterSeed(), i);
      strategy.beginExecution(seed);
      lockdep.beginExecution(i);
      String member = strategy instanceof Portfolio p ? p.active().name() : strategy.name();
      Outcome out = runOne(strategy, lockdep, config.maxSteps(), false, i);
      strategy.endExecution(lastSched);
      totalSteps += out.steps();
      Recorded rec = new Recorded(i, seed, member, out.schedule(), out.traceHash());
      if (lockdep.edgesAddedThisExecution() > 0) {
        edgeExecutions.add(rec);
      }
      if (out.stepBound()) {
        Outcome confirm = confirmLivelock(out.schedule(), seed);
        if (confirm.stepBound()) {
          verdict = potentialLivelock(confirm);
          found = new Recorded(i, seed, member + "+fair-confirmation", confirm.schedule(), confirm.traceHash());
          foundBy = member;
          i++;
          break;
        }
        continue;
      }
      if (out.verdict() != null && out.verdict().kind().definite()
          && config.seek() != null && out.verdict().kind() != config.seek()) {
        // Another outcome than the one sought: note the first of each kind, keep exploring.
        Verdict ov = out.verdict();
        if (others.stream().noneMatch(o -> o.kind() == ov.kind())) {
          others.add(new ExploreResult.Other(ov.kind(), ov.headline(), i, seed));
        }
        if (firstOther == null) {
          firstOther = rec;
          firstOtherBy = member;
          firstOtherVerdict = ov;
        }
        continue;
      }
      if (out.verdict() != null && out.verdict().kind().definite()) {
        verdict = out.verdict();
        found = rec;
        foundBy = member;
        i++;
        break;
      }
    }
    long executions = i;
    boolean exhausted = strategy.exhausted();
    if (verdict == null && firstOther != null) {
      verdict = firstOtherVerdict;
      found = firstOther;
      foundBy = firstOtherBy;
      others.removeFirst();
    } else if (verdict != null) {
      Verdict v = verdict;
      others.removeIf(o -> o.kind() == v.kind());
    }
    if (verdict == null && lockdep.inversion() != null) {
      verdict = lockdep.inversion();
      long at = lockdep.inversionExecution();
      List<Recorded> chain = new ArrayList<>();
      for (Recorded r : edgeExecutions) {
        if (r.index() <= at) {
          chain.add(r);
        }
      }
      foundChain = chain;
      found = chain.getLast();
      foundBy = found.strategy();
    }
    if (verdict == null) {
      return new ExploreResult(config, backend.name(), null, executions, -1, System.nanoTime() - t0, totalSteps,
          exhausted, null, List.of());
    }
    Found f = foundChain.isEmpty()
        ? finish(verdict, found, foundBy)
        : finishInversion(verdict, foundChain, foundBy);
    return new ExploreResult(config, backend.name(), f.verdict(), executions, found.index(), System.nanoTime() - t0,
        totalSteps, exhausted, f, List.copyOf(others));
  }

  private @Nullable ExploreSched lastSched;

  /** Runs one execution. */
  Outcome runOne(Strategy strategy, @Nullable Lockdep lockdep, long maxSteps, boolean capture, long index) {
    ExploreSched ex = new ExploreSched(backend, strategy, lockdep, maxSteps, capture, index);
    lastSched = ex;
    try {
      return runOne(ex, strategy);
    } finally {
      ex.releaseAll();
    }
  }

  private Outcome runOne(ExploreSched ex, Strategy strategy) {
    boolean capture = ex.capturing();
    Runnable[] check = new Runnable[1];
    Verdict setupFailure = ex.runInline(() -> check[0] = program.setup(ex));
    if (setupFailure != null) {
      throw new IllegalStateException("the program's set-up failed: " + setupFailure.headline()
          + " " + setupFailure.details());
    }
    Verdict v = ex.execute();
    if (v == null && !ex.stepBoundHit()) {
      ex.drainBootCallbacks();
      v = ex.runInline(check[0]);
      if (v == null) {
        v = ex.runInline(ex::consistencyWalk);
      }
    }
    List<String> names = new ArrayList<>();
    for (Cpu c : ex.cpus()) {
      names.add(c.name);
    }
    String divergence = strategy instanceof Guided g && g.diverged() ? g.divergence() : "";
    return new Outcome(v, ex.schedule(), ex.traceHash(), ex.steps(), ex.preemptions(), ex.stepBoundHit(),
        capture ? List.copyOf(ex.records()) : List.of(), capture ? ex.pendingRecords() : List.of(), names, divergence);
  }

  /**
   * The outcome of replaying recorded executions.
   *
   * @param verdict the verdict of the last execution, or the lock-order inversion the sequence
   *     builds, or null
   * @param identical true if every execution followed its schedule and gave its recorded trace hash
   * @param divergence where the first one diverged, or empty
   * @param steps every step of the last execution
   * @param pending what its unfinished CPUs were blocked in
   * @param cpuNames CPU names by id
   */
  public record Replayed(@Nullable Verdict verdict, boolean identical, String divergence, List<StepRecord> steps,
      List<StepRecord> pending, List<String> cpuNames) {}

  /**
   * Replays recorded executions in order, with one fresh lock-order graph across them, capturing
   * every step of each.
   */
  public Replayed replay(List<Recorded> executions) {
    Lockdep ld = new Lockdep();
    boolean identical = true;
    String divergence = "";
    Outcome last = null;
    for (Recorded r : executions) {
      ld.beginExecution(r.index());
      last = replay(r.schedule(), true, ld, config.maxSteps());
      if (!last.divergence().isEmpty() && divergence.isEmpty()) {
        divergence = "execution " + r.index() + ": " + last.divergence();
      }
      if (last.traceHash() != r.traceHash() && divergence.isEmpty()) {
        divergence = "execution " + r.index() + ": trace hash " + Long.toHexString(last.traceHash())
            + " differs from the recorded " + Long.toHexString(r.traceHash());
      }
      identical &= last.traceHash() == r.traceHash() && last.divergence().isEmpty();
    }
    if (last == null) {
      throw new IllegalArgumentException("nothing to replay");
    }
    Verdict v = last.verdict() != null ? last.verdict() : ld.inversion();
    if (v == null && last.stepBound()) {
      v = new Verdict(VerdictKind.POTENTIAL_LIVELOCK, "the replay reached the step bound of " + config.maxSteps()
          + " again without finishing", List.of(), List.of(), last.steps());
    }
    return new Replayed(v, identical, divergence, last.records(), last.pending(), last.cpuNames());
  }

  /** Replays {@code schedule} strictly; the outcome says whether it diverged. */
  Outcome replay(byte[] schedule, boolean capture, @Nullable Lockdep lockdep, long maxSteps) {
    Guided g = new Guided(schedule);
    g.beginExecution(0);
    return runOne(g, lockdep, maxSteps, capture, 0);
  }

  private Outcome confirmLivelock(byte[] prefix, long seed) {
    FairTail s = new FairTail(prefix);
    s.beginExecution(Rng.mix(seed ^ 0xFA1L));
    return runOne(s, null, config.maxSteps() * 4, false, 0);
  }

  private Verdict potentialLivelock(Outcome confirm) {
    ExploreSched ex = lastSched;
    List<String> lines = new ArrayList<>();
    lines.add("the execution exceeded " + config.maxSteps() + " steps; replaying its prefix and continuing under a"
        + " fair random scheduler for " + (config.maxSteps() * 4) + " steps did not finish either");
    List<Integer> objs = new ArrayList<>();
    for (Cpu c : ex.cpus()) {
      if (!c.done) {
        SyncObject o = c.pendingObj;
        lines.add(c.label() + " is at " + c.pendingWhat + (o == null ? "" : " on " + o.describe() + " [" + o.state() + "]"));
        if (o != null) {
          objs.add(o.id());
        }
      }
    }
    return new Verdict(VerdictKind.POTENTIAL_LIVELOCK, "no CPU set finishes within " + (config.maxSteps() * 4)
        + " steps, even under a fair scheduler", lines, objs, confirm.steps());
  }

  private Found finish(Verdict verdict, Recorded found, String foundBy) {
    long maxSteps = verdict.kind() == VerdictKind.POTENTIAL_LIVELOCK ? config.maxSteps() * 4 : config.maxSteps();
    Outcome again = replay(found.schedule(), false, null, maxSteps);
    boolean identical = again.traceHash() == found.traceHash() && again.divergence().isEmpty();
    byte[] schedule = found.schedule();
    int originalPreemptions = again.preemptions();
    if (config.shrink() && verdict.kind() != VerdictKind.POTENTIAL_LIVELOCK) {
      schedule = new Shrinker(this, verdict.kind(), maxSteps).shrink(schedule, again.preemptions(), again.steps());
    }
    Outcome shown = replay(schedule, true, null, maxSteps);
    Verdict v = shown.verdict() != null && shown.verdict().kind() == verdict.kind() ? shown.verdict() : verdict;
    if (verdict.kind() == VerdictKind.POTENTIAL_LIVELOCK) {
      v = verdict;
    }
    Recorded shrunk = new Recorded(found.index(), found.seed(), found.strategy(), shown.schedule(), shown.traceHash());
    return new Found(v, foundBy, found, List.of(shrunk), originalPreemptions, shown.preemptions(),
        found.schedule().length, shown.records(), shown.pending(), shown.cpuNames(), identical);
  }

  private Found finishInversion(Verdict verdict, List<Recorded> chain, String foundBy) {
    // Replay the executions that built the cycle, in order, into one fresh graph.
    Lockdep ld = new Lockdep();
    boolean identical = true;
    Outcome last = null;
    for (Recorded r : chain) {
      ld.beginExecution(r.index());
      last = replay(r.schedule(), true, ld, config.maxSteps());
      identical &= last.traceHash() == r.traceHash() && last.divergence().isEmpty();
    }
    identical &= ld.inversion() != null;
    Recorded end = chain.getLast();
    return new Found(verdict, foundBy, end, chain, last.preemptions(), last.preemptions(), end.schedule().length,
        last.records(), last.pending(), last.cpuNames(), identical);
  }

  /** The fair tail used to confirm a potential livelock: the prefix, then fair random. */
  private static final class FairTail implements Strategy {
    private final byte[] prefix;
    private Rng rng = new Rng(0);

    FairTail(byte[] prefix) {
      this.prefix = prefix;
    }

    @Override
    public String name() {
      return "fair-confirmation";
    }

    @Override
    public void beginExecution(long seed) {
      rng = new Rng(seed);
    }

    @Override
    public boolean wantsEveryStep() {
      return true;
    }

    @Override
    public int pick(ExploreSched ex, int[] enabled, int n) {
      long s = ex.steps();
      if (s < prefix.length) {
        for (int i = 0; i < n; i++) {
          if (enabled[i] == prefix[(int) s]) {
            return enabled[i];
          }
        }
      }
      int[] fresh = new int[n];
      int m = 0;
      for (int i = 0; i < n; i++) {
        if (!ex.yielded(enabled[i])) {
          fresh[m++] = enabled[i];
        }
      }
      return m > 0 ? fresh[rng.nextInt(m)] : enabled[rng.nextInt(n)];
    }
  }
}
