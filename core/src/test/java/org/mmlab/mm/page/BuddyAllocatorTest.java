package org.mmlab.mm.page;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.BugException;
import org.mmlab.explore.NativeSched;
import org.mmlab.explore.Rng;
import org.mmlab.explore.VerdictKind;
import org.mmlab.sync.Rcu;
import org.mmlab.sync.Spinlock;

/** The buddy allocator (per-CPU lists disabled): boot state, split, merge, exhaustion, nodes, flags, fault injection. */
@Timeout(60)
class BuddyAllocatorTest {
  static final long MIB = 1 << 20;
  static final long PAGES_64M = 64 * MIB / 4096;
  private static final LockClass SOME_LOCK = LockClass.of("test:buddy some spinlock");

  /** A 64 MiB kernel whose per-CPU lists are disabled ({@code zone_pcp_disable}): these tests look at the buddy lists alone. */
  static PhysMem boot64(NativeSched sched) {
    return buddyOnly(new PhysMem(sched, 64 * MIB, 1, new FramePool(8)));
  }

  /** {@code zone_pcp_disable} on every zone of {@code mem}: every free reaches the buddy lists at once. */
  static PhysMem buddyOnly(PhysMem mem) {
    mem.zonePcpDisable();
    return mem;
  }

  static long[] buddyinfo(PhysMem mem) {
    long[] b = new long[PhysMem.MAX_PAGE_ORDER + 1];
    for (int o = 0; o < b.length; o++) {
      b[o] = mem.peekFreeBlocks(o);
    }
    return b;
  }

  static long[] onlyMaxOrder(long blocks) {
    long[] b = new long[PhysMem.MAX_PAGE_ORDER + 1];
    b[PhysMem.MAX_PAGE_ORDER] = blocks;
    return b;
  }

  @Test
  void aFreshSixtyFourMegabyteKernelIsSixteenMaxOrderBlocksAndNothingElse() {
    PhysMem mem = boot64(new NativeSched());
    assertThat(buddyinfo(mem)).containsExactly(onlyMaxOrder(16));
    assertThat(mem.peekNrFreePages()).isEqualTo(PAGES_64M);
    assertThat(mem.totalPages()).isEqualTo(PAGES_64M);
    assertThat(mem.materializedDescriptors()).isZero();
    assertThat(mem.frames().materializedChunks()).isZero();
    assertThat(mem.sections()).hasSize(1);
    assertThat(mem.buddyinfo()).isEqualTo("Node 0, zone Normal 0 0 0 0 0 0 0 0 0 0 16\n");
  }

  @Test
  void anOrderThreeAllocationFromAFreshZoneSplitsOneMaxOrderBlockDownToOrderThree() {
    PhysMem mem = boot64(new NativeSched());
    Page p = mem.allocPages(Gfp.KERNEL, 3);
    assertThat(p).isNotNull();
    assertThat(p.pfn() % 1024).as("the low part of the split block").isZero();
    assertThat(buddyinfo(mem)).containsExactly(0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 15);
    assertThat(mem.peekNrFreePages()).isEqualTo(PAGES_64M - 8);
    assertThat(p.pageRefCount()).isEqualTo(1);
    assertThat(p.pageMapcount()).isZero();
    assertThat(p.peekFlags()).isZero();
    assertThat(mem.materializedDescriptors()).as("a non-compound block: only its head").isEqualTo(1);
    mem.freePages(p, 3);
    assertThat(buddyinfo(mem)).as("merged back").containsExactly(onlyMaxOrder(16));
    assertThat(mem.pgalloc()).isEqualTo(8);
    assertThat(mem.pgfree()).isEqualTo(8);
  }

