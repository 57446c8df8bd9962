package org.mmlab.explore;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.Lockdep;
import org.mmlab.debug.Site;

/**
 * Native mode: every simulated CPU is a real thread and the primitives are genuinely
 * concurrent. Scheduling points cost a use-after-free check; waits spin with
 * {@link Thread#onSpinWait()} and, for sleeping primitives, park on a hashed table of waiters
 * (the kernel's hashed wait queues, {@code bit_wait_table}), woken by {@link #wake}.
 *
 * <h2>RCU</h2>
 * Quiescent-state based, as a non-preemptible kernel: a read section touches only its CPU's
 * nesting counter; the outermost {@code rcu_read_unlock}, a blocking wait outside a read
 * section and the CPU going idle are quiescent states. A CPU attached with {@link #attach} is
 * "running" and must pass one of those for a grace period to end; a thread that was never
 * attached gets a CPU of its own that is idle outside read sections (its outermost
 * {@code rcu_read_lock} pays a full fence instead). Callbacks queued with {@code call_rcu} run
 * on a daemon thread ("rcuo"), after a grace period, as the kernel's offloaded callbacks do,
 * in batches at the pace of a jiffy ({@link #RCU_TICK_NANOS}); {@code synchronize_rcu} waits
 * for its own grace period at once.
 *
 * <h2>Memory ordering</h2>
 * The grace-period waiter reads each CPU's quiescent counter with acquire; a CPU writes it with
 * release after its read section, so observing the new value orders every load of that section
 * before the waiter's subsequent free. Leaving the idle state is a volatile store followed by a
 * full fence, paired with the full fence that starts {@code synchronize_rcu}: either the waiter
 * sees the CPU non-idle (and waits for its quiescent state) or the CPU sees the new pointer.
 */
public final class NativeSched extends Sched {
  private static final int SPINS = 128;
  private static final int TABLE = 256;
  private static final long PARK_NANOS = 2_000_000;

  private final ThreadLocal<Cpu> current = new ThreadLocal<>();
  /**
   * The first {@link #FAST_CPUS} CPUs attached to threads, for {@link #cpu()}'s fast path: a
   * scan of their threads for the caller's is a few plain loads, cheaper than the thread-local
   * map that stays the fallback (every lock, counter and allocation looks the current CPU up).
   * The scan reads only these two immutable arrays, never a {@link Cpu} object: a CPU's object
   * is written by its thread on every lock and RCU operation, and reading another CPU's on each
   * lookup made its cache line bounce between the cores (two page-fault threads ran 25 times
   * slower). Replaced copy-on-write under {@code this}'s monitor; read racily (a stale value
   * only sends the caller to the thread-local).
   */
  private volatile FastCpus fast = new FastCpus(new Thread[0], new Cpu[0]);
  private static final int FAST_CPUS = 4;

  /** {@code cpus[i]} runs on {@code threads[i]}. Immutable; the arrays are never written after construction. */
  private record FastCpus(Thread[] threads, Cpu[] cpus) {}
  private final CopyOnWriteArrayList<Cpu> cpus = new CopyOnWriteArrayList<>();
  private final AtomicInteger nextCpu = new AtomicInteger();
  private final AtomicInteger nextObject = new AtomicInteger(1);
  private final Bucket[] table = new Bucket[TABLE];
  private final AtomicLong gpStarted = new AtomicLong();
  private final AtomicLong gpCompletedMax = new AtomicLong();
  private final ConcurrentLinkedQueue<Callback> callbacks = new ConcurrentLinkedQueue<>();
  private final AtomicLong callbacksQueued = new AtomicLong();
  private final AtomicLong callbacksDone = new AtomicLong();
  /** The running rcuo thread, or null; written under {@link #rcuoLock}. */
  private volatile @Nullable Thread rcuo;
  private final Object rcuoLock = new Object();
  /** How long rcuo waits for a callback before it exits (the next {@code call_rcu} starts another). */
  private static final long RCUO_IDLE_NANOS = 100_000_000L;
  /**
   * rcuo's pace: woken by a first callback, it lets this long pass for more callbacks to join
   * the grace period, and while it waits for the CPUs' quiescent states it looks again this
   * often. The kernel's grace-period kthread first looks for quiescent states 1–3 jiffies into a
   * grace period ({@code jiffies_till_first_fqs}: 4 ms at HZ=250, 3 ms at HZ=1000), and an
   * offloaded callback wakes its kthread only if that one is idle. Before, rcuo ran a grace
   * period per wake-up and polled every 50 µs: with a page-fault worker on every core it woke
   * about 900 times a second, each time on a worker's core, and then waited for the quiescent
   * state of the very worker it kept off that core (BENCHMARKS §5.7).
   */
  static final long RCU_TICK_NANOS = 4_000_000L;
  /** True while rcuo waits for callbacks with none queued: only then does {@code call_rcu} wake it. */
  private volatile boolean rcuoWaiting;

