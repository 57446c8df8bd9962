package org.mmlab.explore;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * What an exploration ended with.
 *
 * @param config how it ran
 * @param backend the CPU backend used
 * @param verdict the bug found, or null
 * @param executions executions run
 * @param bugAtExecution index of the execution that found the bug, or -1
 * @param elapsedNanos wall time, shrinking and report replay included
 * @param totalSteps steps over all executions
 * @param exhausted true if a systematic strategy explored everything within its bounds
 * @param found the replayable, shrunk bug, or null
 * @param alsoFound with {@link Explorer.Config#seek} set: the first verdict of each other kind
 *     met on the way (not shrunk, not the result), in the order found
 */
public record ExploreResult(Explorer.Config config, String backend, @Nullable Verdict verdict, long executions,
    long bugAtExecution, long elapsedNanos, long totalSteps, boolean exhausted, @Nullable Found found,
    List<Other> alsoFound) {
  /**
   * A verdict of another kind than the one sought, met during the search.
   *
   * @param kind its kind
   * @param headline its headline
   * @param execution the index of the execution that gave it
   * @param executionSeed that execution's seed
   */
  public record Other(VerdictKind kind, String headline, long execution, long executionSeed) {}

  /** The verdict's id, or {@code "none"}. */
  public String verdictId() {
    return verdict == null ? "none" : verdict.kind().id();
  }

  public long elapsedMillis() {
    return elapsedNanos / 1_000_000;
  }
}
