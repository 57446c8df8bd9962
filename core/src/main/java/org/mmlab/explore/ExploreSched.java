package org.mmlab.explore;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.Lockdep;
import org.mmlab.debug.Site;
import org.mmlab.debug.Where;

/**
 * One execution under the explorer: the CPUs of a scenario as tasks on the driver thread, the
 * loop that picks which one performs the next step, the schedule and trace it records, and the
 * verdicts it reaches by itself (deadlock, livelock, step bound).
 *
 * <h2>Overview</h2>
 * Each CPU announces its next operation at a scheduling point and suspends. The driver computes
 * the enabled set (CPUs not finished whose wait condition, if any, holds), asks the strategy to
 * pick one when there is a choice, records the step, and resumes that CPU, which performs the
 * operation and runs to its next point. One CPU runs at a time, so a step is atomic.
 *
 * <h2>Verdicts found here</h2>
 * <ul>
 *   <li>no CPU enabled and some not finished: deadlock, or livelock if one of the blocked CPUs
 *       is a retry point that saw no progress (see {@link #retry});</li>
 *   <li>more than {@code maxSteps} steps: a potential livelock, which the {@link Explorer}
 *       confirms with a fair replay before reporting it;</li>
 *   <li>a CPU finishing inside an RCU read section or holding a lock.</li>
 * </ul>
 *
 * <h2>Order</h2>
 * Set-up (CPUs, the strategy, the budget); the driver loop (enabled set, choice, step record,
 * the verdicts above); what strategies see of the state; the {@link Sched} operations a CPU
 * calls (points, waits, retries, wakes, lock bookkeeping); RCU (read sections, grace periods,
 * callbacks). One idea throughout: one execution's scheduler.
 *
 * <h2>Determinism</h2>
 * Object ids, CPU ids and the grace-period machinery are per execution and depend only on the
 * order of steps; the trace hash covers (cpu, kind, object) of every step, so a replay that
 * diverges is detected.
 */
public final class ExploreSched extends Sched {
  private static final int NO_CPU = -1;

  private final CpuBackend backend;
  private final Strategy strategy;
  private final long maxSteps;
  private final boolean capture;
  private final long executionIndex;
  private final boolean everyStep;

  private final List<Cpu> cpuList = new ArrayList<>();
  private Cpu[] cpus = new Cpu[0];
  private int[] enabled = new int[0];
  private @Nullable Cpu current;
  private final Cpu boot = new Cpu(NO_CPU, "setup");
  private final GracePeriod gp;

  private long step;
  private long writes;
  private int nextObject = 1;
  private int lastCpu = NO_CPU;
  /** The CPU the running CPU decided runs next, for the driver to resume; null if undecided. */
  private @Nullable Cpu handoff;
  private int handoffEnabled;
  private int preemptions;
  private boolean stepBoundHit;
  private @Nullable Verdict verdict;

  // trace
  private byte[] schedule = new byte[256];
  private long traceHash = 0x9E3779B97F4A7C15L;
  private final List<StepRecord> records = new ArrayList<>();

  // RCU
  private long gpStarted;
  private long gpCompletedMax;

  /**
   * @param backend how CPUs are run
   * @param strategy picks the CPU at each choice
   * @param lockdep the cross-execution lock-order graph (or null)
   * @param maxSteps the step bound (beyond it: potential livelock)
   * @param capture record every step's details (slow: for reports)
   * @param executionIndex the index of this execution in its exploration
   */
  public ExploreSched(CpuBackend backend, Strategy strategy, @Nullable Lockdep lockdep, long maxSteps,
      boolean capture, long executionIndex) {
    super(true, lockdep);
    this.backend = backend;
    this.strategy = strategy;
    this.maxSteps = maxSteps;
    this.capture = capture;
    this.executionIndex = executionIndex;
    this.everyStep = strategy.wantsEveryStep();
    this.gp = new GracePeriod(this);
  }

  // ------------------------------------------------------------ set-up

