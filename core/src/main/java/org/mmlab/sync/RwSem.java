package org.mmlab.sync;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.KObject;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.BugException;
import org.mmlab.explore.Cpu;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.Sched;
import org.mmlab.explore.SyncObject;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;

/**
 * A sleeping reader-writer lock: {@code struct rw_semaphore} ({@code include/linux/rwsem.h},
 * {@code kernel/locking/rwsem.c}): {@code down_read}, {@code down_read_trylock},
 * {@code up_read}, {@code down_write}, {@code down_write_trylock}, {@code up_write},
 * {@code downgrade_write}, {@code lockdep_assert_held} and {@code lockdep_assert_held_write}.
 * The mmap lock, {@code i_mmap_rwsem} and the anon_vma lock are rwsems.
 *
 * <h2>Overview</h2>
 * Writer preference, as far as a model needs it: a reader does not enter while a writer holds
 * the lock <em>or waits for it</em>. This is what makes a recursive {@code down_read} deadlock
 * in the kernel once a writer has queued between the two acquisitions (CPU0 holds it for read,
 * CPU1 queues for write, CPU0's second {@code down_read} queues behind CPU1), and the explorer
 * finds it the same way. Writers do not yield to waiting readers. Trylocks fail while anybody
 * waits, as the kernel's do (its fast paths test the waiters flag).
 *
 * <p>Simplified, and said here: the kernel's FIFO wait queue, reader optimistic lock stealing,
 * hand-off and optimistic spinning are not modelled; which waiter goes next is left to the
 * explorer (any enabled waiter may) or, natively, to whoever wins the CAS.
 *
 * <h2>The state word</h2>
 * <pre>
 *   bit 0        WRITER         held for write
 *   bits 1..15   waiting writers (unit WW)
 *   bits 16..31  waiting readers (unit WR; native mode only)
 *   bits 32..62  readers holding it (unit RD)
 * </pre>
 *
 * <h2>Implementation notes</h2>
 * <b>Explore:</b> {@code down_read} is one step enabled while no writer holds or waits.
 * {@code down_write} is two steps when contended, as the kernel's slow path is: the first step
 * tries, and on failure registers as a waiting writer (from then on readers queue behind it),
 * the second is enabled when the lock is free and takes it. Reader CPUs are kept in a list, so
 * wait-for chains through a read-held rwsem name every reader.
 *
 * <p><b>Native:</b> one CAS to take or drop the lock on the uncontended paths. A contended
 * reader or writer registers in the word (WR or WW) and then {@code await}s a condition that
 * takes the lock and deregisters in one CAS; the releaser wakes when the word it leaves behind
 * has waiters that could now proceed. Every registration and release is a full-fence atomic, so
 * either the releaser sees the waiter or the waiter's CAS sees the released lock. Reader CPUs
 * are not tracked natively ({@link #holders()} then names the writer only); ownership checks use
 * the per-CPU held-lock stack instead.
 */
public final class RwSem extends SyncObject {
  private static final VarHandle COUNT;

