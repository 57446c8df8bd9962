package org.mmlab.sync;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.mmlab.explore.NativeSched;
import org.mmlab.testing.Threads;

/** The per-CPU event counter: owned cells, the overflow cell, and exact sums. */
@Timeout(60)
class PerCpuCounterTest {
  @Test
  void fourCpusAddingAtOnceLoseNothing() {
    NativeSched sched = new NativeSched();
    PerCpuCounter c = new PerCpuCounter(sched, "pgfault");
    int perCpu = 200_000;
    Runnable body = () -> {
      sched.attach("adder");
      for (int i = 0; i < perCpu; i++) {
        c.add(1);
      }
      sched.detach();
    };
    Threads.run(body, body, body, body);
    assertThat(c.peek()).isEqualTo(4L * perCpu);
  }

  /**
   * More CPUs than cell slots: a CPU whose slot is owned by another adds to the overflow cell,
   * atomically, and still nothing is lost while they all run.
   */
  @Test
  void cpusWhoseSlotsCollideShareTheOverflowCell() {
    NativeSched sched = new NativeSched();
    PerCpuCounter c = new PerCpuCounter(sched, "pgalloc");
    int cpus = PerCpuCounter.CELLS + 6;
    int perCpu = 20_000;
    Runnable[] bodies = new Runnable[cpus];
    for (int k = 0; k < cpus; k++) {
      bodies[k] = () -> {
        sched.attach("adder");
        for (int i = 0; i < perCpu; i++) {
          c.add(2);
        }
      };
    }
    Threads.run(bodies);
    assertThat(c.peek()).isEqualTo(2L * cpus * perCpu);
  }

  @Test
  void theSetUpCpuAndAttachedCpusAddToOneSum() {
    NativeSched sched = new NativeSched();
    PerCpuCounter c = new PerCpuCounter(sched, "pgfree");
    c.add(5);
    Threads.run(() -> {
      sched.attach("cpu0");
      c.add(7);
      sched.detach();
    });
    c.add(1);
    assertThat(c.sum()).isEqualTo(13);
    assertThat(c.state()).isEqualTo("sum=13");
  }
}
