package org.mmlab.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import org.mmlab.explore.ExploreResult;
import org.mmlab.explore.Explorer;
import org.mmlab.explore.Found;
import org.mmlab.explore.Strategies;
import org.mmlab.explore.StressRunner;
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
 * {@code mmlab explore [SCENARIO] [--variant k=v]... [--strategy S] [--executions N] [--seed S]
 * [--time-limit 30s] [--json]}. With a scenario: explore one variant; exit 0 if no bug was found,
 * 1 if one was, 2 on a usage error. Without: the whole catalog (see {@link CatalogRun}).
 */
@Command(name = "explore", description = "Explore a scenario (or, without one, the whole catalog) for races.")
final class ExploreCommand implements Callable<Integer> {
  @Parameters(index = "0", arity = "0..1", paramLabel = "SCENARIO", description = "a scenario from 'mmlab scenarios'")
  @Nullable String scenario;

  @Option(names = "--variant", paramLabel = "KEY=VALUE", description = "a design variant (repeatable)")
  List<String> variants = new ArrayList<>();

  @Option(names = "--strategy", paramLabel = "S",
      description = "random, pct, fair-pct, pos, dfs or portfolio (pct:2, dfs:3 set the depth/bound); default portfolio")
  String strategy = "portfolio";

  @Option(names = "--executions", paramLabel = "N", description = "execution budget (default 10000; catalog: per variant)")
  @Nullable Long executions;

  @Option(names = "--seed", paramLabel = "S", description = "master seed, decimal or 0x-hex (default 0x6d6d6c6162)")
  @Nullable String seed;

  @Option(names = "--time-limit", paramLabel = "T", description = "stop after this long: 30s, 500ms, 2m (default 30s)")
  @Nullable String timeLimit;

  @Option(names = "--max-steps", paramLabel = "N", description = "step bound of one execution (default: the scenario's)")
  @Nullable Long maxSteps;

  @Option(names = "--backend", paramLabel = "B", description = "continuation, virtual, platform or best (default best)")
  String backend = "best";

  @Option(names = "--json", description = "print one JSON object (the catalog: an array) instead of the report")
  boolean json;

  @Option(names = "--full", description = "show every step of the schedule, not only those on the racing objects")
  boolean full;

  @Option(names = "--no-shrink", description = "report the schedule as found, without shrinking its preemptions")
  boolean noShrink;

  @Option(names = "--first-verdict", description = "stop at the first bug of any kind (default: a buggy variant's search"
      + " goes on past other kinds until the kind it expects, listing the others as 'also found')")
  boolean firstVerdict;

  @Option(names = "--replay-dir", paramLabel = "DIR", description = "where replay files go (default reports)")
  Path replayDir = Path.of("reports");

  @Option(names = "--stress", description = "no explorer: run the scenario natively on real threads, over and over, for"
      + " the time limit (the racier-equipment baseline; nothing to replay)")
  boolean stress;

  @Option(names = "--html", paramLabel = "FILE", description = "write a found bug's schedule as a self-contained HTML page")
  @Nullable Path html;

  @Option(names = "--trace", paramLabel = "FILE", description = "write a found bug's schedule as Chrome trace-event JSON (Perfetto)")
  @Nullable Path trace;

  @Override
  public Integer call() throws IOException {
    Strategies.named(strategy); // validates the name: IllegalArgumentException is a usage error
    if (scenario == null) {
      if (!variants.isEmpty()) {
        throw new IllegalArgumentException("--variant needs a scenario");
      }
      if (stress) {
        throw new IllegalArgumentException("--stress needs a scenario");
      }
      return new CatalogRun(this).run();
    }
    Scenario s = Catalog.byName(scenario).orElseThrow(() -> new IllegalArgumentException(
        "unknown scenario " + scenario + " (see 'mmlab scenarios')"));
    Variant v = Variant.parse(s, variants);
    if (stress) {
      return stress(s, v);
    }
    Explorer.Config cfg = config(s, v, executions == null ? 10_000 : executions, Explorer.DEFAULT_TIME_LIMIT);
    PrintStream err = System.err;
    boolean tty = System.console() != null && !json;
    if (!json) {
      System.out.println("mmlab explore " + s.name() + " --variant " + v + " --strategy " + strategy
          + " --seed " + ReplayFile.hex(cfg.masterSeed()));
    }
    Explorer explorer = new Explorer(s.program(v), cfg);
    ExploreResult r = explorer.explore(tty
        ? p -> err.print("\r  " + p.executions() + " executions, " + Options.millis(p.elapsedNanos() / 1_000_000) + "   ")
        : null);
    if (tty) {
      err.print("\r" + " ".repeat(50) + "\r");
    }
    Path replay = null;
    if (r.found() != null) {
      replay = replayDir.resolve(fileName(s, v, r));
      ReplayFile.of(s.name(), v, r).write(replay);
      Reports.write(r.found(), "mmlab explore " + s.name() + " --variant " + v + " --seed "
          + ReplayFile.hex(cfg.masterSeed()), html, trace);
    }
    if (json) {
      System.out.println(Json.write(toJson(s, v, r, replay)));
    } else {
      printText(r, replay);
    }
    return r.verdict() == null ? 0 : 1;
  }

