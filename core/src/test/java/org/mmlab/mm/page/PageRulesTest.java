package org.mmlab.mm.page;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mmlab.mm.page.BuddyAllocatorTest.boot64;
import static org.mmlab.mm.page.BuddyAllocatorTest.buddyinfo;
import static org.mmlab.mm.page.BuddyAllocatorTest.onlyMaxOrder;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.BugException;
import org.mmlab.explore.NativeSched;
import org.mmlab.explore.VerdictKind;
import org.mmlab.sync.Spinlock;

/** Reference count, mapcount, flag and page-table-role rules of descriptors, and their verdicts. */
@Timeout(30)
class PageRulesTest {
  private static final LockClass PTL = LockClass.of("test:page ptl");

  private static void assertVerdict(Executable op, VerdictKind kind, String headlinePart) {
    assertThatThrownBy(op::execute).isInstanceOfSatisfying(BugException.class, e -> {
      assertThat(e.verdict().kind()).as(e.verdict().headline()).isEqualTo(kind);
      assertThat(e.verdict().headline()).contains(headlinePart);
    });
  }

  @Test
  void aFreshPageHasOneReferenceNoMappingAndNoFlags() {
    PhysMem mem = boot64(new NativeSched());
    Folio f = mem.folioAlloc(Gfp.KERNEL, 0);
    Page p = f.headPage();
    assertThat(f.folioRefCount()).isEqualTo(1);
    assertThat(p.peekMapcount()).as("_mapcount starts at -1").isEqualTo(-1);
    assertThat(f.folioMapcount()).isZero();
    assertThat(f.folioMapped()).isFalse();
    assertThat(p.flags()).isZero();
    assertThat(p.mapping()).isNull();
    assertThat(p.index()).isZero();
    assertThat(p.getPrivate()).isNull();
    f.folioPut();
  }

  @Test
  void theLastPutFreesAndTryGetThenFails() {
    PhysMem mem = boot64(new NativeSched());
    Folio f = mem.folioAlloc(Gfp.KERNEL, 0);
    f.folioGet();
    assertThat(f.folioTryGet()).isTrue();
    f.folioRefAdd(2);
    assertThat(f.folioRefCount()).isEqualTo(5);
    f.folioPutRefs(3);
    f.folioPut();
    assertThat(mem.peekNrFreePages()).isEqualTo(BuddyAllocatorTest.PAGES_64M - 1);
    f.folioPut();
    assertThat(mem.peekNrFreePages()).as("the last put frees").isEqualTo(BuddyAllocatorTest.PAGES_64M);
    assertThat(f.folioTryGet()).as("a speculative get of a freed folio fails").isFalse();
    assertVerdict(f::folioGet, VerdictKind.REFCOUNT_MISUSE, "refcount of 0");
  }

  @Test
  void freeingTwiceIsADoubleFree() {
    PhysMem mem = boot64(new NativeSched());
    Page p = mem.allocPages(Gfp.KERNEL, 0);
    Page buddy = mem.allocPages(Gfp.KERNEL, 0);
    mem.freePages(p, 0);
    assertVerdict(() -> mem.freePages(p, 0), VerdictKind.USE_AFTER_FREE, "double free");
    Folio f = mem.folioAlloc(Gfp.KERNEL, 3);
    f.folioPut();
    assertVerdict(f::folioPut, VerdictKind.USE_AFTER_FREE, "double free");
    assertVerdict(() -> mem.freeFrozenPages(f.headPage(), 3), VerdictKind.USE_AFTER_FREE, "double free");
    mem.freePages(buddy, 0);
    assertThat(buddyinfo(mem)).containsExactly(onlyMaxOrder(16));
  }

  @Test
  void freeingAMappedPageIsABadPageState() {
    PhysMem mem = boot64(new NativeSched());
    Folio f = mem.folioAlloc(Gfp.KERNEL, 0);
    Page p = f.headPage();
    assertThat(p.mapcountInc()).as("first mapping").isTrue();
    assertThat(p.mapcountInc()).isFalse();
    assertThat(f.folioMapcount()).isEqualTo(2);
    assertThat(p.mapcountDec()).isFalse();
    assertVerdict(f::folioPut, VerdictKind.INVARIANT, "freed while mapped");
  }

