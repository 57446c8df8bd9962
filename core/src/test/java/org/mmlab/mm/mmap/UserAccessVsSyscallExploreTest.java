package org.mmlab.mm.mmap;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.mmlab.explore.Cpu;
import org.mmlab.explore.ExploreResult;
import org.mmlab.explore.Explorer;
import org.mmlab.kernel.Uapi;
import org.mmlab.mm.memory.FaultLocking;
import org.mmlab.mm.memory.FaultResult;
import org.mmlab.mm.mmu.Fault;
import org.mmlab.mm.mmu.Mmu;
import org.mmlab.mm.mmu.MmuContext;
import org.mmlab.sync.Atomic;

/**
 * The user-visible guarantee of each call, with real user accesses through the MMU and its TLB
 * shootdown: once the call has returned, no CPU completes an access the call took away. CPU
 * "user" runs in user mode and accesses one page three times, handling its faults as the kernel
 * would (enter the kernel, {@code Faults.userFault}, back to user mode, retry); before each access
 * it reads whether the call has returned. CPU "call" runs the call and then says so.
 * <ul>
 *   <li>mprotect(PROT_READ): a store that began after the return must fault, and the fault
 *       ends in SEGV_ACCERR (the write bit was cleared and flushed before the return);</li>
 *   <li>munmap and mremap away: a load that began after the return must fault, and a load
 *       before it must see the page's contents (never a freed, reused frame);</li>
 *   <li>madvise(MADV_DONTNEED): a load that began after the return must see zeros.</li>
 * </ul>
 * A call that flushed too late, or freed before flushing, would let the user CPU complete such an
 * access through its stale TLB entry: a wrong result, or the MMU's use-after-free verdict.
 */
class UserAccessVsSyscallExploreTest {
  private static final long PAGE = Uapi.PAGE_SIZE;
  private static final long X = 0x4000_0000L;
  private static final long P = X + PAGE;
  private static final long Y = X + (8L << 20);
  private static final long VALUE = 0x5151_5151L;
  private static final int ACCESSES = 3;
  private static final long EXECUTIONS = 2_000;

  enum Call {
    MPROTECT(true), MUNMAP(false), MREMAP(false), DONTNEED(false);

    /** The user CPU stores (else it loads). */
    final boolean store;

    Call(boolean store) {
      this.store = store;
    }

    long run(Machine m) {
      return switch (this) {
        case MPROTECT -> m.sys.mprotect(m.mm, X, 2 * PAGE, Uapi.PROT_READ);
        case MUNMAP -> m.sys.munmap(m.mm, X, 2 * PAGE);
        case MREMAP -> m.sys.mremap(m.mm, X, 2 * PAGE, 2 * PAGE, Uapi.MREMAP_MAYMOVE | Uapi.MREMAP_FIXED, Y);
        case DONTNEED -> m.sys.madvise(m.mm, X, 2 * PAGE, Uapi.MADV_DONTNEED);
      };
    }
  }

  /** One user access: whether the call had returned when it began, and what came of it. */
  record Access(boolean afterReturn, long value, Fault.Kind fault, FaultResult handled) {}

  static List<Arguments> matrix() {
    List<Arguments> out = new ArrayList<>();
    for (FaultLocking l : new FaultLocking[] {FaultLocking.PER_VMA, FaultLocking.MMAP_LOCK}) {
      for (Call c : Call.values()) {
        out.add(Arguments.of(l, c));
      }
    }
    return out;
  }

  static Explorer.Program program(FaultLocking locking, Call call) {
    return ex -> {
      Machine m = new Machine(ex, locking, MmapLimits.DEFAULT, 16L << 20);
      Mmu mmu = new Mmu(m.mem);
      MmuContext ctx = mmu.newContext(m.pt(), "mm");
      m.mm.setFlusher(mmu.flusher(ctx));
      m.mapFixed(X, 2, Machine.RW);
      m.write(X, VALUE);
      m.write(P, VALUE);
      Atomic returned = new Atomic(ex, "returned", 0);
      List<Access> accesses = new ArrayList<>();
      ex.addCpu("user", () -> {
        Cpu me = ex.cpu();
        mmu.enterUser(me, ctx);
        for (int i = 0; i < ACCESSES; i++) {
          boolean after = returned.read() != 0;
          Fault f;
          long v = 0;
          if (call.store) {
            f = mmu.store(me, ctx, P, 8, VALUE + 1 + i);
          } else {
            v = mmu.load(me, ctx, P, 8);
            f = mmu.lastFault(me);
          }
          if (f == null) {
            accesses.add(new Access(after, v, null, null));
            continue;
          }
          mmu.enterKernel(me);
          FaultResult r = m.faults.userFault(m.mm, P, f.write());
          accesses.add(new Access(after, v, f.kind(), r));
          if (r != FaultResult.HANDLED) {
            break; // SIGSEGV
          }
          mmu.enterUser(me, ctx);
        }
        mmu.enterKernel(me);
      });
      ex.addCpu("call", () -> {
        long r = call.run(m);
        assertThat(r).isEqualTo(call == Call.MREMAP ? Y : 0);
        returned.write(1);
      });
      return () -> {
        for (Access a : accesses) {
          check(call, a);
        }
        m.unmapAllAndCheck();
      };
    };
  }

  private static void check(Call call, Access a) {
    if (a.fault() == null) {
      switch (call) {
        case MPROTECT -> assertThat(a.afterReturn()).as("a store completed after mprotect(PROT_READ) returned")
            .isFalse();
        case MUNMAP, MREMAP -> {
          assertThat(a.afterReturn()).as("a load completed after the page was unmapped").isFalse();
          assertThat(a.value()).isEqualTo(VALUE);
        }
        case DONTNEED -> {
          if (a.afterReturn()) {
            assertThat(a.value()).as("a load after MADV_DONTNEED returned saw the old contents").isZero();
          } else {
            assertThat(a.value()).isIn(0L, VALUE);
          }
        }
      }
      return;
    }
    if (a.afterReturn()) {
      switch (call) {
        case MPROTECT -> assertThat(a.handled()).isEqualTo(FaultResult.SEGV_ACCERR);
        case MUNMAP, MREMAP -> assertThat(a.handled()).isEqualTo(FaultResult.SEGV_MAPERR);
        case DONTNEED -> assertThat(a.handled()).isEqualTo(FaultResult.HANDLED);
      }
    }
  }

  @ParameterizedTest(name = "{0}: user access vs {1}")
  @MethodSource("matrix")
  void nothingTheCallTookAwayIsAccessedAfterItReturns(FaultLocking locking, Call call) {
    for (String strategy : new String[] {"random", "pct", "pos", "dfs"}) {
      ExploreResult r = new Explorer(program(locking, call),
          Explorer.Config.defaults().withStrategy(strategy).withExecutions(EXECUTIONS)).explore(null);
      assertThat(r.verdictId()).as(locking + " vs " + call + " under " + strategy + ": "
          + (r.verdict() == null ? "" : r.verdict().headline() + " " + r.verdict().details())).isEqualTo("none");
    }
  }
}
