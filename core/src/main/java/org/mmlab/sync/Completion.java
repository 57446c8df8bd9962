package org.mmlab.sync;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.KObject;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.Sched;
import org.mmlab.explore.SyncObject;

/**
 * A one-way event with a count: {@code struct completion} ({@code include/linux/completion.h},
 * {@code kernel/sched/completion.c}): {@code complete}, {@code complete_all},
 * {@code wait_for_completion}, {@code try_wait_for_completion}, {@code completion_done} and
 * {@code reinit_completion}.
 *
 * <h2>Overview</h2>
 * {@code done} counts completions not yet consumed: each {@code complete} adds one and each
 * finished wait takes one; {@code complete_all} sets it to "infinite" ({@link #ALL}, the
 * kernel's {@code UINT_MAX}) so that every present and future waiter passes until
 * {@code reinit_completion}.
 *
 * <h2>Implementation notes</h2>
 * <b>Explore:</b> {@code wait_for_completion} is one step, enabled while {@code done > 0}, that
 * consumes one. <b>Native:</b> {@code done} is updated by CAS; a waiter first tries to consume,
 * then {@code await}s the same try (sleeping), and every {@code complete} wakes. The kernel's
 * internal lock and simple wait queue are not modelled separately: the CAS on {@code done} is
 * the whole protocol, and a wake after it cannot be lost because a waiter re-tries the CAS
 * after registering to sleep.
 */
public final class Completion extends SyncObject {
  private static final VarHandle DONE;

  static {
    try {
      DONE = MethodHandles.lookup().findVarHandle(Completion.class, "done", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** {@code done} after {@code complete_all}: never consumed. */
  private static final int ALL = Integer.MAX_VALUE;

  /** Completions not yet consumed, or {@link #ALL}. Native: CAS; explore: plain writes in steps. */
  @SuppressWarnings("unused")
  private volatile int done;

  public Completion(Sched sched, String name) {
    this(sched, name, null);
  }

  public Completion(Sched sched, String name, @Nullable KObject owner) {
    super(sched, name, null, owner);
  }

  @Override
  public String kind() {
    return "completion";
  }

  /** {@code complete}: lets one waiter (present or future) through. */
  public void complete() {
    sched.point(OpKind.RMW, this, "complete");
    if (sched.exploring) {
      if (done != ALL) {
        done = done + 1;
      }
      return;
    }
    int d = (int) DONE.getVolatile(this);
    while (d != ALL) {
      int witness = (int) DONE.compareAndExchange(this, d, d + 1);
      if (witness == d) {
        break;
      }
      d = witness;
    }
    sched.wake(this);
  }

  /** {@code complete_all}: lets every waiter through until {@link #reinit}. */
  public void completeAll() {
    sched.point(OpKind.WRITE, this, "complete_all");
    DONE.setVolatile(this, ALL);
    if (!sched.exploring) {
      sched.wake(this);
    }
  }

  /** {@code wait_for_completion}: sleeps until a completion is available and consumes it. May sleep. */
  public void waitForCompletion() {
    MightSleep.check(sched, sched.cpu(), "wait_for_completion");
    if (sched.exploring) {
      sched.await(OpKind.RMW, this, "wait_for_completion", this::availablePlain, true);
      consumePlain();
      return;
    }
    sched.point(OpKind.WAIT, this, "wait_for_completion");
    if (!tryConsumeNative()) {
      sched.await(OpKind.RMW, this, "wait_for_completion", this::tryConsumeNative, true);
    }
  }

  /** {@code try_wait_for_completion}: consumes a completion if one is available, without sleeping. */
  public boolean tryWaitForCompletion() {
    sched.point(OpKind.RMW, this, "try_wait_for_completion");
    if (sched.exploring) {
      if (!availablePlain()) {
        sched.unchanged();
        return false;
      }
      consumePlain();
      return true;
    }
    return tryConsumeNative();
  }

  /** {@code completion_done}: true if a wait would not sleep now. */
  public boolean isDone() {
    sched.point(OpKind.READ, this, "completion_done");
    return (int) DONE.getAcquire(this) > 0;
  }

  /** {@code reinit_completion}: no completions available; waiters sleep again. */
  public void reinit() {
    sched.point(OpKind.WRITE, this, "reinit_completion");
    DONE.setVolatile(this, 0);
  }

  /**
   * The unconsumed count without a scheduling point (for end checks and reports);
   * {@code Integer.MAX_VALUE} after {@code complete_all}.
   */
  public int peek() {
    return (int) DONE.getAcquire(this);
  }

  private boolean availablePlain() {
    return done > 0;
  }

  private void consumePlain() {
    if (done != ALL) {
      done = done - 1;
    }
  }

  private boolean tryConsumeNative() {
    int d = (int) DONE.getVolatile(this);
    while (d > 0) {
      if (d == ALL) {
        return true;
      }
      int witness = (int) DONE.compareAndExchange(this, d, d - 1);
      if (witness == d) {
        return true;
      }
      d = witness;
    }
    return false;
  }

  @Override
  public String state() {
    int d = peek();
    return d == ALL ? "done=all" : "done=" + d;
  }
}