  @Test
  void buddiesMergeOnlyWhenBothAreFree() {
    PhysMem mem = boot64(new NativeSched());
    Page a = mem.allocPages(Gfp.KERNEL, 0);
    Page b = mem.allocPages(Gfp.KERNEL, 0);
    assertThat(b.pfn()).as("b is a's buddy").isEqualTo(a.pfn() ^ 1);
    assertThat(buddyinfo(mem)).containsExactly(0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 15);
    mem.freePages(a, 0);
    assertThat(buddyinfo(mem)).as("a cannot merge: b is allocated").containsExactly(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 15);
    assertThat(mem.pfnToPage(a.pfn()).peekFlags())
        .isEqualTo(PageFlag.BUDDY.mask()).as("a free block's first page is PageBuddy of order 0");
    mem.freePages(b, 0);
    assertThat(buddyinfo(mem)).containsExactly(onlyMaxOrder(16));
    assertThat(a.pfn() % 1024).as("a was the low end of a split max-order block").isZero();
    assertThat(a.peekFlags()).as("a now starts the merged block")
        .isEqualTo(PageFlag.BUDDY.mask() | (10 << Page.ORDER_SHIFT));
    assertThat(b.peekFlags()).as("b was absorbed").isZero();
  }

  @Test
  void allocatingEveryPageThenFreeingAllGivesBackTheMaxOrderBlocks() {
    PhysMem mem = boot64(new NativeSched());
    List<Page> pages = new ArrayList<>();
    for (Page p; (p = mem.allocPages(Gfp.KERNEL, 0)) != null; ) {
      pages.add(p);
    }
    assertThat(pages).hasSize((int) PAGES_64M);
    assertThat(pages.stream().mapToLong(Page::pfn).distinct().count()).isEqualTo(PAGES_64M);
    assertThat(mem.peekNrFreePages()).isZero();
    assertThat(mem.allocPages(Gfp.NOWAIT, 0)).as("GFP_NOWAIT fails when exhausted").isNull();
    assertThat(mem.allocPages(Gfp.KERNEL, 0)).as("so does GFP_KERNEL: no reclaim").isNull();
    mem.checkConsistency();
    Rng rng = new Rng(7);
    for (int i = pages.size() - 1; i > 0; i--) {
      int j = rng.nextInt(i + 1);
      Page t = pages.get(i);
      pages.set(i, pages.get(j));
      pages.set(j, t);
    }
    for (Page p : pages) {
      mem.freePages(p, 0);
    }
    assertThat(buddyinfo(mem)).containsExactly(onlyMaxOrder(16));
    assertThat(mem.pgalloc()).isEqualTo(mem.pgfree()).isEqualTo(PAGES_64M);
  }

  @Test
  void mixedOrdersFillMemoryExactlyAndMergeBack() {
    PhysMem mem = boot64(new NativeSched());
    Rng rng = new Rng(11);
    List<Page> pages = new ArrayList<>();
    List<Integer> orders = new ArrayList<>();
    long allocated = 0;
    for (int order = PhysMem.MAX_PAGE_ORDER; order >= 0; ) {
      int o = rng.nextInt(order + 1);
      Page p = mem.allocPages(Gfp.KERNEL | (o % 2 == 0 ? Gfp.COMP : 0), o);
      if (p == null) {
        order--; // nothing left at this order or above: fill with smaller blocks
        continue;
      }
      assertThat(p.pfn() % (1L << o)).as("naturally aligned").isZero();
      pages.add(p);
      orders.add(o);
      allocated += 1L << o;
    }
    assertThat(allocated).isEqualTo(PAGES_64M);
    assertThat(mem.allocPages(Gfp.NOWAIT, 0)).isNull();
    mem.checkConsistency();
    for (int i = 0; i < pages.size(); i++) {
      mem.freePages(pages.get(i), orders.get(i));
    }
    assertThat(buddyinfo(mem)).containsExactly(onlyMaxOrder(16));
  }

  @Test
  void aLargeAllocationFailsWhenMemoryIsFragmentedAndSucceedsOnceItMerges() {
    PhysMem mem = buddyOnly(new PhysMem(new NativeSched(), 8 * MIB, 1, new FramePool(8)));
    List<Page> pages = new ArrayList<>();
    for (Page p; (p = mem.allocPages(Gfp.KERNEL, 0)) != null; ) {
      pages.add(p);
    }
    for (int i = 0; i < pages.size(); i += 2) {
      mem.freePages(pages.get(i), 0); // every other page: half the memory free, nothing mergeable
    }
    assertThat(mem.peekNrFreePages()).isEqualTo(pages.size() / 2);
    assertThat(mem.allocPages(Gfp.KERNEL, 1)).isNull();
    mem.freePages(pages.get(1), 0);
    Page two = mem.allocPages(Gfp.KERNEL, 1);
    assertThat(two).isNotNull();
    assertThat(two.pfn()).isEqualTo(pages.getFirst().pfn());
  }

