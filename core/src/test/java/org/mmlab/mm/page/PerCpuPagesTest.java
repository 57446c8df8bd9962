package org.mmlab.mm.page;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mmlab.mm.page.BuddyAllocatorTest.PAGES_64M;
import static org.mmlab.mm.page.BuddyAllocatorTest.buddyinfo;
import static org.mmlab.mm.page.BuddyAllocatorTest.onlyMaxOrder;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.mmlab.explore.BugException;
import org.mmlab.explore.ExploreResult;
import org.mmlab.explore.Explorer;
import org.mmlab.explore.NativeSched;
import org.mmlab.explore.VerdictKind;
import org.mmlab.kernel.Kernel;
import org.mmlab.kernel.KernelConfig;
import org.mmlab.kernel.Process;
import org.mmlab.lab.Checks;

/**
 * The per-CPU page lists ({@code struct per_cpu_pages}) in front of the buddy allocator:
 * round trips, batches, {@code high}, draining, accounting, and two CPUs under the explorer.
 */
@Timeout(120)
class PerCpuPagesTest {
  private static final long MIB = 1 << 20;

  private static PhysMem boot64() {
    return new PhysMem(new NativeSched(), 64 * MIB, 1, new FramePool(8));
  }

  @Test
  void batchSizesFollowTheKernelsFormula() {
    assertThat(PerCpuPages.zoneBatchsize(PAGES_64M)).isEqualTo(3);
    assertThat(PerCpuPages.zoneBatchsize(1L << 18)).as("1 GiB").isEqualTo(63);
    assertThat(PerCpuPages.zoneBatchsize(772_917)).as("the 3 GiB DMA32 zone of the benchmark machine").isEqualTo(63);
    assertThat(PerCpuPages.zoneBatchsize(256)).as("tiny zones still move one page").isEqualTo(1);
  }

  @Test
  void theFirstAllocationRefillsABatchAndAFreedPageIsTheNextOneHandedOut() {
    PhysMem mem = boot64();
    Page a = mem.allocPages(Gfp.KERNEL, 0);
    assertThat(mem.peekPcpPages()).as("a batch of 3 taken, one handed out").isEqualTo(2);
    assertThat(mem.node(0).normalZone().peekNrFreePages()).as("NR_FREE_PAGES: buddy lists only").isEqualTo(PAGES_64M - 3);
    assertThat(mem.peekNrFreePages()).as("MemFree counts the per-CPU pages").isEqualTo(PAGES_64M - 1);
    Page b = mem.allocPages(Gfp.KERNEL, 0);
    assertThat(b.pfn()).as("rmqueue_bulk keeps pfn order").isEqualTo(a.pfn() + 1);
    mem.freePages(a, 0);
    Page again = mem.allocPages(Gfp.KERNEL, 0);
    assertThat(again.pfn()).as("LIFO: the cache-hot page first").isEqualTo(a.pfn());
    mem.freePages(again, 0);
    mem.freePages(b, 0);
    assertThat(mem.pgalloc()).isEqualTo(3);
    assertThat(mem.pgfree()).isEqualTo(3);
    assertThat(mem.peekNrFreePages()).isEqualTo(PAGES_64M);
    mem.checkConsistency();
    mem.drainAllPages();
    assertThat(mem.peekPcpPages()).isZero();
    assertThat(buddyinfo(mem)).containsExactly(onlyMaxOrder(16));
  }

