package org.mmlab.explore;

/**
 * Picks which CPU runs the next step. Called by the driver at every step where more than one
 * CPU is enabled; a strategy sees the pending operation of every CPU (kind and object), which
 * CPU ran last and whether its last point was a voluntary yield (a retry).
 *
 * <p>Every strategy is deterministic given the seed passed to {@link #beginExecution}.
 */
public interface Strategy {
  /** Name used on the command line and in reports ({@code "pct(d=3)"}). */
  String name();

  /** Starts an execution with its own seed. */
  void beginExecution(long seed);

  /**
   * Returns the id of the CPU to run: one of {@code enabled[0..n)} (sorted ascending; n ≥ 2 unless
   * {@link #wantsEveryStep()}).
   */
  int pick(ExploreSched ex, int[] enabled, int n);

  /** True if the strategy must be asked at every step, also where only one CPU can run (replays). */
  default boolean wantsEveryStep() {
    return false;
  }

  /** The execution ended (strategies that learn, like PCT's step estimate, look at it). */
  default void endExecution(ExploreSched ex) {}

  /** True when a systematic strategy has explored everything within its bounds. */
  default boolean exhausted() {
    return false;
  }
}
