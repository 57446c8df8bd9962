package org.mmlab.sync;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.KObject;
import org.mmlab.explore.BugException;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.Sched;
import org.mmlab.explore.SyncObject;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;

/**
 * A pointer that RCU readers follow: an {@code __rcu} pointer ({@code include/linux/rcupdate.h}):
 * {@code rcu_assign_pointer}, {@code rcu_dereference}, {@code rcu_dereference_check},
 * {@code rcu_dereference_protected}, {@code rcu_replace_pointer} and {@code RCU_INIT_POINTER}
 * (the constructor).
 *
 * <h2>Checks</h2>
 * {@code rcu_dereference} outside a read-side section, and {@code rcu_dereference_protected}
 * or {@code rcu_replace_pointer} whose caller says it does not hold the update-side lock, are
 * RCU misuse (the kernel's lockdep-RCU "suspicious rcu_dereference" splat). Publishing and
 * unpublishing a {@link KObject} is counted on the object, so freeing it while it is reachable
 * or before a grace period has passed since it was unpublished is caught by
 * {@link KObject#free()}.
 *
 * <h2>Memory ordering (native)</h2>
 * {@code rcu_assign_pointer} is a release store: the initialization of the new object happens
 * before its publication. {@code rcu_dereference} is an acquire load: Java has no
 * consume ordering (the kernel relies on address dependencies), and acquire is the cheapest
 * ordering that is correct without it (a plain load on x86).
 *
 * @param <T> the referenced type
 */
public final class RcuPointer<T> extends SyncObject {
  private static final VarHandle VALUE;

  static {
    try {
      VALUE = MethodHandles.lookup().findVarHandle(RcuPointer.class, "value", Object.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /**
   * The published pointer. RCU: written with release by updaters, which the caller's
   * update-side lock serializes; read with acquire under {@code rcu_read_lock} or that lock.
   */
  @SuppressWarnings("unused")
  private volatile @Nullable Object value;

  public RcuPointer(Sched sched, String name, @Nullable T initial) {
    this(sched, name, initial, null);
  }

  /** {@code RCU_INIT_POINTER}: a pointer embedded in {@code owner}, initially publishing {@code initial}. */
  public RcuPointer(Sched sched, String name, @Nullable T initial, @Nullable KObject owner) {
    super(sched, name, null, owner);
    if (initial instanceof KObject k) {
      k.rcuPublish();
    }
    VALUE.setRelease(this, initial);
  }

  @Override
  public String kind() {
    return "rcu pointer";
  }

  /**
   * {@code rcu_assign_pointer}: publishes {@code v}. Called with the update-side lock held.
   * The object it replaces stays valid for readers until a grace period has passed.
   */
  public void assign(@Nullable T v) {
    sched.point(OpKind.WRITE, this, "rcu_assign_pointer");
    publish(v);
  }

  /**
   * {@code rcu_replace_pointer}: publishes {@code v} and returns the previous value. Called
   * with the update-side lock held; {@code lockHeld} is the caller's lockdep condition, and
   * false is RCU misuse.
   */
  @SuppressWarnings("unchecked")
  public @Nullable T replace(@Nullable T v, boolean lockHeld) {
    sched.point(OpKind.WRITE, this, "rcu_replace_pointer");
    if (!lockHeld) {
      throw misuse("rcu_replace_pointer without the update-side lock");
    }
    return (T) publish(v);
  }

  /** {@code rcu_replace_pointer} for callers with no lockdep condition to give. */
  public @Nullable T replace(@Nullable T v) {
    return replace(v, true);
  }

  /** {@code rcu_dereference}: the current CPU must be in a read-side section, else RCU misuse. */
  @SuppressWarnings("unchecked")
  public @Nullable T dereference() {
    sched.point(OpKind.READ, this, "rcu_dereference");
    if (!sched.inRcuReadSection()) {
      throw misuse("rcu_dereference outside an RCU read-side section");
    }
    return (T) VALUE.getAcquire(this);
  }

  /**
   * {@code rcu_dereference_check}: legal inside a read-side section or when {@code lockHeld}
   * (the caller's "holds the update-side lock" condition), else RCU misuse.
   */
  @SuppressWarnings("unchecked")
  public @Nullable T dereferenceCheck(boolean lockHeld) {
    sched.point(OpKind.READ, this, "rcu_dereference_check");
    if (!lockHeld && !sched.inRcuReadSection()) {
      throw misuse("rcu_dereference_check outside a read-side section and without the update-side lock");
    }
    return (T) VALUE.getAcquire(this);
  }

  /**
   * {@code rcu_dereference_protected}: the update side's read, legal only with the update-side
   * lock held; {@code lockHeld} is the caller's lockdep condition, and false is RCU misuse.
   */
  @SuppressWarnings("unchecked")
  public @Nullable T dereferenceProtected(boolean lockHeld) {
    sched.point(OpKind.READ, this, "rcu_dereference_protected");
    if (!lockHeld) {
      throw misuse("rcu_dereference_protected without the update-side lock");
    }
    return (T) VALUE.getAcquire(this);
  }

  /** Reads without a scheduling point or check: only for end checks and reports. */
  @SuppressWarnings("unchecked")
  public @Nullable T peek() {
    return (T) VALUE.getAcquire(this);
  }

  private @Nullable Object publish(@Nullable Object v) {
    Object old = VALUE.getOpaque(this);
    if (v == old) {
      return old;
    }
    if (v instanceof KObject k) {
      k.rcuPublish();
    }
    VALUE.setRelease(this, v);
    if (old instanceof KObject k) {
      k.rcuUnpublish();
    }
    return old;
  }

  private BugException misuse(String what) {
    return sched.bug(Verdict.of(VerdictKind.RCU_MISUSE, sched.cpu().label() + ": " + what + " (" + describe() + ")",
        List.of("rcu nesting: " + sched.cpu().rcuNesting(), "held: " + sched.cpu().heldLocks()), List.of(id())));
  }

  @Override
  public String state() {
    return "-> " + peek();
  }
}
