package org.mmlab.mm.filemap;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.KObject;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.Sched;
import org.mmlab.explore.SyncObject;

/**
 * The head of an {@link XArray}: {@code xa_head} and the array's mark bits ({@code xa_flags}'
 * {@code XA_FLAGS_MARK}), the object the head's scheduling points are about, owned by the
 * array's owner.
 *
 * <p>Accessors say their order, as {@link XaNode}'s do: {@link #read}/{@link #write} and
 * {@link #readMarks}/{@link #writeMarks} are scheduling points (acquire load, release store
 * natively); {@link #peek} and {@link #peekMarks} are not (checks and reports only).
 */
final class XaHead extends SyncObject {
  private static final VarHandle ENTRY;
  private static final VarHandle MARKS;

  static {
    try {
      ENTRY = MethodHandles.lookup().findVarHandle(XaHead.class, "entry", Object.class);
      MARKS = MethodHandles.lookup().findVarHandle(XaHead.class, "marks", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** {@code xa_head}: null, the entry of index 0, or the root node. RCU: written (release) under {@code xa_lock}. */
  @SuppressWarnings("unused")
  private volatile @Nullable Object entry;
  /** Bit {@code m}: something in the array has mark {@code m}. Written (release) under {@code xa_lock}, read racily. */
  @SuppressWarnings("unused")
  private volatile int marks;

  XaHead(Sched sched, String name, @Nullable KObject owner) {
    super(sched, name, null, owner);
  }

  @Override
  public String kind() {
    return "xarray";
  }

  /** {@code xa_head}/{@code xa_head_locked}: a scheduling point tagged {@code what}. */
  @Nullable Object read(String what) {
    sched.point(OpKind.READ, this, what);
    return ENTRY.getAcquire(this);
  }

  /**
   * {@code rcu_assign_pointer(xa->xa_head, v)}: a scheduling point. Called with {@code xa_lock}
   * held. A node stored or replaced is counted as published or unpublished on its
   * {@link KObject}.
   */
  void write(@Nullable Object v, String what) {
    sched.point(OpKind.WRITE, this, what);
    Object old = ENTRY.getOpaque(this);
    if (v instanceof XaNode n) {
      n.life.rcuPublish();
    }
    ENTRY.setRelease(this, v);
    if (old instanceof XaNode n && old != v) {
      n.life.rcuUnpublish();
    }
  }

  /** The head without a scheduling point: checks and reports only. */
  @Nullable Object peek() {
    return ENTRY.getAcquire(this);
  }

  /** The array's mark bits: a scheduling point (readers: racy). */
  int readMarks(String what) {
    sched.point(OpKind.READ, this, what);
    return (int) MARKS.getAcquire(this);
  }

  /** Replaces the array's mark bits. Called with {@code xa_lock} held. */
  void writeMarks(int m, String what) {
    sched.point(OpKind.WRITE, this, what);
    MARKS.setRelease(this, m);
  }

  /** The array's mark bits without a scheduling point: checks and reports only. */
  int peekMarks() {
    return (int) MARKS.getAcquire(this);
  }

  @Override
  public String state() {
    return "head=" + peek() + " marks=" + peekMarks();
  }
}
