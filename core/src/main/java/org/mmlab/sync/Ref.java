package org.mmlab.sync;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.KObject;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.Sched;
import org.mmlab.explore.SyncObject;

/**
 * A shared pointer field read and written without a lock ({@code READ_ONCE}/{@code WRITE_ONCE},
 * {@code cmpxchg} on a pointer). For pointers that RCU readers follow use {@link RcuPointer}.
 *
 * @param <T> the referenced type
 */
public final class Ref<T> extends SyncObject {
  private static final VarHandle VALUE;

  static {
    try {
      VALUE = MethodHandles.lookup().findVarHandle(Ref.class, "value", Object.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  @SuppressWarnings("unused")
  private volatile @Nullable Object value;

  public Ref(Sched sched, String name, @Nullable T initial) {
    this(sched, name, initial, null);
  }

  public Ref(Sched sched, String name, @Nullable T initial, @Nullable KObject owner) {
    super(sched, name, null, owner);
    VALUE.setRelease(this, initial);
  }

  @Override
  public String kind() {
    return "pointer";
  }

  /** {@code smp_load_acquire}. */
  @SuppressWarnings("unchecked")
  public @Nullable T read() {
    sched.point(OpKind.READ, this, "read");
    return (T) VALUE.getAcquire(this);
  }

  /** {@code smp_store_release}. */
  public void write(@Nullable T v) {
    sched.point(OpKind.WRITE, this, "write");
    VALUE.setRelease(this, v);
  }

  /** {@code cmpxchg} on the pointer (identity comparison). */
  public boolean compareAndSet(@Nullable T expect, @Nullable T update) {
    sched.point(OpKind.RMW, this, "cmpxchg");
    if (VALUE.compareAndSet(this, expect, update)) {
      return true;
    }
    sched.unchanged();
    return false;
  }

  /** Reads without a scheduling point: only for end checks and reports. */
  @SuppressWarnings("unchecked")
  public @Nullable T peek() {
    return (T) VALUE.getAcquire(this);
  }

  @Override
  public String state() {
    return "-> " + peek();
  }
}
