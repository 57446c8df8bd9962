package org.mmlab.explore;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.Lockdep;
import org.mmlab.debug.Site;

/**
 * The machine the model runs on: the one interface through which every primitive of the sync
 * layer announces its operations. Two implementations share the primitives' code:
 *
 * <ul>
 *   <li>{@link NativeSched}: CPUs are real threads; a scheduling point costs nothing, a wait
 *       spins and then parks, grace periods are quiescent-state based;</li>
 *   <li>{@link ExploreSched}: CPUs are tasks on one driver thread; a scheduling point hands
 *       control to the driver, which picks the next CPU by its strategy; a wait makes the CPU
 *       ineligible until its condition holds, so "no CPU can run" is an exact deadlock.</li>
 * </ul>
 *
 * <h2>The contract for primitives</h2>
 * <ol>
 *   <li>Every operation on shared state starts with {@link #point} (or {@link #await} if it
 *       may have to wait): in explore mode the operation then happens atomically, before any
 *       other CPU runs.</li>
 *   <li>{@code await}'s condition reads state and nothing else; the driver evaluates it
 *       between steps.</li>
 *   <li>Every unbounded retry loop calls {@link #retry} once per iteration.</li>
 *   <li>Acquisitions and releases of locks and pseudo-locks are reported with
 *       {@link #acquired}/{@link #released} (lockdep, wait-for chains, exit checks).</li>
 * </ol>
 */
public abstract sealed class Sched permits NativeSched, ExploreSched {
  /** True under the explorer. Immutable. */
  public final boolean exploring;

  /** The lock-order checker, or null when lockdep is off. Immutable. */
  protected final @Nullable Lockdep lockdep;

  /** Consistency walks registered by the model's layers, in registration order. Set-up only. */
  private final List<Runnable> walks = new ArrayList<>();

  /**
   * Test hook: called with every native scheduler created, so that a JUnit extension can walk
   * them after each test. Null outside tests.
   */
  public static volatile @Nullable Consumer<Sched> creationHook;

  protected Sched(boolean exploring, @Nullable Lockdep lockdep) {
    this.exploring = exploring;
    this.lockdep = lockdep;
    Consumer<Sched> hook = creationHook;
    if (hook != null && !exploring) {
      hook.accept(this);
    }
  }

  // ------------------------------------------------------------ consistency walk

  /**
   * Registers a consistency walk: model code that checks its invariants (accounting balanced,
   * mapcounts equal mapping entries, no leaked frames) and raises a verdict if one does not hold.
   * The explorer runs every walk after every execution; the test extension after every test.
   */
  public final void registerWalk(Runnable walk) {
    walks.add(walk);
  }

  /**
   * The mm-wide consistency walk: the registered walks, then the lock and RCU state of every
   * CPU, which must be empty. Runs where no CPU is running (after an execution, after a test).
   */
  public final void consistencyWalk() {
    for (Runnable w : walks) {
      w.run();
    }
    for (Cpu c : walkedCpus()) {
      if (c.heldCount() > 0) {
        throw new BugException(Verdict.of(VerdictKind.INVARIANT, c.label() + " still holds " + c.heldLocks(),
            List.of("consistency walk: lock state must be empty when no CPU runs"), List.of()));
      }
      if (c.rcuNesting > 0) {
        throw new BugException(RcuVerdicts.exitInReadSection(c));
      }
    }
  }

  /** Releases of off-heap resources (simulated RAM) registered by the model, in order. */
  private final List<Runnable> releases = new ArrayList<>();

  /**
   * Registers the release of a resource the model holds outside the Java heap (the frames of a
   * booted kernel's memory). The explorer runs every release after every execution, whatever
   * its outcome; natively, {@link #releaseAll} is the owner's to call.
   */
  public final void onRelease(Runnable release) {
    releases.add(release);
  }

  /** Runs and forgets the registered releases, newest first. */
  public final void releaseAll() {
    for (int i = releases.size() - 1; i >= 0; i--) {
      releases.get(i).run();
    }
    releases.clear();
  }

  /** The CPUs the consistency walk checks. */
  protected abstract List<Cpu> walkedCpus();

  /**
   * Adds a CPU that will run {@code body}: under the explorer a task of the execution, natively
   * a thread started by {@link StressRunner}. Called during a program's set-up.
   */
  public abstract Cpu addCpu(String name, Runnable body);

  /** The CPU running the caller (in setup and end checks, a boot CPU). */
  public abstract Cpu cpu();

  /** A fresh object id: deterministic in explore mode, never reused. */
  public abstract int newObjectId();

  /** Where the caller is now (CPU and step), for lifetime and lockdep reports. */
  public abstract Site site();

  /** The current step of the execution, or -1 in native mode. */
  public abstract long step();

  /**
   * A scheduling point: the calling CPU is about to perform {@code kind} on {@code obj}.
   * {@code what} names the kernel operation ({@code "spin_unlock"}) for reports.
   * On return the operation may be performed; it is checked against use-after-free.
   */
  public abstract void point(OpKind kind, SyncObject obj, String what);

