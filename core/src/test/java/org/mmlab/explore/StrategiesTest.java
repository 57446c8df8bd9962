package org.mmlab.explore;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.mmlab.explore.strategy.Dfs;
import org.mmlab.lab.Catalog;
import org.mmlab.lab.Scenario;
import org.mmlab.lab.Variant;

/** Each strategy on its own finds the classic ordering bugs; DFS is systematic and exhausts. */
class StrategiesTest {
  private static ExploreResult explore(String scenario, String variant, String strategy, long executions) {
    Scenario s = Catalog.byName(scenario).orElseThrow();
    return new Explorer(s.program(Variant.parse(s, List.of(variant))),
        Explorer.Config.defaults().withStrategy(strategy).withExecutions(executions)).explore(null);
  }

  @ParameterizedTest
  @ValueSource(strings = {"random", "pct", "pct:2", "fair-pct", "pos", "dfs", "dfs:1", "portfolio"})
  void everyStrategyFindsTheAbbaDeadlockAndTheLostUpdate(String strategy) {
    assertThat(explore("abba-deadlock", "order=abba", strategy, 10_000).verdictId()).isEqualTo("deadlock");
    assertThat(explore("lost-update", "update=read-write", strategy, 10_000).verdictId()).isEqualTo("wrong-result");
    assertThat(explore("lost-wakeup", "wait=check-then-sleep", strategy, 10_000).verdictId()).isEqualTo("deadlock");
  }

  @Test
  void dfsExhaustsASmallFixedProgramWithoutAVerdict() {
    ExploreResult r = explore("lost-update", "update=atomic", "dfs:2", 1_000_000);
    assertThat(r.verdict()).isNull();
    assertThat(r.exhausted()).isTrue();
    assertThat(r.executions()).isLessThan(1_000_000);
    ExploreResult wider = explore("lost-update", "update=atomic", "dfs:3", 1_000_000);
    assertThat(wider.exhausted()).isTrue();
    assertThat(wider.executions()).isGreaterThan(r.executions());
  }

  @Test
  void dfsWithBoundZeroRunsOnlyTheNonPreemptiveSchedulesAndMissesTheLostUpdate() {
    ExploreResult r = explore("lost-update", "update=read-write", "dfs:0", 1_000);
    assertThat(r.exhausted()).isTrue();
    assertThat(r.verdict()).isNull();
    assertThat(new Dfs(0).name()).isEqualTo("dfs(bound=0)");
  }

  @Test
  void aMasterSeedGivesTheSameExplorationTwice() {
    ExploreResult a = explore("abba-deadlock", "order=abba", "portfolio", 10_000);
    ExploreResult b = explore("abba-deadlock", "order=abba", "portfolio", 10_000);
    assertThat(a.bugAtExecution()).isEqualTo(b.bugAtExecution());
    assertThat(a.found().original().traceHash()).isEqualTo(b.found().original().traceHash());
    assertThat(a.found().steps()).isEqualTo(b.found().steps());
  }
}
