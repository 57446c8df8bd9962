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
 * A sequence counter: {@code seqcount_t}, and with an associated lock
 * {@code seqcount_spinlock_t}/{@code seqcount_mutex_t} ({@code include/linux/seqlock.h}):
 * {@code write_seqcount_begin}, {@code write_seqcount_end}, {@code read_seqcount_begin},
 * {@code read_seqcount_retry}, {@code raw_read_seqcount}. Readers take no lock: they read the
 * count, read the data, and retry if a writer came between.
 *
 * <h2>Overview</h2>
 * Writers are serialized by something else: when a lock is associated, {@link #writeBegin} and
 * {@link #writeEnd} check that the current CPU holds it (the kernel's lockdep assertion for
 * {@code seqcount_LOCKNAME_t}); a write without it is an invariant verdict. An odd count means a
 * write is in progress; {@code read_seqcount_begin} waits (spins) until it is even, and
 * {@code read_seqcount_retry} tells the reader to retry when the count moved, after a named
 * retry point, so a reader that can never finish is an exact livelock under the explorer.
 *
 * <h2>Memory ordering (native)</h2>
 * The kernel pairs {@code smp_wmb} in the writer with {@code smp_rmb} in the reader:
 * <pre>
 *   writer                               reader
 *   seq = s + 1        (odd)             s0 = seq            (acquire; wait while odd)
 *   smp_wmb   storeStoreFence            ...data loads...
 *   ...data stores...                    smp_rmb   loadLoadFence
 *   smp_wmb + seq = s + 2  (release)     s1 = seq;  retry if s1 != s0
 * </pre>
 * If any data load of the reader saw a store of a write section that the reader's first read
 * did not precede-observe, then the storeStore fence orders that section's odd count before the
 * data store, and the loadLoad fence orders the reader's data load before its second read of
 * the count, so that read sees the odd count or a later one: {@code s1 != s0} and the reader
 * retries. If the first read saw the even count a write section ended with, the release store
 * and the acquire load make all of that section's data stores visible to the data loads. The
 * fences are Java's {@link VarHandle#storeStoreFence()} and {@link VarHandle#loadLoadFence()};
 * on x86 both cost nothing but restrict the compiler, exactly as the kernel's do.
 *
 * <p><b>Explore:</b> each operation is one step; {@code read_seqcount_begin} is enabled only
 * while the count is even.
 */
public final class SeqCount extends SyncObject {
  private static final VarHandle SEQ;

  static {
    try {
      SEQ = MethodHandles.lookup().findVarHandle(SeqCount.class, "seq", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /**
   * The sequence: odd while a write is in progress. Written only by writers, which the
   * associated lock (or the caller's protocol) serializes; read locklessly by readers.
   */
  @SuppressWarnings("unused")
  private volatile int seq;

  /** The lock writers must hold, or null for a bare {@code seqcount_t}. Immutable. */
  private final @Nullable SyncObject lock;

  /** A bare {@code seqcount_t}: the caller serializes writers. */
  public SeqCount(Sched sched, String name) {
    this(sched, name, null, null);
  }

  /**
   * A {@code seqcount_LOCKNAME_t} whose writers must hold {@code lock} (a {@link Spinlock},
   * {@link Mutex}, ... anything reported held through {@link Sched#acquired}).
   */
  public SeqCount(Sched sched, String name, @Nullable SyncObject lock, @Nullable KObject owner) {
    super(sched, name, null, owner);
    this.lock = lock;
  }

  @Override
  public String kind() {
    return "seqcount";
  }

  // ------------------------------------------------------------ writers

  /** {@code write_seqcount_begin}: makes the count odd. Called with the associated lock held. */
  public void writeBegin() {
    sched.point(OpKind.WRITE, this, "write_seqcount_begin");
    checkWriter("write_seqcount_begin");
    int s = (int) SEQ.getOpaque(this);
    if ((s & 1) != 0) {
      throw invariant("write_seqcount_begin while a write is already in progress (seq=" + s + ")");
    }
    SEQ.setOpaque(this, s + 1);
    VarHandle.storeStoreFence(); // smp_wmb: the odd count before any data store
  }

  /** {@code write_seqcount_end}: makes the count even again. Called with the associated lock held. */
  public void writeEnd() {
    sched.point(OpKind.WRITE, this, "write_seqcount_end");
    checkWriter("write_seqcount_end");
    int s = (int) SEQ.getOpaque(this);
    if ((s & 1) == 0) {
      throw invariant("write_seqcount_end without write_seqcount_begin (seq=" + s + ")");
    }
    SEQ.setRelease(this, s + 1); // smp_wmb + store: every data store before the even count
  }

  // ------------------------------------------------------------ readers

  /** {@code read_seqcount_begin}: waits (spinning) until no write is in progress; returns the count. */
  public int readBegin() {
    sched.await(OpKind.READ, this, "read_seqcount_begin", this::isEven, false);
    if (sched.exploring) {
      return seq;
    }
    int s = (int) SEQ.getAcquire(this);
    while ((s & 1) != 0) {
      sched.await(OpKind.READ, this, "read_seqcount_begin", this::isEven, false);
      s = (int) SEQ.getAcquire(this);
    }
    return s;
  }

  /**
   * {@code read_seqcount_retry}: true if a write began since {@code start} was read, in which
   * case the reader must discard what it read and retry; the retry point is taken here, before
   * returning true, so callers simply loop.
   */
  public boolean readRetry(int start) {
    sched.point(OpKind.READ, this, "read_seqcount_retry");
    VarHandle.loadLoadFence(); // smp_rmb: the data loads before this re-read of the count
    int s = (int) SEQ.getOpaque(this);
    if (s == start) {
      return false;
    }
    sched.retry("read_seqcount_retry " + name(), this);
    return true;
  }

  /** {@code raw_read_seqcount}: the count as it is now, odd or even, without waiting. */
  public int rawRead() {
    sched.point(OpKind.READ, this, "raw_read_seqcount");
    return (int) SEQ.getAcquire(this);
  }

  /** Reads without a scheduling point: only for end checks and reports. */
  public int peek() {
    return (int) SEQ.getAcquire(this);
  }

  // ------------------------------------------------------------ internals

  private boolean isEven() {
    return (seq & 1) == 0;
  }

  private void checkWriter(String what) {
    SyncObject l = lock;
    if (l != null && !sched.cpu().holds(l)) {
      throw invariant(what + " without holding " + l.describe());
    }
  }

  private BugException invariant(String what) {
    return sched.bug(Verdict.of(VerdictKind.INVARIANT, sched.cpu().label() + ": " + what + " on " + describe(),
        List.of("held: " + sched.cpu().heldLocks()), List.of(id())));
  }

  @Override
  public String state() {
    int s = peek();
    return "seq=" + s + ((s & 1) != 0 ? " (write in progress)" : "");
  }
}
