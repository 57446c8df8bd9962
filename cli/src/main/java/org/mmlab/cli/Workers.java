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
 * detached when its body ends; a failure of a body is recorded, not propagated.
 */
final class Workers {
  private Workers() {}

  /** One worker's work; {@code startNanos} is the common start ({@link System#nanoTime()}). */
  @FunctionalInterface
  interface Body {
    void run(int index, long startNanos) throws Exception;
  }

  /** The common start, and each worker's failure (null if it ended normally). */
  record Outcome(long startNanos, List<@Nullable Throwable> failures) {
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
  static Outcome run(NativeSched sched, int n, Body body) {
    List<Thread> ts = new ArrayList<>();
    @Nullable Throwable[] failures = new Throwable[n];
    long[] start = new long[1];
    CountDownLatch go = new CountDownLatch(1);
    for (int i = 0; i < n; i++) {
      int index = i;
      Thread t = Thread.ofPlatform().name("cpu" + i).unstarted(() -> {
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
    return new Outcome(start[0], java.util.Arrays.asList(failures));
  }
}
