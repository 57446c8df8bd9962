package org.mmlab.mm.shmem;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.mmlab.explore.ExploreResult;
import org.mmlab.explore.Explorer;
import org.mmlab.explore.StressRunner;
import org.mmlab.explore.Sched;
import org.mmlab.kernel.Kernel;
import org.mmlab.kernel.KernelConfig;
import org.mmlab.kernel.Process;
import org.mmlab.kernel.Uapi;

/**
 * Concurrent page-cache lookups, faults on a shared file and truncation / hole punching, on a
 * whole booted kernel: under the explorer (every strategy of the default portfolio) and natively
 * on real threads. Three processes share one tmpfs file of two pages:
 * <ul>
 *   <li>"fault": maps it shared, stores into both pages and loads them back;</li>
 *   <li>"punch": punches page 1, then truncates the file to one page;</li>
 *   <li>"lookup": preads both pages, runs mincore over its own read-only mapping, faults page 1
 *       in and unmaps the mapping (its page tables are freed while the truncation may be walking
 *       them through {@code i_mmap}).</li>
 * </ul>
 * Allowed outcomes: a load sees its own store or zero (the page was punched) or SIGBUS (page 1
 * after the truncation); pread sees the store or zeros; mincore reports 0 or 1. The kernel's
 * consistency walk (mm walk, page-cache walk, frame accounting) runs after every execution.
 */
class ShmemExploreTest {
  static final long PAGE = Uapi.PAGE_SIZE;
  static final long EXECUTIONS = 1_500;

  static Explorer.Program program() {
    return ex -> scenario(ex, new ArrayList<>());
  }

  /** Sets up the kernel and the three CPUs on {@code ex}; returns the end check. */
  static Runnable scenario(Sched ex, List<String> problems) {
    Kernel k = new Kernel(ex, KernelConfig.DEFAULT.withMemory(8L << 20));
    Process a = k.spawn();
    Process b = k.spawn();
    Process c = k.spawn();
    long[] mapA = new long[1];
    long[] mapC = new long[1];
    int[] fd = new int[3];
    // Set-up, before the CPUs run: the file exists with two pages, page 1 cached.
    fd[1] = (int) b.open("/dev/shm/f", Uapi.O_RDWR | Uapi.O_CREAT, 0600);
    b.ftruncate(fd[1], 2 * PAGE);
    b.pwrite(fd[1], new byte[] {0x5a}, PAGE);
    ex.addCpu("fault", () -> {
      fd[0] = (int) a.open("/dev/shm/f", Uapi.O_RDWR, 0);
      mapA[0] = a.mmap(0, 2 * PAGE, Uapi.PROT_READ | Uapi.PROT_WRITE, Uapi.MAP_SHARED, fd[0], 0);
      for (int pg = 0; pg < 2; pg++) {
        long addr = mapA[0] + pg * PAGE;
        if (a.store(addr, 1, 0x5a) != null) {
          continue; // SIGBUS: truncated already
        }
        Process.Loaded l = a.load(addr, 1);
        if (l.signal() == null && l.value() != 0x5a && l.value() != 0) {
          problems.add("load of page " + pg + " saw " + l.value());
        }
      }
    });
    ex.addCpu("punch", () -> {
      b.fallocate(fd[1], Uapi.FALLOC_FL_PUNCH_HOLE | Uapi.FALLOC_FL_KEEP_SIZE, PAGE, PAGE);
      b.ftruncate(fd[1], PAGE);
    });
    ex.addCpu("lookup", () -> {
      fd[2] = (int) c.open("/dev/shm/f", Uapi.O_RDWR, 0);
      mapC[0] = c.mmap(0, 2 * PAGE, Uapi.PROT_READ, Uapi.MAP_SHARED, fd[2], 0);
      byte[] buf = new byte[(int) (2 * PAGE)];
      long n = c.pread(fd[2], buf, 0);
      for (int i = 0; i < n; i++) {
        if (buf[i] != 0 && buf[i] != 0x5a) {
          problems.add("pread saw " + buf[i] + " at " + i);
        }
      }
      byte[] vec = new byte[2];
      c.mincore(mapC[0], 2 * PAGE, vec);
      c.load(mapC[0] + PAGE, 1);
      c.munmap(mapC[0], 2 * PAGE); // free_pgtables racing unmap_mapping_range
    });
    return () -> {
      assertThat(problems).isEmpty();
      a.exit();
      b.exit();
      c.exit();
      k.check();
      assertThat(k.tmpfs().peekInodes()).hasSize(1); // the file keeps its name
    };
  }

  @Test
  void lookupsFaultsAndTruncationOnASharedFileGiveNoVerdict() {
    // The budget, not the clock, ends the run: a 30 s default limit was cut short at load 190.
    ExploreResult r = new Explorer(program(), Explorer.Config.defaults().withExecutions(EXECUTIONS)
        .withTimeLimit(java.time.Duration.ofMinutes(10))).explore(null);
    assertThat(r.verdictId()).as(String.valueOf(r.verdict())).isEqualTo("none");
    assertThat(r.executions()).isEqualTo(EXECUTIONS);
  }

  @Test
  void theSameRacesNativelyOnRealThreads() {
    StressRunner.Result r = new StressRunner(program(), Duration.ofSeconds(3), 300, Duration.ofSeconds(20)).run();
    assertThat(r.verdictId()).as(String.valueOf(r.verdict())).isEqualTo("none");
    assertThat(r.executions()).isPositive();
  }
}
