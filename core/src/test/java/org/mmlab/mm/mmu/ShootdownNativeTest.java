package org.mmlab.mm.mmu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mmlab.mm.mmu.Machine.MIB;
import static org.mmlab.mm.mmu.Machine.RW;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.mmlab.explore.Cpu;
import org.mmlab.explore.NativeSched;
import org.mmlab.mm.page.Gfp;
import org.mmlab.mm.page.Page;
import org.mmlab.mm.pgtable.Entry;
import org.mmlab.mm.pgtable.Level;
import org.mmlab.mm.pgtable.PageTables;
import org.mmlab.sync.Spinlock;

/**
 * The shootdown guarantee on real threads. A reader loads one address through the MMU in a
 * loop (leaving for the kernel and coming back every so often, so both the request path and the
 * generation check on return are used); a writer remaps the address, over and over, to a fresh
 * frame holding the remap's number, flushes, poisons the old frame and frees it, then publishes
 * the number. A reader that read the published number before its load must see at least that
 * number: seeing an older one, or the poison, is a completed access through a stale translation
 * after the flush returned. Budget: {@value #REMAPS} remaps or {@value #SECONDS} s, whichever
 * comes first (about 11 s for all remaps on a quiet machine; the clock only matters when other
 * tenants take the cores), and at least {@value #MIN_REMAPS} remaps.
 */
@Timeout(300)
class ShootdownNativeTest {
  private static final long ADDR = 0x40_0000L;
  private static final long OFF = 0x238;
  private static final long POISON = 0xdead_dead_dead_deadL;
  private static final int REMAPS = 50_000;
  private static final int MIN_REMAPS = 1_000;
  private static final long SECONDS = 60;
  private static final int KERNEL_EVERY = 1_000;

  @Test
  void afterTheFlushReturnsTheReaderNeverSeesTheOldFrame() throws InterruptedException {
    Machine m = new Machine(new NativeSched(), 64 * MIB);
    Page first = m.map(ADDR, RW);
    PageTables.Slot pte = m.pt.walk(ADDR, Level.PTE);
    Spinlock ptl = pte.table().ptl();
    AtomicLong published = new AtomicLong();
    AtomicBoolean done = new AtomicBoolean();
    AtomicBoolean readerStopped = new AtomicBoolean();
    AtomicLong violations = new AtomicLong();
    AtomicLong loads = new AtomicLong();
    AtomicLong faults = new AtomicLong();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<Long> firstViolations = new ArrayList<>();

    Runnable reader = () -> {
      Cpu me = m.sched.cpu();
      Tlb t = m.mmu.tlb(me);
      m.mmu.enterUser(me, m.mm);
      long n = 0;
      try {
        while (!done.get()) {
          long atLeast = published.get();
          long v = m.mmu.load64(t, m.mm, ADDR + OFF);
          if (t.lastFault() != null) {
            faults.incrementAndGet();
          } else if (v < atLeast || v == POISON) {
            if (violations.incrementAndGet() <= 5) {
              synchronized (firstViolations) {
                firstViolations.add(v);
                firstViolations.add(atLeast);
              }
            }
          }
          if (++n % KERNEL_EVERY == 0) {
            m.mmu.enterKernel(me);
            m.mmu.enterUser(me, m.mm);
          }
        }
      } finally {
        m.mmu.enterKernel(me);
        loads.set(n);
        readerStopped.set(true);
      }
    };
    AtomicLong remaps = new AtomicLong();
    long deadline = System.nanoTime() + SECONDS * 1_000_000_000L;
    Runnable writer = () -> {
      Page current = first;
      for (long k = 1; k <= REMAPS && (k <= MIN_REMAPS || System.nanoTime() < deadline); k++) {
        Page next = m.mem.allocPages(Gfp.KERNEL, 0, "remap");
        m.mem.frames().store64(next.phys() + OFF, k);
        ptl.lock();
        m.pt.store(pte, Entry.make(next.pfn(), RW), "set_pte_at");
        ptl.unlock();
        m.mmu.flushTlbRange(m.mm, ADDR, ADDR + 4096);
        m.mem.frames().store64(current.phys() + OFF, POISON);
        current.putPage();
        current = next;
        published.set(k);
        remaps.set(k);
      }
      done.set(true);
      // The mapping goes only after the reader's last load: one that began before it saw done
      // would otherwise fault on the cleared entry (test infrastructure, not model state).
      while (!readerStopped.get() && failure.get() == null) {
        Thread.onSpinWait();
      }
      m.clearPte(ADDR);
      m.mmu.flushTlbRange(m.mm, ADDR, ADDR + 4096);
      current.putPage();
    };
    Thread r = Thread.ofPlatform().name("reader").start(guard(reader, failure, done));
    Thread w = Thread.ofPlatform().name("writer").start(guard(writer, failure, done));
    w.join();
    r.join();
    if (failure.get() != null) {
      throw new AssertionError(failure.get());
    }
    assertThat(remaps.get()).isGreaterThanOrEqualTo(MIN_REMAPS);
    System.out.printf("remaps=%d loads=%d faults=%d violations=%d%n", remaps.get(), loads.get(), faults.get(),
        violations.get());
    assertThat(violations.get()).as("stale reads after the flush returned: (seen, published) " + firstViolations)
        .isZero();
    assertThat(faults.get()).isZero();
    assertThat(loads.get()).isPositive();
  }

  private static Runnable guard(Runnable body, AtomicReference<Throwable> failure, AtomicBoolean done) {
    return () -> {
      try {
        body.run();
      } catch (Throwable e) {
        failure.compareAndSet(null, e);
        done.set(true);
      }
    };
  }
}
