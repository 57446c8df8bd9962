package org.mmlab.lab.classic;

import java.util.List;
import java.util.Map;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.Explorer;
import org.mmlab.explore.VerdictKind;
import org.mmlab.lab.TwoVariantScenario;
import org.mmlab.lab.Variant;
import org.mmlab.lab.Checks;
import org.mmlab.sync.Atomic;
import org.mmlab.sync.Spinlock;

/**
 * ABBA: two CPUs take two spinlocks in opposite orders, a few rounds each.
 *
 * <pre>
 * CPU0 (left)             CPU1 (right)
 * spin_lock(A)
 *                         spin_lock(B)
 * spin_lock(B)  spins
 *                         spin_lock(A)  spins: deadlock
 * </pre>
 *
 * The fixed variant takes A before B on both CPUs.
 */
public final class AbbaDeadlock extends TwoVariantScenario {
  static final LockClass A = LockClass.of("lab-abba:A");
  static final LockClass B = LockClass.of("lab-abba:B");
  private static final int ROUNDS = 3;

  public AbbaDeadlock() {
    super("abba-deadlock",
        "Two spinlocks taken in opposite orders by two CPUs deadlock; the explorer reports the wait-for cycle.",
        "order",
        Map.of("abba", "CPU1 takes B then A (the bug)", "ordered", "both CPUs take A then B (the fix)"),
        List.of("abba", "ordered"), VerdictKind.DEADLOCK);
  }

  @Override
  public Explorer.Program program(Variant variant) {
    boolean abba = isBuggy(variant);
    return ex -> {
      Spinlock a = new Spinlock(ex, "A", A);
      Spinlock b = new Spinlock(ex, "B", B);
      Atomic counter = new Atomic(ex, "counter", 0);
      ex.addCpu("left", () -> rounds(a, b, counter));
      ex.addCpu("right", () -> rounds(abba ? b : a, abba ? a : b, counter));
      return () -> Checks.equal("counter after " + 2 * ROUNDS + " locked increments", 2L * ROUNDS, counter.peek());
    };
  }

  private static void rounds(Spinlock first, Spinlock second, Atomic counter) {
    for (int i = 0; i < ROUNDS; i++) {
      first.lock();
      second.lock();
      counter.addAndGet(1);
      second.unlock();
      first.unlock();
    }
  }
}
