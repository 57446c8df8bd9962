package org.mmlab.mm.memory;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.mmlab.explore.BugException;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;
import org.mmlab.mm.page.Page;
import org.mmlab.mm.page.PageFlag;
import org.mmlab.mm.page.PhysMem;
import org.mmlab.mm.pgtable.Entry;
import org.mmlab.mm.pgtable.Level;
import org.mmlab.mm.pgtable.PageTables;
import org.mmlab.mm.pgtable.PageTables.Slot;
import org.mmlab.mm.vma.MmStruct;
import org.mmlab.mm.vma.Vma;
import org.mmlab.mm.vma.Snapshot;
import org.mmlab.mm.vma.VmaTree;

/**
 * The consistency walk of address spaces ({@code CONFIG_DEBUG_VM}'s checks, done wholesale):
 * run where no CPU is running, it reads everything without scheduling points and raises an
 * invariant verdict on the first mismatch.
 *
 * <ul>
 *   <li>the page tables are well formed and their count is accounted ({@link PageTables#check});</li>
 *   <li>every present PTE lies inside a VMA and, unless special (the zero page), maps a page in
 *       use: not free in the allocator, anonymous, with a reference;</li>
 *   <li>for every page, the mapcount is the number of PTEs mapping it, over all the mms walked
 *       (a page mapped by no PTE has mapcount −1);</li>
 *   <li>each mm's {@code MM_ANONPAGES} equals its count of anonymous PTEs;</li>
 *   <li>VMAs are attached, ordered, and not freed.</li>
 * </ul>
 */
public final class MmWalk {
  private MmWalk() {}

  /** Walks {@code mms}, which must be every mm mapping pages of {@code mem}. */
  public static void check(PhysMem mem, List<MmStruct> mms) {
    Map<Long, Integer> maps = new TreeMap<>();
    for (MmStruct mm : mms) {
      checkMm(mem, mm, maps);
    }
    for (Map.Entry<Long, Integer> e : maps.entrySet()) {
      Page p = mem.peekPage(e.getKey());
      int mapcount = p == null ? -1 : p.peekMapcount();
      if (mapcount + 1 != e.getValue()) {
        throw fail("pfn 0x" + Long.toHexString(e.getKey()) + " is mapped by " + e.getValue() + " PTE(s) but its mapcount is "
            + mapcount + " (the count starts at -1)");
      }
    }
  }

  private static void checkMm(PhysMem mem, MmStruct mm, Map<Long, Integer> maps) {
    PageTables pt = mm.pageTables();
    pt.check();
    Snapshot<Vma> vmas = mm.tree().peek();
    long[] counts = new long[2];
    long prevEnd = 0;
    for (VmaTree.Entry<Vma> v : vmas.ranges(0, Long.MAX_VALUE)) {
      Vma vma = v.value();
      if (vma.isFreed() || vma.peekDetached() || vma.peekStart() != v.start() || vma.peekEnd() != v.end()
          || v.start() < prevEnd) {
        throw fail(mm.objectName() + ": VMA " + vma + " in the tree at [0x" + Long.toHexString(v.start()) + ", 0x"
            + Long.toHexString(v.end()) + ") is freed, detached, out of order or disagrees with its fields");
      }
      prevEnd = v.end();
    }
    for (int i = 0; i < Level.ENTRIES; i++) {
      walk(mem, mm, pt, new Slot(pt.pgd(), i, Level.PGD), (long) i << Level.PGD.shift(), vmas, maps, counts);
    }
    if (counts[0] != mm.anonRss()) {
      throw fail(mm.objectName() + ": MM_ANONPAGES is " + mm.anonRss() + " but " + counts[0] + " anonymous PTEs are present");
    }
    if (counts[1] != mm.shmemRss()) {
      throw fail(mm.objectName() + ": MM_SHMEMPAGES is " + mm.shmemRss() + " but " + counts[1] + " shmem PTEs are present");
    }
  }

  private static void walk(PhysMem mem, MmStruct mm, PageTables pt, Slot s, long base, Snapshot<Vma> vmas,
      Map<Long, Integer> maps, long[] counts) {
    long e = pt.peek(s);
    if (!Entry.isPresent(e)) {
      if (!Entry.isNone(e) && s.level() == Level.PTE) {
        throw fail(mm.objectName() + ": unexpected non-present PTE " + Entry.describe(e) + " at 0x" + Long.toHexString(base));
      }
      return;
    }
    if (s.level() != Level.PTE && !Entry.isHuge(e)) {
      Slot first = pt.lower(s, e, base);
      for (int i = 0; i < Level.ENTRIES; i++) {
        Level l = first.level();
        walk(mem, mm, pt, new Slot(first.table(), i, l), base + ((long) i << l.shift()), vmas, maps, counts);
      }
      return;
    }
    VmaTree.Entry<Vma> in = vmas.lookup(base);
    if (in == null) {
      throw fail(mm.objectName() + ": PTE " + Entry.describe(e) + " at 0x" + Long.toHexString(base) + " lies in no VMA");
    }
    if (Entry.isSpecial(e)) {
      return;
    }
    Page p = mem.peekPage(Entry.pfn(e));
    if (p == null || p.peekFlag(PageFlag.BUDDY) || p.peekRefCount() <= 0) {
      throw fail(mm.objectName() + ": PTE at 0x" + Long.toHexString(base) + " maps pfn 0x" + Long.toHexString(Entry.pfn(e))
          + ", which is free");
    }
    maps.merge(p.pfn(), 1, Integer::sum);
    if (p.isAnon()) {
      counts[0]++;
      return;
    }
    Vma vma = in.value();
    if (vma.file() == null || p.peekMapping() != vma.file().mapping()) {
      throw fail(mm.objectName() + ": PTE at 0x" + Long.toHexString(base) + " maps page-cache pfn 0x"
          + Long.toHexString(p.pfn()) + " of " + p.peekMapping() + ", not of the VMA's file " + vma.file());
    }
    long pgoff = vma.peekPgoff() + ((base - vma.peekStart()) >>> 12);
    if (p.peekIndex() != pgoff) {
      throw fail(mm.objectName() + ": PTE at 0x" + Long.toHexString(base) + " maps file page " + p.peekIndex()
          + " where the VMA maps page " + pgoff);
    }
    counts[1]++;
  }

  private static BugException fail(String what) {
    return new BugException(Verdict.of(VerdictKind.INVARIANT, what, List.of("mm consistency walk"), List.of()));
  }
}
