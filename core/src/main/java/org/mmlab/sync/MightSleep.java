package org.mmlab.sync;

import java.util.List;
import org.mmlab.explore.Cpu;
import org.mmlab.explore.Sched;
import org.mmlab.explore.SyncObject;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;

/**
 * The atomic-context check every sleeping primitive makes on entry: the kernel's
 * {@code might_sleep()} ({@code include/linux/kernel.h}; {@code __might_sleep} in
 * {@code kernel/sched/core.c}, active with {@code CONFIG_DEBUG_ATOMIC_SLEEP}).
 *
 * <p>A CPU may not sleep while it holds a spinlock, nor (the model's RCU is the non-preemptible
 * flavour) inside an RCU read-side section. The kernel prints "sleeping function called from
 * invalid context" (or "Voluntary context switch within RCU read-side critical section"); here
 * that is an invariant verdict (or RCU misuse), raised whether or not this particular call
 * would actually have slept, exactly as {@code might_sleep} warns on the uncontended path too.
 *
 * <p>Stateless.
 */
public final class MightSleep {
  private MightSleep() {}

  /** Checks that the current CPU may sleep in {@code what} (a kernel function name). */
  public static void check(Sched sched, String what) {
    check(sched, sched.cpu(), what);
  }

  /** Checks that {@code cpu}, the current CPU, may sleep in {@code what} (a kernel function name). */
  public static void check(Sched sched, Cpu cpu, String what) {
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
