package org.mmlab.lab.classic;

import java.util.List;
import java.util.Map;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.Explorer;
import org.mmlab.explore.VerdictKind;
import org.mmlab.lab.Checks;
import org.mmlab.lab.TwoVariantScenario;
import org.mmlab.lab.Variant;
import org.mmlab.sync.Refcount;
import org.mmlab.sync.Spinlock;

/**
 * The shape of seed 004 ({@code collapse_file} vs a lookup under the page-table lock),
 * abstracted: one CPU looks a folio up while holding a spinlock and retries
 * {@code folio_try_get} while the count is frozen; the other froze the count and then wants
 * that spinlock.
 *
 * <pre>
 * CPU0 (lookup)                     CPU1 (collapse)
 *                                   page_ref_freeze(folio, 1)
 * spin_lock(ptl)
 * folio_try_get() fails: retry
 *                                   spin_lock(ptl)   spins
 * folio_try_get() fails: retry ...  (both spin forever)
 * </pre>
 *
 * The frozen count acts as a lock the kernel's lockdep cannot see; here it is a pseudo-lock, so
 * the wait-for cycle is reported as a deadlock and lockdep sees the order ptl → frozen refcount →
 * ptl. The fixed variant freezes only while holding the spinlock, so the lookup can never hold
 * it while the count is frozen.
 */
public final class FrozenRefcountSpin extends TwoVariantScenario {
  private static final LockClass PTL = LockClass.of("lab-frozen:ptl");
  private static final LockClass FROZEN = LockClass.pseudo("lab-frozen:folio refcount frozen");

  public FrozenRefcountSpin() {
    super("frozen-refcount-spin",
        "A CPU retries folio_try_get on a frozen refcount while holding the lock the freezer needs next:"
            + " a deadlock through a pseudo-lock (seed 004's shape).",
        "collapse",
        Map.of("freeze-then-lock", "freeze the refcount, then take the lock (the v5 patch's order: the bug)",
            "lock-then-freeze", "take the lock, then freeze and unfreeze under it (the fix)"),
        List.of("freeze-then-lock", "lock-then-freeze"), VerdictKind.DEADLOCK);
  }

  @Override
  public Explorer.Program program(Variant variant) {
    boolean buggy = isBuggy(variant);
    return ex -> {
      Spinlock ptl = new Spinlock(ex, "ptl", PTL);
      Refcount folio = new Refcount(ex, "folio", 1, FROZEN, null);
      ex.addCpu("lookup", () -> {
        ptl.lock();
        while (!folio.tryGet()) {
          ex.retry("folio_try_get", folio);
        }
        folio.put();
        ptl.unlock();
      });
      ex.addCpu("collapse", () -> {
        if (buggy) {
          if (folio.freeze(1)) {
            ptl.lock();
            ptl.unlock();
            folio.unfreeze(1);
          }
        } else {
          ptl.lock();
          if (folio.freeze(1)) {
            folio.unfreeze(1);
          }
          ptl.unlock();
        }
      });
      return () -> Checks.equal("folio refcount at the end", 1, folio.peek());
    };
  }
}
