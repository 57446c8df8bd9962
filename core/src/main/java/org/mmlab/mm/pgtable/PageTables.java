package org.mmlab.mm.pgtable;

import java.util.List;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.Sched;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;
import org.mmlab.mm.page.Frames;
import org.mmlab.mm.page.Gfp;
import org.mmlab.mm.page.Page;
import org.mmlab.mm.page.PhysMem;
import org.mmlab.mm.page.PtDesc;
import org.mmlab.sync.Atomic;
import org.mmlab.sync.Spinlock;

/**
 * One address space's page tables: the PGD and the tables below it, stored in simulated frames.
 *
 * <h2>Overview</h2>
 * A {@link Slot} is what the kernel's {@code pud_t *} is: a table and an index. Loading or
 * storing an entry is a scheduling point on the table's {@code TableEntries}, which belongs to
 * that use of the page as a table; so a fault that stores into a table that munmap has freed is
 * a use-after-free naming where the table was made and freed.
 *
 * <p>Order: entries (loads, stores, the walk), allocation, locks, freeing, then the checks.
 *
 * <h2>Locking (x86-64: split PTE and PMD locks)</h2>
 * <pre>
 * mmap_lock (or the VMA lock)        held by every caller that installs entries
 *   mm-&gt;page_table_lock            populating PGD and PUD entries (__pud_alloc, __pmd_alloc)
 *   split PMD lock (pmd table)       populating PMD entries with PTE tables (__pte_alloc), huge PMDs
 *   split PTE lock (pte table)       PTE entries (pte_offset_map_lock)
 * </pre>
 * Clearing upper-level entries and freeing tables ({@link #freePgtables}) takes no table lock:
 * the kernel relies on the mmap lock held for write and on the VMAs being detached, so that no
 * fault can be walking there. A fault that allocates tables without those (the RCU-only design
 * of seed 001) races it; nothing here prevents that, which is the point.
 *
 * <h2>Accounting</h2>
 * {@code nrTables} counts every table page of this mm, the PGD included ({@code mm->pgtables_bytes}
 * divided by the page size); {@code /proc/meminfo}'s PageTables sums it.
 *
 * <p>Simplified, and said so: the hardware accessed and dirty bits are not set by the MMU walker;
 * the fault path sets them when it installs an entry, as on architectures without hardware A/D
 * updates. So every entry store happens under a lock or with the tables unreachable, and native
 * walkers read entries with plain 8-byte loads.
 */
public final class PageTables {
  /** {@code mm->page_table_lock}. */
  public static final LockClass PAGE_TABLE_LOCK = LockClass.of("mm->page_table_lock");
  /** The split PMD lock ({@code pmd_lockptr}), of a PMD table. */
  public static final LockClass PMD_LOCK = LockClass.of("pmd ptlock");
  /** The split PTE lock ({@code pte_lockptr}), of a PTE table. */
  public static final LockClass PTE_LOCK = LockClass.of("pte ptlock");
  /** The PGD and PUD tables have a descriptor lock that is never taken (x86-64 uses page_table_lock). */
  public static final LockClass UPPER_UNUSED = LockClass.of("upper table ptlock (unused)");

  /** A pointer to one entry: {@code pgd_t *}, {@code pud_t *}, {@code pmd_t *}, {@code pte_t *}. */
  public record Slot(PtDesc table, int index, Level level) {
    /** The slot of {@code addr}'s entry in {@code table}, a table of {@code level}. */
    public static Slot of(PtDesc table, Level level, long addr) {
      return new Slot(table, level.index(addr), level);
    }

    /** For reports: {@code "pmd table pfn 0x1a3[5]"}. */
    @Override
    public String toString() {
      return table.kind() + " " + table.objectName() + "[" + index + "]";
    }
  }

  private final Sched sched;
  private final PhysMem mem;
  private final Frames frames;
  private final Spinlock pageTableLock;
  private final PtDesc pgd;
  private final Atomic nrTables;

  private PageTables(Sched sched, PhysMem mem, PtDesc pgd, Spinlock lock, Atomic nrTables) {
    this.sched = sched;
    this.mem = mem;
    this.frames = mem.frames();
    this.pgd = pgd;
    this.pageTableLock = lock;
    this.nrTables = nrTables;
  }

