package org.mmlab.lab;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.mmlab.explore.ExploreResult;
import org.mmlab.explore.Explorer;
import org.mmlab.explore.report.TextReport;

class SmokeTest {
  @Test
  void abbaFound() {
    for (Scenario s : Catalog.all()) {
      for (Variant v : Variant.all(s)) {
        var cfg = Explorer.Config.defaults().withExecutions(10_000);
        long t0 = System.nanoTime();
        ExploreResult r = new Explorer(s.program(v), cfg).explore(null);
        System.out.println(s.name() + " " + v + " -> " + r.verdictId() + " after " + r.executions() + " in " + r.elapsedMillis()
            + " ms, steps " + r.totalSteps() + " backend " + r.backend());
        if (r.found() != null) {
          System.out.println("found by " + r.found().foundBy() + " pre " + r.found().originalPreemptions() + " -> " + r.found().preemptions()
              + " identical=" + r.found().replayIdentical());
          System.out.println(TextReport.render(r.found(), false));
        }
      }
    }
    assertThat(List.of()).isEmpty();
  }
}
