package org.mmlab.explore.strategy;

import java.util.List;
import org.mmlab.explore.ExploreSched;
import org.mmlab.explore.Strategy;

/**
 * Alternates its member strategies across executions (Coyote runs its strategies as such a
 * portfolio): execution i runs member i mod m, skipping a systematic member once it has
 * exhausted its bounds. Each member keeps its own state (PCT's learned k, DFS's stack).
 * The default members: random walk, PCT d=2 and d=3, fair PCT d=3, POS and DFS with two
 * preemptions — between them, shallow bugs (random, POS), ordering bugs of depth 2–3 (PCT) and
 * a systematic guarantee (DFS) on small scenarios.
 */
public final class Portfolio implements Strategy {
  private final List<Strategy> members;
  private Strategy active;
  private long execution;

  public Portfolio(List<Strategy> members) {
    if (members.isEmpty()) {
      throw new IllegalArgumentException("empty portfolio");
    }
    this.members = List.copyOf(members);
    this.active = this.members.getFirst();
  }

  /** The default portfolio. */
  public static Portfolio standard() {
    return new Portfolio(List.of(new RandomWalk(), new Pct(2, false), new Pct(3, false), new Pct(3, true),
        new Pos(), new Dfs(2)));
  }

  @Override
  public String name() {
    return "portfolio";
  }

  /** The member running the current execution. */
  public Strategy active() {
    return active;
  }

  @Override
  public void beginExecution(long seed) {
    int m = members.size();
    for (int i = 0; i < m; i++) {
      Strategy s = members.get((int) ((execution + i) % m));
      if (!s.exhausted()) {
        active = s;
        break;
      }
    }
    execution++;
    active.beginExecution(seed);
  }

  @Override
  public int pick(ExploreSched ex, int[] enabled, int n) {
    return active.pick(ex, enabled, n);
  }

  @Override
  public void endExecution(ExploreSched ex) {
    active.endExecution(ex);
  }

  @Override
  public boolean exhausted() {
    return members.stream().allMatch(Strategy::exhausted);
  }
}
