package org.mmlab.sync;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.KObject;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.Cpu;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.Sched;
import org.mmlab.explore.SyncObject;

/**
 * A wait queue: {@code wait_queue_head_t} and {@code struct wait_queue_entry}
 * ({@code include/linux/wait.h}, {@code kernel/sched/wait.c}): {@code prepare_to_wait},
 * {@code prepare_to_wait_exclusive}, {@code schedule}, {@code finish_wait}, {@code wake_up},
 * {@code wake_up_nr}, {@code wake_up_all}, {@code waitqueue_active}, {@code wait_event}, and the
 * keyed wake-ups of the hashed bit and folio wait tables ({@code wake_up_bit},
 * {@code folio_wake_bit}; see {@link HashedWaitTable}).
 *
 * <h2>Overview</h2>
 * The sleeper's protocol is the kernel's, and is what makes a wake-up impossible to lose:
 * <pre>
 *   sleeper                                  waker
 *   prepareToWait(e)  queue e, "going to sleep"
 *   if (condition) break                     condition = true
 *   schedule(e)       sleeps unless woken    wakeUp()  marks e woken (and dequeues it)
 *   finishWait(e)
 * </pre>
 * If the waker's wake-up comes before the sleeper's {@code schedule}, {@code schedule} returns
 * at once (the task state is already "running"); if its condition store comes before the
 * sleeper's check, the sleeper does not sleep. Checking the condition <em>before</em>
 * {@code prepareToWait} is the classic lost wake-up, and under the explorer it is a deadlock
 * verdict.
 *
 * <p>Entries are kept in queue order: non-exclusive entries at the head, exclusive ones at the
 * tail, as the kernel adds them. {@code wake_up(nr)} walks the queue, wakes every sleeping
 * non-exclusive entry and stops after {@code nr} exclusive ones; an entry whose task is already
 * running is not woken again and does not count. Entries are "autoremove" by default
 * ({@code DEFINE_WAIT}): a successful wake-up dequeues them. A keyed wake-up
 * ({@link #wakeUpKey}) skips keyed entries whose key differs, as {@code wake_bit_function}
 * does for the different words and bits that hash to one queue.
 *
 * <h2>Implementation notes</h2>
 * The list is protected by the queue's own {@link Spinlock} of class {@value #LOCK_CLASS_NAME},
 * so every queue operation is two or more scheduling points and shows up in lockdep exactly as
 * {@code wq_head->lock} does. {@code schedule} is an {@code await} (sleeping) on the entry's
 * {@code woken} flag; natively the waker sets the flag under the lock and then
 * {@linkplain Sched#wake wakes} the object the sleeper waits on. An entry may name a different
 * object to wait on ({@code waitingFor}): a bit-lock waiter waits "for" the bit lock, so a
 * deadlock's wait-for chain names the bit's holder rather than the queue.
 *
 * <p>Lock and unlock pairs here are straight-line code, not {@code try/finally}: a verdict
 * thrown between them must end the CPU at once, and an unlock in a {@code finally} would be one
 * more scheduling point, letting other CPUs run before the verdict is recorded.
 */
public final class WaitQueue extends SyncObject {
  /** The lock class of every wait queue's lock. */
  public static final String LOCK_CLASS_NAME = "wq->lock";

  /**
   * Interned once: {@link LockClass#of} uses a concurrent map, which model code run by the
   * explorer must not touch (queues are created lazily inside CPU bodies).
   */
  private static final LockClass LOCK_CLASS = LockClass.of(LOCK_CLASS_NAME);

  /** The queue's lock ({@code wq_head->lock}). Immutable reference. */
  private final Spinlock lock;

  /** The queued entries, in queue order. Protected by {@link #lock}. */
  private final List<Entry> entries = new ArrayList<>(2);

  /** {@code entries.size()}. Written under {@link #lock}; read locklessly by {@link #active()}. */
  private volatile int nrQueued;