  /** Adds a CPU that will run {@code body}; called during set-up, before {@link #execute}. */
  @Override
  public Cpu addCpu(String name, Runnable body) {
    if (cpus.length != 0) {
      throw new IllegalStateException("CPUs are added before the execution starts");
    }
    Cpu c = new Cpu(cpuList.size(), name);
    c.body = body;
    cpuList.add(c);
    return c;
  }

  /** The CPUs of this execution, by id. */
  public List<Cpu> cpus() {
    return List.copyOf(cpuList);
  }

  public int cpuCount() {
    return cpus.length == 0 ? cpuList.size() : cpus.length;
  }

  /** True if this execution records every step's details. */
  public boolean capturing() {
    return capture;
  }

  public long executionIndex() {
    return executionIndex;
  }

  // ------------------------------------------------------------ the driver loop

  /**
   * Runs the CPUs to the end, to a verdict, or to the step bound. Returns the verdict, or null
   * if every CPU finished cleanly (end checks are the caller's).
   */
  public @Nullable Verdict execute() {
    cpus = cpuList.toArray(new Cpu[0]);
    enabled = new int[cpus.length];
    if (cpus.length > 127) {
      throw new IllegalStateException("at most 127 CPUs");
    }
    for (Cpu c : cpus) {
      Runnable body = c.body;
      backend.create(c, () -> runCpu(c, body));
    }
    try {
      loop();
    } finally {
      current = null;
      for (Cpu c : cpus) {
        backend.discard(c);
      }
    }
    return verdict;
  }

  /**
   * The driver loop. The decision of who runs next is usually taken by the running CPU itself
   * at its scheduling point ({@link #suspend}): if it picks itself it goes on without a switch
   * (most steps), else it hands the decision to the driver. Either way the same code decides,
   * with the same state, so traces do not depend on where the decision was taken.
   */
  private void loop() {
    while (verdict == null) {
      Cpu next = handoff;
      int n = handoffEnabled;
      handoff = null;
      if (next == null) {
        n = computeEnabled();
        if (n <= 0) {
          endWithoutEnabled(n);
          return;
        }
        if (step >= maxSteps) {
          stepBoundHit = true;
          return;
        }
        next = cpus[pick(n)];
      }
      account(next, n);
      current = next;
      backend.resume(next);
      current = null;
    }
  }

  /** Fills {@link #enabled}; returns how many, or -1 if every CPU has finished. */
  private int computeEnabled() {
    int n = 0;
    boolean allDone = true;
    for (Cpu c : cpus) {
      if (c.done) {
        continue;
      }
      allDone = false;
      BooleanSupplier r = c.ready;
      if (r == null || r.getAsBoolean()) {
        enabled[n++] = c.id;
      }
    }
    return allDone ? -1 : n;
  }

  private void endWithoutEnabled(int n) {
    if (n == 0) {
      verdict = Deadlocks.explain(cpus, step);
    }
  }

  private int pick(int n) {
    return n == 1 && !everyStep ? enabled[0] : strategy.pick(this, enabled, n);
  }

  /** Records that {@code c} performs its pending operation as the next step. */
  private void account(Cpu c, int nEnabled) {
    boolean preempt = false;
    if (lastCpu != NO_CPU && lastCpu != c.id && nEnabled > 1) {
      Cpu last = cpus[lastCpu];
      if (!last.done && !last.yielded && isEnabled(last)) {
        preempt = true;
        preemptions++;
      }
    }
    SyncObject o = c.pendingObj;
    int objId = o == null ? 0 : o.id();
    recordStep(c, objId);
    if (capture) {
      records.add(new StepRecord(step, c.id, c.pendingKind, objId, ownerId(o), o == null ? "" : o.describe(),
          c.pendingWhat, c.pendingWhere, o == null ? "" : o.state(), preempt));
    }
    if (c.pendingKind.mutates()) {
      writes++;
      c.myWrites++;
    }
    step++;
    lastCpu = c.id;
    c.ready = null;
  }

  private static int ownerId(@Nullable SyncObject o) {
    var owner = o == null ? null : o.owner();
    return owner == null ? 0 : owner.objectId();
  }