  private record Callback(long seq, Runnable fn) {}

  /** One hashed wait-table bucket: parked threads and their count (waitqueue_active). */
  private static final class Bucket {
    final AtomicInteger waiters = new AtomicInteger();
    final ConcurrentLinkedQueue<Thread> threads = new ConcurrentLinkedQueue<>();
  }

  public NativeSched() {
    this(null);
  }

  /** @param lockdep a lock-order checker, or null for none (the default: it serializes acquisitions) */
  public NativeSched(@Nullable Lockdep lockdep) {
    super(false, lockdep);
    for (int i = 0; i < TABLE; i++) {
      table[i] = new Bucket();
    }
  }

  // ------------------------------------------------------------ CPUs

  /** CPUs a program's set-up added, for {@link StressRunner} to start. Set-up only. */
  private final List<Cpu> added = new ArrayList<>();

  @Override
  public Cpu addCpu(String name, Runnable body) {
    Cpu c = new Cpu(added.size(), name);
    c.body = body;
    added.add(c);
    return c;
  }

  /** The CPUs added by {@link #addCpu}, in order (their bodies not yet run). */
  List<Cpu> addedCpus() {
    return List.copyOf(added);
  }

  /** Makes the calling thread the running CPU {@code name}; detach with {@link #detach}. */
  public Cpu attach(String name) {
    Cpu c = new Cpu(nextCpu.getAndIncrement(), name);
    attach(c);
    return c;
  }

  /** Makes the calling thread the running CPU {@code c} (one added by {@link #addCpu}). */
  void attach(Cpu c) {
    c.thread = Thread.currentThread();
    c.rcuSetIdle(false);
    current.set(c);
    cpus.add(c);
    addFast(c);
  }

  /** The calling thread's CPU goes idle for good (an extended quiescent state). */
  public void detach() {
    Cpu c = current.get();
    if (c != null) {
      c.rcuSetIdle(true);
      cpus.remove(c);
      removeFast(c);
      current.remove();
    }
  }

  @Override
  public Cpu cpu() {
    Thread me = Thread.currentThread();
    FastCpus f = fast;
    Thread[] threads = f.threads();
    for (int i = 0; i < threads.length; i++) {
      if (threads[i] == me) {
        return f.cpus()[i];
      }
    }
    return cpuSlow(me);
  }

  private Cpu cpuSlow(Thread me) {
    Cpu c = current.get();
    if (c == null) {
      c = new Cpu(nextCpu.getAndIncrement(), me.getName());
      c.thread = me;
      c.auto = true;
      current.set(c);
      cpus.add(c);
      addFast(c);
    }
    return c;
  }

  /** Adds {@code c} (attached to the calling thread) to the fast arrays, in place of an earlier CPU of the same thread. */
  private synchronized void addFast(Cpu c) {
    Thread me = Thread.currentThread();
    List<Thread> ts = new ArrayList<>();
    List<Cpu> cs = new ArrayList<>();
    FastCpus f = fast;
    for (int i = 0; i < f.threads().length; i++) {
      if (f.threads()[i] != me) {
        ts.add(f.threads()[i]);
        cs.add(f.cpus()[i]);
      }
    }
    if (ts.size() < FAST_CPUS) {
      ts.add(me);
      cs.add(c);
    }
    fast = new FastCpus(ts.toArray(new Thread[0]), cs.toArray(new Cpu[0]));
  }

  private synchronized void removeFast(Cpu c) {
    List<Thread> ts = new ArrayList<>();
    List<Cpu> cs = new ArrayList<>();
    FastCpus f = fast;
    for (int i = 0; i < f.cpus().length; i++) {
      if (f.cpus()[i] != c) {
        ts.add(f.threads()[i]);
        cs.add(f.cpus()[i]);
      }
    }
    fast = new FastCpus(ts.toArray(new Thread[0]), cs.toArray(new Cpu[0]));
  }

