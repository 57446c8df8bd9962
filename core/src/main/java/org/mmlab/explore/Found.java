package org.mmlab.explore;

import java.util.List;

/**
 * A bug the explorer found, ready to report and replay.
 *
 * @param verdict what was found (from the report replay)
 * @param foundBy the strategy (portfolio member) whose execution found it
 * @param original the execution that found it, as found
 * @param replay the executions to replay, in order: one (the shrunk schedule) for most verdicts;
 *     for a lock-order inversion, every execution that added an edge of the cycle
 * @param originalPreemptions preemptions of the schedule as found
 * @param preemptions preemptions of the shrunk schedule
 * @param originalSteps steps of the schedule as found
 * @param steps every step of the shrunk schedule, with details
 * @param pending what the CPUs that never finished were blocked in at the end
 * @param cpuNames the CPUs' names by id
 * @param replayIdentical true if replaying the found schedule gave the identical trace
 */
public record Found(Verdict verdict, String foundBy, Explorer.Recorded original, List<Explorer.Recorded> replay,
    int originalPreemptions, int preemptions, long originalSteps, List<StepRecord> steps, List<StepRecord> pending, List<String> cpuNames,
    boolean replayIdentical) {
  public Found {
    replay = List.copyOf(replay);
    steps = List.copyOf(steps);
    pending = List.copyOf(pending);
    cpuNames = List.copyOf(cpuNames);
  }
}