  @Test
  void unevenSizesBootAsMaximalAlignedBlocks() {
    PhysMem mem = buddyOnly(new PhysMem(new NativeSched(), 4 * MIB + 3 * 4096, 1, new FramePool(8)));
    assertThat(buddyinfo(mem)).containsExactly(1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1);
  }

  @Test
  void nodesSplitMemoryAndAllocationsFallBackUnlessThisNode() {
    PhysMem mem = buddyOnly(new PhysMem(new NativeSched(), 64 * MIB, 2, new FramePool(8)));
    assertThat(mem.nodes()).hasSize(2);
    assertThat(mem.node(0).presentPages()).isEqualTo(PAGES_64M / 2);
    assertThat(mem.node(1).normalZone().peekFreeBlocks(PhysMem.MAX_PAGE_ORDER)).isEqualTo(8);
    List<Page> node1 = new ArrayList<>();
    for (Page p; (p = mem.allocPagesNode(1, Gfp.KERNEL | Gfp.THISNODE, PhysMem.MAX_PAGE_ORDER, "test")) != null; ) {
      assertThat(mem.nodeOf(p.pfn()).id()).isEqualTo(1);
      node1.add(p);
    }
    assertThat(node1).hasSize(8);
    Page fallback = mem.allocPagesNode(1, Gfp.KERNEL, 0, "test");
    assertThat(fallback).isNotNull();
    assertThat(mem.zoneOf(fallback).node().id()).isZero();
    for (Page p : node1) {
      mem.freePages(p, PhysMem.MAX_PAGE_ORDER);
    }
    mem.freePages(fallback, 0);
    assertThat(buddyinfo(mem)).containsExactly(onlyMaxOrder(16));
  }

  @Test
  void theFailHookMakesChosenAllocationsFailDeterministically() {
    PhysMem mem = boot64(new NativeSched());
    AtomicInteger calls = new AtomicInteger();
    List<String> seen = new ArrayList<>();
    mem.setFailHook((site, order) -> {
      seen.add(site + "/" + order);
      return site.equals("pte_alloc") || calls.incrementAndGet() % 3 == 0;
    });
    assertThat(mem.allocPages(Gfp.KERNEL, 0, "pte_alloc")).isNull();
    Page a = mem.allocPages(Gfp.KERNEL, 0);
    Page b = mem.allocPages(Gfp.NOWAIT, 2);
    Page c = mem.allocPages(Gfp.KERNEL, 0);
    Folio d = mem.folioAlloc(Gfp.KERNEL, 1);
    assertThat(a).isNotNull();
    assertThat(b).isNotNull();
    assertThat(c).as("every third call fails").isNull();
    assertThat(d).isNotNull();
    assertThat(seen).containsExactly("pte_alloc/0", "alloc_pages/0", "alloc_pages/2", "alloc_pages/0", "folio_alloc/1");
    assertThat(mem.pgalloc()).as("failed allocations take nothing").isEqualTo(1 + 4 + 2);
    mem.setFailHook(FailHook.NEVER);
    mem.freePages(a, 0);
    mem.freePages(b, 2);
    d.folioPut();
    assertThat(buddyinfo(mem)).containsExactly(onlyMaxOrder(16));
  }

  @Test
  void gfpZeroClearsWhatThePreviousOwnerWrote() {
    PhysMem mem = boot64(new NativeSched());
    Page p = mem.allocPages(Gfp.KERNEL, 1);
    mem.frames().fill(p.phys(), 2 * 4096, (byte) 0xAB);
    long pfn = p.pfn();
    mem.freePages(p, 1);
    Page again = mem.allocPages(Gfp.KERNEL, 1);
    assertThat(again.pfn()).as("LIFO: the block just freed").isEqualTo(pfn);
    assertThat(mem.frames().load8(again.phys() + 4096 + 5)).as("without __GFP_ZERO: stale data").isEqualTo(0xAB);
    mem.freePages(again, 1);
    Page zeroed = mem.allocPages(Gfp.KERNEL | Gfp.ZERO, 1);
    assertThat(zeroed.pfn()).isEqualTo(pfn);
    byte[] buf = new byte[2 * 4096];
    mem.frames().loadBytes(zeroed.phys(), buf, 0, buf.length);
    assertThat(buf).containsOnly(0);
    Page fresh = mem.allocPages(Gfp.KERNEL, 0);
    assertThat(mem.frames().load64(fresh.phys())).as("never-written frames read zero").isZero();
    mem.release();
  }

