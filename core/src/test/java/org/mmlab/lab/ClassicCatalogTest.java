package org.mmlab.lab;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.mmlab.explore.ExploreResult;
import org.mmlab.explore.Explorer;
import org.mmlab.explore.Found;
import org.mmlab.explore.VerdictKind;

/**
 * The foundation's "must show": every buggy classic variant is found by the portfolio within
 * 10,000 executions for 10 of 10 master seeds, every fixed variant gives no verdict in 100,000
 * executions, and the replay of every found bug reproduces the identical trace and verdict.
 */
class ClassicCatalogTest {
  private static final List<Long> MASTER_SEEDS = List.of(Explorer.DEFAULT_SEED, 1L, 2L, 3L, 0xdeadbeefL, 42L, 1234567L,
      0x5eedL, 99L, 7L);

  static Stream<Arguments> buggy() {
    List<Arguments> out = new ArrayList<>();
    for (Scenario s : classics()) {
      for (Variant v : Variant.all(s)) {
        if (s.expected(v) != null) {
          out.add(Arguments.of(s.name(), v.toString()));
        }
      }
    }
    return out.stream();
  }

  static Stream<Arguments> fixed() {
    List<Arguments> out = new ArrayList<>();
    for (Scenario s : classics()) {
      for (Variant v : Variant.all(s)) {
        if (s.expected(v) == null) {
          out.add(Arguments.of(s.name(), v.toString()));
        }
      }
    }
    return out.stream();
  }

  private static List<Scenario> classics() {
    return Catalog.all().stream().filter(s -> s.origin().equals("classic")).toList();
  }

  private static Variant variant(Scenario s, String text) {
    return Variant.parse(s, List.of(text.split(",")));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("buggy")
  void buggyVariantIsFoundForTenOfTenSeedsAndReplaysIdentically(String name, String variantText) {
    Scenario s = Catalog.byName(name).orElseThrow();
    Variant v = variant(s, variantText);
    VerdictKind expected = s.expected(v);
    for (long seed : MASTER_SEEDS) {
      Explorer.Config cfg = Explorer.Config.defaults().withExecutions(10_000).withSeed(seed)
          .withTimeLimit(Duration.ofMinutes(2)).withMaxSteps(s.maxSteps());
      Explorer explorer = new Explorer(s.program(v), cfg);
      ExploreResult r = explorer.explore(null);
      System.out.printf("%s %s seed 0x%x: %s at execution %d%n", name, v, seed, r.verdictId(), r.bugAtExecution());
      assertThat(r.verdict()).as("seed 0x%x", seed).isNotNull();
      assertThat(r.verdict().kind()).as("seed 0x%x", seed).isEqualTo(expected);
      assertThat(r.bugAtExecution()).isLessThan(10_000);
      Found f = r.found();
      assertThat(f.replayIdentical()).as("replay of the schedule as found, seed 0x%x", seed).isTrue();
      assertThat(f.preemptions()).isLessThanOrEqualTo(f.originalPreemptions());
      Explorer.Replayed again = explorer.replay(f.replay());
      assertThat(again.identical()).as("replay of the shrunk schedule: %s", again.divergence()).isTrue();
      assertThat(again.verdict()).isNotNull();
      assertThat(again.verdict().kind()).isEqualTo(expected);
      assertThat(again.steps()).isEqualTo(f.steps());
    }
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("fixed")
  void fixedVariantGivesNoVerdictInOneHundredThousandExecutions(String name, String variantText) {
    Scenario s = Catalog.byName(name).orElseThrow();
    Variant v = variant(s, variantText);
    Explorer.Config cfg = Explorer.Config.defaults().withExecutions(100_000).withTimeLimit(Duration.ofMinutes(5))
        .withMaxSteps(s.maxSteps());
    ExploreResult r = new Explorer(s.program(v), cfg).explore(null);
    System.out.printf("%s %s: %s after %d executions, %d ms%n", name, v, r.verdictId(), r.executions(), r.elapsedMillis());
    assertThat(r.verdict()).as("verdict of %s %s: %s", name, v, r.found() == null ? "" : r.found().verdict()).isNull();
    assertThat(r.executions() == 100_000 || r.exhausted()).isTrue();
  }
}
