package org.mmlab.explore.strategy;

import org.mmlab.explore.ExploreSched;
import org.mmlab.explore.Strategy;

/**
 * Replays a recorded schedule (the CPU of every step) exactly. A recorded CPU that is not
 * enabled where the schedule says it ran means the model is not deterministic: that is
 * reported, never papered over. Past the end of the schedule a replay continues on the CPU
 * that ran last if it can, else the lowest enabled one.
 */
public final class Guided implements Strategy {
  private final byte[] schedule;
  private boolean diverged;
  private String divergence = "";

  public Guided(byte[] schedule) {
    this.schedule = schedule.clone();
  }

  @Override
  public String name() {
    return "replay";
  }

  @Override
  public void beginExecution(long seed) {
    diverged = false;
    divergence = "";
  }

  /** True if the replay could not follow the schedule. */
  public boolean diverged() {
    return diverged;
  }

  public String divergence() {
    return divergence;
  }

  @Override
  public boolean wantsEveryStep() {
    return true;
  }

  @Override
  public int pick(ExploreSched ex, int[] enabled, int n) {
    long step = ex.steps();
    if (step < schedule.length) {
      int want = schedule[(int) step];
      for (int i = 0; i < n; i++) {
        if (enabled[i] == want) {
          return want;
        }
      }
      if (!diverged) {
        diverged = true;
        divergence = "step " + step + ": the schedule runs CPU" + want + " but it is not enabled";
      }
    }
    int last = ex.lastCpu();
    for (int i = 0; i < n; i++) {
      if (enabled[i] == last) {
        return last;
      }
    }
    return enabled[0];
  }
}