  private int stress(Scenario s, Variant v) {
    Duration limit = timeLimit == null ? Duration.ofSeconds(30) : Options.duration(timeLimit);
    StressRunner.Result r = new StressRunner(s.program(v), limit, executions == null ? Long.MAX_VALUE : executions,
        Duration.ofSeconds(5)).run();
    if (json) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("scenario", s.name());
      m.put("variant", new LinkedHashMap<>(v.values()));
      m.put("strategy", "stress");
      m.put("verdict", r.verdictId());
      m.put("executions", r.executions());
      m.put("bugAtExecution", r.verdict() == null ? null : r.bugAtExecution());
      m.put("elapsedMs", r.elapsedNanos() / 1_000_000);
      m.put("replayFile", null);
      m.put("expected", expectedId(s, v));
      if (r.verdict() != null) {
        m.put("headline", r.verdict().headline());
      }
      System.out.println(Json.write(m));
    } else {
      System.out.println("mmlab explore " + s.name() + " --variant " + v + " --stress (native threads, "
          + Options.millis(limit.toMillis()) + ")");
      if (r.verdict() == null) {
        System.out.println("verdict: none after " + r.executions() + " executions ("
            + Options.millis(r.elapsedNanos() / 1_000_000) + ")");
      } else {
        System.out.println("verdict: " + r.verdictId() + " at execution " + r.bugAtExecution() + " ("
            + Options.millis(r.elapsedNanos() / 1_000_000) + "): " + r.verdict().headline());
        r.verdict().details().forEach(d -> System.out.println("  " + d));
        System.out.println("(stress mode has no schedule to show or replay: explore without --stress for one)");
      }
    }
    return r.verdict() == null ? 0 : 1;
  }

  /**
   * The explorer's configuration for {@code s}: the options given, else the defaults. A variant
   * that expects a bug seeks that kind ({@link Explorer.Config#seek}) unless {@code --first-verdict}.
   */
  Explorer.Config config(Scenario s, Variant v, long n, Duration defaultLimit) {
    return Explorer.Config.defaults()
        .withStrategy(strategy)
        .withExecutions(n)
        .withSeed(seed == null ? Explorer.DEFAULT_SEED : Options.seed(seed))
        .withTimeLimit(timeLimit == null ? defaultLimit : Options.duration(timeLimit))
        .withMaxSteps(maxSteps == null ? s.maxSteps() : maxSteps)
        .withBackend(backend)
        .withShrink(!noShrink)
        .withSeek(firstVerdict ? null : s.expected(v));
  }

  static String fileName(Scenario s, Variant v, ExploreResult r) {
    StringBuilder sb = new StringBuilder(s.name());
    v.values().forEach((k, val) -> sb.append('-').append(val));
    sb.append('-').append(Long.toHexString(r.config().masterSeed())).append('-').append(r.bugAtExecution()).append(".json");
    return sb.toString().replaceAll("[^A-Za-z0-9._-]", "_");
  }

  private void printText(ExploreResult r, @Nullable Path replay) {
    Found f = r.found();
    if (f == null) {
      System.out.println("verdict: none after " + r.executions() + " executions ("
          + Options.millis(r.elapsedMillis()) + ", " + r.totalSteps() + " steps, backend " + r.backend()
          + (r.exhausted() ? "; every schedule within the strategy's bound was explored" : "") + ")");
      return;
    }
    System.out.println("verdict: " + f.verdict().kind().id() + " at execution " + r.bugAtExecution()
        + " (found by " + f.foundBy() + ", execution seed " + ReplayFile.hex(f.original().seed()) + ", "
        + Options.millis(r.elapsedMillis()) + ")");
    System.out.println("schedule: " + f.steps().size() + " steps, " + f.preemptions() + " preemption"
        + (f.preemptions() == 1 ? "" : "s") + " (shrunk from " + f.originalPreemptions() + " in "
        + f.originalSteps() + " steps); * marks a preemption"
        + (f.replayIdentical() ? "" : "; WARNING: replaying the found schedule did not reproduce its trace"));
    for (ExploreResult.Other o : r.alsoFound()) {
      System.out.println("also found on the way: " + o.kind().id() + " at execution " + o.execution()
          + " (execution seed " + ReplayFile.hex(o.executionSeed()) + "): " + o.headline());
    }
    System.out.println();
    System.out.print(TextReport.render(f, full));
    System.out.println();
    System.out.println("replay: ./mmlab replay " + replay);
  }

  Map<String, Object> toJson(Scenario s, Variant v, ExploreResult r, @Nullable Path replay) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("scenario", s.name());
    m.put("variant", new LinkedHashMap<>(v.values()));
    m.put("strategy", r.config().strategy());
    m.put("verdict", r.verdictId());
    m.put("executions", r.executions());
    m.put("bugAtExecution", r.found() == null ? null : r.bugAtExecution());
    m.put("elapsedMs", r.elapsedMillis());
    m.put("replayFile", replay == null ? null : replay.toString());
    m.put("masterSeed", ReplayFile.hex(r.config().masterSeed()));
    m.put("expected", expectedId(s, v));
    m.put("backend", r.backend());
    m.put("totalSteps", r.totalSteps());
    m.put("exhausted", r.exhausted());
    Found f = r.found();
    if (f != null) {
      m.put("headline", f.verdict().headline());
      m.put("foundBy", f.foundBy());
      m.put("executionSeed", ReplayFile.hex(f.original().seed()));
      m.put("preemptions", (long) f.preemptions());
      m.put("steps", (long) f.steps().size());
      m.put("replayIdentical", f.replayIdentical());
    }
    List<Map<String, Object>> others = new ArrayList<>();
    for (ExploreResult.Other o : r.alsoFound()) {
      Map<String, Object> om = new LinkedHashMap<>();
      om.put("verdict", o.kind().id());
      om.put("headline", o.headline());
      om.put("execution", o.execution());
      om.put("executionSeed", ReplayFile.hex(o.executionSeed()));
      others.add(om);
    }
    m.put("alsoFound", others);
    return m;
  }

  static String expectedId(Scenario s, Variant v) {
    var k = s.expected(v);
    return k == null ? "clean" : k.id();
  }
}
