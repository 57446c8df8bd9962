package org.mmlab.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.mmlab.explore.report.Json;

/** {@code explore --stress}: the scenario on real threads, the JSON contract's fields, exit codes. */
class StressTest {
  @SuppressWarnings("unchecked")
  private static Map<String, Object> json(CliRun r) {
    return (Map<String, Object>) Json.parse(r.out().trim());
  }

  @Test
  void aFixedVariantStaysCleanOnRealThreads() {
    CliRun r = CliRun.of("explore", "vma-lock-vs-munmap", "--variant", "fault-locking=per-vma", "--stress",
        "--time-limit", "1s", "--json");
    assertThat(r.code()).as(r.err()).isZero();
    Map<String, Object> m = json(r);
    assertThat(m).containsEntry("strategy", "stress").containsEntry("verdict", "none").containsEntry("replayFile", null)
        .containsEntry("bugAtExecution", null);
    assertThat((Long) m.get("executions")).isPositive();
  }

  @Test
  void aLostUpdateIsSeenOnRealThreadsWhenTheRaceHappens() {
    CliRun r = CliRun.of("explore", "lost-update", "--stress", "--time-limit", "20s", "--json");
    Map<String, Object> m = json(r);
    // Whether real threads hit the window is up to the machine: either outcome is legitimate,
    // but a found one must be the right kind and exit 1.
    if (m.get("verdict").equals("none")) {
      assertThat(r.code()).isZero();
    } else {
      assertThat(m.get("verdict")).isEqualTo("wrong-result");
      assertThat(r.code()).isEqualTo(1);
    }
  }

  @Test
  void stressNeedsAScenario() {
    assertThat(CliRun.of("explore", "--stress").code()).isEqualTo(2);
  }
}