  private boolean isEnabled(Cpu c) {
    BooleanSupplier r = c.ready;
    return r == null || r.getAsBoolean();
  }

  private void recordStep(Cpu c, int objId) {
    int s = (int) step;
    if (s == schedule.length) {
      schedule = Arrays.copyOf(schedule, s * 2);
    }
    schedule[s] = (byte) c.id;
    long h = traceHash ^ (((long) c.id << 48) | ((long) c.pendingKind.ordinal() << 40) | (objId & 0xFFFFFFFFL));
    h *= 0xBF58476D1CE4E5B9L;
    traceHash = h ^ (h >>> 31);
  }

  private void runCpu(Cpu c, @Nullable Runnable body) {
    c.started = true;
    try {
      if (body != null) {
        body.run();
      }
      exitChecks(c);
    } catch (Throwable t) {
      // One handler, dispatching by type: a failure inside a CPU body must never escape the
      // continuation (see the note on handler dispatch in docs/EXPLORER.md).
      failWith(c, t);
    } finally {
      c.done = true;
      c.ready = null;
    }
  }

  private void failWith(Cpu c, Throwable t) {
    switch (t) {
      case CpuBackend.Discarded d -> {
        // the execution ended while this CPU was suspended
      }
      case BugException e -> fail(e.verdict());
      case AssertionError e -> fail(Verdict.of(VerdictKind.ASSERTION, c.label() + ": " + e.getMessage(),
          List.of("at " + topFrame(e)), List.of()));
      default -> fail(Verdict.of(VerdictKind.EXCEPTION, c.label() + " threw " + t,
          List.of("at " + topFrame(t)), List.of()));
    }
  }

  private void fail(Verdict v) {
    if (verdict == null) {
      verdict = v.step() >= 0 ? v : v.atStep(step - 1);
    }
  }

  static String topFrame(Throwable t) {
    for (StackTraceElement e : t.getStackTrace()) {
      String cls = e.getClassName();
      if (!cls.startsWith("org.mmlab.explore.") && !cls.startsWith("java.") && !cls.startsWith("jdk.")) {
        return e.toString();
      }
    }
    StackTraceElement[] st = t.getStackTrace();
    return st.length > 0 ? st[0].toString() : "?";
  }

  private void exitChecks(Cpu c) {
    if (c.rcuNesting != 0) {
      throw bug(RcuVerdicts.exitInReadSection(c));
    }
    gp.barrier(c);
    if (c.heldCount() > 0) {
      List<Integer> ids = new ArrayList<>();
      for (SyncObject l : c.heldLocks()) {
        ids.add(l.id());
      }
      throw bug(Verdict.of(VerdictKind.INVARIANT, c.label() + " finished holding " + c.heldLocks(),
          List.of("every lock taken must be released (lock state empty at exit)"), ids));
    }
  }

  /**
   * Runs {@code check} as the boot CPU (no scheduling points), turning a failure into a
   * verdict: the scenario's end check and the consistency walk.
   */
  public @Nullable Verdict runInline(Runnable check) {
    try {
      check.run();
      if (boot.heldCount() > 0) {
        return Verdict.of(VerdictKind.INVARIANT, "set-up or end check left " + boot.heldLocks() + " held",
            List.of(), List.of());
      }
      return null;
    } catch (BugException e) {
      return e.verdict();
    } catch (AssertionError e) {
      return Verdict.of(VerdictKind.ASSERTION, String.valueOf(e.getMessage()), List.of("at " + topFrame(e)), List.of());
    } catch (Throwable t) {
      return Verdict.of(VerdictKind.EXCEPTION, "threw " + t, List.of("at " + topFrame(t)), List.of());
    }
  }

  @Override
  protected List<Cpu> walkedCpus() {
    List<Cpu> out = new ArrayList<>(cpuList);
    out.add(boot);
    return out;
  }

  // ------------------------------------------------------------ what strategies see

  public long steps() {
    return step;
  }

  /** The CPU that ran the previous step, or -1. */
  public int lastCpu() {
    return lastCpu;
  }

