package org.mmlab.mm.page;

import org.mmlab.testing.Threads;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mmlab.mm.page.BuddyAllocatorTest.buddyinfo;
import static org.mmlab.mm.page.BuddyAllocatorTest.onlyMaxOrder;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.mmlab.explore.NativeSched;
import org.mmlab.explore.Rng;

/**
 * Native stress: two threads allocate and free random orders (compound or not, zeroed or not)
 * for a fixed budget of operations, stamp every block they own and check the stamp before
 * freeing it (two owners of one frame would overwrite each other's), and hand blocks to each
 * other through shared slots so that frees also happen on the other CPU. Memory is small (16
 * MiB over two nodes) so that allocations also fail and fall back. At the end every page
 * is back, fully merged, and the accounting balances. Seeds: thread {@code i} uses
 * {@code Rng(SEED + i)}.
 */
@Timeout(120)
class NativeStressTest {
  private static final long SEED = 0x6d6d;
  private static final int OPS_PER_THREAD = 200_000;
  private static final int OWNED = 48;

  private record Block(Page head, int order, boolean compound, long stamp) {}

  @Test
  void twoThreadsAllocatingAndFreeingRandomOrdersBalanceTheAccounts() {
    NativeSched sched = new NativeSched();
    PhysMem mem = new PhysMem(sched, 16L << 20, 2, new FramePool(32)); // small: allocations fail too
    AtomicReferenceArray<Block> slots = new AtomicReferenceArray<>(16);
    AtomicLong mismatches = new AtomicLong();
    AtomicLong failures = new AtomicLong();
    AtomicLong handedOver = new AtomicLong();
    Runnable[] bodies = new Runnable[2];
    for (int t = 0; t < 2; t++) {
      int id = t;
      bodies[t] = () -> {
        Rng rng = new Rng(SEED + id);
        List<Block> owned = new ArrayList<>();
        long stamps = (long) id << 48;
        for (int op = 0; op < OPS_PER_THREAD; op++) {
          int what = rng.nextInt(10);
          if (what < 4 && owned.size() < OWNED) {
            int order = rng.nextInt(20) == 0 ? rng.nextInt(PhysMem.MAX_PAGE_ORDER + 1) : rng.nextInt(4);
            boolean comp = rng.nextInt(2) == 0;
            int gfp = Gfp.KERNEL | (comp ? Gfp.COMP : 0) | (rng.nextInt(4) == 0 ? Gfp.ZERO : 0);
            Page p = mem.allocPages(gfp, order, "stress");
            if (p == null) {
              failures.incrementAndGet();
              continue;
            }
            if ((gfp & Gfp.ZERO) != 0 && mem.frames().load64(p.phys() + ((1L << order) - 1) * 4096) != 0) {
              mismatches.incrementAndGet();
            }
            long stamp = ++stamps;
            for (long i = 0; i < (1L << order); i++) {
              mem.frames().store64(p.phys() + i * 4096, stamp);
            }
            owned.add(new Block(p, order, comp, stamp));
          } else if (what < 8 && !owned.isEmpty()) {
            free(mem, owned.remove(rng.nextInt(owned.size())), mismatches);
          } else if (what == 8 && !owned.isEmpty()) {
            Block b = owned.remove(rng.nextInt(owned.size()));
            Block previous = slots.getAndSet(rng.nextInt(slots.length()), b);
            handedOver.incrementAndGet();
            if (previous != null) {
              free(mem, previous, mismatches); // maybe the other thread's block
            }
          } else {
            Block b = slots.getAndSet(rng.nextInt(slots.length()), null);
            if (b != null) {
              free(mem, b, mismatches);
            }
          }
        }
        for (Block b : owned) {
          free(mem, b, mismatches);
        }
      };
    }
    Threads.run(bodies);
    for (int i = 0; i < slots.length(); i++) {
      Block b = slots.getAndSet(i, null);
      if (b != null) {
        free(mem, b, mismatches);
      }
    }
    assertThat(mismatches.get()).as("stamps overwritten or unzeroed frames").isZero();
    assertThat(handedOver.get()).isPositive();
    assertThat(mem.peekNrFreePages()).isEqualTo(mem.totalPages());
    mem.drainAllPages();
    assertThat(mem.peekPcpPages()).isZero();
    assertThat(buddyinfo(mem)).containsExactly(onlyMaxOrder(4));
    assertThat(mem.pgalloc()).isEqualTo(mem.pgfree()).isPositive();
    mem.checkConsistency();
    System.out.printf("NativeStressTest: %d ops, %d pages allocated and freed, %d failed allocations, %d handed over,"
        + " %d descriptors created%n", 2 * OPS_PER_THREAD, mem.pgalloc(), failures.get(), handedOver.get(),
        mem.materializedDescriptors());
    mem.release();
  }

  private static void free(PhysMem mem, Block b, AtomicLong mismatches) {
    for (long i = 0; i < (1L << b.order()); i++) {
      if (mem.frames().load64(b.head().phys() + i * 4096) != b.stamp()) {
        mismatches.incrementAndGet();
      }
    }
    if (b.head().peekRefCount() != 1) {
      mismatches.incrementAndGet();
    }
    if (b.compound()) {
      b.head().folio().folioPut();
    } else {
      mem.freePages(b.head(), b.order());
    }
  }
}