  /**
   * One task's wait on one queue ({@code struct wait_queue_entry}); lives on the waiting CPU's
   * "stack" and is reused across the iterations of its wait loop.
   */
  public static final class Entry {
    private final Cpu cpu;
    private final boolean autoremove;
    private final @Nullable SyncObject key;
    private final int keyBit;
    private final @Nullable SyncObject waitingFor;
    /** {@code WQ_FLAG_EXCLUSIVE}. Protected by the queue's lock. */
    private boolean exclusive;
    /** The queue it is on, or null. Protected by that queue's lock. */
    private @Nullable WaitQueue queue;
    /** On a queue. Written under the queue's lock; read locklessly by {@code finish_wait}. */
    private volatile boolean queued;
    /**
     * The task is running: false from {@code prepare_to_wait} until a wake-up. Written by the
     * waker under the queue's lock and by the owner; read by the owner's {@code schedule}.
     */
    private volatile boolean woken = true;

    /** An autoremove entry for {@code cpu} ({@code DEFINE_WAIT}). */
    public Entry(Cpu cpu) {
      this(cpu, true, null, -1, null);
    }

    /** An entry for {@code cpu}; {@code autoremove} false keeps it queued when woken ({@code init_waitqueue_entry}). */
    public Entry(Cpu cpu, boolean autoremove) {
      this(cpu, autoremove, null, -1, null);
    }

    private Entry(Cpu cpu, boolean autoremove, @Nullable SyncObject key, int keyBit, @Nullable SyncObject waitingFor) {
      this.cpu = cpu;
      this.autoremove = autoremove;
      this.key = key;
      this.keyBit = keyBit;
      this.waitingFor = waitingFor;
    }

    /**
     * A keyed autoremove entry ({@code DEFINE_WAIT_BIT}, {@code struct wait_page_queue}): woken
     * only by unkeyed wake-ups or by {@link WaitQueue#wakeUpKey} for ({@code key}, {@code bit}).
     * While it sleeps it waits "for" {@code waitingFor} (for wait-for chains and native wake-ups).
     */
    public static Entry keyed(Cpu cpu, SyncObject key, int bit, SyncObject waitingFor) {
      return new Entry(cpu, true, key, bit, waitingFor);
    }

    public Cpu cpu() {
      return cpu;
    }

    /** True once woken since the last {@code prepareToWait} (the task is running). */
    public boolean isWoken() {
      return woken;
    }

    /** True while on a queue (a racy read, like {@code list_empty_careful}). */
    public boolean isQueued() {
      return queued;
    }

    private boolean matches(@Nullable SyncObject k, int bit) {
      return k == null || key == null || (key == k && keyBit == bit);
    }

    @Override
    public String toString() {
      return cpu.label() + (exclusive ? " (exclusive)" : "") + (key == null ? "" : " on " + key.name() + ":" + keyBit);
    }
  }

  public WaitQueue(Sched sched, String name) {
    this(sched, name, null);
  }

  /** A queue embedded in {@code owner} ({@code init_waitqueue_head}). */
  public WaitQueue(Sched sched, String name, @Nullable KObject owner) {
    super(sched, name, null, owner);
    this.lock = new Spinlock(sched, name + ".lock", LOCK_CLASS, owner);
  }

  @Override
  public String kind() {
    return "wait queue";
  }

  // ------------------------------------------------------------ the sleeper's side

  /**
   * {@code prepare_to_wait} / {@code prepare_to_wait_exclusive}: queues {@code e} unless it is
   * already queued, and marks its task as going to sleep. Never sleeps.
   */
  public void prepareToWait(Entry e, boolean exclusive) {
    lock.lock();
    if (e.queued && e.queue != this) {
      lock.unlock();
      throw new IllegalStateException(e + " is already on " + e.queue);
    }
    e.exclusive = exclusive;
    if (!e.queued) {
      if (exclusive) {
        entries.addLast(e);
      } else {
        entries.addFirst(e);
      }
      e.queue = this;
      e.queued = true;
      nrQueued = entries.size();
    }
    e.woken = false;
    lock.unlock();
  }

  /**
   * {@code schedule} after {@code prepare_to_wait}: sleeps until {@code e} is woken; returns at
   * once if it already was. May sleep.
   */
  public void schedule(Entry e) {
    MightSleep.check(sched, sched.cpu(), "schedule");
    SyncObject on = e.waitingFor == null ? this : e.waitingFor;
    sched.await(OpKind.WAIT, on, "schedule", () -> e.woken, true);
  }

