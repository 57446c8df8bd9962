package org.mmlab.mm.shmem;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.mmlab.explore.ExploreResult;
import org.mmlab.explore.Explorer;
import org.mmlab.explore.Sched;
import org.mmlab.explore.StressRunner;
import org.mmlab.kernel.Kernel;
import org.mmlab.kernel.KernelConfig;
import org.mmlab.kernel.Process;
import org.mmlab.kernel.Uapi;
import org.mmlab.mm.memory.FaultLocking;

/**
 * Faults racing a hole punch ({@code shmem_falloc_wait}): a fault on a page the punch is
 * emptying sleeps until the punch is over, with the fault's lock dropped (the VMA lock under
 * per-VMA locking, {@code mmap_lock} otherwise), and then starts over; a fault elsewhere in the
 * file does not wait. CPU "punch" punches pages 1–2 of a 4-page file that both CPUs map shared;
 * CPU "fault" loads page 1 (inside the punch) and page 3 (outside). Every load must see the
 * value written before or zero, the file must keep pages 0 and 3, and some executions must
 * have waited.
 */
class FallocWaitExploreTest {
  private static final long PAGE = Uapi.PAGE_SIZE;
  private static final int EXECUTIONS = 1_500;

  static Runnable scenario(Sched ex, FaultLocking locking, List<String> problems, long[] waits) {
    return scenario(ex, locking, problems, waits, false);
  }

  /**
   * With {@code populate}, CPU "fault" populates the mapping with {@code MADV_POPULATE_READ}
   * instead of loading: GUP's faults may not drop {@code mmap_lock}, so one that meets the punch
   * sleeps holding it and faults again after it ({@code VM_FAULT_NOPAGE}).
   */
  static Runnable scenario(Sched ex, FaultLocking locking, List<String> problems, long[] waits, boolean populate) {
    Kernel k = new Kernel(ex, KernelConfig.DEFAULT.withMemory(8L << 20).withFaultLocking(locking));
    Process a = k.spawn();
    Process b = k.spawn();
    int fdB = (int) b.open("/dev/shm/f", Uapi.O_RDWR | Uapi.O_CREAT, 0600);
    byte[] data = new byte[(int) (4 * PAGE)];
    java.util.Arrays.fill(data, (byte) 0x33);
    b.pwrite(fdB, data, 0);
    int fdA = (int) a.open("/dev/shm/f", Uapi.O_RDWR, 0);
    long map = a.mmap(0, 4 * PAGE, Uapi.PROT_READ, Uapi.MAP_SHARED, fdA, 0);
    ex.addCpu("fault", () -> {
      if (populate) {
        long r = a.madvise(map, 4 * PAGE, Uapi.MADV_POPULATE_READ);
        if (r != 0) {
          problems.add("MADV_POPULATE_READ returned " + r);
        }
        return;
      }
      for (int pg : new int[] {1, 3}) {
        Process.Loaded l = a.load(map + pg * PAGE, 1);
        if (l.signal() != null || (l.value() != 0x33 && !(pg == 1 && l.value() == 0))) {
          problems.add("load of page " + pg + ": " + l);
        }
      }
    });
    ex.addCpu("punch", () -> {
      long r = b.fallocate(fdB, Uapi.FALLOC_FL_PUNCH_HOLE | Uapi.FALLOC_FL_KEEP_SIZE, PAGE, 2 * PAGE);
      if (r != 0) {
        problems.add("fallocate returned " + r);
      }
    });
    return () -> {
      assertThat(problems).isEmpty();
      byte[] back = new byte[(int) (4 * PAGE)];
      assertThat(b.pread(fdB, back, 0)).isEqualTo(4 * PAGE);
      assertThat(back[0]).isEqualTo((byte) 0x33);
      assertThat(back[(int) (3 * PAGE)]).isEqualTo((byte) 0x33);
      assertThat(back[(int) PAGE]).isZero();
      assertThat(back[(int) (2 * PAGE)]).isZero();
      waits[0] += k.tmpfs().peekFallocWaits();
      a.exit();
      b.exit();
      k.check();
    };
  }

  @ParameterizedTest
  @EnumSource(value = FaultLocking.class, names = {"PER_VMA", "MMAP_LOCK"})
  void aFaultInThePunchedRangeWaitsForThePunchAndNothingElseDoes(FaultLocking locking) {
    long[] waits = new long[1];
    ExploreResult r = new Explorer(ex -> scenario(ex, locking, new ArrayList<>(), waits),
        Explorer.Config.defaults().withExecutions(EXECUTIONS)
            .withTimeLimit(Duration.ofMinutes(10))).explore(null);
    assertThat(r.verdictId()).as(String.valueOf(r.verdict())).isEqualTo("none");
    assertThat(r.executions()).isEqualTo(EXECUTIONS);
    System.out.printf("%s: %d of %d executions had a fault wait for the punch%n", locking, waits[0], EXECUTIONS);
    assertThat(waits[0]).as("executions with a fault waiting in shmem_falloc_wait").isPositive();
  }

  @org.junit.jupiter.api.Test
  void aPopulateThatMeetsThePunchWaitsHoldingMmapLockAndFaultsAgain() {
    long[] waits = new long[1];
    ExploreResult r = new Explorer(ex -> scenario(ex, FaultLocking.PER_VMA, new ArrayList<>(), waits, true),
        Explorer.Config.defaults().withExecutions(EXECUTIONS)
            .withTimeLimit(Duration.ofMinutes(10))).explore(null);
    assertThat(r.verdictId()).as(String.valueOf(r.verdict())).isEqualTo("none");
    System.out.printf("populate: %d of %d executions had a fault wait for the punch%n", waits[0], EXECUTIONS);
    assertThat(waits[0]).isPositive();
  }

  @ParameterizedTest
  @EnumSource(value = FaultLocking.class, names = {"PER_VMA", "MMAP_LOCK"})
  void theSameRaceNativelyOnRealThreads(FaultLocking locking) {
    long[] waits = new long[1];
    StressRunner.Result r = new StressRunner(ex -> scenario(ex, locking, new ArrayList<>(), waits),
        Duration.ofSeconds(2), 300, Duration.ofSeconds(20)).run();
    assertThat(r.verdictId()).as(String.valueOf(r.verdict())).isEqualTo("none");
    assertThat(r.executions()).isPositive();
  }
}
