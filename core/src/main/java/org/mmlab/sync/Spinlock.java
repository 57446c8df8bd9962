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
 * A spinlock: {@code spinlock_t} ({@code include/linux/spinlock.h}). Holders must not sleep;
 * waiters spin. The split page-table locks and {@code page_table_lock} are spinlocks.
 *
 * <h2>Implementation notes</h2>
 * Native: one int word, test-and-test-and-set with {@link Thread#onSpinWait()}; acquire by CAS,
 * release by a release store. Explore: the acquisition is one step, enabled only while the lock
 * is free, so a CPU spinning on a held lock is blocked (not burning steps) and a cycle of them
 * is an exact deadlock.
 *
 * <p>{@code owner} is written only by the CPU that holds the lock (after acquiring, before
 * releasing) and read for wait-for chains and {@code lockdep_assert_held}: protected by the lock
 * itself.
 */
public final class Spinlock extends SyncObject {
  private static final VarHandle STATE;

  static {
    try {
      STATE = MethodHandles.lookup().findVarHandle(Spinlock.class, "state", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** 0 free, 1 held. Native: CAS to take, release store to drop. */
  @SuppressWarnings("unused")
  private volatile int state;

  /** The holder. Protected by this lock. */
  private @Nullable Cpu owner;

  /** The explore-mode wait condition, made once (a method reference per call would allocate). */
  private final java.util.function.BooleanSupplier free = this::isFreePlain;

  public Spinlock(Sched sched, String name, LockClass lockClass) {
    this(sched, name, lockClass, null);
  }

  /** A spinlock embedded in {@code owner}: using it after {@code owner} is freed is a use-after-free. */
  public Spinlock(Sched sched, String name, LockClass lockClass, @Nullable KObject owner) {
    super(sched, name, lockClass, owner);
  }

  private Spinlock(Sched sched, String prefix, LockClass lockClass, KObject owner, boolean nameAfterOwner) {
    super(sched, prefix, lockClass, owner, nameAfterOwner);
  }

  /**
   * A spinlock embedded in {@code owner} and named {@code prefix} followed by the owner's name,
   * made only when a report needs it (the split lock of every new page table).
   */
  public static Spinlock namedAfter(Sched sched, String prefix, LockClass lockClass, KObject owner) {
    return new Spinlock(sched, prefix, lockClass, owner, true);
  }

  @Override
  public String kind() {
    return "spinlock";
  }

  /** {@code spin_lock}. */
  public void lock() {
    sched.acquiring(this);
    if (sched.exploring) {
      sched.await(OpKind.LOCK, this, "spin_lock", free, false);
      state = 1;
    } else {
      sched.point(OpKind.LOCK, this, "spin_lock");
      if (!STATE.compareAndSet(this, 0, 1)) {
        sched.await(OpKind.LOCK, this, "spin_lock", this::tryAcquireNative, false);
      }
    }
    Cpu me = sched.cpu();
    owner = me;
    sched.acquired(me, this);
  }

  /** {@code spin_trylock}: true if the lock was free and is now held. */
  public boolean tryLock() {
    if (sched.exploring) {
      sched.point(OpKind.LOCK, this, "spin_trylock");
      if (state != 0) {
        sched.unchanged();
        return false;
      }
      state = 1;
    } else if (!STATE.compareAndSet(this, 0, 1)) {
      return false;
    }
    Cpu me = sched.cpu();
    owner = me;
    sched.acquired(me, this);
    return true;
  }

  /** {@code spin_unlock}. Unlocking a lock the caller does not hold is an invariant violation. */
  public void unlock() {
    sched.point(OpKind.UNLOCK, this, "spin_unlock");
    Cpu me = sched.cpu();
    if (owner != me) {
      throw sched.bug(Verdict.of(VerdictKind.INVARIANT,
          me.label() + " unlocks " + describe() + " held by " + (owner == null ? "nobody" : owner.label()),
          List.of(), List.of(id())));
    }
    owner = null;
    sched.released(me, this);
    if (sched.exploring) {
      state = 0;
    } else {
      STATE.setRelease(this, 0);
    }
  }

  /** {@code spin_is_locked}: a racy read of the lock word. */
  public boolean isLocked() {
    sched.point(OpKind.READ, this, "spin_is_locked");
    return (int) STATE.getOpaque(this) != 0;
  }

  /** {@code lockdep_assert_held}: the current CPU holds this lock, else an invariant verdict. */
  public void assertHeld() {
    if (owner != sched.cpu()) {
      throw sched.bug(Verdict.of(VerdictKind.INVARIANT,
          sched.cpu().label() + " does not hold " + describe(), List.of("lockdep_assert_held"), List.of(id())));
    }
  }

  private boolean isFreePlain() {
    return state == 0;
  }

  private boolean tryAcquireNative() {
    return (int) STATE.getOpaque(this) == 0 && STATE.compareAndSet(this, 0, 1);
  }

  @Override
  public List<Cpu> holders() {
    Cpu o = owner;
    return o == null ? List.of() : List.of(o);
  }

  @Override
  public String state() {
    Cpu o = owner;
    return o == null ? "free" : "held by " + o.label();
  }
}
