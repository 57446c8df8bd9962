package org.mmlab.sync;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.Lockdep;
import org.mmlab.explore.CpuBackend;
import org.mmlab.explore.ExploreSched;
import org.mmlab.explore.Rng;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;
import org.mmlab.explore.strategy.RandomWalk;

/**
 * Runs a small program under {@link ExploreSched} many times with a seeded random walk (master
 * seed {@value #MASTER_SEED}; execution {@code i} uses {@code Rng.executionSeed(42, i)}), one
 * lockdep graph across all executions, and collects the verdicts.
 *
 * <p>As the {@code Explorer} does, a clean execution is followed by the boot CPU's RCU callbacks,
 * the program's end check and the consistency walk.
 *
 * <p>A program builds one execution: it creates its primitives with the given scheduler (as
 * the boot CPU), adds its CPUs, and returns an end check to run after the CPUs finished cleanly
 * (or null).
 */
final class Exploration {
  static final long MASTER_SEED = 42;
  static final int EXECUTIONS = 200;
  static final long MAX_STEPS = 10_000;

  private Exploration() {}

  /** The verdicts of every execution (null where it finished cleanly) and the lockdep graph. */
  record Result(List<@Nullable Verdict> verdicts, Lockdep lockdep) {
    List<Verdict> found() {
      List<Verdict> out = new ArrayList<>();
      for (Verdict v : verdicts) {
        if (v != null) {
          out.add(v);
        }
      }
      return out;
    }

    long count(VerdictKind kind) {
      return found().stream().filter(v -> v.kind() == kind).count();
    }

    @Nullable Verdict first(VerdictKind kind) {
      return found().stream().filter(v -> v.kind() == kind).findFirst().orElse(null);
    }

    String summary() {
      List<Verdict> f = found();
      return f.size() + "/" + verdicts.size() + " executions with a verdict"
          + (f.isEmpty() ? "" : "; first: " + f.getFirst().kind().id() + ": " + f.getFirst().headline()
              + " " + f.getFirst().details());
    }
  }

  static Result run(Function<ExploreSched, @Nullable Runnable> program) {
    return run(EXECUTIONS, program);
  }

  static Result run(int executions, Function<ExploreSched, @Nullable Runnable> program) {
    Lockdep lockdep = new Lockdep();
    RandomWalk strategy = new RandomWalk();
    CpuBackend backend = CpuBackend.best();
    List<@Nullable Verdict> verdicts = new ArrayList<>(executions);
    for (int i = 0; i < executions; i++) {
      strategy.beginExecution(Rng.executionSeed(MASTER_SEED, i));
      lockdep.beginExecution(i);
      ExploreSched ex = new ExploreSched(backend, strategy, lockdep, MAX_STEPS, false, i);
      Runnable end = program.apply(ex);
      Verdict v = ex.execute();
      if (v == null && ex.stepBoundHit()) {
        v = Verdict.of(VerdictKind.POTENTIAL_LIVELOCK, "step bound " + MAX_STEPS + " hit", List.of(), List.of());
      }
      if (v == null) {
        ex.drainBootCallbacks();
        if (end != null) {
          v = ex.runInline(end);
        }
        if (v == null) {
          v = ex.runInline(ex::consistencyWalk);
        }
      }
      strategy.endExecution(ex);
      verdicts.add(v);
    }
    return new Result(verdicts, lockdep);
  }
}