  /**
   * {@code free_pages_and_swap_cache}: a folio still referenced elsewhere stays; the rest go to
   * this CPU's list in batches of 31, LIFO, each counted once in {@code pgfree}; an order-4
   * folio (beyond the per-CPU orders) goes straight to the buddy lists.
   */
  @Test
  void foliosPutFreesTheUnreferencedInBatchesToThisCpusList() {
    PhysMem mem = boot64();
    List<Folio> folios = new ArrayList<>();
    for (int i = 0; i < 70; i++) {
      folios.add(mem.allocPages(Gfp.KERNEL, 0));
    }
    Page big = mem.allocPages(Gfp.KERNEL | Gfp.COMP, 4);
    folios.add(big);
    Page kept = (Page) folios.get(40);
    kept.folioGet();
    long free0 = mem.peekNrFreePages();
    long pgfree0 = mem.pgfree();
    int onList0 = myPcp(mem).count();
    mem.foliosPut(folios, "test");
    assertThat(kept.peekRefCount()).as("still referenced").isEqualTo(1);
    assertThat(mem.peekNrFreePages()).isEqualTo(free0 + 69 + 16);
    assertThat(mem.pgfree()).isEqualTo(pgfree0 + 69 + 16);
    assertThat(myPcp(mem).count() - onList0)
        .as("order-0 pages went to this CPU's list (some given back in bulk at high), the order-4 one did not")
        .isBetween(1, 69);
    Page next = mem.allocPages(Gfp.KERNEL, 0);
    assertThat(next.pfn()).as("LIFO: the last freed page first").isEqualTo(((Page) folios.get(69)).pfn());
    mem.freePages(next, 0);
    kept.folioPut();
    assertThat(mem.peekNrFreePages()).isEqualTo(free0 + 70 + 16);
    mem.checkConsistency();
  }

  /** The calling thread's lists in the only zone of {@code mem}. */
  private static PerCpuPages myPcp(PhysMem mem) {
    PerCpuPages p = ZonePcp.peekPcp(mem.node(0).normalZone(), mem.sched().cpu());
    assertThat(p).isNotNull();
    return p;
  }

