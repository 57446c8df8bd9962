package org.mmlab.explore;

import java.util.List;

/** The RCU-misuse verdicts both schedulers raise. */
final class RcuVerdicts {
  private RcuVerdicts() {}

  static Verdict unbalancedUnlock(Cpu c) {
    return Verdict.of(VerdictKind.RCU_MISUSE, c.label() + " calls rcu_read_unlock outside a read-side section",
        List.of("rcu_read_lock/rcu_read_unlock must pair"), List.of());
  }

  static Verdict synchronizeInReadSection(Cpu c) {
    return Verdict.of(VerdictKind.RCU_MISUSE, c.label() + " calls synchronize_rcu inside a read-side section",
        List.of("a grace period cannot end while its caller is a reader: this deadlocks"), List.of());
  }

  static Verdict exitInReadSection(Cpu c) {
    return Verdict.of(VerdictKind.RCU_MISUSE, c.label() + " finished inside an RCU read-side section (nesting "
        + c.rcuNesting + ")", List.of("a missing rcu_read_unlock"), List.of());
  }
}
