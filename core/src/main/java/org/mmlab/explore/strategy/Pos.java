package org.mmlab.explore.strategy;

import org.mmlab.explore.ExploreSched;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.Rng;
import org.mmlab.explore.Strategy;

/**
 * POS, partial-order sampling (Yuan et al., CAV 2018): every pending event has a random
 * priority; the enabled event with the highest priority runs; after it runs, the pending events
 * that race with it (same object, at least one of them a write) get fresh priorities, and so
 * does the next event of the CPU that ran. Independent events keep their relative order, so
 * schedules that differ only in the order of independent steps are not sampled over and over.
 */
public final class Pos implements Strategy {
  private Rng rng = new Rng(0);
  private double[] priority = new double[0];

  @Override
  public String name() {
    return "pos";
  }

  @Override
  public void beginExecution(long seed) {
    rng = new Rng(seed);
    priority = new double[0];
  }

  @Override
  public int pick(ExploreSched ex, int[] enabled, int n) {
    int cpus = ex.cpuCount();
    if (priority.length != cpus) {
      priority = new double[cpus];
      for (int i = 0; i < cpus; i++) {
        priority[i] = rng.nextDouble();
      }
    }
    int best = enabled[0];
    for (int i = 1; i < n; i++) {
      if (priority[enabled[i]] > priority[best]) {
        best = enabled[i];
      }
    }
    OpKind kind = ex.pendingKind(best);
    int obj = ex.pendingObjectId(best);
    for (int c = 0; c < cpus; c++) {
      if (c != best && obj != 0 && ex.pendingObjectId(c) == obj && kind.conflictsWith(ex.pendingKind(c))) {
        priority[c] = rng.nextDouble();
      }
    }
    priority[best] = rng.nextDouble();
    return best;
  }
}