  /** True if CPU {@code id}'s pending point is a voluntary yield (a retry). */
  public boolean yielded(int id) {
    return cpus[id].yielded;
  }

  public OpKind pendingKind(int id) {
    return cpus[id].pendingKind;
  }

  public int pendingObjectId(int id) {
    SyncObject o = cpus[id].pendingObj;
    return o == null ? 0 : o.id();
  }

  /** Preemptions so far: switches away from a CPU that could have gone on and did not yield. */
  public int preemptions() {
    return preemptions;
  }

  public boolean stepBoundHit() {
    return stepBoundHit;
  }

  /** The CPU id of every step so far. */
  public byte[] schedule() {
    return Arrays.copyOf(schedule, (int) step);
  }

  public long traceHash() {
    return traceHash;
  }

  /**
   * The operations the unfinished CPUs were waiting to perform when the execution ended (what a
   * deadlocked CPU was blocked in), as step records with step -1.
   */
  public List<StepRecord> pendingRecords() {
    List<StepRecord> out = new ArrayList<>();
    for (Cpu c : cpus) {
      if (!c.done && c.started) {
        SyncObject o = c.pendingObj;
        out.add(new StepRecord(-1, c.id, c.pendingKind, o == null ? 0 : o.id(), ownerId(o), o == null ? "" : o.describe(),
            c.pendingWhat, c.pendingWhere, o == null ? "" : o.state(), false));
      }
    }
    return out;
  }

  /** The captured steps (empty unless capture was on). */
  public List<StepRecord> records() {
    return records;
  }

  // ------------------------------------------------------------ Sched

  @Override
  public Cpu cpu() {
    Cpu c = current;
    return c == null ? boot : c;
  }

  @Override
  public int newObjectId() {
    return nextObject++;
  }

  @Override
  public Site site() {
    Cpu c = current;
    return c == null ? new Site("setup", -1, null) : new Site(c.label(), step - 1, capture ? Where.caller() : null);
  }

  @Override
  public long step() {
    return current == null ? -1 : step - 1;
  }

  @Override
  public void point(OpKind kind, SyncObject obj, String what) {
    Cpu c = current;
    if (c != null) {
      announce(c, kind, obj, what);
      c.ready = null;
      c.yielded = false;
      suspend(c);
    }
    checkOwner(obj, what);
  }

  @Override
  public void await(OpKind kind, SyncObject obj, String what, BooleanSupplier ready, boolean sleeps) {
    Cpu c = current;
    if (c == null) {
      if (!ready.getAsBoolean()) {
        throw new IllegalStateException("set-up would wait for " + obj.describe() + " in " + what);
      }
    } else {
      announce(c, kind, obj, what);
      c.ready = ready;
      c.yielded = false;
      suspend(c);
    }
    checkOwner(obj, what);
  }

  @Override
  public void retry(String label, @Nullable SyncObject obj) {
    retryAt(label, 0, false, obj);
  }

  @Override
  public void retry(String label, long key, @Nullable SyncObject obj) {
    retryAt(label, key, true, obj);
  }

  /**
   * A retry point: a spin (the CPU waits for another's write, a livelock if none can come) when
   * it is the CPU's second visit at the same label and key with no other CPU's write in between
   * and, for a keyed point ({@code ownCounts}), none of its own either.
   */
  private void retryAt(String label, long key, boolean ownCounts, @Nullable SyncObject obj) {
    Cpu c = current;
    if (c == null) {
      return;
    }
    long foreign = writes - c.myWrites;
    if (label.equals(c.lastRetryLabel) && key == c.lastRetryKey && foreign == c.lastRetryForeign
        && (!ownCounts || c.myWrites == c.lastRetryMine)) {
      c.spinLabel = label;
      c.ready = () -> writes - c.myWrites != foreign;
    } else {
      c.spinLabel = null;
      c.ready = null;
    }
    c.lastRetryLabel = label;
    c.lastRetryKey = key;
    c.lastRetryForeign = foreign;
    c.lastRetryMine = c.myWrites;
    announce(c, OpKind.RETRY, obj == null ? gp.retryMarker() : obj, label);
    c.yielded = true;
    suspend(c);
    c.spinLabel = null;
  }

