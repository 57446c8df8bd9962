package org.mmlab.debug;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.mmlab.explore.Cpu;
import org.mmlab.explore.SyncObject;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;

/**
 * The lock-order graph, kept across executions: an edge A → B records that some CPU acquired
 * (or waited for) a lock of class B while holding one of class A, with where that first
 * happened. Adding an edge A → B when B already reaches A proves that a deadlock is possible,
 * even if no execution deadlocked: both chains are reported.
 *
 * <p>Beyond the kernel's lockdep, waits that are not lock acquisitions take part as
 * pseudo-locks: a CPU that froze a refcount "holds" it until it unfreezes it, and a CPU that
 * spins waiting for that refcount "acquires" it. The kernel cannot see this dependency (seed
 * 004: "this lock sadly out of sight from lockdep"); here it closes the cycle.
 *
 * <p>Simplifications, said here: read and write acquisitions are treated alike (as the kernel
 * does for rwsems, not for recursive-read rwlocks); two locks of the same class nested in
 * each other are not reported (the kernel would want a {@code _nested} annotation); trylock
 * adds no incoming edge, as a trylock cannot block.
 *
 * <h2>Concurrency</h2>
 * In explore mode one driver thread calls it. In native mode it is optional and its methods
 * are synchronized (lockdep in the kernel serializes graph updates under its own lock too).
 *
 * <p>Kernel counterpart: {@code kernel/locking/lockdep.c}.
 */
public final class Lockdep {
  /** A dependency A → B with the context of its first occurrence. */
  public record Edge(LockClass from, LockClass to, String cpu, long execution, long step, String where, String held) {
    String line() {
      return cpu + " took " + to.name() + " while holding " + from.name()
          + " (execution " + execution + ", step " + step + ", in " + where + "; held: " + held + ")";
    }
  }

  private @Nullable Edge[][] edges = new Edge[16][16];
  private final List<Edge> edgeList = new ArrayList<>();
  private @Nullable Verdict inversion;
  private long inversionExecution = -1;
  private long execution;
  private long edgesAddedThisExecution;

  /** Sets the execution number that new edges are attributed to. */
  public synchronized void beginExecution(long executionIndex) {
    this.execution = executionIndex;
    this.edgesAddedThisExecution = 0;
  }

  /** Number of edges the current execution added (the explorer keeps its schedule if > 0). */
  public synchronized long edgesAddedThisExecution() {
    return edgesAddedThisExecution;
  }

  /** The first inversion found, or null. */
  public synchronized @Nullable Verdict inversion() {
    return inversion;
  }

  /** The execution in which the first inversion was found (-1 if none). */
  public synchronized long inversionExecution() {
    return inversionExecution;
  }

  /** All edges, in the order they were first seen. */
  public synchronized List<Edge> edges() {
    return List.copyOf(edgeList);
  }

  /**
   * {@code cpu} is about to acquire (or wait for) {@code lock} while holding its held locks:
   * records an edge from each held class to the lock's class.
   */
  public synchronized void acquire(Cpu cpu, SyncObject lock, long step) {
    LockClass to = lock.lockClass();
    if (to == null) {
      return;
    }
    int n = cpu.heldCount();
    for (int i = 0; i < n; i++) {
      LockClass from = cpu.held(i).lockClass();
      if (from != null && from != to && edge(from, to) == null) {
        addEdge(cpu, from, to, step);
      }
    }
  }

  private @Nullable Edge edge(LockClass from, LockClass to) {
    int a = from.index();
    int b = to.index();
    if (a >= edges.length || b >= edges.length) {
      return null;
    }
    return edges[a][b];
  }

  private void addEdge(Cpu cpu, LockClass from, LockClass to, long step) {
    StringBuilder held = new StringBuilder();
    for (int i = 0; i < cpu.heldCount(); i++) {
      if (i > 0) {
        held.append(", ");
      }
      held.append(cpu.held(i).describe());
    }
    Edge e = new Edge(from, to, cpu.label(), execution, step, Where.caller(), held.toString());
    List<Edge> back = path(to, from);
    grow(Math.max(from.index(), to.index()) + 1);
    edges[from.index()][to.index()] = e;
    edgeList.add(e);
    edgesAddedThisExecution++;
    if (back != null && inversion == null) {
      List<String> details = new ArrayList<>();
      details.add("chain 1 (" + to.name() + " before " + from.name() + "):");
      for (Edge b : back) {
        details.add("  " + b.line());
      }
      details.add("chain 2 (" + from.name() + " before " + to.name() + "):");
      details.add("  " + e.line());
      if (from.isPseudo() || to.isPseudo() || back.stream().anyMatch(b -> b.from().isPseudo() || b.to().isPseudo())) {
        details.add("a pseudo-lock takes part: the kernel's lockdep cannot see this cycle");
      }
      inversion = Verdict.of(VerdictKind.LOCK_ORDER_INVERSION,
          "possible deadlock: " + from.name() + " and " + to.name() + " are taken in both orders",
          details, List.of());
      inversionExecution = execution;
    }
  }

  private void grow(int need) {
    if (need <= edges.length) {
      return;
    }
    int size = Math.max(need, edges.length * 2);
    Edge[][] bigger = new Edge[size][size];
    for (int i = 0; i < edges.length; i++) {
      bigger[i] = Arrays.copyOf(edges[i], size);
    }
    for (int i = edges.length; i < size; i++) {
      bigger[i] = new Edge[size];
    }
    edges = bigger;
  }

  /** A path of edges from {@code src} to {@code dst}, or null (breadth-first, shortest). */
  private @Nullable List<Edge> path(LockClass src, LockClass dst) {
    int n = edges.length;
    if (src.index() >= n || dst.index() >= n) {
      return null;
    }
    @Nullable Edge[] via = new Edge[n];
    boolean[] seen = new boolean[n];
    ArrayDeque<Integer> queue = new ArrayDeque<>();
    queue.add(src.index());
    seen[src.index()] = true;
    while (!queue.isEmpty()) {
      int at = queue.poll();
      if (at == dst.index()) {
        List<Edge> out = new ArrayList<>();
        for (int v = at; v != src.index(); ) {
          Edge e = via[v];
          out.addFirst(e);
          v = e.from().index();
        }
        return out;
      }
      for (int next = 0; next < n; next++) {
        Edge e = edges[at][next];
        if (e != null && !seen[next]) {
          seen[next] = true;
          via[next] = e;
          queue.add(next);
        }
      }
    }
    return null;
  }
}
