package org.mmlab.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.jspecify.annotations.Nullable;
import org.mmlab.explore.ExploreResult;
import org.mmlab.explore.Explorer;
import org.mmlab.explore.VerdictKind;
import org.mmlab.explore.report.Json;
import org.mmlab.lab.Catalog;
import org.mmlab.lab.ReplayFile;
import org.mmlab.lab.Scenario;
import org.mmlab.lab.Variant;

/**
 * {@code mmlab explore} without a scenario: every scenario, every variant, with a default
 * budget per variant (buggy: up to 10,000 executions or 20 s until the bug is found; clean:
 * 1,000,000 executions or 40 s, whichever comes first), two variants at a time (one explorer per
 * core). Prints a line per finished variant, then the table: scenario, variant, expected,
 * verdict, executions, time to first bug. Exit 0 when every buggy variant was found with the
 * expected verdict and every fixed one stayed clean, else 1.
 *
 * <p>The clean budget sets the run's length, about a minute on 2 cores: the classic scenarios'
 * clean variants reach 1,000,000 executions in a few seconds each, and the two clean variants of
 * {@code vma-lock-vs-munmap} (about 25,000 executions/s on a quiet core) run side by side at the
 * end until one of the two limits (docs/BENCHMARKS.md §8). {@code --executions} and
 * {@code --time-limit} replace both budgets.
 */
final class CatalogRun {
  private static final long BUGGY_EXECUTIONS = 10_000;
  private static final long CLEAN_EXECUTIONS = 1_000_000;
  private static final Duration BUGGY_LIMIT = Duration.ofSeconds(20);
  private static final Duration CLEAN_LIMIT = Duration.ofSeconds(40);

  private final ExploreCommand cmd;

  CatalogRun(ExploreCommand cmd) {
    this.cmd = cmd;
  }

  private record Job(Scenario scenario, Variant variant, @Nullable VerdictKind expected) {}

  private record Row(Job job, ExploreResult result, @Nullable Path replay, boolean ok) {}

  int run() throws IOException {
    List<Job> jobs = new ArrayList<>();
    for (Scenario s : Catalog.all()) {
      for (Variant v : Variant.all(s)) {
        jobs.add(new Job(s, v, s.expected(v)));
      }
    }
    int threads = Math.max(1, Math.min(2, Runtime.getRuntime().availableProcessors()));
    if (!cmd.json) {
      System.out.println("mmlab explore: " + jobs.size() + " variants of " + Catalog.all().size()
          + " scenarios, strategy " + cmd.strategy + ", master seed "
          + ReplayFile.hex(cmd.seed == null ? Explorer.DEFAULT_SEED : Options.seed(cmd.seed)) + ", " + threads
          + " at a time");
    }
    long t0 = System.nanoTime();
    List<Row> rows = new ArrayList<>();
    try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
      List<Future<Row>> futures = new ArrayList<>();
      for (Job j : jobs) {
        futures.add(pool.submit(() -> runJob(j, jobs.size())));
      }
      for (Future<Row> f : futures) {
        rows.add(f.get());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return 1;
    } catch (ExecutionException e) {
      throw new IllegalStateException(e.getCause());
    }
    boolean allOk = rows.stream().allMatch(Row::ok);
    long elapsed = (System.nanoTime() - t0) / 1_000_000;
    if (cmd.json) {
      List<Object> out = new ArrayList<>();
      for (Row r : rows) {
        var m = cmd.toJson(r.job().scenario(), r.job().variant(), r.result(), r.replay());
        m.put("ok", r.ok());
        out.add(m);
      }
      System.out.println(Json.write(out));
    } else {
      printTable(rows, elapsed, allOk);
    }
    return allOk ? 0 : 1;
  }

  private int done;

  private Row runJob(Job j, int total) throws IOException {
    boolean buggy = j.expected() != null;
    long n = cmd.executions != null ? cmd.executions : buggy ? BUGGY_EXECUTIONS : CLEAN_EXECUTIONS;
    Explorer.Config cfg = cmd.config(j.scenario(), j.variant(), n, buggy ? BUGGY_LIMIT : CLEAN_LIMIT);
    ExploreResult r = new Explorer(j.scenario().program(j.variant()), cfg).explore(null);
    Path replay = null;
    if (r.found() != null) {
      replay = cmd.replayDir.resolve(ExploreCommand.fileName(j.scenario(), j.variant(), r));
      ReplayFile.of(j.scenario().name(), j.variant(), r).write(replay);
    }
    boolean ok = j.expected() == null ? r.verdict() == null
        : r.verdict() != null && r.verdict().kind() == j.expected();
    synchronized (this) {
      done++;
      if (!cmd.json) {
        System.out.printf(Locale.ROOT, "  [%2d/%d] %-22s %-28s %-20s %s%n", done, total, j.scenario().name(),
            j.variant().toString(), r.verdictId(), ok ? "ok" : "UNEXPECTED");
      }
    }
    return new Row(j, r, replay, ok);
  }

  private static void printTable(List<Row> rows, long elapsedMs, boolean allOk) {
    System.out.println();
    String fmt = "%-22s %-28s %-27s %-21s %10s %14s  %s%n";
    System.out.printf(Locale.ROOT, fmt, "scenario", "variant", "expected", "verdict", "executions", "first bug", "");
    for (Row r : rows) {
      ExploreResult res = r.result();
      String first = res.found() == null ? "-" : "#" + res.bugAtExecution() + " " + Options.millis(res.elapsedMillis());
      System.out.printf(Locale.ROOT, fmt, r.job().scenario().name(), r.job().variant().toString(),
          r.job().expected() == null ? "clean" : "bug: " + r.job().expected().id(), res.verdictId(),
          res.executions(), first, r.ok() ? "ok" : "UNEXPECTED");
    }
    long bad = rows.stream().filter(r -> !r.ok()).count();
    System.out.println();
    System.out.println(allOk
        ? "all " + rows.size() + " variants as expected (" + Options.millis(elapsedMs) + ")"
        : bad + " of " + rows.size() + " variants NOT as expected (" + Options.millis(elapsedMs) + ")");
  }
}
