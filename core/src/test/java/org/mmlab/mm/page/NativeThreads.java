package org.mmlab.mm.page;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/** Native-mode helper: runs bodies on platform threads, joins them, rethrows the first failure. */
final class NativeThreads {
  private static final long JOIN_MILLIS = 60_000;

  private NativeThreads() {}

  static void run(Runnable... bodies) {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < bodies.length; i++) {
      Runnable body = bodies[i];
      threads.add(Thread.ofPlatform().name("cpu" + i).unstarted(() -> {
        try {
          body.run();
        } catch (Throwable e) {
          failure.compareAndSet(null, e);
        }
      }));
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

  static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
