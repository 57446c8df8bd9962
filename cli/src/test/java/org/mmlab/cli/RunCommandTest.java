package org.mmlab.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.mmlab.explore.report.Json;

/** {@code mmlab run page-fault} (docs/CLI.md): short native runs, the --json fields, every frame returned. */
class RunCommandTest {
  private static CliRun run(String... args) {
    return CliRun.of(args);
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> runJson(String... args) {
    CliRun r = run(args);
    assertThat(r.code()).as(r.out() + r.err()).isZero();
    return (Map<String, Object>) Json.parse(r.out().trim());
  }

  @SuppressWarnings("unchecked")
  private static void assertFields(Map<String, Object> m, int threads) {
    assertFields(m, threads, "page-fault");
  }

  @SuppressWarnings("unchecked")
  private static void assertFields(Map<String, Object> m, int threads, String workload) {
    assertThat(m).containsKeys("workload", "threads", "seconds", "faults", "faultsPerSecond", "perThread",
        "framesReturned");
    assertThat(m.get("workload")).isEqualTo(workload);
    assertThat(((Number) m.get("threads")).intValue()).isEqualTo(threads);
    assertThat(((Number) m.get("seconds")).doubleValue()).isGreaterThanOrEqualTo(1.0);
    assertThat(m.get("framesReturned")).isEqualTo(true);
    long faults = ((Number) m.get("faults")).longValue();
    assertThat(faults).isPositive();
    assertThat(((Number) m.get("faultsPerSecond")).longValue()).isPositive();
    // Every store was exactly one fault of the kernel's counter.
    assertThat(((Number) m.get("pgfault")).longValue()).isEqualTo(faults);
    List<Object> per = (List<Object>) m.get("perThread");
    assertThat(per).hasSize(threads);
    long sum = 0;
    for (Object o : per) {
      Map<String, Object> t = (Map<String, Object>) o;
      assertThat(((Number) t.get("faults")).longValue()).isPositive();
      assertThat(t.get("failed")).isEqualTo(false);
      sum += ((Number) t.get("faults")).longValue();
    }
    assertThat(sum).isEqualTo(faults);
    if (!workload.equals("file-rw") && m.get("processCpuSeconds") != null) {
      // The whole JVM's CPU time over the measured part includes the workers' own.
      double workersCpu = 0;
      for (Object o : per) {
        Number c = (Number) ((Map<String, Object>) o).get("cpuSeconds");
        workersCpu += c == null ? 0 : c.doubleValue();
      }
      assertThat(((Number) m.get("processCpuSeconds")).doubleValue()).isGreaterThan(0.9 * workersCpu);
      assertThat(((Number) m.get("jitSeconds")).doubleValue()).isGreaterThanOrEqualTo(0);
    }
  }

  @Test
  void oneThreadReturnsEveryFrame() {
    assertFields(runJson("run", "page-fault", "--threads", "1", "--seconds", "1", "--json"), 1);
  }

  @Test
  void workersArePinnedUnlessTold() {
    Map<String, Object> pinned = runJson("run", "page-fault", "--threads", "2", "--seconds", "1", "--json");
    assertFields(pinned, 2);
    assertThat(pinned.get("pinned")).isEqualTo(!Affinity.allowedCpus().isEmpty());
    Map<String, Object> free = runJson("run", "page-fault", "--threads", "2", "--seconds", "1", "--no-pin", "--json");
    assertFields(free, 2);
    assertThat(free.get("pinned")).isEqualTo(false);
  }

  @Test
  void twoThreadsReturnEveryFrame() {
    assertFields(runJson("run", "page-fault", "--threads", "2", "--seconds", "1", "--json"), 2);
  }

  @Test
  void twoThreadsSharingOneMmUnderMmapLock() {
    Map<String, Object> m = runJson("run", "page-fault", "--threads", "2", "--seconds", "1", "--same-mm",
        "--fault-locking", "mmap-lock", "--json");
    assertFields(m, 2);
    assertThat(m.get("sameMm")).isEqualTo(true);
  }

  @Test
  void pageFault3OnASharedTmpfsFileReturnsEveryFrameOnceTheFilesAreClosed() {
    // Two seconds: the first round (128 MiB of page cache) does not finish in one on a loaded
    // machine, and the later rounds fault on cached pages; either way frames must all return.
    assertFields(runJson("run", "page-fault3", "--threads", "2", "--seconds", "1", "--json"), 2, "page-fault3");
  }

  @Test
  void fileRwWritesAndReadsBackAndReturnsEveryFrame() {
    Map<String, Object> m = runJson("run", "file-rw", "--threads", "1", "--seconds", "0.5", "--block", "64K",
        "--size", "4M", "--json");
    assertThat(m).containsEntry("workload", "file-rw").containsEntry("blockBytes", 65536L)
        .containsEntry("fileBytes", 4L << 20).containsEntry("framesReturned", true).containsEntry("failure", null);
    long written = ((Number) m.get("bytesWritten")).longValue();
    assertThat(written).isPositive().isEqualTo(((Number) m.get("bytesRead")).longValue());
    assertThat(written % (4L << 20)).isZero();
    assertThat(((Number) m.get("writeMiBps")).longValue()).isPositive();
    assertThat(((Number) m.get("readMiBps")).longValue()).isPositive();
    assertThat(run("run", "file-rw", "--block", "3M", "--size", "4M").code()).isEqualTo(2);
  }

  @Test
  void warmupFaultsAreNotCountedButVmstatSawThem() {
    Map<String, Object> m = runJson("run", "page-fault", "--threads", "1", "--warmup", "0.5", "--seconds", "1",
        "--json");
    assertFields(m, 1);
    assertThat(((Number) m.get("warmupSeconds")).doubleValue()).isEqualTo(0.5);
    assertThat(((Number) m.get("warmupFaults")).longValue()).isPositive();
  }

  @Test
  void textOutputNamesTheTotalAndTheFrames() {
    CliRun r = run("run", "page-fault", "--seconds", "0.5");
    assertThat(r.code()).isZero();
    assertThat(r.out()).contains("faults/s").contains("every frame returned");
  }

  @Test
  void usageErrorsExitTwo() {
    assertThat(run("run", "no-such-workload").code()).isEqualTo(2);
    assertThat(run("run", "page-fault", "--threads", "0").code()).isEqualTo(2);
    assertThat(run("run", "page-fault", "--fault-locking", "nope").code()).isEqualTo(2);
    assertThat(run("run", "page-fault", "--memory", "12345").code()).isEqualTo(2);
    assertThat(run("run", "page-fault", "--threads", "x").code()).isEqualTo(2);
    assertThat(run("run", "page-fault", "--warmup", "-1").code()).isEqualTo(2);
  }
}