  /** {@code pgd_alloc}: a new, empty set of tables, or null if no page could be had (ENOMEM). */
  public static @Nullable PageTables create(Sched sched, PhysMem mem, String mmName) {
    Page page = mem.allocPages(Gfp.KERNEL | Gfp.ZERO, 0, "pgd_alloc");
    if (page == null) {
      return null;
    }
    PtDesc pgd = page.pagetableCtor(tableKind(Level.PGD), UPPER_UNUSED);
    Spinlock lock = new Spinlock(sched, mmName + "->page_table_lock", PAGE_TABLE_LOCK);
    return new PageTables(sched, mem, pgd, lock, new Atomic(sched, mmName + "->nr_pgtables", 1));
  }

  static String tableKind(Level level) {
    return level.name().toLowerCase(java.util.Locale.ROOT) + " table";
  }

  private static LockClass lockClass(Level level) {
    return switch (level) {
      case PMD -> PMD_LOCK;
      case PTE -> PTE_LOCK;
      default -> UPPER_UNUSED;
    };
  }

  public PhysMem mem() {
    return mem;
  }

  public PtDesc pgd() {
    return pgd;
  }

  /** {@code mm->page_table_lock}. */
  public Spinlock pageTableLock() {
    return pageTableLock;
  }

  /** Table pages of this mm, the PGD included. A point (it is a shared counter). */
  public long nrTables() {
    return nrTables.read();
  }

  /** The same, without a scheduling point: for end checks and {@code /proc}. */
  public long peekNrTables() {
    return nrTables.peek();
  }

  // ------------------------------------------------------------ entries

  private static String getName(Level l) {
    return switch (l) {
      case PGD -> "pgdp_get";
      case PUD -> "pudp_get";
      case PMD -> "pmdp_get";
      case PTE -> "ptep_get";
    };
  }

  /** {@code READ_ONCE(*slot)}: loads an entry (a scheduling point on the table). */
  public long load(Slot s) {
    return load(s.table(), s.index(), s.level());
  }

  /**
   * {@link #load(Slot)} of entry {@code index} of {@code table}, a table of {@code level}: the
   * same point and checks without a {@link Slot}, for the paths that run per fault or per entry
   * (the fault path and zap allocate nothing).
   */
  public long load(PtDesc table, int index, Level level) {
    String what = getName(level);
    sched.point(OpKind.READ, table.entries(), what);
    checkLinked(table, what);
    return table.loadEntry(frames, index);
  }

  /**
   * A load by the hardware walker: like {@link #load}, but a table that was unlinked and waits
   * for the TLB flush before it is freed may still be walked (that is what the flush waits
   * for); only a freed one is a use-after-free.
   */
  public long hwLoad(Slot s) {
    return hwLoad(s.table(), s.index());
  }

  /**
   * {@link #hwLoad(Slot)} of entry {@code index} of {@code table}: the same point and load,
   * without a {@link Slot} (the MMU walks on every TLB miss and allocates nothing).
   */
  public long hwLoad(PtDesc table, int index) {
    sched.point(OpKind.READ, table.entries(), "hardware walk");
    return table.loadEntry(frames, index);
  }

  /** Stores an entry ({@code set_pte_at}, {@code pmd_populate}, {@code pud_clear}...). */
  public void store(Slot s, long value, String what) {
    store(s.table(), s.index(), value, what);
  }

  /** {@link #store(Slot, long, String)} of entry {@code index} of {@code table}, without a {@link Slot}. */
  public void store(PtDesc table, int index, long value, String what) {
    sched.point(OpKind.WRITE, table.entries(), what);
    checkLinked(table, what);
    table.storeEntry(frames, index, value);
  }

  /**
   * Software may not touch a table after {@code free_pgtables} unlinked it for freeing: it is
   * garbage from that moment, freed as soon as the TLB flush allows. A load or store then is a
   * use-after-free, reported with where the table was made and where it was unlinked.
   */
  private void checkLinked(PtDesc t, String what) {
    org.mmlab.debug.Site unlinked = t.unlinkedAt();
    if (unlinked != null && !t.isFreed()) {
      throw sched.bug(Verdict.of(VerdictKind.USE_AFTER_FREE,
          what + " on " + t.kind() + " " + t.objectName() + ", unlinked to be freed",
          List.of("allocated: " + t.allocSite(), "freed:     " + unlinked
              + " (unlinked by free_pgtables; the page goes back after the TLB flush)",
              "used:      " + sched.site() + " (" + what + ")"),
          List.of(t.entries().id())));
    }
  }