  static {
    try {
      COUNT = MethodHandles.lookup().findVarHandle(RwSem.class, "count", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private static final long WRITER = 1L;
  private static final long WW = 1L << 1;
  private static final long WW_MASK = 0x7FFFL << 1;
  private static final long WR = 1L << 16;
  private static final long WR_MASK = 0xFFFFL << 16;
  private static final long RD = 1L << 32;
  /** What keeps a reader out: a writer holding or waiting (writer preference). */
  private static final long READ_BLOCKED = WRITER | WW_MASK;

  /** The state word (see the class notes). Native: CAS and atomic add. Explore: plain writes in steps. */
  @SuppressWarnings("unused")
  private volatile long count;

  /** The CPU holding it for write. Protected by the write lock (read racily for reports). */
  private @Nullable Cpu writer;

  /**
   * Explore mode only: the CPUs holding it for read, one entry per acquisition, in order.
   * Protected by the explorer (one CPU runs at a time); empty in native mode.
   */
  private final List<Cpu> readerCpus = new ArrayList<>(2);

  public RwSem(Sched sched, String name, LockClass lockClass) {
    this(sched, name, lockClass, null);
  }

  /** An rwsem embedded in {@code owner}: using it after {@code owner} is freed is a use-after-free. */
  public RwSem(Sched sched, String name, LockClass lockClass, @Nullable KObject owner) {
    super(sched, name, lockClass, owner);
  }

  @Override
  public String kind() {
    return "rwsem";
  }

  // ------------------------------------------------------------ read side

  /** {@code down_read}: sleeps while a writer holds the lock or waits for it. May sleep. */
  public void downRead() {
    Cpu me = sched.cpu();
    MightSleep.check(sched, me, "down_read");
    sched.acquiring(this);
    if (sched.exploring) {
      sched.await(OpKind.LOCK, this, "down_read", this::readableExplore, true);
      count = count + RD;
      readerCpus.add(me);
    } else {
      sched.point(OpKind.LOCK, this, "down_read");
      if (!tryReadNative()) {
        COUNT.getAndAdd(this, WR);
        sched.await(OpKind.LOCK, this, "down_read", this::readAsWaiterNative, true);
      }
    }
    sched.acquired(me, this);
  }

  /** {@code down_read_trylock}: true if it is now held for read. Fails while anybody waits. */
  public boolean downReadTrylock() {
    sched.point(OpKind.LOCK, this, "down_read_trylock");
    if (sched.exploring) {
      if (!readableExplore()) {
        sched.unchanged();
        return false;
      }
      count = count + RD;
      readerCpus.add(sched.cpu());
    } else if (!tryReadNative()) {
      return false;
    }
    sched.acquired(this);
    return true;
  }

  /** {@code up_read}. Called with the rwsem held for read by the current CPU. */
  public void upRead() {
    sched.point(OpKind.UNLOCK, this, "up_read");
    Cpu me = sched.cpu();
    if (sched.exploring) {
      if (!readerCpus.remove(me)) {
        throw notHeld(me, "up_read", "is not a reader");
      }
      sched.released(me, this);
      count = count - RD;
      return;
    }
    sched.released(me, this);
    long now = (long) COUNT.getAndAdd(this, -RD) - RD;
    if (now < 0) {
      COUNT.getAndAdd(this, RD);
      throw notHeld(me, "up_read", "has no readers");
    }
    if ((now >>> 32) == 0 && (now & WW_MASK) != 0) {
      sched.wake(this);
    }
  }

  // ------------------------------------------------------------ write side

  /** {@code down_write}: sleeps until there is no writer and no reader. May sleep. */
  public void downWrite() {
    Cpu me = sched.cpu();
    MightSleep.check(sched, me, "down_write");
    sched.acquiring(this);
    if (sched.exploring) {
      sched.point(OpKind.LOCK, this, "down_write");
      if (!writableExplore()) {
        // rwsem_down_write_slowpath: queue first (readers now wait behind us), then sleep.
        count = count + WW;
        sched.await(OpKind.LOCK, this, "down_write", this::writableExplore, true);
        count = count - WW;
      }
      count = count | WRITER;
    } else {
      sched.point(OpKind.LOCK, this, "down_write");
      if (!COUNT.compareAndSet(this, 0L, WRITER)) {
        downWriteSlowNative(me);
      }
    }
    writer = me;
    sched.acquired(me, this);
  }

  private void downWriteSlowNative(Cpu me) {
    if (writer == me) {
      // Only this CPU writes itself into writer, so this racy read is exact.
      throw sched.bug(Verdict.of(VerdictKind.DEADLOCK,
          me.label() + " takes " + describe() + " for write, which it already holds",
          List.of("recursive down_write: the CPU would sleep forever"), List.of(id())));
    }
    COUNT.getAndAdd(this, WW);
    sched.await(OpKind.LOCK, this, "down_write", this::writeAsWaiterNative, true);
  }

  /** {@code down_write_trylock}: true if it was completely free (no holder, no waiter) and is now held for write. */
  public boolean downWriteTrylock() {
    sched.point(OpKind.LOCK, this, "down_write_trylock");
    if (sched.exploring) {
      if (count != 0) {
        sched.unchanged();
        return false;
      }
      count = WRITER;
    } else if (!COUNT.compareAndSet(this, 0L, WRITER)) {
      return false;
    }
    writer = sched.cpu();
    sched.acquired(this);
    return true;
  }

  /** {@code up_write}. Called with the rwsem held for write by the current CPU. */
  public void upWrite() {
    sched.point(OpKind.UNLOCK, this, "up_write");
    Cpu me = sched.cpu();
    if (writer != me) {
      throw notHeld(me, "up_write", "is not the writer");
    }
    writer = null;
    sched.released(me, this);
    if (sched.exploring) {
      count = count & ~WRITER;
    } else if (!COUNT.compareAndSet(this, WRITER, 0L)) {
      COUNT.getAndAdd(this, -WRITER);
      sched.wake(this);
    }
  }

  /**
   * {@code downgrade_write}: turns the caller's write hold into a read hold without a moment in
   * which the lock is free. Called with the rwsem held for write; returns with it held for read.
   * Lockdep keeps it as the same held lock ({@code lock_downgrade}).
   */
  public void downgradeWrite() {
    sched.point(OpKind.UNLOCK, this, "downgrade_write");
    Cpu me = sched.cpu();
    if (writer != me) {
      throw notHeld(me, "downgrade_write", "is not the writer");
    }
    writer = null;
    if (sched.exploring) {
      count = (count & ~WRITER) + RD;
      readerCpus.add(me);
      return;
    }
    long s = (long) COUNT.getVolatile(this);
    while (true) {
      long witness = (long) COUNT.compareAndExchange(this, s, s - WRITER + RD);
      if (witness == s) {
        break;
      }
      s = witness;
    }
    if ((s & WR_MASK) != 0) {
      sched.wake(this);
    }
  }

  // ------------------------------------------------------------ assertions and queries

  /** {@code lockdep_assert_held}: the current CPU holds it for read or write, else an invariant verdict. */
  public void assertHeld() {
    if (!sched.cpu().holds(this)) {
      throw sched.bug(Verdict.of(VerdictKind.INVARIANT,
          sched.cpu().label() + " does not hold " + describe(), List.of("lockdep_assert_held"), List.of(id())));
    }
  }

  /** {@code lockdep_assert_held_write}: the current CPU holds it for write, else an invariant verdict. */
  public void assertWriteLocked() {
    if (writer != sched.cpu()) {
      throw sched.bug(Verdict.of(VerdictKind.INVARIANT,
          sched.cpu().label() + " does not hold " + describe() + " for write",
          List.of("lockdep_assert_held_write"), List.of(id())));
    }
  }

  /** True if the current CPU holds it, for read or write ({@code lockdep_is_held}); no scheduling point. */
  public boolean heldByCurrent() {
    return sched.cpu().holds(this);
  }

  /** True if the current CPU holds it for write; no scheduling point. */
  public boolean writeHeldByCurrent() {
    return writer == sched.cpu();
  }

  /** {@code rwsem_is_locked}: a racy read of the state word. */
  public boolean isLocked() {
    sched.point(OpKind.READ, this, "rwsem_is_locked");
    long s = (long) COUNT.getOpaque(this);
    return (s & WRITER) != 0 || (s >>> 32) != 0;
  }

  // ------------------------------------------------------------ conditions

  private boolean readableExplore() {
    return (count & READ_BLOCKED) == 0;
  }

  private boolean writableExplore() {
    long s = count;
    return (s & WRITER) == 0 && (s >>> 32) == 0;
  }

  /** Native fast path of a reader: adds a reader while no writer holds or waits. */
  private boolean tryReadNative() {
    long s = (long) COUNT.getVolatile(this);
    while ((s & READ_BLOCKED) == 0) {
      long witness = (long) COUNT.compareAndExchange(this, s, s + RD);
      if (witness == s) {
        return true;
      }
      s = witness;
    }
    return false;
  }

  /** Native await condition of a registered reader: enters and deregisters in one CAS. */
  private boolean readAsWaiterNative() {
    long s = (long) COUNT.getVolatile(this);
    while ((s & READ_BLOCKED) == 0) {
      long witness = (long) COUNT.compareAndExchange(this, s, s - WR + RD);
      if (witness == s) {
        return true;
      }
      s = witness;
    }
    return false;
  }

  /** Native await condition of a registered writer: takes the lock and deregisters in one CAS. */
  private boolean writeAsWaiterNative() {
    long s = (long) COUNT.getVolatile(this);
    while ((s & WRITER) == 0 && (s >>> 32) == 0) {
      long witness = (long) COUNT.compareAndExchange(this, s, s - WW + WRITER);
      if (witness == s) {
        return true;
      }
      s = witness;
    }
    return false;
  }

  private BugException notHeld(Cpu me, String op, String why) {
    return sched.bug(Verdict.of(VerdictKind.INVARIANT, me.label() + " calls " + op + " on " + describe()
        + " but " + why, List.of("state: " + state()), List.of(id())));
  }

  @Override
  public List<Cpu> holders() {
    Cpu w = writer;
    if (w != null) {
      return List.of(w);
    }
    if (!sched.exploring) {
      return List.of();
    }
    List<Cpu> distinct = new ArrayList<>(readerCpus.size());
    for (Cpu c : readerCpus) {
      if (!distinct.contains(c)) {
        distinct.add(c); // a recursive reader is named once
      }
    }
    return distinct;
  }

  @Override
  public String state() {
    long s = (long) COUNT.getOpaque(this);
    StringBuilder b = new StringBuilder();
    Cpu w = writer;
    if (w != null) {
      b.append("write-held by ").append(w.label());
    } else if ((s >>> 32) != 0) {
      b.append("read-held by ").append(sched.exploring ? readerCpus.toString() : (s >>> 32) + " reader(s)");
    } else {
      b.append("free");
    }
    long ww = (s & WW_MASK) >>> 1;
    long wr = (s & WR_MASK) >>> 16;
    if (ww != 0) {
      b.append(", ").append(ww).append(" writer(s) waiting");
    }
    if (wr != 0) {
      b.append(", ").append(wr).append(" reader(s) waiting");
    }
    return b.toString();
  }
}
