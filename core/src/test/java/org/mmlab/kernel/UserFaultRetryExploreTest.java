package org.mmlab.kernel;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.mmlab.explore.ExploreResult;
import org.mmlab.explore.Explorer;

/**
 * A user access retried after a handled fault is a retry point ({@code exc_page_fault} returns
 * to user mode and the instruction runs again). Successive faults at different addresses are
 * progress, even when no other CPU writes in between: a CPU touching fresh pages one after the
 * other, after the other CPU has finished, must not be reported as spinning.
 */
class UserFaultRetryExploreTest {
  private static final long PAGE = Uapi.PAGE_SIZE;

  private static Explorer.Program program() {
    return ex -> {
      Kernel k = new Kernel(ex, KernelConfig.DEFAULT.withMemory(8L << 20));
      Process a = k.spawn();
      Process b = k.spawn();
      long[] addr = new long[1];
      ex.addCpu("touch", () -> {
        addr[0] = a.mmap(0, 4 * PAGE, Uapi.PROT_READ | Uapi.PROT_WRITE, Uapi.MAP_PRIVATE | Uapi.MAP_ANONYMOUS, -1, 0);
        for (int pg = 0; pg < 4; pg++) {
          assertThat(a.store(addr[0] + pg * PAGE, 1, pg + 1)).isNull(); // a write fault each
        }
        assertThat(a.load(addr[0], 1).value()).isEqualTo(1); // a hit: no fault
        assertThat(a.load(addr[0] + PAGE, 8).value() & 0xff).isEqualTo(2);
      });
      ex.addCpu("other", () -> b.mmap(0, PAGE, Uapi.PROT_READ, Uapi.MAP_PRIVATE | Uapi.MAP_ANONYMOUS, -1, 0));
      return () -> {
        a.exit();
        b.exit();
        k.check();
      };
    };
  }

  @Test
  void faultsAtSuccessiveAddressesAreProgressUnderEveryStrategy() {
    for (String strategy : List.of("random", "pct", "pos", "dfs", "portfolio")) {
      ExploreResult r = new Explorer(program(), Explorer.Config.defaults().withStrategy(strategy).withExecutions(300))
          .explore(null);
      assertThat(r.verdictId()).as(strategy + ": " + r.verdict()).isEqualTo("none");
    }
  }
}
