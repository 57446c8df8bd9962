package org.mmlab.explore;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;

/**
 * Stress mode: the same program as the explorer runs, but natively — each CPU a real thread,
 * the primitives' native implementations, no schedule control — again and again until a check
 * fails or the time runs out. This is the "testing on racier equipment" baseline that the
 * explorer is measured against (what jcstress or a test loop would do): whatever interleavings
 * the hardware and the OS happen to produce. It finds a bug only when the race really happens;
 * it cannot replay it, and it has no schedule to show.
 *
 * <p>Every execution gets a fresh {@link NativeSched}; set-up runs on the calling thread; the
 * CPUs start together and are joined; then the program's end check and the consistency walk run.
 * A CPU that does not finish within {@code hangAfter} ends the run with a deadlock verdict that
 * can say no more than that (its thread is left spinning as a daemon: Java cannot stop it).
 */
public final class StressRunner {
  /**
   * What a stress run ended with.
   *
   * @param verdict the first failure, or null
   * @param executions executions run
   * @param bugAtExecution index of the failing execution, or -1
   * @param elapsedNanos wall time
   */
  public record Result(@Nullable Verdict verdict, long executions, long bugAtExecution, long elapsedNanos) {
    public String verdictId() {
      return verdict == null ? "none" : verdict.kind().id();
    }
  }

  private final Explorer.Program program;
  private final Duration limit;
  private final long maxExecutions;
  private final Duration hangAfter;

  public StressRunner(Explorer.Program program, Duration limit, long maxExecutions, Duration hangAfter) {
    this.program = program;
    this.limit = limit;
    this.maxExecutions = maxExecutions;
    this.hangAfter = hangAfter;
  }

  public Result run() {
    long t0 = System.nanoTime();
    long deadline = t0 + limit.toNanos();
    long i = 0;
    for (; i < maxExecutions && System.nanoTime() < deadline; i++) {
      Verdict v = runOne();
      if (v != null) {
        return new Result(v, i + 1, i, System.nanoTime() - t0);
      }
    }
    return new Result(null, i, -1, System.nanoTime() - t0);
  }

  private @Nullable Verdict runOne() {
    NativeSched s = new NativeSched();
    try {
      Runnable check;
      try {
        check = program.setup(s);
      } catch (Throwable t) {
        throw new IllegalStateException("the program's set-up failed natively: " + t, t);
      }
      List<Cpu> cpus = s.addedCpus();
      AtomicReference<Verdict> failure = new AtomicReference<>();
      List<Thread> threads = new ArrayList<>();
      for (Cpu c : cpus) {
        Runnable body = c.body;
        threads.add(Thread.ofPlatform().daemon().name("stress-" + c.name).unstarted(() -> {
          s.attach(c);
          try {
            if (body != null) {
              body.run();
            }
          } catch (Throwable t) {
            failure.compareAndSet(null, classify(c, t));
          } finally {
            s.detach();
          }
        }));
      }
      threads.forEach(Thread::start);
      long joinBy = System.nanoTime() + hangAfter.toNanos();
      for (int k = 0; k < threads.size(); k++) {
        Thread t = threads.get(k);
        long left = Math.max(1, (joinBy - System.nanoTime()) / 1_000_000);
        try {
          t.join(left);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return Verdict.of(VerdictKind.EXCEPTION, "interrupted", List.of(), List.of());
        }
        if (t.isAlive() && failure.get() == null) {
          return Verdict.of(VerdictKind.DEADLOCK, cpus.get(k).label() + " made no progress for " + hangAfter.toMillis()
              + " ms (stress mode cannot tell more: no wait-for chain without the explorer)", List.of(), List.of());
        }
      }
      if (failure.get() != null) {
        return failure.get();
      }
      try {
        check.run();
        s.consistencyWalk();
      } catch (Throwable t) {
        return classify(null, t);
      }
      return null;
    } finally {
      s.releaseAll();
    }
  }

  private static Verdict classify(@Nullable Cpu c, Throwable t) {
    String who = c == null ? "end check" : c.label();
    return switch (t) {
      case BugException b -> b.verdict();
      case AssertionError a -> Verdict.of(VerdictKind.ASSERTION, who + ": " + a.getMessage(), List.of(), List.of());
      default -> Verdict.of(VerdictKind.EXCEPTION, who + " threw " + t, List.of(), List.of());
    };
  }
}
