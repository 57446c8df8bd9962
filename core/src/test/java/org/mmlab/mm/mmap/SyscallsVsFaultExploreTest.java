package org.mmlab.mm.mmap;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.function.ToLongFunction;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.mmlab.explore.ExploreResult;
import org.mmlab.explore.Explorer;
import org.mmlab.kernel.Uapi;
import org.mmlab.mm.memory.FaultLocking;
import org.mmlab.mm.memory.FaultResult;

/**
 * The address-space calls racing the fault path under the explorer. One mapping of four pages
 * straddles a PMD boundary (pages 0-1 under one PTE table, 2-3 under the next), pages 0, 1 and 3
 * written with known values, page 2 never touched. CPU "fault" takes two user faults
 * ({@code Faults.userFault}: the per-VMA lock with the mmap-lock fallback, or the mmap lock
 * alone); CPU "call" runs one syscall on part of the mapping:
 * <ul>
 *   <li>munmap of pages 2-3, which frees their PTE table (the lower VMA's remnant keeps the PMD
 *       table), after downgrading the mmap lock, while the fault may run on page 1;</li>
 *   <li>mprotect of pages 1-2 to read-only: a write fault there must not leave a writable PTE;</li>
 *   <li>mremap of pages 2-3 to another PMD with MREMAP_FIXED: the contents must arrive;</li>
 *   <li>madvise(MADV_DONTNEED) of everything, under the mmap lock for read like the faults.</li>
 * </ul>
 * The end check asserts the user-visible outcome (each fault's result is one the orders allow,
 * contents) and the mm-wide consistency (no PTE outside a VMA or against its protection, RSS,
 * every frame accounted for, page tables sound), then unmaps everything and checks that every
 * frame came back. The explorer adds its own verdicts: use-after-free of tables or VMAs, RCU
 * misuse, deadlock, locks held at the end. No verdict is expected for the landed designs.
 */
class SyscallsVsFaultExploreTest {
  private static final long PAGE = Uapi.PAGE_SIZE;
  private static final long PMD = 2L << 20;
  private static final long BASE = 0x4000_0000L + PMD - 2 * PAGE;
  private static final long Y = 0x4000_0000L + 4 * PMD;
  private static final long EXECUTIONS = 2_000;

  /** One racing call: what it does, where the fault CPU faults, and what the end state must be. */
  enum Race {
    MUNMAP(m -> m.sys.munmap(m.mm, BASE + 2 * PAGE, 2 * PAGE), BASE + PAGE, true, BASE + 3 * PAGE, true),
    MPROTECT(m -> m.sys.mprotect(m.mm, BASE + PAGE, 2 * PAGE, Uapi.PROT_READ), BASE + PAGE, true, BASE + 2 * PAGE,
        true),
    MREMAP(m -> m.sys.mremap(m.mm, BASE + 2 * PAGE, 2 * PAGE, 2 * PAGE, Uapi.MREMAP_MAYMOVE | Uapi.MREMAP_FIXED, Y),
        BASE + 3 * PAGE, true, Y + PAGE, false),
    DONTNEED(m -> m.sys.madvise(m.mm, BASE, 4 * PAGE, Uapi.MADV_DONTNEED), BASE + PAGE, true, BASE + 2 * PAGE, false);

    final ToLongFunction<Machine> call;
    final long fault0;
    final boolean write0;
    final long fault1;
    final boolean write1;

    Race(ToLongFunction<Machine> call, long fault0, boolean write0, long fault1, boolean write1) {
      this.call = call;
      this.fault0 = fault0;
      this.write0 = write0;
      this.fault1 = fault1;
      this.write1 = write1;
    }
  }

  static List<Arguments> matrix() {
    List<Arguments> out = new ArrayList<>();
    for (FaultLocking l : new FaultLocking[] {FaultLocking.PER_VMA, FaultLocking.MMAP_LOCK}) {
      for (Race r : Race.values()) {
        out.add(Arguments.of(l, r));
      }
    }
    return out;
  }

  static Explorer.Program program(FaultLocking locking, Race race) {
    return ex -> {
      Machine m = new Machine(ex, locking, MmapLimits.DEFAULT, 16L << 20);
      m.mapFixed(BASE, 4, Machine.RW);
      for (int i : new int[] {0, 1, 3}) {
        m.write(BASE + i * PAGE, 100 + i);
      }
      FaultResult[] seen = new FaultResult[2];
      long[] ret = new long[1];
      ex.addCpu("fault", () -> {
        seen[0] = m.faults.userFault(m.mm, race.fault0, race.write0);
        seen[1] = m.faults.userFault(m.mm, race.fault1, race.write1);
      });
      ex.addCpu("call", () -> ret[0] = race.call.applyAsLong(m));
      return () -> {
        assertThat(ret[0]).as(race + " returned").isEqualTo(race == Race.MREMAP ? Y : 0);
        endCheck(m, race, seen);
        m.unmapAllAndCheck();
      };
    };
  }

