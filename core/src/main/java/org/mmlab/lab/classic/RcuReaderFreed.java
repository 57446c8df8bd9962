package org.mmlab.lab.classic;

import java.util.List;
import java.util.Map;
import org.mmlab.debug.KObject;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.Explorer;
import org.mmlab.explore.Sched;
import org.mmlab.explore.VerdictKind;
import org.mmlab.lab.TwoVariantScenario;
import org.mmlab.lab.Variant;
import org.mmlab.sync.Atomic;
import org.mmlab.sync.Rcu;
import org.mmlab.sync.RcuPointer;
import org.mmlab.sync.Spinlock;

/**
 * An RCU reader and an updater that replaces the object the reader may be using.
 *
 * <pre>
 * CPU0 (reader)                 CPU1 (updater)
 * rcu_read_lock()
 * c = rcu_dereference(cfg)
 *                               old = cfg; rcu_assign_pointer(cfg, new)
 *                               kfree(old)          <- no grace period
 * READ_ONCE(c->value)           use-after-free
 * rcu_read_unlock()
 * </pre>
 *
 * The bug is reported where it is made: freeing an object that was RCU-published without a
 * grace period after unpublishing it is RCU misuse, whether or not a reader happens to hold it
 * in that execution (KASAN would need the reader to be there). The fixed variants wait with
 * {@code synchronize_rcu} or free from a {@code call_rcu} callback ({@code kfree_rcu}).
 */
public final class RcuReaderFreed extends TwoVariantScenario {
  private static final LockClass UPDATE = LockClass.of("lab-rcu:cfg_lock");

  /** The RCU-protected object: a configuration with one value. */
  static final class Config extends KObject {
    final Atomic value;

    Config(Sched sched, String name, long v) {
      super(sched, "config", name);
      this.value = new Atomic(sched, name + ".value", v, this);
    }
  }

  public RcuReaderFreed() {
    super("rcu-reader-freed",
        "An updater frees the object an RCU reader may still use; freeing without a grace period is reported.",
        "free",
        Map.of("immediate", "kfree right after unpublishing (the bug)",
            "synchronize", "synchronize_rcu, then kfree (the fix)",
            "call-rcu", "kfree_rcu: free from a call_rcu callback (the fix)"),
        List.of("immediate", "synchronize", "call-rcu"), VerdictKind.RCU_MISUSE);
  }

  @Override
  public Explorer.Program program(Variant variant) {
    String free = variant.get("free");
    return ex -> {
      Rcu rcu = new Rcu(ex);
      Spinlock lock = new Spinlock(ex, "cfg_lock", UPDATE);
      RcuPointer<Config> cfg = new RcuPointer<>(ex, "cfg", new Config(ex, "v1", 1));
      Atomic seen = new Atomic(ex, "seen", 0);
      ex.addCpu("reader", () -> {
        for (int i = 0; i < 2; i++) {
          rcu.readLock();
          Config c = cfg.dereference();
          seen.write(c.value.read());
          rcu.readUnlock();
        }
      });
      ex.addCpu("updater", () -> {
        Config next = new Config(ex, "v2", 2);
        lock.lock();
        Config old = cfg.replace(next, true);
        lock.unlock();
        switch (free) {
          case "immediate" -> old.free();
          case "synchronize" -> {
            rcu.synchronize();
            old.free();
          }
          default -> rcu.freeAfterGracePeriod(old);
        }
      });
      return () -> {};
    };
  }
}
