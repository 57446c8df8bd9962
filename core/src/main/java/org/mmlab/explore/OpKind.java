package org.mmlab.explore;

/**
 * What a scheduling point is about to do. Every operation a simulated CPU performs on shared
 * model state is announced with one of these and the object it touches, before it happens;
 * the strategies (POS in particular) use the pair to decide which pending operations race.
 */
public enum OpKind {
  /** A CPU starts its body. */
  START,
  /** A load of shared state. */
  READ,
  /** A store to shared state. */
  WRITE,
  /** An atomic read-modify-write (cmpxchg, xchg, add, bit test-and-set). */
  RMW,
  /** Acquisition of a lock or pseudo-lock (the step happens once the lock is free). */
  LOCK,
  /** Release of a lock or pseudo-lock. */
  UNLOCK,
  /** A wait for a condition that is not a lock (wait queue, completion, grace period, bit). */
  WAIT,
  /** A named retry point of an unbounded retry loop. */
  RETRY,
  /** A CPU-local RCU read-side marker ({@code rcu_read_lock}/{@code rcu_read_unlock}). */
  RCU;

  /** True if the operation may change shared state (it bumps the explorer's write epoch). */
  public boolean mutates() {
    return this == WRITE || this == RMW || this == LOCK || this == UNLOCK;
  }

  /** True if two operations of these kinds on one object can race (at least one mutates). */
  public boolean conflictsWith(OpKind other) {
    if (this == START || other == START || this == RCU || other == RCU) {
      return false;
    }
    return mutates() || other.mutates();
  }
}
