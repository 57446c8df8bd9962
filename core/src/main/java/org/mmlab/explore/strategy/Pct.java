package org.mmlab.explore.strategy;

import java.util.Arrays;
import org.mmlab.explore.ExploreSched;
import org.mmlab.explore.Rng;
import org.mmlab.explore.Strategy;

/**
 * PCT (Burckhardt et al., ASPLOS 2010): random distinct priorities for the CPUs, and d − 1
 * priority-change points at random steps in [1, k]; the enabled CPU with the highest priority
 * runs. At the i-th change point the CPU that would run drops to priority i, below every
 * initial priority. A bug of depth d is found with probability at least 1/(n·k^(d−1)).
 *
 * <p>k is learned as the longest execution seen so far (as Fray does), starting from 64.
 *
 * <p>The fair variant (Coyote's fair PCT) demotes a CPU that yields at a retry point below all
 * others, and after k steps switches to a random walk, so spin loops cannot starve the CPU they
 * wait for and step-bound "livelocks" are not manufactured by the strategy.
 */
public final class Pct implements Strategy {
  private final int depth;
  private final boolean fair;
  private long k = 64;
  private Rng rng = new Rng(0);
  private long[] priority = new long[0];
  private long[] changeAt = new long[0];
  private int nextChange;
  private long demoted;

  public Pct(int depth, boolean fair) {
    if (depth < 1) {
      throw new IllegalArgumentException("PCT depth must be at least 1");
    }
    this.depth = depth;
    this.fair = fair;
  }

  @Override
  public String name() {
    return (fair ? "fair-pct" : "pct") + "(d=" + depth + ")";
  }

  @Override
  public void beginExecution(long seed) {
    rng = new Rng(seed);
    priority = new long[0];
    changeAt = new long[depth - 1];
    for (int i = 0; i < changeAt.length; i++) {
      changeAt[i] = 1 + rng.nextLong(k);
    }
    Arrays.sort(changeAt);
    nextChange = 0;
    demoted = 0;
  }

  private void initPriorities(int cpus) {
    priority = new long[cpus];
    // A random permutation of depth .. depth + cpus - 1.
    for (int i = 0; i < cpus; i++) {
      priority[i] = depth + i;
    }
    for (int i = cpus - 1; i > 0; i--) {
      int j = rng.nextInt(i + 1);
      long t = priority[i];
      priority[i] = priority[j];
      priority[j] = t;
    }
  }

  @Override
  public int pick(ExploreSched ex, int[] enabled, int n) {
    if (priority.length != ex.cpuCount()) {
      initPriorities(ex.cpuCount());
    }
    long step = ex.steps();
    if (fair && step > k) {
      return enabled[rng.nextInt(n)];
    }
    if (fair) {
      int last = ex.lastCpu();
      if (last >= 0 && ex.yielded(last)) {
        priority[last] = --demoted;
      }
    }
    int best = highest(enabled, n);
    while (nextChange < changeAt.length && step >= changeAt[nextChange]) {
      priority[best] = depth - 1 - nextChange;
      nextChange++;
      best = highest(enabled, n);
    }
    return best;
  }

  private int highest(int[] enabled, int n) {
    int best = enabled[0];
    for (int i = 1; i < n; i++) {
      if (priority[enabled[i]] > priority[best]) {
        best = enabled[i];
      }
    }
    return best;
  }

  @Override
  public void endExecution(ExploreSched ex) {
    k = Math.max(k, ex.steps());
  }
}
