package org.mmlab.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class AffinityTest {
  @Test
  void aPinnedThreadMayRunOnItsCpuOnly() throws Exception {
    assumeTrue(System.getProperty("os.name", "").startsWith("Linux"), "sched_setaffinity is Linux's");
    List<Integer> all = Affinity.allowedCpus();
    assertThat(all).isNotEmpty();
    int last = all.getLast();
    List<Integer> seen = new ArrayList<>();
    boolean[] ok = new boolean[1];
    // On a thread of its own: the test thread keeps its affinity.
    Thread t = Thread.ofPlatform().start(() -> {
      ok[0] = Affinity.pin(last);
      seen.addAll(Affinity.allowedCpus());
    });
    t.join();
    assertThat(ok[0]).isTrue();
    assertThat(seen).containsExactly(last);
    assertThat(Affinity.allowedCpus()).isEqualTo(all);
  }

  @Test
  void aCpuOutsideTheMaskIsRefused() {
    assertThat(Affinity.pin(-1)).isFalse();
    assertThat(Affinity.pin(1 << 20)).isFalse();
  }
}