  @Test
  void unmappingAnUnmappedPageIsAVerdict() {
    PhysMem mem = boot64(new NativeSched());
    Page p = mem.allocPages(Gfp.KERNEL, 0);
    assertThat(p.mapcountInc()).isTrue();
    assertThat(p.mapcountDec()).as("last unmap").isTrue();
    assertVerdict(p::mapcountDec, VerdictKind.INVARIANT, "mapcount underflow");
    mem.freePages(p, 0);
  }

  @Test
  void freeingWithAReferenceStillHeldIsAVerdict() {
    PhysMem mem = boot64(new NativeSched());
    Page p = mem.allocPages(Gfp.KERNEL, 0);
    assertVerdict(() -> mem.freeFrozenPages(p, 0), VerdictKind.REFCOUNT_MISUSE, "nonzero refcount");
    p.folio().folioPut();
  }

  @Test
  void freezingBlocksSpeculativeGetsUntilUnfrozenAndAFrozenFolioCanBeFreed() {
    NativeSched sched = new NativeSched();
    PhysMem mem = boot64(sched);
    Folio f = mem.folioAlloc(Gfp.KERNEL, 0);
    f.folioGet();
    assertThat(f.folioRefFreeze(1)).as("the count is 2").isFalse();
    assertThat(f.folioRefFreeze(2)).isTrue();
    assertThat(f.folioRefFrozen()).isTrue();
    assertThat(f.folioRefCount()).isZero();
    assertThat(f.folioTryGet()).isFalse();
    assertThat(f.headPage().holders()).containsExactly(sched.cpu());
    assertThat(f.frozenRef().holders()).containsExactly(sched.cpu());
    assertVerdict(f::folioGet, VerdictKind.REFCOUNT_MISUSE, "frozen");
    f.folioRefUnfreeze(1);
    assertThat(sched.cpu().heldCount()).isZero();
    assertThat(f.folioTryGet()).isTrue();
    f.folioPut();
    assertVerdict(() -> f.folioRefUnfreeze(1), VerdictKind.REFCOUNT_MISUSE, "not frozen");
    assertThat(f.folioRefFreeze(1)).isTrue();
    mem.freeFrozenPages(f.headPage(), 0);
    assertThat(sched.cpu().heldCount()).as("freeing releases the frozen pseudo-lock").isZero();
    assertThat(buddyinfo(mem)).containsExactly(onlyMaxOrder(16));
  }

  @Test
  void freeingALockedPageOrOneStillInAPageCacheIsABadPageState() {
    PhysMem mem = boot64(new NativeSched());
    Folio locked = mem.folioAlloc(Gfp.KERNEL, 0);
    locked.folioLock();
    assertVerdict(locked::folioPut, VerdictKind.INVARIANT, "locked");
    Folio cached = mem.folioAlloc(Gfp.KERNEL, 0);
    cached.headPage().setMapping("an address_space");
    assertVerdict(cached::folioPut, VerdictKind.INVARIANT, "non-NULL mapping");
    Folio anon = mem.folioAlloc(Gfp.KERNEL, 0);
    anon.headPage().setAnonMapping("an anon_vma");
    assertThat(anon.folioTestAnon()).isTrue();
    anon.folioPut();
    assertThat(anon.headPage().peekFlag(PageFlag.ANON)).isFalse();
    assertThat(anon.headPage().mapping()).as("an anonymous mapping is dropped at free").isNull();
    locked.folioUnlock();
  }

