package org.mmlab.sync;

import org.mmlab.debug.KObject;
import org.mmlab.explore.Sched;

/**
 * RCU with the kernel's names ({@code include/linux/rcupdate.h}): {@code rcu_read_lock},
 * {@code rcu_read_unlock}, {@code synchronize_rcu}, {@code call_rcu}, {@code rcu_barrier},
 * {@code kfree_rcu} and {@code rcu_read_lock_held}. Pointers that readers follow are
 * {@link RcuPointer}s.
 *
 * <h2>Implementation notes</h2>
 * A facade: the grace-period machinery belongs to the {@link Sched} (it must see every CPU).
 * Natively it is quiescent-state based, as in a non-preemptible kernel: a read section costs a
 * per-CPU nesting counter; the outermost unlock and every sleep outside a section are
 * quiescent states. Under the explorer a grace period is an {@code await} on every CPU that was
 * reading when it began having left its section, so the explorer can place a reader's accesses
 * on either side of a grace period's end. See {@code NativeSched} and {@code GracePeriod}.
 *
 * <p>Misuse is reported, not tolerated: an unbalanced {@code rcu_read_unlock},
 * {@code synchronize_rcu} inside a read section, finishing a CPU inside one, sleeping inside
 * one (every sleeping primitive checks), and freeing an object that is still published or was
 * unpublished without a grace period ({@link KObject#free()}).
 *
 * <p>Stateless apart from its scheduler: immutable.
 */
public final class Rcu {
  private final Sched sched;

  public Rcu(Sched sched) {
    this.sched = sched;
  }

  /** {@code rcu_read_lock}: enters (or nests) a read-side section of the current CPU. */
  public void readLock() {
    sched.rcuReadLock();
  }

  /** {@code rcu_read_unlock}; the outermost one is a quiescent state. */
  public void readUnlock() {
    sched.rcuReadUnlock();
  }

  /** {@code rcu_read_lock_held}: true if the current CPU is inside a read-side section. */
  public boolean inReadSection() {
    return sched.inRcuReadSection();
  }

  /**
   * {@code synchronize_rcu}: returns once every read section that was in progress when it was
   * called has ended. May sleep; calling it inside a read section is RCU misuse.
   */
  public void synchronize() {
    MightSleep.check(sched, sched.cpu(), "synchronize_rcu");
    sched.synchronizeRcu();
  }

  /** {@code call_rcu}: runs {@code callback} after a grace period (on this CPU under the explorer). */
  public void callRcu(Runnable callback) {
    sched.callRcu(callback);
  }

  /**
   * {@code kfree_rcu}: frees {@code obj} after a grace period. The object must already be
   * unpublished (no {@link RcuPointer} points to it), as the kernel requires of the callers of
   * {@code kfree_rcu}; {@link KObject#free()} checks it.
   */
  public void freeAfterGracePeriod(KObject obj) {
    sched.callRcu(obj::free);
  }

  /** {@code rcu_barrier}: waits for the current CPU's queued callbacks and runs them. May sleep. */
  public void barrier() {
    MightSleep.check(sched, sched.cpu(), "rcu_barrier");
    sched.rcuBarrier();
  }

  /** The scheduler whose RCU this is. */
  public Sched sched() {
    return sched;
  }
}
