package org.mmlab.lab;

import java.util.List;
import java.util.Objects;
import org.mmlab.explore.BugException;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;

/** End checks of scenarios: a mismatch is a user-visible wrong result, expected vs seen. */
public final class Checks {
  private Checks() {}

  /** Raises a wrong-result verdict unless {@code seen} equals {@code expected}. */
  public static void equal(String what, Object expected, Object seen) {
    if (!Objects.equals(expected, seen)) {
      throw new BugException(Verdict.of(VerdictKind.WRONG_RESULT, what + ": expected " + expected + ", saw " + seen,
          List.of("expected: " + expected, "seen:     " + seen), List.of()));
    }
  }
}
