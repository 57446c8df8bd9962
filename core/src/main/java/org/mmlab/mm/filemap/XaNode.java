package org.mmlab.mm.filemap;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.KObject;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.Sched;
import org.mmlab.explore.SyncObject;

/**
 * One node of an {@link XArray}: {@code struct xa_node} ({@code include/linux/xarray.h}), 64
 * slots ({@code XA_CHUNK_SHIFT} 6), three mark bitmaps, its shift, its place in its parent and
 * the counts the writer keeps.
 *
 * <p>The node is the {@link SyncObject} its slot and mark accesses are scheduling points on,
 * and its lifetime is the {@link KObject} {@link #life}, its owner: an access through a stale
 * pointer after the node was freed (by {@code call_rcu}, as {@code xa_node_free} does) is a
 * use-after-free verdict from the scheduler's owner check. Nodes are never reused.
 *
 * <p>Accessors say their order: {@link #read}/{@link #write} are scheduling points (acquire
 * load, release store natively); {@link #peek} and {@link #init} are not (reports, checks,
 * and nodes not yet published).
 */
final class XaNode extends SyncObject {
  /** {@code XA_CHUNK_SHIFT}. */
  static final int SHIFT = 6;
  /** {@code XA_CHUNK_SIZE}. */
  static final int SIZE = 1 << SHIFT;
  /** {@code XA_CHUNK_MASK}. */
  static final int MASK = SIZE - 1;
  /** {@code XA_MAX_MARKS}. */
  static final int MARKS = 3;

  private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(Object[].class);
  private static final VarHandle MARK = MethodHandles.arrayElementVarHandle(long[].class);
  private static final VarHandle DEAD;

