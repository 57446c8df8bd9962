package org.mmlab.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

/** Native-mode helper: runs bodies on real threads, joins them, and rethrows the first failure. */
public final class Threads {
  private static final long JOIN_MILLIS = 60_000;

  private Threads() {}

  public static void run(Runnable... bodies) {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < bodies.length; i++) {
      Runnable body = bodies[i];
      Thread t = Thread.ofPlatform().name("cpu" + i).unstarted(() -> {
        try {
          body.run();
        } catch (Throwable e) {
          failure.compareAndSet(null, e);
        }
      });
      threads.add(t);
    }
    threads.forEach(Thread::start);
    for (Thread t : threads) {
      try {
        t.join(JOIN_MILLIS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted", e);
      }
      if (t.isAlive()) {
        throw new AssertionError(t.getName() + " did not finish within " + JOIN_MILLIS + " ms (hang?)");
      }
    }
    Throwable f = failure.get();
    if (f instanceof Error e) {
      throw e;
    }
    if (f instanceof RuntimeException e) {
      throw e;
    }
    if (f != null) {
      throw new AssertionError(f);
    }
  }

  /** Spins until {@code cond} holds, failing after a generous timeout. */
  public static void until(BooleanSupplier cond, String what) {
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what);
      }
      Thread.onSpinWait();
      Thread.yield();
    }
  }

  /** Sleeps, keeping the interrupt status. */
  public static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
