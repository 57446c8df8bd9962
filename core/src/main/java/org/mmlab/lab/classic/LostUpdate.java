package org.mmlab.lab.classic;

import java.util.List;
import java.util.Map;
import org.mmlab.explore.Explorer;
import org.mmlab.explore.VerdictKind;
import org.mmlab.lab.Checks;
import org.mmlab.lab.TwoVariantScenario;
import org.mmlab.lab.Variant;
import org.mmlab.sync.Atomic;

/**
 * A lost update: two CPUs each increment a shared counter by reading it and writing the value
 * plus one, as two operations; the other CPU's write between them is lost.
 *
 * <pre>
 * CPU0 (inc0)          CPU1 (inc1)
 * v = read  (0)
 *                      v = read  (0)
 * write v+1 (1)
 *                      write v+1 (1)   <- CPU0's increment is lost
 * </pre>
 *
 * The fixed variant increments with one atomic read-modify-write ({@code atomic_inc}).
 */
public final class LostUpdate extends TwoVariantScenario {
  private static final int INCREMENTS = 4;

  public LostUpdate() {
    super("lost-update",
        "Read-then-write increments from two CPUs lose updates; the end check sees the wrong count.",
        "update",
        Map.of("read-write", "read, then write the value plus one: two operations (the bug)",
            "atomic", "one atomic read-modify-write, atomic_inc (the fix)"),
        List.of("read-write", "atomic"), VerdictKind.WRONG_RESULT);
  }

  @Override
  public Explorer.Program program(Variant variant) {
    boolean racy = isBuggy(variant);
    return ex -> {
      Atomic counter = new Atomic(ex, "counter", 0);
      Runnable body = () -> {
        for (int i = 0; i < INCREMENTS; i++) {
          if (racy) {
            long v = counter.read();
            counter.write(v + 1);
          } else {
            counter.addAndGet(1);
          }
        }
      };
      ex.addCpu("inc0", body);
      ex.addCpu("inc1", body);
      return () -> Checks.equal("counter after 2 x " + INCREMENTS + " increments", 2L * INCREMENTS, counter.peek());
    };
  }
}
