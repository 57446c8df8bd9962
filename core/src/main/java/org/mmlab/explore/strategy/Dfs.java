package org.mmlab.explore.strategy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.mmlab.explore.ExploreSched;
import org.mmlab.explore.Strategy;

/**
 * Bounded fair depth-first search (CHESS, Musuvathi and Qadeer, PLDI 2007/2008): stateless
 * enumeration of every schedule with at most {@code bound} preemptions. A preemption is a
 * switch away from a CPU that could go on and did not yield; staying on a CPU that just yielded
 * (at a retry point) while another could run counts as one too, which makes the search fair:
 * a spinning CPU cannot keep the CPU it waits for from running, so spin loops end and the
 * search terminates.
 *
 * <p>Each execution replays the choices on the stack, then takes the default (non-preemptive)
 * choice at every new decision; at the end, the deepest decision with an untried alternative
 * within the bound is advanced. When none is left, {@link #exhausted()} is true: every schedule
 * within the bound has been run.
 */
public final class Dfs implements Strategy {
  private static final class Frame {
    final int[] enabled;
    final int[] alts;
    final int[] costs;
    int pos;

    Frame(int[] enabled, int[] alts, int[] costs) {
      this.enabled = enabled;
      this.alts = alts;
      this.costs = costs;
    }
  }

  private final int bound;
  private final List<Frame> stack = new ArrayList<>();
  private int depth;
  private int spent;
  private boolean exhausted;

  public Dfs(int bound) {
    this.bound = bound;
  }

  @Override
  public String name() {
    return "dfs(bound=" + bound + ")";
  }

  @Override
  public void beginExecution(long seed) {
    depth = 0;
    spent = 0;
  }

  @Override
  public int pick(ExploreSched ex, int[] enabled, int n) {
    if (depth < stack.size()) {
      Frame f = stack.get(depth++);
      if (!Arrays.equals(f.enabled, 0, f.enabled.length, enabled, 0, n)) {
        throw new IllegalStateException("nondeterminism: at step " + ex.steps() + " the enabled CPUs were "
            + Arrays.toString(Arrays.copyOf(enabled, n)) + ", recorded " + Arrays.toString(f.enabled));
      }
      spent += f.costs[f.pos];
      return f.alts[f.pos];
    }
    int last = ex.lastCpu();
    boolean lastEnabled = false;
    for (int i = 0; i < n; i++) {
      lastEnabled |= enabled[i] == last;
    }
    boolean lastYielded = lastEnabled && ex.yielded(last);
    int[] alts = new int[n];
    int[] costs = new int[n];
    int m = 0;
    // The default first: stay on a CPU that can go on; after a yield, the next CPU round-robin.
    int dflt;
    if (lastEnabled && !lastYielded) {
      dflt = last;
    } else if (lastEnabled) {
      dflt = nextAfter(last, enabled, n);
    } else {
      dflt = enabled[0];
    }
    for (int k = -1; k < n; k++) {
      int c = k < 0 ? dflt : enabled[k];
      if (k >= 0 && c == dflt) {
        continue;
      }
      int cost = 0;
      if (lastEnabled && c != last && !lastYielded) {
        cost = 1;
      } else if (lastEnabled && c == last && lastYielded) {
        cost = 1;
      }
      if (spent + cost <= bound) {
        alts[m] = c;
        costs[m] = cost;
        m++;
      }
    }
    Frame f = new Frame(Arrays.copyOf(enabled, n), Arrays.copyOf(alts, m), Arrays.copyOf(costs, m));
    stack.add(f);
    depth++;
    spent += f.costs[0];
    return f.alts[0];
  }

  private static int nextAfter(int last, int[] enabled, int n) {
    for (int i = 0; i < n; i++) {
      if (enabled[i] > last) {
        return enabled[i];
      }
    }
    return enabled[0] == last && n > 1 ? enabled[1] : enabled[0];
  }

  @Override
  public void endExecution(ExploreSched ex) {
    // Decisions beyond this execution's depth were not reached: drop them.
    while (stack.size() > depth) {
      stack.removeLast();
    }
    while (!stack.isEmpty()) {
      Frame top = stack.getLast();
      top.pos++;
      if (top.pos < top.alts.length) {
        return;
      }
      stack.removeLast();
    }
    exhausted = true;
  }

  @Override
  public boolean exhausted() {
    return exhausted;
  }
}
