package org.mmlab.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.mmlab.explore.Explorer;
import org.mmlab.explore.Found;
import org.mmlab.explore.StepRecord;
import org.mmlab.explore.report.Json;
import org.mmlab.explore.report.TextReport;
import org.mmlab.lab.Catalog;
import org.mmlab.lab.ReplayFile;
import org.mmlab.lab.Scenario;
import org.mmlab.lab.Variant;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code mmlab replay FILE}: runs the recorded schedule again, step by step, and checks that it
 * reproduces the recorded trace. Exit 1 if the replay shows a bug, 0 if it shows none, 3 if it
 * did not follow the recorded schedule or trace (nondeterminism), 2 on a usage error.
 */
@Command(name = "replay", description = "Replay a found schedule step by step.")
final class ReplayCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "FILE", description = "a replay file written by 'mmlab explore'")
  Path file;

  @Option(names = "--backend", paramLabel = "B", description = "continuation, virtual, platform or best")
  String backend = "best";

  @Option(names = "--json", description = "print one JSON object")
  boolean json;

  @Option(names = "--columns", description = "print the schedule as CPU columns instead of one line per step")
  boolean columns;

  @Option(names = "--html", paramLabel = "FILE", description = "write the schedule as a self-contained HTML page")
  @org.jspecify.annotations.Nullable Path html;

  @Option(names = "--trace", paramLabel = "FILE", description = "write the schedule as Chrome trace-event JSON (Perfetto)")
  @org.jspecify.annotations.Nullable Path trace;

  @Override
  public Integer call() throws IOException {
    if (!Files.isReadable(file)) {
      throw new IllegalArgumentException("cannot read " + file);
    }
    ReplayFile rf = ReplayFile.read(file);
    Scenario s = Catalog.byName(rf.scenario()).orElseThrow(() -> new IllegalArgumentException(
        "the replay file names an unknown scenario " + rf.scenario()));
    List<String> settings = new ArrayList<>();
    rf.variant().forEach((k, v) -> settings.add(k + "=" + v));
    Variant v = Variant.parse(s, settings);
    Explorer.Config cfg = Explorer.Config.defaults().withMaxSteps(rf.maxSteps()).withBackend(backend)
        .withSeed(rf.masterSeed());
    Explorer.Replayed r = new Explorer(s.program(v), cfg).replay(rf.executions());
    String verdict = r.verdict() == null ? "none" : r.verdict().kind().id();
    if (r.verdict() != null && (html != null || trace != null)) {
      Found f = new Found(r.verdict(), rf.foundBy(), rf.executions().getLast(), rf.executions(), 0, 0,
          r.steps().size(), r.steps(), r.pending(), r.cpuNames(), r.identical());
      Reports.write(f, "mmlab replay " + file, html, trace);
    }
    if (json) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("scenario", s.name());
      m.put("variant", new LinkedHashMap<>(v.values()));
      m.put("verdict", verdict);
      m.put("recordedVerdict", rf.verdict());
      m.put("identical", r.identical());
      m.put("divergence", r.divergence().isEmpty() ? null : r.divergence());
      m.put("steps", (long) r.steps().size());
      System.out.println(Json.write(m));
    } else {
      System.out.println("mmlab replay " + file + ": " + s.name() + " --variant " + v + " (" + rf.executions().size()
          + " execution" + (rf.executions().size() == 1 ? "" : "s") + ", recorded verdict " + rf.verdict() + ")");
      if (columns && r.verdict() != null) {
        Found f = new Found(r.verdict(), rf.foundBy(), rf.executions().getLast(), rf.executions(), 0, 0,
            r.steps().size(), r.steps(), r.pending(), r.cpuNames(), r.identical());
        System.out.print(TextReport.render(f, true));
      } else {
        for (StepRecord st : r.steps()) {
          System.out.printf("%6d  CPU%d %-12s %s%s%n", st.step(), st.cpu(), "(" + r.cpuNames().get(st.cpu()) + ")",
              TextReport.cell(st), st.state().isEmpty() ? "" : "   [" + st.state() + "]");
        }
        for (StepRecord p : r.pending()) {
          System.out.printf("%6s  CPU%d %-12s %s   (blocked)%n", "-", p.cpu(), "(" + r.cpuNames().get(p.cpu()) + ")",
              TextReport.cell(p));
        }
        if (r.verdict() != null) {
          System.out.println();
          System.out.println(r.verdict().kind().id() + ": " + r.verdict().headline());
          r.verdict().details().forEach(d -> System.out.println("  " + d));
        } else {
          System.out.println("no verdict");
        }
      }
      System.out.println(r.identical() ? "trace: identical to the recorded one"
          : "trace: NOT identical to the recorded one: " + r.divergence());
    }
    if (!r.identical()) {
      return Main.NONDETERMINISM;
    }
    return r.verdict() == null ? 0 : 1;
  }
}