  /**
   * {@code ptep_get_and_clear} and friends: loads and clears in one step. The caller holds the
   * table's lock, or the tables are unreachable; see the class notes on A/D bits.
   */
  public long getAndClear(Slot s, String what) {
    return getAndClear(s.table(), s.index(), what);
  }

  /** {@link #getAndClear(Slot, String)} of entry {@code index} of {@code table}, without a {@link Slot}. */
  public long getAndClear(PtDesc table, int index, String what) {
    sched.point(OpKind.RMW, table.entries(), what);
    checkLinked(table, what);
    long old = table.loadEntry(frames, index);
    table.storeEntry(frames, index, 0);
    return old;
  }

  /** Reads an entry without a scheduling point: consistency walks and {@code /proc} only. */
  public long peek(Slot s) {
    return s.table().loadEntry(frames, s.index());
  }

  /** {@code pgd_offset}. */
  public Slot pgdOffset(long addr) {
    return new Slot(pgd, Level.PGD.index(addr), Level.PGD);
  }

  /**
   * {@code pud_offset}/{@code pmd_offset}/{@code pte_offset}: the slot for {@code addr} in the
   * table that the present, non-huge {@code entry} (loaded from {@code upper}) points to. Pure
   * address arithmetic in the kernel, so no scheduling point: but the table found may have been
   * freed since the entry was loaded, and then the next load or store through it is reported.
   */
  public Slot lower(Slot upper, long entry, long addr) {
    Level level = upper.level().lower();
    return new Slot(lowerTable(upper.table(), upper.index(), upper.level(), entry), level.index(addr), level);
  }

  /**
   * The table that the present, non-huge {@code entry}, loaded from entry {@code index} of
   * {@code upper} (a table of {@code level}), points to: {@link #lower} without the {@link Slot}
   * ({@code pud_pgtable}, {@code pmd_page_vaddr}). No scheduling point, as there.
   */
  public PtDesc lowerTable(PtDesc upper, int index, Level level, long entry) {
    PtDesc.Child c = upper.lastChild();
    if (c != null && c.entry() == entry && c.index() == index && !c.table().isFreed()) {
      return c.table();
    }
    PtDesc t = lookUpLowerTable(upper, index, level, entry);
    upper.rememberChild(new PtDesc.Child(index, entry, t));
    return t;
  }

  /** {@link #lowerTable}'s lookup: the descriptor of the page {@code entry} points to, which must be a table. */
  private PtDesc lookUpLowerTable(PtDesc upper, int index, Level level, long entry) {
    long pfn = Entry.pfn(entry);
    Page page = mem.pfnValid(pfn) ? mem.peekPage(pfn) : null;
    PtDesc t = page == null ? null : page.peekPtDesc();
    if (t == null) {
      throw sched.bug(Verdict.of(VerdictKind.INVARIANT,
          new Slot(upper, index, level) + " holds " + Entry.describe(entry) + ", which is not a page table",
          List.of("a table entry points at a frame that never was a table: corrupted page tables"), List.of()));
    }
    return t;
  }

  /**
   * A software walk from the PGD down to {@code level} for {@code addr}: the slot there, or null
   * if an entry on the way is none, not present or a huge leaf. Loads each entry on the way (a
   * point each); the caller holds what makes the tables stable (mmap or VMA lock).
   */
  public @Nullable Slot walk(long addr, Level level) {
    Slot s = pgdOffset(addr);
    while (s.level() != level) {
      long e = load(s);
      if (!Entry.isPresent(e) || Entry.isHuge(e)) {
        return null;
      }
      s = lower(s, e, addr);
    }
    return s;
  }

  // ------------------------------------------------------------ allocation

  /** A zeroed page made a table of {@code level}, or null (ENOMEM). */
  private @Nullable PtDesc allocTable(Level level, int gfp) {
    // GFP_PGTABLE_USER: unmovable, whatever the faulting caller passes (its reclaim bits count)
    Page page = mem.allocPages((gfp & ~Gfp.MOVABLE) | Gfp.ZERO, 0, tableKind(level) + " alloc");
    if (page == null) {
      return null;
    }
    return page.pagetableCtor(tableKind(level), lockClass(level));
  }