  /**
   * A scheduling point that may wait: returns once {@code ready} holds, and in explore mode the
   * caller's operation then happens before any other CPU runs. Natively it spins, and for
   * sleeping primitives parks until {@link #wake} is called for {@code obj}.
   *
   * @param sleeps true for sleeping waits (mutex, rwsem, wait queues), false for spins
   */
  public abstract void await(OpKind kind, SyncObject obj, String what, BooleanSupplier ready, boolean sleeps);

  /**
   * A named retry point of an unbounded retry loop ({@code goto repeat}, seqcount retry, a
   * failed {@code folio_try_get}). Under the explorer a retry that sees no write by another
   * CPU since this CPU's previous retry at the same label waits for one: if none can come,
   * that is a livelock verdict.
   */
  public abstract void retry(String label, @Nullable SyncObject obj);

  /**
   * {@link #retry(String, SyncObject)} at a point that retries an operation whose handler may
   * make the progress itself (the user access retried after a handled fault: the fault installed
   * a PTE), and whose successive visits can be about different things ({@code key}: the address
   * and kind of the access). Under the explorer a CPU spins here only if it comes back to the
   * same label with the same key and nobody, itself included, wrote since. Natively: as
   * {@link #retry(String, SyncObject)}.
   */
  public void retry(String label, long key, @Nullable SyncObject obj) {
    retry(label, obj);
  }

  /**
   * The operation just announced as a write (a trylock, a cmpxchg, a {@code folio_try_get})
   * failed and changed nothing: under the explorer it does not count as progress for the
   * retry points of other CPUs. Native mode: nothing.
   */
  public void unchanged() {}

  /** Native mode: wakes CPUs parked in {@link #await} on {@code obj}. Explore mode: nothing. */
  public abstract void wake(SyncObject obj);

  /** Raises a verdict at the current point. */
  public final BugException bug(Verdict v) {
    return new BugException(v.atStep(step()));
  }

  // ------------------------------------------------------------ locks, lockdep

  /** Lockdep: {@code lock} is about to be waited for or acquired by the current CPU. */
  public final void acquiring(SyncObject lock) {
    Lockdep ld = lockdep;
    if (ld != null) {
      ld.acquire(cpu(), lock, step());
    }
  }

  /** The current CPU now holds {@code lock} (a lock or pseudo-lock). */
  public final void acquired(SyncObject lock) {
    acquired(cpu(), lock);
  }

  /**
   * {@link #acquired(SyncObject)} for a caller that already has the current CPU at hand
   * ({@code me} must be {@link #cpu()}): natively the lookup is a thread-local read, and lock
   * and unlock paths look the CPU up once.
   */
  public final void acquired(Cpu me, SyncObject lock) {
    me.pushHeld(lock, step());
  }

  /** The current CPU releases {@code lock}; releasing a lock it does not hold is an invariant violation. */
  public final void released(SyncObject lock) {
    released(cpu(), lock);
  }

  /** {@link #released(SyncObject)} with the current CPU at hand ({@code me} must be {@link #cpu()}). */
  public final void released(Cpu me, SyncObject lock) {
    if (!me.popHeld(lock)) {
      throw bug(Verdict.of(VerdictKind.INVARIANT,
          me.label() + " releases " + lock.describe() + " which it does not hold",
          List.of("held: " + me.heldLocks()), List.of(lock.id())));
    }
  }

  /**
   * Releases a pseudo-lock that another CPU may hold (a refcount frozen by one CPU and
   * unfrozen by another): removes it from whichever CPU holds it.
   */
  public abstract void releasedByAnyone(SyncObject lock);

  public final @Nullable Lockdep lockdep() {
    return lockdep;
  }

  // ------------------------------------------------------------ RCU core (used by sync.Rcu)

  /** {@code rcu_read_lock}: enters a read-side section of the current CPU. */
  public abstract void rcuReadLock();

  /** {@code rcu_read_unlock}; the outermost unlock is a quiescent state. */
  public abstract void rcuReadUnlock();

  /** {@code synchronize_rcu}: waits for every read section that began before it to end. */
  public abstract void synchronizeRcu();

  /** {@code call_rcu}: runs {@code callback} on this CPU after a grace period. */
  public abstract void callRcu(Runnable callback);

  /** {@code rcu_barrier} for the current CPU's callbacks: waits for them and runs them. */
  public abstract void rcuBarrier();

  /** Number of grace periods started so far. */
  public abstract long gracePeriodsStarted();

  /** True if a grace period that started after {@code startedBefore} grace periods has completed. */
  public abstract boolean graceElapsedSince(long startedBefore);

  /** True if the current CPU is inside an RCU read-side section. */
  public final boolean inRcuReadSection() {
    return cpu().rcuNesting > 0;
  }
}
