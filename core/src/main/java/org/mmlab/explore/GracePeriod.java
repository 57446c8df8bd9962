package org.mmlab.explore;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * RCU grace periods under the explorer. A grace period that starts at a step waits for every
 * CPU that is inside a read-side section at that step to leave it (its count of outermost
 * unlocks grows) or to finish. {@code synchronize_rcu} is an {@code await} on exactly that, so
 * the explorer can schedule a reader's accesses on either side of a grace period's end.
 * {@code call_rcu} callbacks are queued on the calling CPU and run on that CPU at its next
 * quiescent state after their grace period (an outermost unlock, its end), or by
 * {@code rcu_barrier}.
 *
 * <p>This object is also the {@link SyncObject} that RCU steps are about: its holders are the
 * CPUs inside read sections, which is what a wait-for chain through a grace period shows.
 *
 * <p>Kernel counterpart: {@code kernel/rcu/tree.c} in spirit (not its machinery).
 */
final class GracePeriod extends SyncObject {
  private final ExploreSched ex;
  private final Marker retry;

  private record Callback(long start, BooleanSupplier elapsed, Runnable fn) {}

  GracePeriod(ExploreSched ex) {
    super(ex, "rcu", null, null);
    this.ex = ex;
    this.retry = new Marker(ex, "retry", "retry point");
  }

  @Override
  public String kind() {
    return "grace period";
  }

  @Override
  public List<Cpu> holders() {
    return ex.readers();
  }

  @Override
  public String state() {
    return "readers=" + ex.readers();
  }

  SyncObject retryMarker() {
    return retry;
  }

  /** A condition that becomes true when every CPU now reading (other than {@code self}) has left. */
  BooleanSupplier snapshot(Cpu self) {
    List<Cpu> readers = new ArrayList<>();
    List<Long> exits = new ArrayList<>();
    for (Cpu c : ex.cpuArray()) {
      if (c != self && c.rcuNesting > 0 && !c.done) {
        readers.add(c);
        exits.add(c.rcuExits);
      }
    }
    if (readers.isEmpty()) {
      return () -> true;
    }
    Cpu[] rs = readers.toArray(new Cpu[0]);
    long[] ex0 = exits.stream().mapToLong(Long::longValue).toArray();
    return () -> {
      for (int i = 0; i < rs.length; i++) {
        if (!rs[i].done && rs[i].rcuExits == ex0[i]) {
          return false;
        }
      }
      return true;
    };
  }

  void queue(Cpu c, long start, Runnable fn) {
    c.rcuCallbacks.add(new Callback(start, snapshot(c), fn));
  }

  /** Runs the callbacks of {@code c} whose grace period has elapsed (at a quiescent state). */
  void runReady(Cpu c) {
    if (c.rcuCallbacks.isEmpty() || c.rcuNesting > 0) {
      return;
    }
    List<Callback> ready = new ArrayList<>();
    for (Iterator<Object> it = c.rcuCallbacks.iterator(); it.hasNext(); ) {
      Callback cb = (Callback) it.next();
      if (cb.elapsed().getAsBoolean()) {
        ready.add(cb);
        it.remove();
      }
    }
    for (Callback cb : ready) {
      ex.completed(cb.start());
      cb.fn().run();
    }
  }

  /** {@code rcu_barrier} for {@code c}: waits for each queued callback's grace period and runs it. */
  void barrier(Cpu c) {
    while (!c.rcuCallbacks.isEmpty()) {
      Callback cb = (Callback) c.rcuCallbacks.removeFirst();
      ex.await(OpKind.WAIT, this, "rcu_barrier", cb.elapsed(), true);
      ex.completed(cb.start());
      cb.fn().run();
    }
  }
}