  @Test
  void flagsUptodateAndDirty() {
    PhysMem mem = boot64(new NativeSched());
    Folio f = mem.folioAlloc(Gfp.KERNEL, 0);
    assertThat(f.folioTestUptodate()).isFalse();
    f.folioMarkUptodate();
    assertThat(f.folioTestUptodate()).isTrue();
    assertThat(f.folioTestSetDirty()).isFalse();
    assertThat(f.folioTestSetDirty()).isTrue();
    assertThat(f.folioTestDirty()).isTrue();
    assertThat(f.folioTestClearDirty()).isTrue();
    assertThat(f.folioTestDirty()).isFalse();
    Page p = f.headPage();
    assertThat(p.testAndSetFlag(PageFlag.REFERENCED)).isFalse();
    p.setFlag(PageFlag.ACTIVE);
    assertThat(Page.describeFlags(p.flags())).isEqualTo("referenced|uptodate|active");
    p.clearFlag(PageFlag.ACTIVE);
    f.folioPut();
    assertThat(p.peekFlags()).as("uptodate and referenced do not survive a free")
        .isEqualTo(PageFlag.BUDDY.mask() | (10 << Page.ORDER_SHIFT));
  }

  @Test
  void aFolioAccessorOnATailPageIsAVerdict() {
    PhysMem mem = boot64(new NativeSched());
    Folio f = mem.folioAlloc(Gfp.KERNEL, 1);
    Page tail = f.folioPage(1);
    assertVerdict(tail::folioTryGet, VerdictKind.INVARIANT, "tail page");
    assertVerdict(() -> mem.freePages(tail, 0), VerdictKind.INVARIANT, "tail page");
    tail.getPage();
    assertThat(f.folioRefCount()).as("get_page on a tail takes a folio reference").isEqualTo(2);
    tail.putPage();
    f.folioPut();
  }

  @Test
  void aTablePageCarriesItsLockAndAStaleLockIsAUseAfterFree() {
    NativeSched sched = new NativeSched();
    PhysMem mem = boot64(sched);
    Page table = mem.allocPages(Gfp.KERNEL | Gfp.ZERO, 0);
    PtDesc pt = table.pagetableCtor("pte table", PTL);
    assertThat(table.testFlag(PageFlag.TABLE)).isTrue();
    Spinlock ptl = table.ptlock();
    assertThat(ptl).isSameAs(pt.ptl());
    ptl.lock();
    ptl.unlock();
    assertVerdict(() -> table.folio().folioPut(), VerdictKind.INVARIANT, "table");
    // The put that found the bad state had already dropped the count to zero, as in the kernel.
    table.pagetableDtor();
    assertThat(pt.isFreed()).isTrue();
    assertVerdict(ptl::lock, VerdictKind.USE_AFTER_FREE, "spin_lock");
    mem.freeFrozenPages(table, 0);
    assertVerdict(() -> table.ptlock().lock(), VerdictKind.USE_AFTER_FREE, "pte table");
    Page reused = mem.allocPages(Gfp.KERNEL, 0);
    assertThat(reused).as("LIFO: the same frame").isSameAs(table);
    assertVerdict(reused::ptlock, VerdictKind.INVARIANT, "not a page table");
    PtDesc again = reused.pagetableCtor("pmd table", PTL);
    assertThat(again).isNotSameAs(pt);
    assertThat(reused.ptlock()).isNotSameAs(ptl);
    assertVerdict(() -> reused.pagetableCtor("pmd table", PTL), VerdictKind.INVARIANT, "already");
    reused.pagetableDtor();
    assertVerdict(reused::pagetableDtor, VerdictKind.INVARIANT, "not a page table");
    mem.freePages(reused, 0);
  }

  @Test
  void mappingIndexAndPrivateRoundTrip() {
    PhysMem mem = boot64(new NativeSched());
    Page p = mem.allocPages(Gfp.KERNEL, 0);
    Object as = new Object();
    p.setMapping(as);
    p.setIndex(0x1234_5678_9L);
    p.setPrivate("bh");
    assertThat(p.mapping()).isSameAs(as);
    assertThat(p.isAnon()).isFalse();
    assertThat(p.index()).isEqualTo(0x1234_5678_9L);
    assertThat(p.getPrivate()).isEqualTo("bh");
    p.setMapping(null);
    mem.freePages(p, 0);
    Page q = mem.allocPages(Gfp.KERNEL, 0);
    assertThat(q).isSameAs(p);
    assertThat(q.index()).isZero();
    assertThat(q.getPrivate()).isNull();
    mem.freePages(q, 0);
  }
}