  /** {@code pud_free}/{@code pmd_free}/{@code pte_free} of a table never published. */
  private void freeUnused(PtDesc t) {
    Page page = t.page();
    page.pagetableDtor();
    mem.freePages(page, 0);
  }

  /**
   * Frees a table that has been unlinked and flushed from every TLB: {@code pagetable_dtor},
   * then the page goes back to the allocator. Called by {@link MmuGather}.
   */
  void freeTable(PtDesc t) {
    freeUnused(t);
    nrTables.addAndGet(-1);
  }

  /**
   * Makes sure the entry {@code upper} points to a table: if it is none, allocates one and
   * publishes it under {@code lock} unless another CPU did first (then frees the new one), as
   * {@code __pud_alloc}, {@code __pmd_alloc} and {@code __pte_alloc} do. Returns false on ENOMEM.
   */
  private boolean populate(PtDesc upper, int index, Level level, Spinlock lock, String what, int gfp) {
    if (!Entry.isNone(load(upper, index, level))) {
      return true;
    }
    PtDesc fresh = allocTable(level.lower(), gfp);
    if (fresh == null) {
      return false;
    }
    lock.lock();
    boolean mine = Entry.isNone(load(upper, index, level));
    if (mine) {
      nrTables.addAndGet(1);
      store(upper, index, Entry.table(fresh.page().pfn()), what);
    }
    lock.unlock();
    if (!mine) {
      freeUnused(fresh);
    }
    return true;
  }

  /** {@code pud_alloc}: the PUD slot for {@code addr}, allocating the PUD table; null on ENOMEM. */
  public @Nullable Slot pudAlloc(long addr) {
    return pudAlloc(addr, Gfp.KERNEL);
  }

  /** {@link #pudAlloc(long)} with the allocation flags of the caller (GFP_NOWAIT under RCU). */
  public @Nullable Slot pudAlloc(long addr, int gfp) {
    return slot(pudTableAlloc(addr, gfp), Level.PUD, addr);
  }

  /** {@code pmd_alloc}: the PMD slot for {@code addr} below {@code pud}; null on ENOMEM. */
  public @Nullable Slot pmdAlloc(Slot pud, long addr) {
    return pmdAlloc(pud, addr, Gfp.KERNEL);
  }

  /** {@link #pmdAlloc(Slot, long)} with the caller's allocation flags. */
  public @Nullable Slot pmdAlloc(Slot pud, long addr, int gfp) {
    return slot(pmdTableAlloc(pud.table(), addr, gfp), Level.PMD, addr);
  }

  /**
   * {@code pte_alloc}: the PTE slot for {@code addr} below {@code pmd}, allocating the PTE table
   * under the split PMD lock; null on ENOMEM or if the PMD is a huge leaf (the caller handles it).
   */
  public @Nullable Slot pteAlloc(Slot pmd, long addr) {
    return pteAlloc(pmd, addr, Gfp.KERNEL);
  }

  /** {@link #pteAlloc(Slot, long)} with the caller's allocation flags. */
  public @Nullable Slot pteAlloc(Slot pmd, long addr, int gfp) {
    return slot(pteTableAlloc(pmd.table(), addr, gfp), Level.PTE, addr);
  }

  private static @Nullable Slot slot(@Nullable PtDesc table, Level level, long addr) {
    return table == null ? null : Slot.of(table, level, addr);
  }

  /*
   * The same three without a Slot: each returns the table that holds addr's entry one level
   * down (the entry's index there is that level's index of addr). The fault path calls these
   * once per fault, and allocates nothing on the way.
   */

  /** {@link #pudAlloc(long, int)}: the PUD table for {@code addr}, populated if needed; null on ENOMEM. */
  public @Nullable PtDesc pudTableAlloc(long addr, int gfp) {
    int i = Level.PGD.index(addr);
    if (!populate(pgd, i, Level.PGD, pageTableLock, "pgd_populate", gfp)) {
      return null;
    }
    return lowerTable(pgd, i, Level.PGD, load(pgd, i, Level.PGD));
  }

  /** {@link #pmdAlloc(Slot, long, int)}: the PMD table for {@code addr} below the PUD table {@code pud}; null on ENOMEM. */
  public @Nullable PtDesc pmdTableAlloc(PtDesc pud, long addr, int gfp) {
    int i = Level.PUD.index(addr);
    if (!populate(pud, i, Level.PUD, pageTableLock, "pud_populate", gfp)) {
      return null;
    }
    long e = load(pud, i, Level.PUD);
    if (Entry.isHuge(e)) {
      throw sched.bug(Verdict.of(VerdictKind.INVARIANT, "pmd_alloc under a huge PUD at " + new Slot(pud, i, Level.PUD),
          List.of(), List.of()));
    }
    return lowerTable(pud, i, Level.PUD, e);
  }

