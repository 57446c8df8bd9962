package org.mmlab.explore;

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
 */
public record ExploreResult(Explorer.Config config, String backend, @Nullable Verdict verdict, long executions,
    long bugAtExecution, long elapsedNanos, long totalSteps, boolean exhausted, @Nullable Found found) {
  /** The verdict's id, or {@code "none"}. */
  public String verdictId() {
    return verdict == null ? "none" : verdict.kind().id();
  }

  public long elapsedMillis() {
    return elapsedNanos / 1_000_000;
  }
}