  /** {@code finish_wait}: the task is running again; dequeues {@code e} if a wake-up did not. */
  public void finishWait(Entry e) {
    sched.point(OpKind.READ, this, "finish_wait");
    e.woken = true;
    if (e.queued) {
      lock.lock();
      if (e.queued) {
        remove(e);
      }
      lock.unlock();
    }
  }

  /**
   * {@code wait_event}: sleeps until {@code condition} holds, with the prepare / check /
   * schedule / finish loop. The condition must read shared state through sync primitives (it is
   * evaluated after each {@code prepareToWait}, so every iteration has scheduling points), and
   * whoever makes it true must call a wake-up on this queue afterwards. May sleep.
   */
  public void waitEvent(BooleanSupplier condition) {
    Cpu me = sched.cpu();
    MightSleep.check(sched, me, "wait_event");
    if (condition.getAsBoolean()) {
      return;
    }
    Entry e = new Entry(me);
    while (true) {
      prepareToWait(e, false);
      if (condition.getAsBoolean()) {
        break;
      }
      schedule(e);
    }
    finishWait(e);
  }

  // ------------------------------------------------------------ the waker's side

  /**
   * {@code wake_up_nr}: wakes every sleeping non-exclusive entry and up to {@code nrExclusive}
   * exclusive ones ({@code 0}: all); returns how many it woke.
   */
  public int wakeUp(int nrExclusive) {
    return wake(null, -1, nrExclusive);
  }

  /** {@code wake_up_all}: wakes every sleeping entry. */
  public int wakeUpAll() {
    return wake(null, -1, 0);
  }

  /**
   * A keyed wake-up ({@code __wake_up} with a {@code wait_bit_key}): like {@link #wakeUp} but
   * skipping keyed entries that wait for another (word, bit) hashed to this queue.
   * {@code nrExclusive} 0 means all.
   */
  public int wakeUpKey(SyncObject key, int bit, int nrExclusive) {
    return wake(key, bit, nrExclusive);
  }

  /**
   * {@code waitqueue_active}: a lockless check for sleepers. Callers that test it after changing
   * a condition need a full barrier in between (the kernel's {@code smp_mb}; the model's
   * {@link FlagWord#wakeUpBit} has one).
   */
  public boolean active() {
    sched.point(OpKind.READ, this, "waitqueue_active");
    return nrQueued > 0;
  }

  private int wake(@Nullable SyncObject key, int bit, int nrExclusive) {
    lock.lock();
    int woken = 0;
    int exclusiveLeft = nrExclusive;
    List<SyncObject> toWake = sched.exploring ? List.of() : new ArrayList<>(2);
    for (int i = 0; i < entries.size(); ) {
      Entry e = entries.get(i);
      if (!e.matches(key, bit) || e.woken) {
        // A different key, or a task that is already running: the wake function reports no wake-up.
        i++;
        continue;
      }
      e.woken = true;
      woken++;
      if (!sched.exploring) {
        toWake.add(e.waitingFor == null ? this : e.waitingFor);
      }
      if (e.autoremove) {
        entries.remove(i);
        e.queue = null;
        e.queued = false;
      } else {
        i++;
      }
      if (e.exclusive && nrExclusive > 0 && --exclusiveLeft == 0) {
        break;
      }
    }
    nrQueued = entries.size();
    lock.unlock();
    for (SyncObject o : toWake) {
      sched.wake(o);
    }
    return woken;
  }

  private void remove(Entry e) {
    entries.remove(e);
    e.queue = null;
    e.queued = false;
    nrQueued = entries.size();
  }

  /** The queue's lock, for lockdep assertions of callers that take it themselves. */
  public Spinlock lock() {
    return lock;
  }

  /** The number of queued entries without a scheduling point (end checks and reports). */
  public int peekQueued() {
    return nrQueued;
  }

  @Override
  public String state() {
    if (sched.exploring) {
      return entries.isEmpty() ? "empty" : "waiters " + entries;
    }
    return nrQueued + " queued";
  }
}