  private static void endCheck(Machine m, Race race, FaultResult[] seen) {
    switch (race) {
      case MUNMAP -> {
        assertThat(m.maps()).containsExactly("0x401fe000-0x40200000 rw-p");
        assertThat(seen[0]).isEqualTo(FaultResult.HANDLED);
        assertThat(seen[1]).isIn(FaultResult.HANDLED, FaultResult.SEGV_MAPERR);
        assertThat(m.peekRead(BASE)).isEqualTo(100);
        assertThat(m.peekRead(BASE + PAGE)).isEqualTo(101);
      }
      case MPROTECT -> {
        assertThat(m.maps()).containsExactly("0x401fe000-0x401ff000 rw-p", "0x401ff000-0x40201000 r--p",
            "0x40201000-0x40202000 rw-p");
        assertThat(seen[0]).isIn(FaultResult.HANDLED, FaultResult.SEGV_ACCERR);
        assertThat(seen[1]).isIn(FaultResult.HANDLED, FaultResult.SEGV_ACCERR);
        assertThat(m.peekRead(BASE + PAGE)).isEqualTo(101);
        assertThat(m.peekRead(BASE + 3 * PAGE)).isEqualTo(103);
      }
      case MREMAP -> {
        assertThat(m.maps()).containsExactly("0x401fe000-0x40200000 rw-p", "0x40800000-0x40802000 rw-p");
        assertThat(seen[0]).isIn(FaultResult.HANDLED, FaultResult.SEGV_MAPERR);
        assertThat(seen[1]).isIn(FaultResult.HANDLED, FaultResult.SEGV_MAPERR);
        if (seen[0] == FaultResult.SEGV_MAPERR) {
          assertThat(seen[1]).as("the move was seen at the old address, so the new one is mapped")
              .isEqualTo(FaultResult.HANDLED);
        }
        assertThat(m.peekRead(Y + PAGE)).as("page 3 moved with its contents").isEqualTo(103);
        assertThat(m.peekRead(Y)).as("page 2 was never touched").isZero();
        assertThat(m.peekRead(BASE + PAGE)).isEqualTo(101);
      }
      case DONTNEED -> {
        assertThat(seen).containsOnly(FaultResult.HANDLED);
        for (int i = 0; i < 4; i++) {
          assertThat(m.peekRead(BASE + i * PAGE)).as("page %d after DONTNEED", i).isZero();
        }
      }
    }
  }

  @ParameterizedTest(name = "{0} fault vs {1}")
  @MethodSource("matrix")
  void theLandedDesignsSurviveEveryInterleaving(FaultLocking locking, Race race) {
    for (String strategy : new String[] {"random", "pct", "pos", "dfs"}) {
      ExploreResult r = new Explorer(program(locking, race),
          Explorer.Config.defaults().withStrategy(strategy).withExecutions(EXECUTIONS)).explore(null);
      assertThat(r.verdictId()).as(locking + " vs " + race + " under " + strategy + ": "
          + (r.verdict() == null ? "" : r.verdict().headline() + " " + r.verdict().details())).isEqualTo("none");
    }
  }

  /**
   * The control: the design seed 001's thread rejected (tables allocated and the VMA used under
   * RCU alone, nothing excluding the syscall) is caught against each call that tears down or
   * changes what the fault uses: a freed page table, a writable PTE left in a read-only VMA, a
   * table moved away under the walk.
   */
  @ParameterizedTest(name = "rcu-only fault vs {0}")
  @EnumSource(value = Race.class, names = {"MUNMAP", "MREMAP"})
  void theRcuOnlyDesignIsCaught(Race race) {
    ExploreResult r = new Explorer(program(FaultLocking.RCU_ONLY, race),
        Explorer.Config.defaults().withExecutions(10_000)).explore(null);
    System.out.println("rcu-only vs " + race + ": " + r.verdictId() + " at execution " + r.bugAtExecution() + ": "
        + (r.verdict() == null ? "" : r.verdict().headline()));
    assertThat(r.verdictId()).isNotEqualTo("none");
  }

  /**
   * mprotect changes no page table, only VMAs and PTEs under the PTE lock: the speculative
   * design's own defence, the {@code mmap_seq} check under the PTE lock before a PTE is
   * installed, sees the writer and retries under the mmap lock. The rejected design's hole is
   * the page tables allocated before that check, which mprotect does not free.
   */
  @org.junit.jupiter.api.Test
  void theRcuOnlyDesignsSequenceCheckDefendsAgainstMprotect() {
    ExploreResult r = new Explorer(program(FaultLocking.RCU_ONLY, Race.MPROTECT),
        Explorer.Config.defaults().withExecutions(10_000)).explore(null);
    assertThat(r.verdictId()).isEqualTo("none");
  }
}
