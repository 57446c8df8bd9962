package org.mmlab.mm.page;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mmlab.mm.page.BuddyAllocatorTest.MIB;
import static org.mmlab.mm.page.BuddyAllocatorTest.PAGES_64M;
import static org.mmlab.mm.page.BuddyAllocatorTest.boot64;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.mmlab.explore.NativeSched;

/** Migrate types: lists per type, pageblock types, the fallback's claim and steal, frees by pageblock type. */
@Timeout(60)
class MigrateTypeTest {
  private static final long BLOCK = MigrateType.PAGEBLOCK_PAGES;

  private static Zone zone(PhysMem mem) {
    return mem.node(0).normalZone();
  }

  private static long pageblock(long pfn) {
    return pfn & -BLOCK;
  }

  @Test
  void theFirstUnmovableAllocationConvertsAWholeMaxOrderBlockAndUserPagesStayOutOfIt() {
    PhysMem mem = boot64(new NativeSched());
    Zone z = zone(mem);
    Page user = mem.allocPages(Gfp.USER, 0);
    assertThat(z.pageblockType(user.pfn())).isEqualTo(MigrateType.MOVABLE);
    Page table = mem.allocPages(Gfp.KERNEL, 0);
    // No unmovable block at boot: the largest movable one (order 10, two pageblocks) changes type whole.
    assertThat(z.pageblockType(table.pfn())).isEqualTo(MigrateType.UNMOVABLE);
    assertThat(z.pageblockType(table.pfn() ^ BLOCK)).as("the other pageblock of the order-10 block").isEqualTo(MigrateType.UNMOVABLE);
    assertThat(table.pfn() >> PhysMem.MAX_PAGE_ORDER).isNotEqualTo(user.pfn() >> PhysMem.MAX_PAGE_ORDER);
    Page user2 = mem.allocPages(Gfp.USER, 0);
    Page table2 = mem.allocPages(Gfp.KERNEL, 0);
    assertThat(z.pageblockType(user2.pfn())).isEqualTo(MigrateType.MOVABLE);
    assertThat(pageblock(table2.pfn())).as("the next unmovable page from the claimed block").isEqualTo(pageblock(table.pfn()));
    for (Page p : List.of(user, table, user2, table2)) {
      mem.freePages(p, 0);
    }
    assertThat(BuddyAllocatorTest.buddyinfo(mem)).containsExactly(BuddyAllocatorTest.onlyMaxOrder(16));
    assertThat(z.peekFreeBlocks(PhysMem.MAX_PAGE_ORDER, MigrateType.UNMOVABLE)).as("the converted block keeps its type").isEqualTo(1);
    assertThat(z.peekFreeBlocks(PhysMem.MAX_PAGE_ORDER, MigrateType.MOVABLE)).isEqualTo(15);
    mem.checkConsistency();
  }

  /**
   * With every pageblock unmovable, a movable request claims a pageblock whose free pages make
   * half of it (its free blocks move to the movable lists); once that is used up and only
   * scattered single pages are free elsewhere, it steals one without changing its pageblock's
   * type, and the stolen page, freed, goes back to the unmovable lists of its pageblock.
   */
  @Test
  void aMovableRequestClaimsAHalfFreePageblockAndOtherwiseStealsAPageLeavingTheTypeAsItWas() {
    PhysMem mem = boot64(new NativeSched());
    Zone z = zone(mem);
    List<Page> all = new ArrayList<>();
    for (long i = 0; i < PAGES_64M; i++) {
      all.add(mem.allocPages(Gfp.KERNEL, 0));
    }
    assertThat(mem.allocPages(Gfp.KERNEL, 0)).isNull();
    all.sort((a, b) -> Long.compare(a.pfn(), b.pfn()));
    long a = all.get(0).pfn();
    long b = a + BLOCK;
    assertThat(z.pageblockType(a)).isEqualTo(MigrateType.UNMOVABLE);
    // Pageblock a: its first 320 pages free (more than half). Pageblock b: every 8th page free.
    for (long p = a; p < a + 320; p++) {
      mem.freePages(all.get((int) (p - a)), 0);
    }
    for (long p = b; p < b + BLOCK; p += 8) {
      mem.freePages(all.get((int) (p - a)), 0);
    }
    Page claimed = mem.allocPages(Gfp.USER, 0);
    assertThat(pageblock(claimed.pfn())).isEqualTo(a);
    assertThat(z.pageblockType(a)).isEqualTo(MigrateType.MOVABLE);
    assertThat(z.pageblockType(b)).isEqualTo(MigrateType.UNMOVABLE);
    List<Page> users = new ArrayList<>(List.of(claimed));
    for (int i = 1; i < 320; i++) {
      Page p = mem.allocPages(Gfp.USER, 0);
      assertThat(pageblock(p.pfn())).isEqualTo(a);
      users.add(p);
    }
    int unmovableSingles = z.peekFreeBlocks(0, MigrateType.UNMOVABLE);
    assertThat(unmovableSingles).isEqualTo((int) (BLOCK / 8));
    Page stolen = mem.allocPages(Gfp.USER, 0);
    assertThat(pageblock(stolen.pfn())).isEqualTo(b);
    assertThat(z.pageblockType(b)).as("a single page is stolen, the pageblock not claimed").isEqualTo(MigrateType.UNMOVABLE);
    mem.freePages(stolen, 0);
    assertThat(z.peekFreeBlocks(0, MigrateType.UNMOVABLE)).as("freed by its pageblock's type").isEqualTo(unmovableSingles);
    mem.checkConsistency();
    for (Page p : users) {
      mem.freePages(p, 0);
    }
    for (Page p : all) {
      long pfn = p.pfn();
      boolean freedAbove = (pfn >= a && pfn < a + 320) || (pfn >= b && pfn < b + BLOCK && (pfn - b) % 8 == 0);
      if (!freedAbove) {
        mem.freePages(p, 0);
      }
    }
    assertThat(mem.peekNrFreePages()).isEqualTo(PAGES_64M);
    assertThat(BuddyAllocatorTest.buddyinfo(mem)).containsExactly(BuddyAllocatorTest.onlyMaxOrder(16));
    mem.checkConsistency();
  }

  /** Each CPU keeps a list per type: a freed page table is not the next page a user fault gets. */
  @Test
  void aCpuRecyclesUserPagesAndPageTablesOnSeparateLists() {
    PhysMem mem = new PhysMem(new NativeSched(), 64 * MIB, 1, new FramePool(8));
    Page user = mem.allocPages(Gfp.USER, 0);
    Page table = mem.allocPages(Gfp.KERNEL, 0);
    mem.freePages(user, 0);
    mem.freePages(table, 0);
    assertThat(mem.allocPages(Gfp.USER, 0).pfn()).as("the user page, not the table freed after it").isEqualTo(user.pfn());
    assertThat(mem.allocPages(Gfp.KERNEL, 0).pfn()).isEqualTo(table.pfn());
    assertThat(Gfp.describe(Gfp.USER | Gfp.ZERO)).isEqualTo("GFP_HIGHUSER_MOVABLE|__GFP_ZERO");
    assertThat(Gfp.describe(Gfp.NOWAIT | Gfp.MOVABLE)).isEqualTo("GFP_NOWAIT|__GFP_MOVABLE");
  }
}
