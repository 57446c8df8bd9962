package org.mmlab.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.jspecify.annotations.Nullable;
import org.mmlab.explore.NativeSched;

/**
 * The harness of the native workloads ({@code run page-fault}, {@code page-fault3},
 * {@code file-rw}): N platform threads named {@code cpu0..}, each attached to the kernel's
 * {@link NativeSched} as a CPU of that name, released together once all are started, each
 * detached when its body ends; a failure of a body is recorded, not propagated. With
 * {@code pin}, worker i first pins itself to the i-th host CPU the process may use (round robin
 * when there are more workers than CPUs), as will-it-scale does ({@link Affinity}).
 */
final class Workers {
  private Workers() {}

  /** One worker's work; {@code startNanos} is the common start ({@link System#nanoTime()}). */
  @FunctionalInterface
  interface Body {
    void run(int index, long startNanos) throws Exception;
  }

  /**
   * The common start, each worker's failure (null if it ended normally), and whether every
   * worker was pinned to its CPU.
   */
  record Outcome(long startNanos, List<@Nullable Throwable> failures, boolean pinned) {
    /** The first failure by worker index, or null. */
    @Nullable Throwable firstFailure() {
      for (Throwable t : failures) {
        if (t != null) {
          return t;
        }
      }
      return null;
    }
  }

  /** Runs {@code body} on {@code n} attached worker threads and returns when all have ended. */
  static Outcome run(NativeSched sched, int n, boolean pin, Body body) {
    List<Thread> ts = new ArrayList<>();
    @Nullable Throwable[] failures = new Throwable[n];
    List<Integer> cpus = pin ? Affinity.allowedCpus() : List.of();
    boolean[] pinned = new boolean[n];
    long[] start = new long[1];
    CountDownLatch go = new CountDownLatch(1);
    for (int i = 0; i < n; i++) {
      int index = i;
      Thread t = Thread.ofPlatform().name("cpu" + i).unstarted(() -> {
        pinned[index] = !cpus.isEmpty() && Affinity.pin(cpus.get(index % cpus.size()));
        sched.attach("cpu" + index);
        try {
          go.await();
          body.run(index, start[0]);
        } catch (Throwable e) {
          failures[index] = e;
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
      try {
        t.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted", e);
      }
    }
    boolean all = true;
    for (boolean b : pinned) {
      all &= b;
    }
    return new Outcome(start[0], java.util.Arrays.asList(failures), all);
  }
}