  @Test
  void highStartsAtHighMinAndTheBoundsSplitTheZoneOverItsCpus() {
    PhysMem mem = boot64();
    mem.freePages(mem.allocPages(Gfp.KERNEL, 0), 0);
    PerCpuPages p = myPcp(mem);
    assertThat(p.highMin).as("1/256 of 16,384 pages over one CPU").isEqualTo(64);
    assertThat(p.highMax).as("1/8 of the zone over one CPU").isEqualTo(2048);
    assertThat(p.high).as("raised by the first refill").isEqualTo(64 + 3);
    Thread other = new Thread(() -> mem.freePages(mem.allocPages(Gfp.KERNEL, 0), 0));
    other.start();
    try {
      other.join();
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
    assertThat(p.highMax).as("a second CPU halves every list's share").isEqualTo(1024);
    assertThat(p.highMin).isEqualTo(32);
    mem.checkConsistency();
  }

  @Test
  void refillsDoubleWhileTheCpuOnlyAllocatesAndAFreeHalvesThem() {
    PhysMem mem = boot64();
    Zone z = mem.node(0).normalZone();
    List<Page> pages = new ArrayList<>();
    List<Long> refills = new ArrayList<>();
    long free = z.peekNrFreePages();
    for (int i = 0; i < 3 + 6 + 12 + 24; i++) {
      pages.add(mem.allocPages(Gfp.KERNEL, 0));
      long now = z.peekNrFreePages();
      if (now != free) {
        refills.add(free - now);
        free = now;
      }
    }
    assertThat(refills).as("batch << alloc_factor").containsExactly(3L, 6L, 12L, 24L);
    assertThat(myPcp(mem).allocFactor).isEqualTo(4);
    mem.freePages(pages.removeLast(), 0);
    assertThat(myPcp(mem).allocFactor).as("halved by a free").isEqualTo(2);
    for (Page p : pages) {
      mem.freePages(p, 0);
    }
    mem.checkConsistency();
  }

  @Test
  void aCpuThatReusesTheSamePagesEndsUpKeepingThemAndLeavesTheZoneAlone() {
    PhysMem mem = boot64();
    Zone z = mem.node(0).normalZone();
    int round = 1500; // under high_max (2048), far above high_min (64)
    for (int r = 0; r < 4; r++) {
      List<Page> pages = new ArrayList<>();
      for (int i = 0; i < round; i++) {
        pages.add(mem.allocPages(Gfp.KERNEL, 0));
      }
      for (Page p : pages) {
        mem.freePages(p, 0);
        assertThat(mem.peekPcpPages()).isLessThanOrEqualTo(myPcp(mem).highMax);
      }
    }
    PerCpuPages p = myPcp(mem);
    assertThat(p.high).as("grown to hold a round").isGreaterThanOrEqualTo(round);
    assertThat(mem.peekPcpPages()).as("the round, and what the last refill brought").isGreaterThanOrEqualTo(round);
    long free = z.peekNrFreePages();
    List<Page> again = new ArrayList<>();
    for (int i = 0; i < round; i++) {
      again.add(mem.allocPages(Gfp.KERNEL, 0));
    }
    assertThat(z.peekNrFreePages()).as("a whole round from the CPU's list: the buddy lists untouched").isEqualTo(free);
    for (Page q : again) {
      mem.freePages(q, 0);
    }
    assertThat(z.peekNrFreePages()).as("and back onto it").isEqualTo(free);
    mem.checkConsistency();
  }

  @Test
  void aListAtHighGivesPagesBackAndNeverHoldsMoreThanHighMax() {
    PhysMem mem = boot64();
    List<Page> pages = new ArrayList<>();
    for (int i = 0; i < 3 * 2048; i++) {
      pages.add(mem.allocPages(Gfp.KERNEL, 0));
    }
    PerCpuPages p = myPcp(mem);
    assertThat(p.high).as("refills raised high to high_max").isEqualTo(p.highMax);
    for (Page q : pages) {
      mem.freePages(q, 0);
      assertThat(mem.peekPcpPages()).isLessThan(p.highMax);
    }
    assertThat(mem.peekPcpPages()).isGreaterThanOrEqualTo(p.highMax - (3 << PerCpuPages.PCP_BATCH_SCALE_MAX) - 3);
    mem.checkConsistency();
  }

  @Test
  void theVmstatWorkDecaysHighByAnEighthDownToHighMin() {
    PhysMem mem = boot64();
    List<Page> pages = new ArrayList<>();
    for (int i = 0; i < 1500; i++) {
      pages.add(mem.allocPages(Gfp.KERNEL, 0));
    }
    for (Page q : pages) {
      mem.freePages(q, 0);
    }
    PerCpuPages p = myPcp(mem);
    int high = p.high;
    int count = (int) mem.peekPcpPages();
    assertThat(mem.vmstatUpdate()).isTrue();
    int expect = Math.max(Math.max(count - (3 << 5), high - (high >> 3)), p.highMin);
    assertThat(p.high).isEqualTo(expect);
    assertThat(mem.peekPcpPages()).as("what lay above the new high went back").isLessThanOrEqualTo(expect);
    int calls = 1;
    while (mem.vmstatUpdate()) {
      calls++;
      assertThat(calls).isLessThan(200);
    }
    assertThat(p.high).isEqualTo(p.highMin);
    assertThat(mem.peekPcpPages()).isLessThanOrEqualTo(p.highMin);
    mem.checkConsistency();
  }

  @Test
  void lowOrdersUseTheListsAndCostlyOrdersBypassThem() {
    PhysMem mem = boot64();
    for (int order = 0; order <= PhysMem.MAX_PAGE_ORDER; order++) {
      Folio f = mem.folioAlloc(Gfp.KERNEL, order);
      f.folioPut();
      long cached = mem.peekPcpPages();
      if (order <= PerCpuPages.PCP_MAX_ORDER) {
        assertThat(cached).as("order %d is cached", order).isPositive();
      }
      mem.drainAllPages();
    }
    Page big = mem.allocPages(Gfp.KERNEL, PerCpuPages.PCP_MAX_ORDER + 1);
    mem.freePages(big, PerCpuPages.PCP_MAX_ORDER + 1);
    assertThat(mem.peekPcpPages()).isZero();
    assertThat(buddyinfo(mem)).containsExactly(onlyMaxOrder(16));
  }

  @Test
  void exhaustionDrainsOtherCpusListsBeforeFailing() throws Exception {
    PhysMem mem = new PhysMem(new NativeSched(), 8 * MIB, 1, new FramePool(8));
    Thread other = new Thread(() -> {
      Page p = mem.allocPages(Gfp.KERNEL, 0);
      mem.freePages(p, 0); // leaves a batch on this thread's CPU's list
    });
    other.start();
    other.join();
    long cached = mem.peekPcpPages();
    assertThat(cached).isPositive();
    List<Page> pages = new ArrayList<>();
    for (Page p; (p = mem.allocPages(Gfp.KERNEL, 0)) != null; ) {
      pages.add(p);
    }
    assertThat(pages).as("the other CPU's pages were drained and handed out").hasSize((int) mem.totalPages());
    for (Page p : pages) {
      mem.freePages(p, 0);
    }
    mem.checkConsistency();
  }

  @Test
  void freeingAPageThatSitsOnAPerCpuListIsADoubleFree() {
    PhysMem mem = boot64();
    Page a = mem.allocPages(Gfp.KERNEL, 0);
    mem.freePages(a, 0);
    assertThatThrownBy(() -> mem.freePages(a, 0))
        .isInstanceOf(BugException.class)
        .satisfies(e -> assertThat(((BugException) e).verdict().kind()).isEqualTo(VerdictKind.USE_AFTER_FREE));
  }

  @Test
  void exitGivesEveryFrameBackAndMeminfoIsAsBefore() {
    Kernel k = Kernel.bootNative(KernelConfig.DEFAULT);
    try {
      String before = k.proc().meminfo();
      Process p = k.spawn();
      long addr = p.mmap(0, 64 * 4096, 3, 0x22, -1, 0); // PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS
      for (int i = 0; i < 64; i++) {
        p.write(addr + i * 4096L, new byte[] {1});
      }
      p.exit();
      assertThat(k.mem().peekPcpPages()).as("pages sit on the per-CPU lists").isPositive();
      assertThat(k.proc().meminfo()).isEqualTo(before);
      k.sched().consistencyWalk();
    } finally {
      k.sched().releaseAll();
    }
  }

  @Test
  void twoCpusAllocatingAndFreeingThroughTheirListsLeaveNoVerdict() {
    ExploreResult r = new Explorer(ex -> {
      PhysMem mem = new PhysMem(ex, 8 * MIB, 1, new FramePool(4));
      Page shared = mem.allocPages(Gfp.KERNEL, 0);
      ex.addCpu("cpu0", () -> {
        Page a = mem.allocPages(Gfp.KERNEL, 0);
        Page b = mem.allocPages(Gfp.KERNEL, 1);
        mem.freePages(a, 0);
        mem.freePages(shared, 0); // allocated on the set-up CPU, freed to cpu0's list
        mem.freePages(b, 1);
      });
      ex.addCpu("cpu1", () -> {
        Page c = mem.allocPages(Gfp.KERNEL, 0);
        mem.drainAllPages(); // a remote drain racing cpu0's trylocks
        Page d = mem.allocPages(Gfp.KERNEL, 0);
        mem.freePages(c, 0);
        mem.freePages(d, 0);
      });
      return () -> {
        Checks.equal("free pages", mem.totalPages(), mem.peekNrFreePages());
        Checks.equal("pgalloc - pgfree", 0L, mem.pgalloc() - mem.pgfree());
        mem.drainAllPages();
        Checks.equal("max-order blocks", mem.totalPages() >> PhysMem.MAX_PAGE_ORDER, mem.peekFreeBlocks(PhysMem.MAX_PAGE_ORDER));
        mem.release();
      };
    }, Explorer.Config.defaults().withExecutions(2_000).withMaxSteps(5_000)
        .withTimeLimit(java.time.Duration.ofMinutes(10))).explore(null);
    assertThat(r.verdictId()).as(String.valueOf(r.verdict())).isEqualTo("none");
    assertThat(r.executions()).isEqualTo(2_000);
  }
}
