package org.mmlab.lab.classic;

import java.util.List;
import java.util.Map;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.Explorer;
import org.mmlab.explore.VerdictKind;
import org.mmlab.lab.TwoVariantScenario;
import org.mmlab.lab.Variant;
import org.mmlab.sync.Completion;
import org.mmlab.sync.Spinlock;

/**
 * Two lock orders that never meet in time: CPU1 takes B then A only after CPU0 has taken and
 * dropped A then B and signalled a completion. No execution can deadlock, yet the classes are
 * taken in both orders: any other caller pair without the completion could. Only lockdep, which
 * keeps the order graph across executions, reports it, with both chains.
 */
public final class LockdepOnlyAbba extends TwoVariantScenario {
  private static final LockClass A = LockClass.of("lab-lockdep:A");
  private static final LockClass B = LockClass.of("lab-lockdep:B");

  public LockdepOnlyAbba() {
    super("lockdep-only-abba",
        "Opposite lock orders serialized by a completion never deadlock here; lockdep still proves the cycle.",
        "order",
        Map.of("inverted", "CPU1 takes B then A after CPU0 took A then B (the bug)",
            "consistent", "both take A then B (the fix)"),
        List.of("inverted", "consistent"), VerdictKind.LOCK_ORDER_INVERSION);
  }

  @Override
  public Explorer.Program program(Variant variant) {
    boolean inverted = isBuggy(variant);
    return ex -> {
      Spinlock a = new Spinlock(ex, "A", A);
      Spinlock b = new Spinlock(ex, "B", B);
      Completion first = new Completion(ex, "first done");
      ex.addCpu("first", () -> {
        nest(a, b);
        first.complete();
      });
      ex.addCpu("second", () -> {
        first.waitForCompletion();
        if (inverted) {
          nest(b, a);
        } else {
          nest(a, b);
        }
      });
      return () -> {};
    };
  }

  private static void nest(Spinlock outer, Spinlock inner) {
    outer.lock();
    inner.lock();
    inner.unlock();
    outer.unlock();
  }
}
