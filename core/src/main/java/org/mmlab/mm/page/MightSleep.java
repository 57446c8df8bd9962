package org.mmlab.mm.page;

import java.util.List;
import org.mmlab.explore.Cpu;
import org.mmlab.explore.Sched;
import org.mmlab.explore.SyncObject;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;
import org.mmlab.sync.Spinlock;

/**
 * The atomic-context check of operations that may sleep: {@code might_sleep()} on entry to
 * {@code folio_lock} and {@code might_alloc()} on entry to a blocking allocation. A CPU holding
 * a spinlock or inside an RCU read section (the model's RCU is the non-preemptible flavour)
 * must not sleep; the verdict is raised whether or not this call would actually have slept, as
 * {@code CONFIG_DEBUG_ATOMIC_SLEEP} warns on the uncontended path too.
 *
 * <p>The same check as {@code org.mmlab.sync.MightSleep}, which is package-private there.
 * Stateless.
 */
final class MightSleep {
  private MightSleep() {}

  static void check(Sched sched, String what) {
    Cpu cpu = sched.cpu();
    if (cpu.rcuNesting() > 0) {
      throw sched.bug(Verdict.of(VerdictKind.RCU_MISUSE,
          cpu.label() + " calls " + what + ", which may sleep, inside an RCU read-side section",
          List.of("a voluntary context switch within an RCU read-side critical section"), List.of()));
    }
    for (int i = 0; i < cpu.heldCount(); i++) {
      SyncObject held = cpu.held(i);
      if (held instanceof Spinlock) {
        throw sched.bug(Verdict.of(VerdictKind.INVARIANT,
            cpu.label() + " calls " + what + ", which may sleep, while holding " + held.describe(),
            List.of("sleeping function called from invalid context (might_sleep)", "held: " + cpu.heldLocks()),
            List.of(held.id())));
      }
    }
  }
}
