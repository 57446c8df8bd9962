package org.mmlab.mm.page;

import static org.mmlab.mm.page.Zone.NR_FREE;

import java.util.Arrays;
import java.util.List;
import org.mmlab.explore.BugException;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;

/**
 * A {@link Zone}'s part of the consistency walk of {@code mm.page}, run when no CPU does: the
 * buddy lists and every CPU's lists against the counters, the blocks against each other and
 * the zone, and the descriptors of free and allocated pages against the lists (what the
 * kernel checks piecemeal with {@code CONFIG_DEBUG_VM} and {@code check_free_page}). Static
 * helpers taking the zone; reads without scheduling points.
 *
 * <p>Order: the walk of the lists, the free descriptors of one block, an allocated descriptor,
 * the verdict.
 */
final class ZoneCheck {
  private ZoneCheck() {}

  /**
   * Checks the free lists when no CPU runs: per-order counts add up to {@code NR_FREE_PAGES},
   * each CPU's lists to its {@code pcp->count}; blocks (buddy and per-CPU) are aligned, inside
   * the zone and pairwise disjoint, buddy blocks fully merged; allocated plus free (buddy and
   * per-CPU) equals managed; every existing descriptor of a free page is unreferenced, unmapped,
   * not a tail and carries {@link PageFlag#BUDDY} exactly if it starts a buddy free block.
   */
  static void walk(Zone zone) {
    int n = 0;
    long sum = 0;
    for (int o = 0; o < zone.freeArea.length; o++) {
      n += zone.peekFreeBlocks(o);
      sum += (long) zone.peekFreeBlocks(o) << o;
    }
    long nrFreeNow = (long) NR_FREE.getOpaque(zone);
    if (sum != nrFreeNow) {
      throw walkFailure(zone, "free areas hold " + sum + " pages but NR_FREE_PAGES is " + nrFreeNow);
    }
    List<PerCpuPages> pcpList = ZonePcp.allPcps(zone);
    long onPcp = 0;
    for (PerCpuPages p : pcpList) {
      long pages = 0;
      for (int i = 0; i < p.lists.length; i++) {
        n += p.lists[i].size();
        pages += (long) p.lists[i].size() << PerCpuPages.orderOf(i);
      }
      if (pages != p.count()) {
        throw walkFailure(zone, p + " holds " + pages + " pages on its lists");
      }
      onPcp += pages;
    }
    long allocated = zone.pgalloc.peek() - zone.pgfree.peek();
    if (allocated + nrFreeNow + onPcp != zone.managed) {
      throw walkFailure(zone, "allocated (" + allocated + ") + free (" + nrFreeNow + ") + on per-CPU lists (" + onPcp
          + ") != managed (" + zone.managed + ")");
    }
    long[] blocks = new long[n];
    int k = 0;
    for (int o = 0; o < zone.freeArea.length; o++) {
      for (int t = 0; t < MigrateType.TYPES; t++) {
        FreeArea fa = zone.freeArea[o][t];
        for (int i = 0; i < fa.nrFree(); i++) {
          long pfn = fa.block(i);
          checkPageblockTypes(zone, pfn, o, t);
          blocks[k++] = (pfn << 6) | o;
        }
      }
    }
    for (PerCpuPages p : pcpList) {
      for (int j = 0; j < p.lists.length; j++) {
        PcpList l = p.lists[j];
        for (int i = 0; i < l.size(); i++) {
          blocks[k++] = (l.get(i) << 6) | 32 | PerCpuPages.orderOf(j);
        }
      }
    }
    Arrays.sort(blocks);
    long prevEnd = zone.startPfn;
    for (long b : blocks) {
      long pfn = b >>> 6;
      int o = (int) (b & 31);
      boolean pcp = (b & 32) != 0;
      long size = 1L << o;
      if ((pfn & (size - 1)) != 0 || pfn < zone.startPfn || pfn + size > zone.endPfn) {
        throw walkFailure(zone, "free block 0x" + Long.toHexString(pfn) + " of order " + o + " is misaligned or outside the zone");
      }
      if (pfn < prevEnd) {
        throw walkFailure(zone, "free block 0x" + Long.toHexString(pfn) + " of order " + o + " overlaps the previous one");
      }
      prevEnd = pfn + size;
      if (!pcp && o < PhysMem.MAX_PAGE_ORDER && zone.freeContains(o, pfn ^ size)) {
        throw walkFailure(zone, "free block 0x" + Long.toHexString(pfn) + " and its buddy are both free at order " + o);
      }
      walkFreeDescriptors(zone, pfn, o, pcp);
    }
  }

  /**
   * A buddy free block on the lists of {@code type} lies in pageblocks of that type, all of
   * them (free list hygiene: a block's pageblock type says which list it is on).
   */
  private static void checkPageblockTypes(Zone zone, long pfn, int order, int type) {
    if (pfn < zone.startPfn || pfn + (1L << order) > zone.endPfn) {
      return; // reported below as outside the zone
    }
    for (long p = pfn; p < pfn + (1L << order); p += MigrateType.PAGEBLOCK_PAGES) {
      if (zone.pageblockType(p) != type) {
        throw walkFailure(zone, "free block 0x" + Long.toHexString(pfn) + " of order " + order + " is on the "
            + MigrateType.name(type) + " list but pageblock 0x" + Long.toHexString(p & -MigrateType.PAGEBLOCK_PAGES)
            + " is " + MigrateType.name(zone.pageblockType(p)));
      }
    }
  }

  private static void walkFreeDescriptors(Zone zone, long pfn, int order, boolean pcp) {
    Section s = zone.mem.sectionOf(pfn);
    long size = 1L << order;
    if (s.noneMaterialized(pfn, size)) {
      return;
    }
    for (long p = pfn; p < pfn + size; p++) {
      Page d = s.peek(p);
      if (d == null) {
        continue;
      }
      int f = d.peekFlags();
      int expect = p == pfn && !pcp ? PageFlag.BUDDY.mask() | (order << Page.ORDER_SHIFT) : 0;
      int buddyBits = f & (PageFlag.BUDDY.mask() | Page.ORDER_MASK);
      if (d.peekRefCount() != 0 || d.peekFrozen() || d.peekMapcount() != -1 || d.isTail()
          || (f & PageFlag.CHECK_AT_FREE & ~PageFlag.BUDDY.mask()) != 0 || buddyBits != expect) {
        throw walkFailure(zone, "free page " + d.name() + " (in " + (pcp ? "per-CPU " : "") + "block 0x" + Long.toHexString(pfn)
            + " of order " + order + ") has state " + d.state());
      }
    }
  }

  /** A materialized descriptor outside every free block must not carry {@link PageFlag#BUDDY}. */
  static void walkAllocatedDescriptor(Zone zone, Page d) {
    if (d.peekFlag(PageFlag.BUDDY)) {
      long pfn = d.pfn();
      int o = d.peekOrder();
      if (!zone.freeContains(o, pfn)) {
        throw walkFailure(zone, d.name() + " is marked as a free block of order " + o + " but is not on that free list");
      }
    }
  }

  private static BugException walkFailure(Zone zone, String what) {
    return new BugException(Verdict.of(VerdictKind.INVARIANT, "buddy allocator of zone " + zone.name() + ": " + what,
        List.of("consistency walk of mm.page"), List.of(zone.id())));
  }
}