  @Override
  public int newObjectId() {
    return nextObject.getAndIncrement();
  }

  @Override
  public Site site() {
    return new Site(cpu().label(), -1, null);
  }

  @Override
  public long step() {
    return -1;
  }

  @Override
  protected List<Cpu> walkedCpus() {
    return List.copyOf(cpus);
  }

  // ------------------------------------------------------------ points and waits

  @Override
  public void point(OpKind kind, SyncObject obj, String what) {
    checkOwner(obj, what);
  }

  @Override
  public void await(OpKind kind, SyncObject obj, String what, BooleanSupplier ready, boolean sleeps) {
    checkOwner(obj, what);
    if (ready.getAsBoolean()) {
      return;
    }
    for (int i = 0; i < SPINS; i++) {
      Thread.onSpinWait();
      if (ready.getAsBoolean()) {
        return;
      }
    }
    Cpu c = cpu();
    boolean quiesce = c.rcuNesting == 0 && !c.auto;
    if (quiesce) {
      c.rcuQsRelease(c.rcuQsAcquire() + 1);
      c.rcuSetIdle(true);
    }
    try {
      if (sleeps) {
        park(obj, ready);
      } else {
        while (!ready.getAsBoolean()) {
          Thread.onSpinWait();
          Thread.yield();
        }
      }
    } finally {
      if (quiesce) {
        c.rcuSetIdle(false);
      }
    }
  }

  private void park(SyncObject obj, BooleanSupplier ready) {
    Bucket b = table[obj.id() & (TABLE - 1)];
    Thread me = Thread.currentThread();
    b.waiters.incrementAndGet();
    b.threads.add(me);
    try {
      while (!ready.getAsBoolean()) {
        LockSupport.parkNanos(obj, PARK_NANOS);
      }
    } finally {
      b.threads.remove(me);
      b.waiters.decrementAndGet();
    }
  }

  @Override
  public void wake(SyncObject obj) {
    Bucket b = table[obj.id() & (TABLE - 1)];
    if (b.waiters.get() == 0) {
      return;
    }
    for (Thread t : b.threads) {
      LockSupport.unpark(t);
    }
  }

  /**
   * Natively a retry about an object (a lock, a frozen count, a seqcount, a retry entry) waits
   * on another CPU's progress, so it pauses ({@code cpu_relax}; about 27 ns on this machine's
   * EPYC). A retry about no object redoes an access after progress was made (the user access
   * after a handled fault, once per fault): the kernel does not pause there, and neither does
   * this.
   */
  @Override
  public void retry(String label, @Nullable SyncObject obj) {
    if (obj != null) {
      Thread.onSpinWait();
    }
  }

  @Override
  public void releasedByAnyone(SyncObject lock) {
    Cpu me = cpu();
    if (me.popHeld(lock)) {
      return;
    }
    for (Cpu c : cpus) {
      // Racy by design: native pseudo-lock bookkeeping is only for lockdep, which is off by default.
      if (c.popHeld(lock)) {
        return;
      }
    }
  }

  private void checkOwner(SyncObject obj, String what) {
    var owner = obj.owner();
    if (owner != null && owner.isFreed()) {
      throw new BugException(owner.useAfterFree(what + " on " + obj.describe(), site()));
    }
  }

  // ------------------------------------------------------------ RCU

  @Override
  public void rcuReadLock() {
    Cpu c = cpu();
    if (c.rcuNesting++ == 0 && c.auto) {
      c.rcuSetIdle(false);
    }
  }

  @Override
  public void rcuReadUnlock() {
    Cpu c = cpu();
    if (c.rcuNesting <= 0) {
      throw bug(RcuVerdicts.unbalancedUnlock(c));
    }
    if (--c.rcuNesting == 0) {
      c.rcuQsRelease(c.rcuQsAcquire() + 1);
      if (c.auto) {
        c.rcuSetIdle(true);
      }
    }
  }

  @Override
  public void synchronizeRcu() {
    Cpu me = cpu();
    if (me.rcuNesting > 0) {
      throw bug(RcuVerdicts.synchronizeInReadSection(me));
    }
    long start = gpStarted.incrementAndGet();
    waitForReaders(me);
    gpCompletedMax.accumulateAndGet(start, Math::max);
  }

  private void waitForReaders(@Nullable Cpu me) {
    waitForReaders(me, false);
  }