  /**
   * {@link #pteAlloc(Slot, long, int)}: the PTE table for {@code addr} below the PMD table
   * {@code pmd}, populated under its split lock; null on ENOMEM or under a huge PMD.
   */
  public @Nullable PtDesc pteTableAlloc(PtDesc pmd, long addr, int gfp) {
    int i = Level.PMD.index(addr);
    if (!populate(pmd, i, Level.PMD, pmd.ptl(), "pmd_populate", gfp)) {
      return null;
    }
    long e = load(pmd, i, Level.PMD);
    if (Entry.isHuge(e)) {
      return null;
    }
    return lowerTable(pmd, i, Level.PMD, e);
  }

  /** The slot for {@code addr} at PTE level, allocating every table on the way; null on ENOMEM. */
  public @Nullable Slot allocToPte(long addr) {
    Slot pud = pudAlloc(addr);
    Slot pmd = pud == null ? null : pmdAlloc(pud, addr);
    return pmd == null ? null : pteAlloc(pmd, addr);
  }

  // ------------------------------------------------------------ locks

  /** {@code pmd_lockptr}: the split lock of the PMD table that holds {@code pmd}. */
  public Spinlock pmdLockptr(Slot pmd) {
    return switch (pmd.level()) {
      case PMD -> pmd.table().ptl();
      case PGD, PUD -> pageTableLock;
      case PTE -> throw new IllegalArgumentException("pmd_lockptr of a PTE slot");
    };
  }

  /**
   * {@code pte_lockptr}: the split lock of the PTE table {@code pmdEntry} (loaded from a PMD slot)
   * points to.
   */
  public Spinlock pteLockptr(Slot pmd, long pmdEntry) {
    return lowerTable(pmd.table(), pmd.index(), pmd.level(), pmdEntry).ptl();
  }

  /** {@link #pteLockptr(Slot, long)} for entry {@code index} of the PMD table {@code pmd}. */
  public Spinlock pteLockptr(PtDesc pmd, int index, long pmdEntry) {
    return lowerTable(pmd, index, Level.PMD, pmdEntry).ptl();
  }

  // ------------------------------------------------------------ freeing

  /**
   * {@code free_pgtables}/{@code free_pgd_range}: frees the tables that map only [addr, end),
   * never one that also maps below {@code floor} or at or above {@code ceiling} (the neighbouring
   * VMAs' ranges; 0 for ceiling means the top of the address space). Upper entries are cleared
   * and the tables handed to {@code tlb}, which frees them after the TLB flush. The caller holds
   * the mmap lock for write with the VMAs of the range detached, so no fault can be walking there.
   *
   * <p>How the bounds work, as in the kernel: a table at some level may be freed only if the span
   * of its parent's entry lies wholly within [floor, ceiling); the range is first widened to PMD
   * boundaries, and at each level the start is aligned down to that level's span and checked
   * against floor and ceiling before the table is unlinked.
   */
  public void freePgtables(MmuGather tlb, long addr, long end, long floor, long ceiling) {
    long start = addr & -Level.PMD.span();
    if (start < floor) {
      start += Level.PMD.span();
      if (start == 0) {
        return;
      }
    }
    long top = end;
    if (ceiling != 0) {
      ceiling &= -Level.PMD.span();
      if (ceiling == 0) {
        return;
      }
    }
    if (Long.compareUnsigned(top - 1, ceiling - 1) > 0) {
      top -= Level.PMD.span();
    }
    if (Long.compareUnsigned(start, top - 1) > 0) {
      return;
    }
    long a = start;
    do {
      long next = clampNext(Level.PGD, a, top);
      Slot pgdSlot = pgdOffset(a);
      long e = load(pgdSlot);
      if (Entry.isPresent(e)) {
        freeLowerRange(tlb, pgdSlot, e, a, next, floor, ceiling);
      }
      a = next;
    } while (a != top);
  }

