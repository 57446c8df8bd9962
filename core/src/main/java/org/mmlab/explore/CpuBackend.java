package org.mmlab.explore;

import java.util.List;

/**
 * How simulated CPUs are suspended and resumed under the explorer. The driver thread calls
 * {@link #resume}; the CPU runs until its next scheduling point, where it calls
 * {@link #yieldToDriver}. Exactly one of them runs at any time, whatever the backend, so the
 * same seed gives the same trace on every backend (a test checks it).
 *
 * <ul>
 *   <li>{@code continuation}: {@code jdk.internal.vm.Continuation} on the driver thread, about
 *       100 ns a switch; needs {@code --add-exports java.base/jdk.internal.vm=ALL-UNNAMED};</li>
 *   <li>{@code virtual}: a virtual thread whose scheduler is the driver itself (its tasks are
 *       run inline by {@code resume}); needs {@code --add-opens java.base/java.lang=ALL-UNNAMED};</li>
 *   <li>{@code platform}: one platform thread per CPU, handed off with park/unpark (about
 *       2.4 µs); needs nothing and always works.</li>
 * </ul>
 */
public interface CpuBackend {
  String name();

  /** Prepares {@code cpu} to run {@code body} when it is first resumed. */
  void create(Cpu cpu, Runnable body);

  /** Driver side: runs {@code cpu} until its next scheduling point or its end. */
  void resume(Cpu cpu);

  /** CPU side: suspends the calling CPU and returns to the driver. */
  void yieldToDriver(Cpu cpu);

  /** Driver side: the execution is over; releases what {@code cpu} holds (it may be suspended). */
  void discard(Cpu cpu);

  /** The fastest backend that works in this JVM. */
  static CpuBackend best() {
    if (ContinuationBackend.available()) {
      return new ContinuationBackend();
    }
    if (VirtualThreadBackend.available()) {
      return new VirtualThreadBackend();
    }
    return new PlatformThreadBackend();
  }

  /** The backend called {@code name}; throws if it is unknown or unavailable here. */
  static CpuBackend named(String name) {
    return switch (name) {
      case "continuation" -> {
        if (!ContinuationBackend.available()) {
          throw new IllegalStateException("continuation backend needs --add-exports java.base/jdk.internal.vm=ALL-UNNAMED");
        }
        yield new ContinuationBackend();
      }
      case "virtual" -> {
        if (!VirtualThreadBackend.available()) {
          throw new IllegalStateException("virtual backend needs --add-opens java.base/java.lang=ALL-UNNAMED");
        }
        yield new VirtualThreadBackend();
      }
      case "platform" -> new PlatformThreadBackend();
      case "best" -> best();
      default -> throw new IllegalArgumentException("unknown backend " + name + " (continuation, virtual, platform)");
    };
  }

  /** The names of the backends available in this JVM, fastest first. */
  static List<String> availableNames() {
    List<String> out = new java.util.ArrayList<>();
    if (ContinuationBackend.available()) {
      out.add("continuation");
    }
    if (VirtualThreadBackend.available()) {
      out.add("virtual");
    }
    out.add("platform");
    return out;
  }

  /** Thrown inside a discarded CPU to unwind its stack; the CPU wrapper swallows it. */
  final class Discarded extends Error {
    private static final long serialVersionUID = 1L;
    static final Discarded INSTANCE = new Discarded();

    private Discarded() {
      super("cpu discarded", null, false, false);
    }
  }
}
