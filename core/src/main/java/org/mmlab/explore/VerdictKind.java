package org.mmlab.explore;

/** The kinds of verdict the explorer and the checkers give (DESIGN.md §6). */
public enum VerdictKind {
  /** No CPU can run, and some have not finished: the wait-for chain says who waits for whom. */
  DEADLOCK("deadlock", true),
  /** A retry point saw no state change by anyone else while no other CPU could run. */
  LIVELOCK("livelock", true),
  /** The step bound was exceeded, and a fair replay of the prefix did not finish either. */
  POTENTIAL_LIVELOCK("potential-livelock", true),
  /** A {@code BUG_ON}/{@code VM_BUG_ON}-style assertion or a scenario's end check failed. */
  ASSERTION("assertion", true),
  /** An mm-wide or primitive invariant was violated (lock held at exit, consistency walk). */
  INVARIANT("invariant", true),
  /** A user-visible wrong result: expected vs seen. */
  WRONG_RESULT("wrong-result", true),
  /** The model threw an exception. */
  EXCEPTION("exception", true),
  /** An operation on an object after it was freed. */
  USE_AFTER_FREE("use-after-free", true),
  /** Two lock chains that take the same classes in opposite orders (lockdep). */
  LOCK_ORDER_INVERSION("lock-order-inversion", false),
  /** RCU used wrongly: dereference outside a read section, free without a grace period. */
  RCU_MISUSE("rcu-misuse", true),
  /** Refcount underflow, increment from zero, freeze/unfreeze mismatch. */
  REFCOUNT_MISUSE("refcount-misuse", true),
  /** A replay diverged from its recorded schedule: the model is not deterministic. */
  NONDETERMINISM("nondeterminism", true);

  private final String id;
  private final boolean definite;

  VerdictKind(String id, boolean definite) {
    this.id = id;
    this.definite = definite;
  }

  /** The name used on the command line and in {@code --json} ({@code "use-after-free"}). */
  public String id() {
    return id;
  }

  /**
   * True if the verdict ends the exploration at once. A lock-order inversion is a possible
   * deadlock proven from chains seen in different executions: exploration goes on looking for
   * a definite bug and reports the inversion only if it finds none.
   */
  public boolean definite() {
    return definite;
  }

  public static VerdictKind byId(String id) {
    for (VerdictKind k : values()) {
      if (k.id.equals(id)) {
        return k;
      }
    }
    throw new IllegalArgumentException("unknown verdict kind " + id);
  }
}
