package org.mmlab.explore;

import java.util.List;

/**
 * A found bug: what kind, a one-line headline, the details a report prints under the schedule
 * (wait-for chain, where an object was allocated, freed and used, both lockdep chains), and the
 * ids of the objects involved (the report shows the steps that touch them).
 *
 * @param kind what went wrong
 * @param headline one line, e.g. {@code "use-after-free: spinlock ptl of pte table #7"}
 * @param details further lines for the report
 * @param objects ids of the racing objects
 * @param step the step at which it was detected (-1 if outside a schedule)
 */
public record Verdict(VerdictKind kind, String headline, List<String> details, List<Integer> objects, long step) {
  public Verdict {
    details = List.copyOf(details);
    objects = List.copyOf(objects);
  }

  public static Verdict of(VerdictKind kind, String headline, List<String> details, List<Integer> objects) {
    return new Verdict(kind, headline, details, objects, -1);
  }

  Verdict atStep(long s) {
    return new Verdict(kind, headline, details, objects, s);
  }
}