  static {
    try {
      DEAD = MethodHandles.lookup().findVarHandle(XaNode.class, "dead", boolean.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** {@code shift}: each slot covers {@code 1 << shift} indices. Immutable. */
  final int shift;
  /** The node's lifetime (its memory, as KASAN sees it). Immutable. */
  final KObject life;
  /**
   * {@code slots[]}: entries, sibling entries, child nodes, retry entries or null. RCU:
   * written (release) by the {@code xa_lock} holder, read (acquire) under {@code rcu_read_lock}
   * or the lock.
   */
  private final Object[] slots = new Object[SIZE];
  /**
   * {@code marks[XA_MAX_MARKS]}: bit {@code i} of word {@code m} set if slot {@code i} (or, for
   * a child node, something below it) has mark {@code m}. Written (release) by the
   * {@code xa_lock} holder, read (acquire) racily by RCU readers.
   */
  private final long[] marks = new long[MARKS];
  /** {@code count}: slots that are not null (siblings and children included). Protected by {@code xa_lock}. */
  int count;
  /** {@code nr_values}: slots (siblings included) whose entry is a value entry. Protected by {@code xa_lock}. */
  int nrValues;
  /** {@code parent}, null for the root. Protected by {@code xa_lock} (readers here never follow it). */
  @Nullable XaNode parent;
  /** {@code offset}: this node's slot in its parent. Protected by {@code xa_lock}. */
  int offset;
  /**
   * Set once, before the node is freed ({@code xa_node_free} setting {@code node->array} to
   * {@code XA_RCU_FREE}); written (release) before any slot of the node is set to the retry
   * entry, so a reader that reads such a retry entry (acquire) then sees it. Written under
   * {@code xa_lock}.
   */
  @SuppressWarnings("unused")
  private volatile boolean dead;

  private XaNode(Sched sched, String name, KObject life, int shift, @Nullable XaNode parent, int offset) {
    super(sched, name, null, life);
    this.life = life;
    this.shift = shift;
    this.parent = parent;
    this.offset = offset;
  }

  /** {@code xas_alloc}: a new, empty, unpublished node named {@code name} in reports. */
  static XaNode alloc(Sched sched, String name, int shift, @Nullable XaNode parent, int offset) {
    KObject life = new KObject(sched, "xa_node", name);
    return new XaNode(sched, name, life, shift, parent, offset);
  }

  @Override
  public String kind() {
    return "xa_node";
  }

  @Override
  public String state() {
    return "shift=" + shift + " count=" + count + (isDeadPeek() ? " (freed by RCU)" : "");
  }

  /** {@code get_offset}: the slot of this node that covers {@code index}; no scheduling point. */
  int slotOf(long index) {
    return (int) (index >>> shift) & MASK;
  }

  // ------------------------------------------------------------------ slots

  /** {@code xa_entry}/{@code xa_entry_locked}: slot {@code off}, a scheduling point tagged {@code what}. */
  @Nullable Object read(int off, String what) {
    sched.point(OpKind.READ, this, what);
    return SLOT.getAcquire(slots, off);
  }

  /**
   * {@code rcu_assign_pointer(node->slots[off], v)}: a scheduling point. Called with
   * {@code xa_lock} held. A node stored or replaced is counted as published or unpublished on
   * its {@link KObject} (so freeing it while reachable is RCU misuse).
   */
  void write(int off, @Nullable Object v, String what) {
    sched.point(OpKind.WRITE, this, what);
    Object old = SLOT.getOpaque(slots, off);
    if (v instanceof XaNode n) {
      n.life.rcuPublish();
    }
    SLOT.setRelease(slots, off, v);
    if (old instanceof XaNode n && old != v) {
      n.life.rcuUnpublish();
    }
  }

  /** {@code RCU_INIT_POINTER} into a node no reader can reach yet: no scheduling point. */
  void init(int off, @Nullable Object v) {
    if (v instanceof XaNode n) {
      n.life.rcuPublish();
    }
    SLOT.setRelease(slots, off, v);
  }

  /** Slot {@code off} without a scheduling point: checks and reports only. */
  @Nullable Object peek(int off) {
    return SLOT.getAcquire(slots, off);
  }

  // ------------------------------------------------------------------ marks

  /** The bitmap of mark {@code m}: a scheduling point (readers: racy, as {@code xas_find_marked}). */
  long readMarks(int m, String what) {
    sched.point(OpKind.READ, this, what);
    return (long) MARK.getAcquire(marks, m);
  }

  /** {@code node_set_mark}: returns true if the bit was already set. Called with {@code xa_lock} held. */
  boolean setMark(int m, int off) {
    sched.point(OpKind.WRITE, this, "node_set_mark");
    long w = (long) MARK.getOpaque(marks, m);
    long bit = 1L << off;
    if ((w & bit) != 0) {
      return true;
    }
    MARK.setRelease(marks, m, w | bit);
    return false;
  }

  /** {@code node_clear_mark}: returns true if the bit was set. Called with {@code xa_lock} held. */
  boolean clearMark(int m, int off) {
    sched.point(OpKind.WRITE, this, "node_clear_mark");
    long w = (long) MARK.getOpaque(marks, m);
    long bit = 1L << off;
    if ((w & bit) == 0) {
      return false;
    }
    MARK.setRelease(marks, m, w & ~bit);
    return true;
  }

  /** Replaces the whole bitmap of mark {@code m} ({@code xas_squash_marks}). Called with {@code xa_lock} held. */
  void writeMarks(int m, long w, String what) {
    sched.point(OpKind.WRITE, this, what);
    MARK.setRelease(marks, m, w);
  }

  /** Initializes the bitmap of mark {@code m} of an unpublished node: no scheduling point. */
  void initMarks(int m, long w) {
    MARK.setRelease(marks, m, w);
  }

  /** The bitmap of mark {@code m} without a scheduling point: checks and reports only. */
  long peekMarks(int m) {
    return (long) MARK.getAcquire(marks, m);
  }

  // ------------------------------------------------------------------ death

  /** Marks the node as being freed, before its slots get retry entries. Called with {@code xa_lock} held. */
  void markDead() {
    sched.point(OpKind.WRITE, this, "xa_node_free");
    DEAD.setRelease(this, true);
  }

  /** True once the writer has begun freeing the node; read right after a slot read, in its step. */
  boolean isDead() {
    return (boolean) DEAD.getAcquire(this);
  }

  /** {@link #isDead} for checks and reports. */
  boolean isDeadPeek() {
    return (boolean) DEAD.getAcquire(this);
  }
}
