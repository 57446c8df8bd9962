package org.mmlab.explore;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.mmlab.explore.strategy.Pct;
import org.mmlab.explore.strategy.RandomWalk;
import org.mmlab.lab.Catalog;
import org.mmlab.lab.Scenario;
import org.mmlab.lab.Variant;

/** The same seed gives the same trace on every CPU backend. */
class BackendDeterminismTest {
  private static List<Long> hashes(String backend, Scenario s, Variant v, Strategy strategy, int executions) {
    Explorer ex = new Explorer(s.program(v), Explorer.Config.defaults().withBackend(backend));
    List<Long> out = new ArrayList<>();
    for (int i = 0; i < executions; i++) {
      strategy.beginExecution(Rng.executionSeed(Explorer.DEFAULT_SEED, i));
      Explorer.Outcome o = ex.runOne(strategy, null, 20_000, false, i);
      out.add(o.traceHash() ^ (o.verdict() == null ? 0 : o.verdict().kind().ordinal() + 1));
    }
    return out;
  }

  @Test
  void sameSeedSameTraceOnEveryBackend() {
    assertThat(CpuBackend.availableNames()).contains("continuation", "virtual", "platform");
    for (Scenario s : Catalog.all()) {
      for (Variant v : Variant.all(s)) {
        List<Long> reference = hashes("continuation", s, v, new RandomWalk(), 60);
        assertThat(hashes("virtual", s, v, new RandomWalk(), 60)).as(s.name() + " " + v + " virtual").isEqualTo(reference);
        assertThat(hashes("platform", s, v, new RandomWalk(), 60)).as(s.name() + " " + v + " platform").isEqualTo(reference);
        List<Long> pct = hashes("continuation", s, v, new Pct(3, false), 30);
        assertThat(hashes("platform", s, v, new Pct(3, false), 30)).as(s.name() + " " + v + " pct").isEqualTo(pct);
      }
    }
  }

  @Test
  void differentSeedsGiveDifferentSchedules() {
    Scenario s = Catalog.byName("lost-update").orElseThrow();
    List<Long> h = hashes("continuation", s, Variant.parse(s, List.of("update=atomic")), new RandomWalk(), 50);
    assertThat(h.stream().distinct().count()).isGreaterThan(10);
  }
}
