package org.mmlab.explore;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Explains why no CPU can run: for each blocked CPU, what it waits for and who holds it, in
 * wait-for order starting from the lowest CPU, closing the cycle when there is one. If one of
 * the blocked CPUs is a retry point that saw no progress by anyone else, the verdict is a
 * (definite) livelock: that CPU would spin forever, the others wait for it.
 */
final class Deadlocks {
  private Deadlocks() {}

  /** True if following "held by" from some blocked CPU comes back to a blocked CPU. */
  private static boolean hasCycle(Set<Cpu> blocked) {
    for (Cpu start : blocked) {
      Set<Cpu> seen = new LinkedHashSet<>();
      Cpu at = start;
      while (at != null && seen.add(at)) {
        Cpu next = null;
        SyncObject o = at.pendingObj;
        if (o != null) {
          for (Cpu h : o.holders()) {
            if (h != at && blocked.contains(h)) {
              next = h;
              break;
            }
          }
        }
        at = next;
      }
      if (at != null) {
        return true;
      }
    }
    return false;
  }

  static Verdict explain(Cpu[] cpus, long step) {
    List<Cpu> blocked = new ArrayList<>();
    boolean spinning = false;
    for (Cpu c : cpus) {
      if (!c.done) {
        blocked.add(c);
        spinning |= c.spinLabel != null;
      }
    }
    // Order along the wait-for chain: start at the lowest CPU, follow holders.
    Set<Cpu> order = new LinkedHashSet<>();
    for (Cpu start : blocked) {
      Cpu at = start;
      while (at != null && !order.contains(at) && !at.done) {
        order.add(at);
        Cpu next = null;
        SyncObject o = at.pendingObj;
        if (o != null) {
          for (Cpu h : o.holders()) {
            if (h != at && !h.done) {
              next = h;
              break;
            }
          }
        }
        at = next;
      }
    }
    List<String> lines = new ArrayList<>();
    List<Integer> objects = new ArrayList<>();
    List<String> short_ = new ArrayList<>();
    for (Cpu c : order) {
      SyncObject o = c.pendingObj;
      String what = o == null ? "?" : o.describe();
      List<String> hs = new ArrayList<>();
      if (o != null) {
        objects.add(o.id());
        for (Cpu h : o.holders()) {
          hs.add(h == c ? "itself" : h.label());
        }
      }
      String held = hs.isEmpty() ? "" : " held by " + String.join(", ", hs);
      String st = !hs.isEmpty() || o == null || o.state().isEmpty() ? "" : " [" + o.state() + "]";
      String line = c.spinLabel != null
          ? c.label() + " spins at retry point '" + c.spinLabel + "' on " + what + st + held
              + ", and nothing else changes"
          : c.label() + " waits in " + c.pendingWhat + " for " + what + st + held;
      lines.add(line);
      short_.add(c.label() + (c.spinLabel != null ? " spins on " : " waits for ") + what + held);
      List<SyncObject> heldLocks = c.heldLocks();
      if (!heldLocks.isEmpty()) {
        lines.add("    " + c.label() + " holds " + heldLocks);
      }
    }
    boolean cycle = hasCycle(order);
    boolean pseudo = false;
    for (Cpu c : order) {
      SyncObject o = c.pendingObj;
      pseudo |= o != null && o.lockClass() != null && o.lockClass().isPseudo() && !o.holders().isEmpty();
    }
    if (cycle && pseudo) {
      lines.add("the cycle goes through a pseudo-lock (a wait the kernel's lockdep cannot see)");
    }
    // A cycle of holders is a deadlock even when one side spins at a retry point (it spins on
    // something another blocked CPU holds); a retry with no holder to wait for is a livelock.
    VerdictKind kind = spinning && !cycle ? VerdictKind.LIVELOCK : VerdictKind.DEADLOCK;
    String headline = String.join("; ", short_);
    return new Verdict(kind, headline, lines, objects, step);
  }
}