  /** {@code pgd_addr_end} and friends: the next boundary of {@code level} after addr, or end. */
  private static long clampNext(Level level, long addr, long end) {
    long boundary = level.next(addr);
    return Long.compareUnsigned(boundary - 1, end - 1) < 0 ? boundary : end;
  }

  /**
   * Frees what lies below the entry {@code upper} (present, pointing to a table) for
   * [addr, end), then the table itself if the bounds allow: {@code free_pud_range},
   * {@code free_pmd_range}, {@code free_pte_range}.
   */
  private void freeLowerRange(MmuGather tlb, Slot upper, long entry, long addr, long end, long floor, long ceiling) {
    Slot first = lower(upper, entry, addr);
    Level level = first.level();
    if (level != Level.PTE) {
      long a = addr;
      do {
        long next = clampNext(level, a, end);
        Slot s = lower(upper, entry, a);
        long e = load(s);
        if (Entry.isPresent(e) && !Entry.isHuge(e)) {
          freeLowerRange(tlb, s, e, a, next, floor, ceiling);
        }
        a = next;
      } while (a != end);
    }
    // The table below `upper` covers upper.level()'s span; free it only if that span lies in bounds.
    if (level != Level.PTE) {
      long span = upper.level().span();
      long start = addr & -span;
      if (start < floor) {
        return;
      }
      if (ceiling != 0) {
        long c = ceiling & -span;
        if (c == 0) {
          return;
        }
        if (end - 1 > c - 1) {
          return;
        }
      }
    }
    store(upper, 0, clearName(upper.level()));
    first.table().markUnlinked(sched.site());
    tlb.removeTable(first.table(), addr);
  }

  private static String clearName(Level l) {
    return switch (l) {
      case PGD -> "pgd_clear";
      case PUD -> "pud_clear";
      case PMD -> "pmd_clear";
      case PTE -> "pte_clear";
    };
  }

  /**
   * {@code pgd_free} at the end of the mm: frees the PGD, which must have no table below it
   * left (the caller ran {@link #freePgtables} over the whole address space and flushed).
   */
  public void destroy() {
    for (int i = 0; i < Level.ENTRIES; i++) {
      long e = peek(new Slot(pgd, i, Level.PGD));
      if (e != 0) {
        throw sched.bug(Verdict.of(VerdictKind.INVARIANT, "pgd_free with PGD entry " + i + " still set: "
            + Entry.describe(e), List.of("page tables leaked"), List.of()));
      }
    }
    freeTable(pgd);
  }

  /**
   * The consistency walk of these tables: every present non-leaf entry points to a live table
   * of the next level, no table is reachable twice, and the count of reachable tables equals
   * {@code nrTables}. Returns the number of tables found.
   */
  public long check() {
    java.util.Set<Long> seen = new java.util.TreeSet<>();
    long n = checkTable(pgd, Level.PGD, seen);
    if (n != nrTables.peek()) {
      throw new org.mmlab.explore.BugException(Verdict.of(VerdictKind.INVARIANT,
          "page tables: " + n + " tables reachable, " + nrTables.peek() + " accounted",
          List.of("a table was leaked or freed while still linked"), List.of()));
    }
    return n;
  }

  private long checkTable(PtDesc t, Level level, java.util.Set<Long> seen) {
    if (t.isFreed()) {
      throw new org.mmlab.explore.BugException(t.useAfterFree("consistency walk", sched.site()));
    }
    if (!seen.add(t.page().pfn())) {
      throw new org.mmlab.explore.BugException(Verdict.of(VerdictKind.INVARIANT,
          "page table " + t.objectName() + " is linked twice", List.of(), List.of()));
    }
    long n = 1;
    if (level == Level.PTE) {
      return n;
    }
    for (int i = 0; i < Level.ENTRIES; i++) {
      Slot s = new Slot(t, i, level);
      long e = peek(s);
      if (Entry.isPresent(e) && !Entry.isHuge(e)) {
        Page p = mem.peekPage(Entry.pfn(e));
        PtDesc lower = p == null ? null : p.peekPtDesc();
        if (lower == null || lower.isFreed()) {
          throw new org.mmlab.explore.BugException(Verdict.of(VerdictKind.INVARIANT,
              s + " points to " + Entry.describe(e) + ", which is not a live page table",
              List.of(lower == null ? "not a table" : "freed at " + lower.freeSite()), List.of()));
        }
        n += checkTable(lower, level.lower(), seen);
      }
    }
    return n;
  }
}