  private void announce(Cpu c, OpKind kind, SyncObject obj, String what) {
    c.pendingKind = kind;
    c.pendingObj = obj;
    c.pendingWhat = what;
    if (capture) {
      c.pendingWhere = Where.caller();
    }
  }

  /**
   * Ends the running CPU's step: decides who performs the next one. If it is this CPU, it goes
   * on at once; otherwise the decision is handed to the driver and the CPU yields. Where no CPU
   * is enabled or the step bound is reached, the driver decides (and reports).
   */
  private void suspend(Cpu c) {
    int n = computeEnabled();
    if (n > 0 && step < maxSteps) {
      Cpu next = cpus[pick(n)];
      if (next == c) {
        account(c, n);
        return;
      }
      handoff = next;
      handoffEnabled = n;
    }
    backend.yieldToDriver(c);
  }

  @Override
  public void unchanged() {
    Cpu c = current;
    if (c != null && c.pendingKind.mutates()) {
      writes--;
      c.myWrites--;
    }
  }

  @Override
  public void wake(SyncObject obj) {
    // The driver re-evaluates every wait condition at each step: nothing to do.
  }

  @Override
  public void releasedByAnyone(SyncObject lock) {
    if (cpu().popHeld(lock)) {
      return;
    }
    for (Cpu c : cpus) {
      if (c.popHeld(lock)) {
        return;
      }
    }
    boot.popHeld(lock);
  }

  private void checkOwner(SyncObject obj, String what) {
    var owner = obj.owner();
    if (owner != null && owner.isFreed()) {
      throw bug(owner.useAfterFree(what + " on " + obj.describe(), site()));
    }
  }

  // ------------------------------------------------------------ RCU

  @Override
  public void rcuReadLock() {
    Cpu c = cpu();
    if (current != null) {
      point(OpKind.RCU, gp, "rcu_read_lock");
    }
    c.rcuNesting++;
  }

  @Override
  public void rcuReadUnlock() {
    Cpu c = cpu();
    if (current != null) {
      point(OpKind.RCU, gp, "rcu_read_unlock");
    }
    if (c.rcuNesting <= 0) {
      throw bug(RcuVerdicts.unbalancedUnlock(c));
    }
    if (--c.rcuNesting == 0) {
      c.rcuExits++;
      gp.runReady(c);
    }
  }

  @Override
  public void synchronizeRcu() {
    Cpu c = cpu();
    if (c.rcuNesting > 0) {
      throw bug(RcuVerdicts.synchronizeInReadSection(c));
    }
    long start = ++gpStarted;
    BooleanSupplier elapsed = gp.snapshot(c);
    await(OpKind.WAIT, gp, "synchronize_rcu", elapsed, true);
    completed(start);
  }

  void completed(long start) {
    gpCompletedMax = Math.max(gpCompletedMax, start);
  }

  @Override
  public void callRcu(Runnable callback) {
    long start = ++gpStarted;
    gp.queue(cpu(), start, callback);
  }

  @Override
  public void rcuBarrier() {
    gp.barrier(cpu());
  }

  @Override
  public long gracePeriodsStarted() {
    return gpStarted;
  }

  @Override
  public boolean graceElapsedSince(long startedBefore) {
    return gpCompletedMax > startedBefore;
  }

  /** CPUs currently in a read-side section (the "holders" of the grace period). */
  List<Cpu> readers() {
    List<Cpu> out = new ArrayList<>();
    for (Cpu c : cpus) {
      if (c.rcuNesting > 0 && !c.done) {
        out.add(c);
      }
    }
    return out;
  }

  /** Runs the boot CPU's queued callbacks after the CPUs finished (set-up's {@code call_rcu}s). */
  public void drainBootCallbacks() {
    gp.barrier(boot);
  }

  Cpu[] cpuArray() {
    return cpus;
  }
}
