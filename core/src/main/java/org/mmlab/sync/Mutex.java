package org.mmlab.sync;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.KObject;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.Cpu;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.Sched;
import org.mmlab.explore.SyncObject;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;

/**
 * A sleeping lock with one owner: {@code struct mutex} ({@code include/linux/mutex.h},
 * {@code kernel/locking/mutex.c}): {@code mutex_lock}, {@code mutex_trylock},
 * {@code mutex_unlock}, {@code mutex_is_locked}, {@code lockdep_assert_held}. The hugetlb fault
 * mutex and {@code khugepaged}'s mutexes are of this kind.
 *
 * <h2>Implementation notes</h2>
 * <b>Explore:</b> the word is 0 or {@link #LOCKED}; {@code mutex_lock} is one step, enabled only
 * while the mutex is free, so a CPU waiting for it is blocked and a cycle of waiters is an exact
 * deadlock whose wait-for chain names the owner.
 *
 * <p><b>Native:</b> bit 0 of {@code state} is the lock, and the bits above count sleeping waiters
 * (in units of {@link #WAITER}), which plays the part of the kernel's {@code MUTEX_FLAG_WAITERS}:
 * the uncontended lock and unlock are one CAS each; a contended locker registers as a waiter and
 * {@code await}s a condition that takes the lock and deregisters in one CAS, so the unlocker
 * knows exactly when to {@link Sched#wake}. Unlock is a CAS from {@code LOCKED} to 0, and only if
 * that fails (there are waiters) an atomic subtract followed by a wake: the subtract is a full
 * fence, so either the unlocker sees the registration or the waiter's CAS sees the free lock.
 * Lock stealing is allowed (no hand-off to the first waiter, unlike the kernel's
 * {@code MUTEX_FLAG_HANDOFF}): the model does not claim fairness.
 *
 * <p>Simplified: no optimistic spinning on the owner; a recursive {@code mutex_lock} deadlocks
 * (under the explorer a deadlock verdict; natively it is reported at once rather than hanging).
 */
public final class Mutex extends SyncObject {
  private static final VarHandle STATE;

  static {
    try {
      STATE = MethodHandles.lookup().findVarHandle(Mutex.class, "state", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** The lock bit of {@link #state}. */
  private static final int LOCKED = 1;
  /** One sleeping waiter, counted in {@link #state} above the lock bit (native mode only). */
  private static final int WAITER = 2;

  /**
   * Bit 0: held. Bits 1..31: native sleeping waiters. Native: CAS to take, CAS or atomic add to
   * drop. Explore: written plainly by the step that takes or drops the lock.
   */
  @SuppressWarnings("unused")
  private volatile int state;

  /** The holder. Protected by this mutex (written by the holder only; read racily for reports). */
  private @Nullable Cpu owner;

  public Mutex(Sched sched, String name, LockClass lockClass) {
    this(sched, name, lockClass, null);
  }

  /** A mutex embedded in {@code owner}: using it after {@code owner} is freed is a use-after-free. */
  public Mutex(Sched sched, String name, LockClass lockClass, @Nullable KObject owner) {
    super(sched, name, lockClass, owner);
  }

  @Override
  public String kind() {
    return "mutex";
  }

  /** {@code mutex_lock}: sleeps until the mutex is free, then holds it. May sleep. */
  public void lock() {
    Cpu me = sched.cpu();
    MightSleep.check(sched, me, "mutex_lock");
    sched.acquiring(this);
    if (sched.exploring) {
      sched.await(OpKind.LOCK, this, "mutex_lock", this::isFreePlain, true);
      state = LOCKED;
    } else {
      sched.point(OpKind.LOCK, this, "mutex_lock");
      if (!STATE.compareAndSet(this, 0, LOCKED)) {
        lockSlowNative(me);
      }
    }
    owner = me;
    sched.acquired(me, this);
  }

  private void lockSlowNative(Cpu me) {
    if (owner == me) {
      // Only this CPU writes itself into owner, so this read is exact even though it is racy.
      throw sched.bug(Verdict.of(VerdictKind.DEADLOCK, me.label() + " takes " + describe() + " which it already holds",
          List.of("recursive mutex_lock: the CPU would sleep forever"), List.of(id())));
    }
    STATE.getAndAdd(this, WAITER);
    sched.await(OpKind.LOCK, this, "mutex_lock", this::acquireAsWaiterNative, true);
  }

  /** {@code mutex_trylock}: true if the mutex was free and is now held. Never sleeps. */
  public boolean tryLock() {
    sched.point(OpKind.LOCK, this, "mutex_trylock");
    if (sched.exploring) {
      if (state != 0) {
        sched.unchanged();
        return false;
      }
      state = LOCKED;
    } else if (!tryAcquireNative()) {
      return false;
    }
    Cpu me = sched.cpu();
    owner = me;
    sched.acquired(me, this);
    return true;
  }

  /**
   * {@code mutex_unlock}. Called with the mutex held by the current CPU; unlocking a mutex the
   * caller does not hold is an invariant violation (the kernel's {@code DEBUG_MUTEXES} warning).
   */
  public void unlock() {
    sched.point(OpKind.UNLOCK, this, "mutex_unlock");
    Cpu me = sched.cpu();
    if (owner != me) {
      Cpu o = owner;
      throw sched.bug(Verdict.of(VerdictKind.INVARIANT,
          me.label() + " unlocks " + describe() + " held by " + (o == null ? "nobody" : o.label()),
          List.of("mutex_unlock by a task that is not the owner"), List.of(id())));
    }
    owner = null;
    sched.released(me, this);
    if (sched.exploring) {
      state = 0;
    } else if (!STATE.compareAndSet(this, LOCKED, 0)) {
      STATE.getAndAdd(this, -LOCKED);
      sched.wake(this);
    }
  }

  /** {@code mutex_is_locked}: a racy read of the lock word. */
  public boolean isLocked() {
    sched.point(OpKind.READ, this, "mutex_is_locked");
    return ((int) STATE.getOpaque(this) & LOCKED) != 0;
  }

  /** {@code lockdep_assert_held}: the current CPU holds this mutex, else an invariant verdict. */
  public void assertHeld() {
    if (owner != sched.cpu()) {
      throw sched.bug(Verdict.of(VerdictKind.INVARIANT,
          sched.cpu().label() + " does not hold " + describe(), List.of("lockdep_assert_held"), List.of(id())));
    }
  }

  private boolean isFreePlain() {
    return state == 0;
  }

  /** Native: sets the lock bit if it is clear (leaves the waiter count alone). */
  private boolean tryAcquireNative() {
    int s = (int) STATE.getVolatile(this);
    while ((s & LOCKED) == 0) {
      int witness = (int) STATE.compareAndExchange(this, s, s | LOCKED);
      if (witness == s) {
        return true;
      }
      s = witness;
    }
    return false;
  }

  /** Native, the await condition of a registered waiter: takes the lock and deregisters in one CAS. */
  private boolean acquireAsWaiterNative() {
    int s = (int) STATE.getVolatile(this);
    while ((s & LOCKED) == 0) {
      int witness = (int) STATE.compareAndExchange(this, s, s - WAITER + LOCKED);
      if (witness == s) {
        return true;
      }
      s = witness;
    }
    return false;
  }

  @Override
  public List<Cpu> holders() {
    Cpu o = owner;
    return o == null ? List.of() : List.of(o);
  }

  @Override
  public String state() {
    Cpu o = owner;
    int waiters = (int) STATE.getOpaque(this) >>> 1;
    String s = o == null ? "free" : "held by " + o.label();
    return waiters == 0 ? s : s + ", " + waiters + " waiting";
  }
}
