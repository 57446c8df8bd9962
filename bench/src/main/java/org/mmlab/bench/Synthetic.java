package org.mmlab.bench;

import org.mmlab.debug.LockClass;
import org.mmlab.explore.Explorer;
import org.mmlab.explore.ExploreResult;
import org.mmlab.sync.Atomic;
import org.mmlab.sync.Spinlock;

/**
 * The synthetic program the explorer benchmarks use: {@code cpus} CPUs, each doing
 * {@code rounds} rounds of {@code spin_lock; atomic_add_return; spin_unlock} on one shared
 * {@link Spinlock} and one shared {@link Atomic}. Each round is three scheduling points, plus
 * one start step per CPU, so an execution is {@code cpus * (3 * rounds + 1)} steps: 386 for
 * the default 2 CPUs x 64 rounds, 602 for 2 x 100. The end check asserts the count, so a run
 * that finds anything has a broken explorer.
 */
public final class Synthetic {
  static final LockClass LOCK = LockClass.of("bench:synthetic-lock");

  private Synthetic() {}

  /** The program: {@code cpus} CPUs x {@code rounds} locked increments. */
  public static Explorer.Program program(int cpus, int rounds) {
    return ex -> {
      Spinlock lock = new Spinlock(ex, "lock", LOCK);
      Atomic counter = new Atomic(ex, "counter", 0);
      for (int c = 0; c < cpus; c++) {
        ex.addCpu("inc" + c, () -> {
          for (int i = 0; i < rounds; i++) {
            lock.lock();
            counter.addAndGet(1);
            lock.unlock();
          }
        });
      }
      long want = (long) cpus * rounds;
      return () -> {
        if (counter.peek() != want) {
          throw new AssertionError("counter " + counter.peek() + " != " + want);
        }
      };
    };
  }

  /** Steps of one execution of {@link #program}. */
  public static long stepsPerExecution(int cpus, int rounds) {
    return (long) cpus * (3L * rounds + 1);
  }

  /** Throws if {@code r} found something: a benchmark must measure complete, clean executions. */
  static ExploreResult clean(ExploreResult r, String what) {
    if (r.verdict() != null) {
      throw new IllegalStateException(what + ": the explorer found " + r.verdictId() + " in a program that must be"
          + " clean: " + r.verdict().headline());
    }
    return r;
  }
}