  @Test
  void aCompoundAllocationLinksItsTailsAndFreesAsAWhole() {
    PhysMem mem = boot64(new NativeSched());
    Folio f = mem.folioAlloc(Gfp.KERNEL, 2);
    Page head = f.headPage();
    assertThat(f.folioOrder()).isEqualTo(2);
    assertThat(f.folioNrPages()).isEqualTo(4);
    assertThat(head.isHead()).isTrue();
    for (int i = 1; i < 4; i++) {
      Page t = f.folioPage(i);
      assertThat(t.pfn()).isEqualTo(head.pfn() + i);
      assertThat(t.isTail()).isTrue();
      assertThat(t.folio()).isSameAs(f);
      assertThat(t.pageRefCount()).as("tails have no count of their own").isZero();
      assertThat(t.getPageUnlessZero()).isFalse();
    }
    assertThat(mem.pfnToPage(head.pfn() + 1).folio()).isSameAs(head);
    f.folioPut();
    assertThat(buddyinfo(mem)).containsExactly(onlyMaxOrder(16));
    for (int i = 1; i < 4; i++) {
      assertThat(mem.pfnToPage(head.pfn() + i).isTail()).isFalse();
    }
    assertThat(head.peekFlag(PageFlag.HEAD)).isFalse();
  }

  @Test
  void aBlockingAllocationUnderASpinlockOrInAnRcuReadSectionIsAVerdict() {
    NativeSched sched = new NativeSched();
    PhysMem mem = boot64(sched);
    Spinlock lock = new Spinlock(sched, "some", SOME_LOCK);
    lock.lock();
    Page ok = mem.allocPages(Gfp.NOWAIT, 0);
    assertThat(ok).as("GFP_NOWAIT is fine under a spinlock").isNotNull();
    assertThatThrownBy(() -> mem.allocPages(Gfp.KERNEL, 0)).isInstanceOfSatisfying(BugException.class,
        e -> assertThat(e.verdict().kind()).isEqualTo(VerdictKind.INVARIANT));
    lock.unlock();
    Rcu rcu = new Rcu(sched);
    rcu.readLock();
    assertThatThrownBy(() -> mem.allocPages(Gfp.KERNEL, 0)).isInstanceOfSatisfying(BugException.class,
        e -> assertThat(e.verdict().kind()).isEqualTo(VerdictKind.RCU_MISUSE));
    rcu.readUnlock();
    mem.freePages(ok, 0);
  }

  @Test
  void pfnToPageCreatesDescriptorsLazilyAndRejectsNonRam() {
    PhysMem mem = boot64(new NativeSched());
    Page p = mem.pfnToPage(5000);
    assertThat(p.pfn()).isEqualTo(5000);
    assertThat(mem.pfnToPage(5000)).isSameAs(p);
    assertThat(mem.pageToPfn(p)).isEqualTo(5000);
    assertThat(p.peekFlags()).as("inside a free block, not its first page").isZero();
    assertThat(p.peekRefCount()).isZero();
    assertThat(p.peekMapcount()).isEqualTo(-1);
    assertThat(mem.materializedDescriptors()).isEqualTo(1);
    assertThat(mem.pfnValid(PAGES_64M)).isFalse();
    assertThatThrownBy(() -> mem.pfnToPage(PAGES_64M)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> mem.allocPages(Gfp.KERNEL, 11)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void sectionsAre128MiBWithASmallerLastOne() {
    PhysMem mem = buddyOnly(new PhysMem(new NativeSched(), 300 * MIB, 1, new FramePool(8)));
    assertThat(mem.sections()).hasSize(3);
    assertThat(mem.sections().get(2).startPfn()).isEqualTo(256 * MIB / 4096);
    assertThat(mem.sections().get(2).endPfn()).isEqualTo(300 * MIB / 4096);
    Page last = mem.pfnToPage(300 * MIB / 4096 - 1);
    assertThat(last.owner()).isSameAs(mem.sections().get(2));
  }
}
