package org.mmlab.sync;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
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
 * A word of flag bits with atomic bit operations, bit locks and waits on bits: like
 * {@code page->flags} / {@code folio->flags}. Kernel counterparts: the bit operations of
 * {@code include/linux/bitops.h} and {@code asm/bitops.h} ({@code test_bit},
 * {@code set_bit}, {@code clear_bit}, {@code test_and_set_bit}, {@code test_and_clear_bit},
 * {@code clear_bit_unlock}), and the bit waits of {@code include/linux/wait_bit.h} and
 * {@code mm/filemap.c} ({@code wait_on_bit}, {@code wait_on_bit_lock}, {@code wake_up_bit},
 * {@code clear_and_wake_up_bit}, {@code folio_lock}, {@code folio_trylock},
 * {@code folio_unlock}, {@code __folio_set_locked}).
 *
 * <h2>Bit locks</h2>
 * A bit can be used as a sleeping lock ({@code PG_locked}): {@link #lockBit} takes it, sleeping
 * on the {@link HashedWaitTable} queue of (word, bit) until it is clear; {@link #unlockBit}
 * clears it with release ordering and wakes one exclusive waiter. Each lock bit has a
 * pseudo-lock object (created on first use with the caller's pseudo {@link LockClass}), so
 * lockdep orders page locks against real locks, the held-lock stack shows them, a CPU that
 * finishes holding one is reported, and a waiter's wait-for chain names the holder. As in the
 * kernel, a bit lock has no owner: any CPU may unlock it (I/O completion unlocks pages that the
 * submitter locked), so unlocking releases the pseudo-lock from whichever CPU holds it.
 *
 * <h2>Waiting on a bit</h2>
 * {@link #lockBit} and {@link #waitOnBit} follow the kernel's prepare / test / schedule loop on
 * the hashed queue with keyed entries; {@link #wakeUpBit} is a full barrier, a lockless
 * {@code waitqueue_active} test and a keyed wake-up of one exclusive waiter (and all
 * non-exclusive ones). A bit cleared without a wake-up therefore leaves its waiters asleep, which
 * the explorer reports as a deadlock: forgetting {@code wake_up_bit} is a bug here as in the
 * kernel. Simplified: there is no {@code PG_waiters} bit (wakers test the queue instead) and no
 * lock hand-off to a waiter after repeated steals ({@code sysctl_page_lock_unfairness}).
 *
 * <h2>Why no wake-up is lost (native)</h2>
 * The sleeper and the waker each store, then load what the other stored:
 * <pre>
 *   sleeper (lockBit, waitOnBit)             waker (unlockBit, clearAndWakeUpBit)
 *   prepareToWait: queue, nrQueued = n       clear the bit (atomic RMW)
 *   test the bit          (volatile load)    smp_mb__after_atomic  (full fence)
 *   schedule() unless clear                  waitqueue_active: nrQueued (volatile load)
 * </pre>
 * The queue-count store and the bit test are both volatile, so they are not reordered (the
 * kernel's {@code set_current_state} barrier in {@code prepare_to_wait}); the waker's fence
 * orders its clear before its test. So either the sleeper sees the bit clear and does not
 * sleep, or the waker sees it queued and wakes it. Under the explorer every step is atomic and
 * the same argument is about the order of steps.
 *
 * <h2>Implementation notes</h2>
 * Every operation is one step. Natively the word is a long updated with the VarHandle bitwise
 * atomics (fully ordered; {@code clear_bit_unlock} is a release); the lock attempt reads first
 * and only then sets (test-and-test-and-set), so waiters do not bounce the cache line.
 */
public final class FlagWord extends SyncObject {
  private static final VarHandle WORD;
  private static final VarHandle LOCKS;
  private static final BitLock[] NO_LOCKS = new BitLock[0];

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      WORD = l.findVarHandle(FlagWord.class, "word", long.class);
      LOCKS = l.findVarHandle(FlagWord.class, "locks", BitLock[].class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** The flag bits. Native: VarHandle atomics; explore: plain writes in steps. */
  @SuppressWarnings("unused")
  private volatile long word;

  /**
   * The pseudo-lock objects of the bits used as locks, copy-on-write (there are one or two per
   * word). Native: CAS-published; explore: written in step order.
   */
  @SuppressWarnings("unused")
  private volatile BitLock[] locks = NO_LOCKS;

  /** Where waiters on this word's bits sleep. Immutable. */
  private final HashedWaitTable waitTable;

  /** The pseudo-lock of one bit used as a lock, e.g. {@code PG_locked} of one page. */
  private static final class BitLock extends SyncObject {
    private final int bit;
    /** The CPU that took it, or null (unlocked, or locked by a non-atomic set). Protected by the bit. */
    private @Nullable Cpu holder;

    BitLock(FlagWord word, int bit, LockClass cls) {
      super(word.sched(), cls.name() + "@" + word.name(), cls, word.owner());
      this.bit = bit;
    }

    @Override
    public String kind() {
      return "bit lock";
    }

    @Override
    public List<Cpu> holders() {
      Cpu h = holder;
      return h == null ? List.of() : List.of(h);
    }

    @Override
    public String state() {
      Cpu h = holder;
      return "bit " + bit + (h == null ? "" : ", locked by " + h.label());
    }
  }

  public FlagWord(Sched sched, String name, HashedWaitTable waitTable) {
    this(sched, name, 0L, waitTable, null);
  }

  /**
   * @param waitTable the hashed table whose queues waiters on these bits sleep on
   * @param owner the object the word lives in (operations after it is freed are use-after-free)
   */
  public FlagWord(Sched sched, String name, long initial, HashedWaitTable waitTable, @Nullable KObject owner) {
    super(sched, name, null, owner);
    this.waitTable = waitTable;
    WORD.setRelease(this, initial);
  }

  @Override
  public String kind() {
    return "flags";
  }

  // ------------------------------------------------------------ plain bit operations

  /** {@code test_bit} (with acquire ordering, as {@code test_bit_acquire}). */
  public boolean testBit(int bit) {
    long m = mask(bit);
    sched.point(OpKind.READ, this, "test_bit");
    return ((long) WORD.getAcquire(this) & m) != 0;
  }

  /** The whole word ({@code READ_ONCE(page->flags)}), with acquire ordering. */
  public long read() {
    sched.point(OpKind.READ, this, "READ_ONCE(flags)");
    return (long) WORD.getAcquire(this);
  }

  /** {@code set_bit}. */
  public void setBit(int bit) {
    long m = mask(bit);
    sched.point(OpKind.RMW, this, "set_bit");
    WORD.getAndBitwiseOr(this, m);
  }

  /** {@code clear_bit}. */
  public void clearBit(int bit) {
    long m = mask(bit);
    sched.point(OpKind.RMW, this, "clear_bit");
    WORD.getAndBitwiseAnd(this, ~m);
  }

  /** {@code test_and_set_bit}: sets the bit, returns whether it was set before. */
  public boolean testAndSetBit(int bit) {
    long m = mask(bit);
    sched.point(OpKind.RMW, this, "test_and_set_bit");
    return ((long) WORD.getAndBitwiseOr(this, m) & m) != 0;
  }

  /** {@code test_and_clear_bit}: clears the bit, returns whether it was set before. */
  public boolean testAndClearBit(int bit) {
    long m = mask(bit);
    sched.point(OpKind.RMW, this, "test_and_clear_bit");
    return ((long) WORD.getAndBitwiseAnd(this, ~m) & m) != 0;
  }

  /** {@code clear_bit_unlock}: clears the bit with release ordering (no wake-up: see {@link #clearAndWakeUpBit}). */
  public void clearBitUnlock(int bit) {
    long m = mask(bit);
    sched.point(OpKind.RMW, this, "clear_bit_unlock");
    WORD.getAndBitwiseAndRelease(this, ~m);
  }

  /** {@code clear_and_wake_up_bit}: clears the bit with release ordering and wakes its waiters. */
  public void clearAndWakeUpBit(int bit) {
    clearBitUnlock(bit);
    wakeUpBit(bit);
  }

  // ------------------------------------------------------------ bit locks

  /**
   * {@code folio_lock} / {@code wait_on_bit_lock}: takes the bit as a sleeping lock whose
   * lockdep class is {@code pseudoClass} (always the same class for one bit of one word).
   * May sleep.
   */
  public void lockBit(int bit, LockClass pseudoClass) {
    long m = mask(bit);
    MightSleep.check(sched, sched.cpu(), "folio_lock");
    BitLock bl = bitLock(bit, pseudoClass);
    sched.acquiring(bl);
    if (!tryTakeBit(m, "folio_lock")) {
      lockBitSlow(bit, m, bl);
    }
    bl.holder = sched.cpu();
    sched.acquired(bl);
  }

  private void lockBitSlow(int bit, long m, BitLock bl) {
    WaitQueue q = waitTable.queueFor(this, bit);
    WaitQueue.Entry e = WaitQueue.Entry.keyed(sched.cpu(), this, bit, bl);
    while (true) {
      q.prepareToWait(e, true);
      if (tryTakeBit(m, "test_and_set_bit_lock")) {
        break;
      }
      q.schedule(e);
      if (tryTakeBit(m, "test_and_set_bit_lock")) {
        break;
      }
    }
    q.finishWait(e);
  }

  /** {@code folio_trylock} / {@code test_and_set_bit_lock}: true if the bit was clear and is now held. */
  public boolean tryLockBit(int bit, LockClass pseudoClass) {
    long m = mask(bit);
    BitLock bl = bitLock(bit, pseudoClass);
    if (!tryTakeBit(m, "folio_trylock")) {
      return false;
    }
    bl.holder = sched.cpu();
    sched.acquired(bl);
    return true;
  }

  /**
   * {@code __folio_set_locked}: sets the lock bit of a word nobody else can reach yet (a new
   * folio before it is added to the page cache); the current CPU then holds it.
   */
  public void setLocked(int bit, LockClass pseudoClass) {
    long m = mask(bit);
    BitLock bl = bitLock(bit, pseudoClass);
    sched.point(OpKind.WRITE, this, "__folio_set_locked");
    if (((long) WORD.getAndBitwiseOr(this, m) & m) != 0) {
      throw invariant("__folio_set_locked on a word whose bit " + bit + " is already set");
    }
    bl.holder = sched.cpu();
    sched.acquired(bl);
  }

  /**
   * {@code folio_unlock} / {@code clear_bit_unlock} + {@code wake_up_bit}: releases a bit lock
   * (any CPU may) and wakes one exclusive waiter. Unlocking a clear bit is an invariant
   * violation (the kernel's {@code VM_BUG_ON_FOLIO(!folio_test_locked)}).
   */
  public void unlockBit(int bit) {
    long m = mask(bit);
    sched.point(OpKind.UNLOCK, this, "folio_unlock");
    if (((long) WORD.getOpaque(this) & m) == 0) {
      throw invariant("unlock of bit " + bit + " which is not locked");
    }
    BitLock bl = findLock(bit);
    if (bl != null) {
      // Bookkeeping before the release: once the bit is clear another CPU may take it.
      bl.holder = null;
      sched.releasedByAnyone(bl);
    }
    WORD.getAndBitwiseAndRelease(this, ~m);
    wakeUpBit(bit);
  }

  // ------------------------------------------------------------ waiting on bits

  /** {@code wait_on_bit}: sleeps until the bit is clear (acquire ordering on return). May sleep. */
  public void waitOnBit(int bit) {
    long m = mask(bit);
    MightSleep.check(sched, sched.cpu(), "wait_on_bit");
    if (!testForWait(m, "wait_on_bit")) {
      return;
    }
    BitLock bl = findLock(bit);
    WaitQueue q = waitTable.queueFor(this, bit);
    WaitQueue.Entry e = WaitQueue.Entry.keyed(sched.cpu(), this, bit, bl == null ? this : bl);
    while (true) {
      q.prepareToWait(e, false);
      if (!testForWait(m, "test_bit_acquire")) {
        break;
      }
      q.schedule(e);
      if (!testForWait(m, "test_bit_acquire")) {
        break;
      }
    }
    q.finishWait(e);
  }

  /**
   * {@code wake_up_bit}: wakes the waiters on this bit (all non-exclusive ones and one
   * exclusive). Includes the full barrier ({@code smp_mb__after_atomic}) that the kernel's
   * callers must place between clearing the bit and calling it: the clear is ordered before
   * the lockless test for sleepers, which pairs with the sleeper queueing before it tests the bit.
   */
  public void wakeUpBit(int bit) {
    mask(bit);
    if (!sched.exploring) {
      VarHandle.fullFence();
    }
    WaitQueue q = waitTable.queueFor(this, bit);
    if (q.active()) {
      q.wakeUpKey(this, bit, 1);
    }
  }

  /** Reads without a scheduling point: only for end checks and reports. */
  public long peek() {
    return (long) WORD.getAcquire(this);
  }

  // ------------------------------------------------------------ internals

  /**
   * One step: takes the bit if it is clear (acquire ordering). The first read is volatile, not
   * merely acquire: after queueing, it is the sleeper's half of the pairing in the class notes.
   */
  private boolean tryTakeBit(long m, String what) {
    sched.point(OpKind.LOCK, this, what);
    if (((long) WORD.getVolatile(this) & m) != 0) {
      sched.unchanged();
      return false;
    }
    return ((long) WORD.getAndBitwiseOrAcquire(this, m) & m) == 0;
  }

  /** One step: true if the bit is set. Volatile for the same reason as in {@link #tryTakeBit}. */
  private boolean testForWait(long m, String what) {
    sched.point(OpKind.READ, this, what);
    return ((long) WORD.getVolatile(this) & m) != 0;
  }

  private static long mask(int bit) {
    if (bit < 0 || bit > 63) {
      throw new IllegalArgumentException("bit " + bit + " out of range 0..63");
    }
    return 1L << bit;
  }

  private @Nullable BitLock findLock(int bit) {
    for (BitLock l : locks) {
      if (l.bit == bit) {
        return l;
      }
    }
    return null;
  }

  /** The pseudo-lock of {@code bit}, created with {@code cls} on first use. */
  private BitLock bitLock(int bit, LockClass cls) {
    if (!cls.isPseudo()) {
      throw new IllegalArgumentException("a bit lock is a pseudo-lock: use LockClass.pseudo, not " + cls);
    }
    while (true) {
      BitLock[] current = locks;
      for (BitLock l : current) {
        if (l.bit == bit) {
          if (l.lockClass() != cls) {
            throw new IllegalArgumentException("bit " + bit + " of " + describe() + " is locked with class "
                + l.lockClass() + ", not " + cls);
          }
          return l;
        }
      }
      BitLock fresh = new BitLock(this, bit, cls);
      BitLock[] grown = Arrays.copyOf(current, current.length + 1);
      grown[current.length] = fresh;
      if (sched.exploring) {
        locks = grown;
        return fresh;
      }
      if (LOCKS.compareAndSet(this, current, grown)) {
        return fresh;
      }
    }
  }

  private BugException invariant(String what) {
    return sched.bug(Verdict.of(VerdictKind.INVARIANT, sched.cpu().label() + ": " + what + " (" + describe() + ")",
        List.of("flags: 0x" + Long.toHexString(peek())), List.of(id())));
  }

  @Override
  public String state() {
    return "flags=0x" + Long.toHexString(peek());
  }
}
