package org.mmlab.explore;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;

/**
 * A simulated CPU: in explore mode a task driven by the {@link Explorer}, in native mode a real
 * thread. It carries what the kernel keeps per CPU or per task and what the checkers need: the
 * stack of held locks (lockdep's {@code held_locks}), the RCU read-side nesting, and, in explore
 * mode, the operation it is about to perform.
 *
 * <h2>Concurrency</h2>
 * Fields are owned by the CPU itself; in explore mode the driver reads them only while the CPU
 * is suspended (one task runs at a time). In native mode the grace-period machinery reads
 * {@code rcuQs} and {@code rcuIdle} from other threads through their VarHandles.
 */
public final class Cpu {
  private static final VarHandle RCU_QS;
  private static final VarHandle RCU_IDLE;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      RCU_QS = l.findVarHandle(Cpu.class, "rcuQs", long.class);
      RCU_IDLE = l.findVarHandle(Cpu.class, "rcuIdle", boolean.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /**
   * Padding, declared before the other long fields: HotSpot lays a class's fields out by size,
   * the longs first and in declaration order, so these 56 bytes sit between this object's start
   * and its hot fields, and the object before it in memory (often another CPU's, after a
   * garbage collection copied them side by side) cannot share their cache line.
   */
  @SuppressWarnings("unused")
  private long pad0, pad1, pad2, pad3, pad4, pad5, pad6;

  /** Index of this CPU in its execution (0-based). Immutable. */
  public final int id;
  /** Name shown in reports, e.g. {@code "fault"}. Immutable. */
  public final String name;

  // --- held locks (lockdep's held_locks); owned by this CPU ---
  private SyncObject[] held = new SyncObject[8];
  private long[] heldStep = new long[8];
  private int heldCount;

  // --- RCU; owned by this CPU ---
  /** {@code rcu_read_lock} nesting depth. Owned by this CPU. */
  int rcuNesting;
  /** Number of outermost {@code rcu_read_unlock}s so far (explore mode grace periods). */
  long rcuExits;
  /** Quiescent-state counter for native grace periods. Written by this CPU with release. */
  @SuppressWarnings("unused")
  private volatile long rcuQs;
  /** True while this CPU is in an extended quiescent state (idle, parked, finished). */
  @SuppressWarnings("unused")
  private volatile boolean rcuIdle = true;
  /** Pending {@code call_rcu} callbacks queued by this CPU, oldest first. Owned by this CPU. */
  final List<Object> rcuCallbacks = new ArrayList<>();

  // --- explore mode: the pending operation; written by this CPU, read by the driver ---
  OpKind pendingKind = OpKind.START;
  @Nullable SyncObject pendingObj;
  /** The kernel operation of the pending point, for reports. */
  String pendingWhat = "start";
  /** The model function of the pending point (only when the explorer captures details). */
  @Nullable String pendingWhere;
  /** Non-null while the pending operation waits: the CPU is enabled only when it is true. */
  @Nullable BooleanSupplier ready;
  /** The retry label when the pending operation is a retry with no progress since the last. */
  @Nullable String spinLabel;
  /** True if the pending point is a voluntary yield (wait or retry): fairness needs it. */
  boolean yielded;
  boolean started;
  boolean done;
  /** Writes this CPU performed (the explorer subtracts them to see others' progress). */
  long myWrites;
  @Nullable String lastRetryLabel;
  long lastRetryForeign = -1;
  /** The key of the last retry ({@link Sched#retry(String, long, SyncObject)}; 0 without one). */
  long lastRetryKey;
  /** This CPU's own write count at its last retry (keyed retries count their own progress). */
  long lastRetryMine;
  /** Backend handle (a Continuation, a thread...). */
  @Nullable Object handle;
  @Nullable Runnable body;

  // --- per-CPU data of the model's layers (the MMU's TLB, the current task...) ---
  private static final java.util.concurrent.atomic.AtomicInteger SLOTS = new java.util.concurrent.atomic.AtomicInteger();
  private @Nullable Object[] locals = new Object[4];

  /**
   * A new slot for per-CPU data ({@code DEFINE_PER_CPU}): each layer that keeps state per CPU
   * takes one slot once, in a static initializer, and reads its state with {@link #local}.
   */
  public static int newLocalSlot() {
    return SLOTS.getAndIncrement();
  }

  /** This CPU's value in {@code slot}, or null. Only the CPU itself (or the driver) uses it. */
  public @Nullable Object local(int slot) {
    Object[] l = locals;
    return slot < l.length ? l[slot] : null;
  }

  /** Sets this CPU's value in {@code slot}. */
  public void setLocal(int slot, @Nullable Object value) {
    if (slot >= locals.length) {
      locals = java.util.Arrays.copyOf(locals, Math.max(slot + 1, locals.length * 2));
    }
    locals[slot] = value;
  }

  // --- native mode ---
  @Nullable Thread thread;
  /** A CPU made up for a thread that was never attached: idle outside RCU read sections. */
  boolean auto;

  public Cpu(int id, String name) {
    this.id = id;
    this.name = name;
  }

  /**
   * The label, made on first use: natively every {@code KObject} allocation and free asks for
   * the current site. Racy but benign: a CPU's label never changes, so a thread that does not
   * see another's write just makes an equal string.
   */
  private @Nullable String label;

  /** {@code "CPU1 (munmap)"}. */
  public String label() {
    String l = label;
    if (l == null) {
      l = "CPU" + id + " (" + name + ")";
      label = l;
    }
    return l;
  }

  @Override
  public String toString() {
    return label();
  }

  // ---------------------------------------------------------------- held locks

  /** Records {@code lock} as held since {@code step}. */
  public void pushHeld(SyncObject lock, long step) {
    if (heldCount == held.length) {
      held = java.util.Arrays.copyOf(held, heldCount * 2);
      heldStep = java.util.Arrays.copyOf(heldStep, heldCount * 2);
    }
    held[heldCount] = lock;
    heldStep[heldCount] = step;
    heldCount++;
  }

  /** Removes {@code lock} (not necessarily the innermost: locks may be released out of order). */
  public boolean popHeld(SyncObject lock) {
    for (int i = heldCount - 1; i >= 0; i--) {
      if (held[i] == lock) {
        System.arraycopy(held, i + 1, held, i, heldCount - i - 1);
        System.arraycopy(heldStep, i + 1, heldStep, i, heldCount - i - 1);
        heldCount--;
        held[heldCount] = null;
        return true;
      }
    }
    return false;
  }

  public int heldCount() {
    return heldCount;
  }

  public SyncObject held(int i) {
    return held[i];
  }

  public long heldSince(int i) {
    return heldStep[i];
  }

  public boolean holds(SyncObject lock) {
    for (int i = 0; i < heldCount; i++) {
      if (held[i] == lock) {
        return true;
      }
    }
    return false;
  }

  /** The held locks, outermost first. */
  public List<SyncObject> heldLocks() {
    List<SyncObject> out = new ArrayList<>(heldCount);
    for (int i = 0; i < heldCount; i++) {
      out.add(held[i]);
    }
    return out;
  }

  // ---------------------------------------------------------------- RCU state

  public int rcuNesting() {
    return rcuNesting;
  }

  public long rcuExits() {
    return rcuExits;
  }

  long rcuQsAcquire() {
    return (long) RCU_QS.getAcquire(this);
  }

  void rcuQsRelease(long v) {
    RCU_QS.setRelease(this, v);
  }

  boolean rcuIdleAcquire() {
    return (boolean) RCU_IDLE.getAcquire(this);
  }

  /** Enter or leave an extended quiescent state; entering orders earlier reads, leaving is a full fence. */
  void rcuSetIdle(boolean idle) {
    if (idle) {
      RCU_IDLE.setRelease(this, true);
    } else {
      RCU_IDLE.setVolatile(this, false);
      VarHandle.fullFence();
    }
  }

  /** True once the CPU's body has returned (or thrown). */
  public boolean isDone() {
    return done;
  }
}
