package org.mmlab.sync;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.KObject;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.Sched;
import org.mmlab.explore.SyncObject;

/**
 * A shared 64-bit word: {@code atomic_long_t}, or a plain field read and written with
 * {@code READ_ONCE}/{@code WRITE_ONCE} when a lock does not cover it. Every access is a
 * scheduling point, so a read followed by a write is two steps another CPU can come between
 * (the lost update).
 *
 * <p>Memory order: {@link #read} is an acquire load, {@link #write} a release store
 * ({@code smp_load_acquire}/{@code smp_store_release}); the read-modify-writes are fully
 * ordered, as value-returning atomics are in the kernel.
 */
public final class Atomic extends SyncObject {
  private static final VarHandle VALUE;

  static {
    try {
      VALUE = MethodHandles.lookup().findVarHandle(Atomic.class, "value", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  @SuppressWarnings("unused")
  private volatile long value;

  public Atomic(Sched sched, String name, long initial) {
    this(sched, name, initial, null);
  }

  public Atomic(Sched sched, String name, long initial, @Nullable KObject owner) {
    super(sched, name, null, owner);
    VALUE.setRelease(this, initial);
  }

  @Override
  public String kind() {
    return "atomic";
  }

  /** {@code atomic_long_read} / {@code smp_load_acquire}. */
  public long read() {
    sched.point(OpKind.READ, this, "read");
    return (long) VALUE.getAcquire(this);
  }

  /** {@code atomic_long_set} / {@code smp_store_release}. */
  public void write(long v) {
    sched.point(OpKind.WRITE, this, "write");
    VALUE.setRelease(this, v);
  }

  /** {@code atomic_long_cmpxchg} as a boolean ({@code atomic_long_try_cmpxchg}). */
  public boolean compareAndSet(long expect, long update) {
    sched.point(OpKind.RMW, this, "cmpxchg");
    if (VALUE.compareAndSet(this, expect, update)) {
      return true;
    }
    sched.unchanged();
    return false;
  }

  /** {@code atomic_long_add_return}. */
  public long addAndGet(long delta) {
    sched.point(OpKind.RMW, this, "atomic_add_return");
    return (long) VALUE.getAndAdd(this, delta) + delta;
  }

  /** {@code atomic_long_xchg}. */
  public long getAndSet(long v) {
    sched.point(OpKind.RMW, this, "xchg");
    return (long) VALUE.getAndSet(this, v);
  }

  /** Reads without a scheduling point: only for end checks and reports, never in CPU bodies. */
  public long peek() {
    return (long) VALUE.getAcquire(this);
  }

  @Override
  public String state() {
    return "value=" + peek();
  }
}
