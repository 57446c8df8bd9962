package org.mmlab.mm.mmap;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.mmlab.explore.NativeSched;
import org.mmlab.kernel.Uapi;
import org.mmlab.mm.memory.FaultLocking;
import org.mmlab.mm.memory.FaultResult;

/**
 * The calls on real threads sharing one mm: two workers, each owning a region in neighbouring
 * 2 MiB areas (so they share the upper page tables and the VMA tree), map, write, mprotect,
 * move, zap and unmap their region over and over and check its contents after every step; a
 * third thread faults at random addresses of both regions meanwhile (any outcome is allowed;
 * it must not corrupt anything). Fixed budget and seed; then the mm-wide check.
 */
@Timeout(120)
class SyscallsNativeStressTest {
  private static final long PAGE = Uapi.PAGE_SIZE;
  private static final long PMD = 2L << 20;
  private static final long AREA = 0x4000_0000L;
  private static final int ROUNDS = 1_500;
  private static final long SEED = 0x6d6d6170L; // "mmap"

  @Test
  void twoWorkersAndAFaulterKeepEveryContentAndEveryFrame() throws InterruptedException {
    Machine m = new Machine(new NativeSched(), FaultLocking.PER_VMA, MmapLimits.DEFAULT, 64L << 20);
    AtomicLong mismatches = new AtomicLong();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicLong workersLeft = new AtomicLong(2);
    List<Thread> threads = new ArrayList<>();
    for (int w = 0; w < 2; w++) {
      long region = AREA + w * 4 * PMD;
      long seed = SEED + w;
      threads.add(Thread.ofPlatform().name("worker" + w).unstarted(() -> {
        try {
          work(m, region, new SplittableRandom(seed), mismatches);
        } catch (Throwable t) {
          failure.compareAndSet(null, t);
        } finally {
          workersLeft.decrementAndGet();
        }
      }));
    }
    threads.add(Thread.ofPlatform().name("faulter").unstarted(() -> {
      SplittableRandom rnd = new SplittableRandom(SEED + 2);
      try {
        while (workersLeft.get() > 0) {
          long addr = AREA + rnd.nextLong(8 * PMD) & -PAGE;
          FaultResult r = m.faults.userFault(m.mm, addr, rnd.nextBoolean());
          assertThat(r).isIn(FaultResult.HANDLED, FaultResult.SEGV_MAPERR, FaultResult.SEGV_ACCERR);
        }
      } catch (Throwable t) {
        failure.compareAndSet(null, t);
      }
    }));
    threads.forEach(Thread::start);
    for (Thread t : threads) {
      t.join();
    }
    if (failure.get() != null) {
      throw new AssertionError("a thread failed", failure.get());
    }
    assertThat(mismatches.get()).isZero();
    m.unmapAllAndCheck();
  }

  /** One worker's rounds on its region [region, region + 4 PMDs). */
  private static void work(Machine m, long region, SplittableRandom rnd, AtomicLong mismatches) {
    for (int round = 0; round < ROUNDS; round++) {
      int pages = 2 + rnd.nextInt(14);
      long at = region + PMD - PAGE * rnd.nextInt(pages); // straddles a PMD boundary now and then
      m.mapFixed(at, pages, Machine.RW);
      long[] values = new long[pages];
      for (int i = 0; i < pages; i++) {
        values[i] = rnd.nextLong() | 1;
        writeValue(m, at + i * PAGE, values[i]);
      }
      int k = rnd.nextInt(pages);
      check(m.sys.mprotect(m.mm, at + k * PAGE, PAGE, Uapi.PROT_READ) == 0, "mprotect", mismatches);
      check(readValue(m, at + k * PAGE) == values[k], "contents after mprotect", mismatches);
      check(m.sys.mprotect(m.mm, at + k * PAGE, PAGE, Machine.RW) == 0, "mprotect back", mismatches);
      check(m.vmaAt(at).peekEnd() == at + pages * PAGE, "merged back into one VMA", mismatches);
      long to = region + 2 * PMD + PAGE * rnd.nextInt(64);
      long moved = m.sys.mremap(m.mm, at, pages * PAGE, pages * PAGE, Uapi.MREMAP_MAYMOVE | Uapi.MREMAP_FIXED, to);
      check(moved == to, "mremap returned " + moved, mismatches);
      for (int i = 0; i < pages; i++) {
        check(readValue(m, to + i * PAGE) == values[i], "contents after mremap", mismatches);
      }
      int z = rnd.nextInt(pages);
      check(m.sys.madvise(m.mm, to + z * PAGE, PAGE, Uapi.MADV_DONTNEED) == 0, "madvise", mismatches);
      check(readValue(m, to + z * PAGE) == 0, "zero after DONTNEED", mismatches);
      byte[] vec = new byte[pages];
      check(m.sys.mincore(m.mm, to, pages * PAGE, vec) == 0, "mincore", mismatches);
      check(m.sys.munmap(m.mm, to, pages * PAGE) == 0, "munmap", mismatches);
    }
  }

  private static void check(boolean ok, String what, AtomicLong mismatches) {
    if (!ok) {
      mismatches.incrementAndGet();
      throw new AssertionError("mismatch: " + what);
    }
  }

  private static void writeValue(Machine m, long addr, long value) {
    m.write(addr, value);
  }

  private static long readValue(Machine m, long addr) {
    return m.read(addr);
  }
}