  /**
   * Waits until every CPU but {@code me} that is not idle has passed a quiescent state. A
   * caller of {@code synchronize_rcu} spins a little, then parks 50 µs at a time; rcuo
   * ({@code ticking}) looks again only every {@link #RCU_TICK_NANOS}: it runs on some worker's
   * core, and spinning there would keep off the very CPU whose quiescent state it waits for.
   */
  private void waitForReaders(@Nullable Cpu me, boolean ticking) {
    VarHandle.fullFence();
    List<Cpu> others = new ArrayList<>();
    List<Long> snaps = new ArrayList<>();
    for (Cpu c : cpus) {
      if (c != me && !c.rcuIdleAcquire()) {
        others.add(c);
        snaps.add(c.rcuQsAcquire());
      }
    }
    for (int i = 0; i < others.size(); i++) {
      Cpu c = others.get(i);
      long snap = snaps.get(i);
      int spins = 0;
      while (!c.rcuIdleAcquire() && c.rcuQsAcquire() == snap) {
        if (ticking) {
          LockSupport.parkNanos(RCU_TICK_NANOS);
        } else if (++spins < SPINS) {
          Thread.onSpinWait();
        } else {
          LockSupport.parkNanos(50_000);
        }
      }
    }
  }

  @Override
  public void callRcu(Runnable callback) {
    long seq = gpStarted.incrementAndGet();
    callbacks.add(new Callback(seq, callback));
    callbacksQueued.incrementAndGet();
    // A running rcuo takes this callback into its next batch unasked; a waiting one is woken.
    // rcuo sets rcuoWaiting before it looks at the queue, this call adds to the queue before it
    // reads rcuoWaiting (both volatile): one of the two sees the other.
    Thread t = rcuo;
    if (t != null && !rcuoWaiting) {
      return;
    }
    synchronized (rcuoLock) {
      t = rcuo;
      if (t == null) {
        rcuo = Thread.ofPlatform().daemon().name("rcuo").start(this::rcuoLoop);
        return;
      }
    }
    LockSupport.unpark(t);
  }

  /**
   * The offloaded-callbacks thread: waits for a grace period, then runs a batch. It sleeps
   * without a timer while callbacks keep coming and exits (detaching its CPU) once none came for
   * {@link #RCUO_IDLE_NANOS}; {@link #callRcu} starts a new one. Before, it polled every
   * millisecond forever: each test's kernel left one such thread behind, holding that kernel, and
   * a full test run spent more time in their wake-ups than in the tests.
   *
   * <p>The exit is decided under {@link #rcuoLock} on an empty queue, and {@link #callRcu}
   * queues before it takes that lock: either it sees this thread gone and starts another, or this
   * thread sees the callback.
   */
  private void rcuoLoop() {
    attach("rcuo");
    detachIdle();
    try {
      while (true) {
        rcuoWaiting = true;
        if (callbacks.isEmpty()) {
          LockSupport.parkNanos(RCUO_IDLE_NANOS);
          if (callbacks.isEmpty()) {
            synchronized (rcuoLock) {
              if (callbacks.isEmpty()) {
                rcuo = null;
                return;
              }
            }
          }
          continue;
        }
        rcuoWaiting = false;
        LockSupport.parkNanos(RCU_TICK_NANOS); // later callbacks join this batch
        List<Callback> batch = new ArrayList<>();
        for (Callback cb; (cb = callbacks.poll()) != null; ) {
          batch.add(cb);
        }
        waitForReaders(cpu(), true);
        for (Callback cb : batch) {
          gpCompletedMax.accumulateAndGet(cb.seq(), Math::max);
          cb.fn().run();
          callbacksDone.incrementAndGet();
        }
      }
    } finally {
      synchronized (rcuoLock) {
        if (rcuo == Thread.currentThread()) {
          rcuo = null; // a callback threw: the next call_rcu starts a new thread
        }
      }
      detach();
    }
  }

  private void detachIdle() {
    cpu().rcuSetIdle(true);
  }

  @Override
  public void rcuBarrier() {
    long target = callbacksQueued.get();
    while (callbacksDone.get() < target) {
      LockSupport.parkNanos(100_000);
    }
  }

  @Override
  public long gracePeriodsStarted() {
    return gpStarted.get();
  }

  @Override
  public boolean graceElapsedSince(long startedBefore) {
    return gpCompletedMax.get() > startedBefore;
  }
}
