package org.mmlab.explore.strategy;

import org.mmlab.explore.ExploreSched;
import org.mmlab.explore.Rng;
import org.mmlab.explore.Strategy;

/** Picks uniformly among the enabled CPUs at every step. Probabilistically fair. */
public final class RandomWalk implements Strategy {
  private Rng rng = new Rng(0);

  @Override
  public String name() {
    return "random";
  }

  @Override
  public void beginExecution(long seed) {
    rng = new Rng(seed);
  }

  @Override
  public int pick(ExploreSched ex, int[] enabled, int n) {
    return enabled[rng.nextInt(n)];
  }
}
