package org.mmlab.explore;

import java.util.List;
import org.mmlab.explore.strategy.Dfs;
import org.mmlab.explore.strategy.Pct;
import org.mmlab.explore.strategy.Portfolio;
import org.mmlab.explore.strategy.Pos;
import org.mmlab.explore.strategy.RandomWalk;

/**
 * Strategy names as the command line takes them. A name may carry its parameter after a colon:
 * {@code pct:2} is PCT with depth 2, {@code dfs:3} bounded DFS with three preemptions.
 *
 * <table>
 *   <caption>strategies</caption>
 *   <tr><th>name</th><th>strategy</th><th>default parameter</th></tr>
 *   <tr><td>random</td><td>random walk</td><td>—</td></tr>
 *   <tr><td>pct</td><td>PCT(d)</td><td>d = 3</td></tr>
 *   <tr><td>fair-pct</td><td>fair PCT(d)</td><td>d = 3</td></tr>
 *   <tr><td>pos</td><td>partial-order sampling</td><td>—</td></tr>
 *   <tr><td>dfs</td><td>bounded fair DFS</td><td>2 preemptions</td></tr>
 *   <tr><td>portfolio</td><td>all of the above, alternating</td><td>—</td></tr>
 * </table>
 */
public final class Strategies {
  /** The base names accepted by {@link #named}. */
  public static final List<String> NAMES = List.of("random", "pct", "fair-pct", "pos", "dfs", "portfolio");

  private Strategies() {}

  /** A fresh strategy for {@code spec}; throws IllegalArgumentException for unknown names. */
  public static Strategy named(String spec) {
    String name = spec;
    Integer param = null;
    int colon = spec.indexOf(':');
    if (colon >= 0) {
      name = spec.substring(0, colon);
      try {
        param = Integer.parseInt(spec.substring(colon + 1));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("bad strategy parameter in " + spec);
      }
    }
    return switch (name) {
      case "random" -> new RandomWalk();
      case "pct" -> new Pct(param == null ? 3 : param, false);
      case "fair-pct" -> new Pct(param == null ? 3 : param, true);
      case "pos" -> new Pos();
      case "dfs" -> new Dfs(param == null ? 2 : param);
      case "portfolio" -> Portfolio.standard();
      default -> throw new IllegalArgumentException("unknown strategy " + spec + " (one of " + String.join(", ", NAMES) + ")");
    };
  }
}
