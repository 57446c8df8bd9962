package org.mmlab.lab.classic;

import java.util.List;
import java.util.Map;
import org.mmlab.explore.Explorer;
import org.mmlab.explore.VerdictKind;
import org.mmlab.lab.TwoVariantScenario;
import org.mmlab.lab.Variant;
import org.mmlab.sync.Atomic;
import org.mmlab.sync.WaitQueue;

/**
 * A lost wakeup: the waiter tests the condition before it is on the wait queue.
 *
 * <pre>
 * CPU0 (waiter)                     CPU1 (waker)
 * if (!done)
 *                                   done = 1
 *                                   wake_up(&wq)      nobody queued yet
 * prepare_to_wait(&wq)
 * schedule()                        sleeps forever
 * </pre>
 *
 * The fixed variant queues itself first and tests the condition after ({@code wait_event}):
 * a wake-up after the test finds it on the queue.
 */
public final class LostWakeup extends TwoVariantScenario {
  public LostWakeup() {
    super("lost-wakeup",
        "A waiter that checks its condition before queueing itself misses the wake-up and sleeps forever.",
        "wait",
        Map.of("check-then-sleep", "test the condition, then prepare_to_wait and schedule (the bug)",
            "prepare-then-check", "prepare_to_wait, test, schedule: wait_event (the fix)"),
        List.of("check-then-sleep", "prepare-then-check"), VerdictKind.DEADLOCK);
  }

  @Override
  public Explorer.Program program(Variant variant) {
    boolean buggy = isBuggy(variant);
    return ex -> {
      WaitQueue wq = new WaitQueue(ex, "wq");
      Atomic done = new Atomic(ex, "done", 0);
      ex.addCpu("waiter", () -> {
        if (buggy) {
          if (done.read() == 0) {
            WaitQueue.Entry e = new WaitQueue.Entry(ex.cpu());
            wq.prepareToWait(e, false);
            wq.schedule(e);
            wq.finishWait(e);
          }
        } else {
          wq.waitEvent(() -> done.read() != 0);
        }
      });
      ex.addCpu("waker", () -> {
        done.write(1);
        wq.wakeUpAll();
      });
      return () -> {};
    };
  }
}
