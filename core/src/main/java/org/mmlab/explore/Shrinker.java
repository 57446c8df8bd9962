package org.mmlab.explore;

import java.util.ArrayList;
import java.util.List;
import org.mmlab.explore.strategy.Segments;
import org.mmlab.explore.strategy.Segments.Segment;

/**
 * Shrinks a failing schedule to the fewest preemptions. The schedule is cut into segments (runs
 * of one CPU); a move takes a segment and puts it next to the following segment of the same
 * CPU (pulling that one forward, or pushing this one back), which removes one context switch.
 * A move is kept if the program, run under the moved segments (relaxed: a segment ends early
 * when its CPU cannot run), still gives a verdict of the same kind with fewer preemptions, or
 * as many in fewer steps. Greedy, first improvement, until no move helps or the budget of runs
 * is spent.
 */
final class Shrinker {
  private static final int MAX_RUNS = 3_000;
  /** At most 5 s of shrinking, unless {@link Explorer#WALL_CLOCK_LIMITS} is off (then only {@link #MAX_RUNS}). */
  private static final long MAX_NANOS = Explorer.WALL_CLOCK_LIMITS ? 5_000_000_000L : Long.MAX_VALUE;

  private final Explorer explorer;
  private final VerdictKind kind;
  private final long maxSteps;

  Shrinker(Explorer explorer, VerdictKind kind, long maxSteps) {
    this.explorer = explorer;
    this.kind = kind;
    this.maxSteps = maxSteps;
  }

  byte[] shrink(byte[] schedule, int preemptions, long steps) {
    long t0 = System.nanoTime();
    int runs = 0;
    byte[] best = schedule;
    int bestPre = preemptions;
    long bestSteps = steps;
    boolean improved = true;
    while (improved && runs < MAX_RUNS && System.nanoTime() - t0 < MAX_NANOS) {
      improved = false;
      List<Segment> segs = Segments.of(best);
      search:
      for (int i = 0; i < segs.size(); i++) {
        int j = nextOfSameCpu(segs, i);
        if (j < 0) {
          continue;
        }
        for (List<Segment> cand : List.of(pullForward(segs, i, j), pushBack(segs, i, j))) {
          if (runs++ >= MAX_RUNS || System.nanoTime() - t0 >= MAX_NANOS) {
            break search;
          }
          Segments guide = new Segments(cand);
          guide.beginExecution(0);
          Explorer.Outcome out = explorer.runOne(guide, null, maxSteps, false, 0);
          Verdict v = out.verdict();
          if (v != null && v.kind() == kind && !out.stepBound()
              && (out.preemptions() < bestPre || (out.preemptions() == bestPre && out.steps() < bestSteps))) {
            best = out.schedule();
            bestPre = out.preemptions();
            bestSteps = out.steps();
            improved = true;
            break search;
          }
        }
      }
    }
    return best;
  }

  private static int nextOfSameCpu(List<Segment> segs, int i) {
    for (int j = i + 1; j < segs.size(); j++) {
      if (segs.get(j).cpu() == segs.get(i).cpu()) {
        return j;
      }
    }
    return -1;
  }

  /** Segment j moves up to join segment i. */
  private static List<Segment> pullForward(List<Segment> segs, int i, int j) {
    List<Segment> out = new ArrayList<>(segs.subList(0, i));
    out.add(new Segment(segs.get(i).cpu(), segs.get(i).length() + segs.get(j).length()));
    out.addAll(segs.subList(i + 1, j));
    out.addAll(segs.subList(j + 1, segs.size()));
    return out;
  }

  /** Segment i moves down to join segment j. */
  private static List<Segment> pushBack(List<Segment> segs, int i, int j) {
    List<Segment> out = new ArrayList<>(segs.subList(0, i));
    out.addAll(segs.subList(i + 1, j));
    out.add(new Segment(segs.get(i).cpu(), segs.get(i).length() + segs.get(j).length()));
    out.addAll(segs.subList(j + 1, segs.size()));
    return out;
  }
}
