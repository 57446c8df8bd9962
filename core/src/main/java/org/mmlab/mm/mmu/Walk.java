package org.mmlab.mm.mmu;

import java.lang.invoke.VarHandle;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.mmlab.explore.Sched;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;
import org.mmlab.mm.page.Frames;
import org.mmlab.mm.page.Page;
import org.mmlab.mm.page.PtDesc;
import org.mmlab.mm.pgtable.Entry;
import org.mmlab.mm.pgtable.Level;
import org.mmlab.mm.pgtable.PageTables;

/**
 * The hardware page walk: from the PGD down to a leaf, with no lock, as the x86 page walker
 * does it. Each entry is read once with {@link PageTables#load}, a scheduling point on the table
 * it lives in, so a walker that reads a table freed too early (before the TLB shootdown that
 * waits for walkers) is a use-after-free naming where the table was freed.
 *
 * <h2>The result</h2>
 * Encoded in a {@code long} so that the TLB-miss path allocates nothing: 0 when an entry on the
 * way is not present (none, a migration or swap entry), else a present-entry-shaped value with
 * the 4 KiB frame of the address, the effective {@link Entry#WRITE} and {@link Entry#USER} bits
 * (the AND over every level, as x86 grants rights), {@link Entry#PRESENT}, the leaf's
 * {@link Entry#SPECIAL} bit (no refcounted page behind it: the zero page), and in bits 10..11
 * the level of the leaf (0: PTE, 1: PMD, 2: PUD). Bits 3..8 are free for the TLB's own use.
 * {@link #decode} makes a {@link Translation} of it.
 *
 * <h2>Simplified</h2>
 * The walker sets no accessed or dirty bits (see {@code PageTables}); it caches no upper-level
 * entries (x86's paging-structure caches), so a walk always starts at the PGD; the PS bit is
 * honoured at PUD and PMD level only.
 *
 * <p>Stateless.
 */
final class Walk {
  /** Bits of a user address. */
  static final int USER_BITS = 47;
  /** The user half of the address space: user accesses above it fault as not present. */
  static final long USER_TOP = 1L << USER_BITS;

  private static final long PERMS = Entry.WRITE | Entry.USER;
  private static final int LEVEL_SHIFT = 10;
  private static final long FRAME_MASK = -(long) Frames.PAGE_SIZE;

  private Walk() {}

  /**
   * Walks {@code pt} for {@code addr}: one scheduling point per level. Natively each entry
   * load is followed by an acquire fence: the hardware's next load depends on the address the
   * entry gives, which orders it after the entry; in Java the fence stands for that dependency,
   * so the walker sees the zeroed contents of a table published after its allocation.
   */
  static long walk(Sched sched, PageTables pt, long addr) {
    if (Long.compareUnsigned(addr, USER_TOP) >= 0) {
      return 0;
    }
    // The slot is kept as (table, level) locals rather than a PageTables.Slot: this runs on
    // every TLB miss, and the walk allocates nothing.
    PtDesc table = pt.pgd();
    Level level = Level.PGD;
    long perms = PERMS;
    while (true) {
      int index = level.index(addr);
      long e = pt.hwLoad(table, index);
      if (!sched.exploring) {
        VarHandle.acquireFence();
      }
      if (!Entry.isPresent(e)) {
        return 0;
      }
      perms &= e;
      if (level == Level.PTE || (level.mayBeHuge() && Entry.isHuge(e))) {
        return leaf(sched, table, index, level, e, addr, perms);
      }
      table = pt.lowerTable(table, index, level, e);
      level = level.lower();
    }
  }

  /**
   * The same walk without scheduling points or fences: for consistency checks, which run when
   * no CPU does. Returns 0 also when a table on the way is not a live table.
   */
  static long peekWalk(Sched sched, PageTables pt, long addr) {
    if (Long.compareUnsigned(addr, USER_TOP) >= 0) {
      return 0;
    }
    PageTables.Slot s = pt.pgdOffset(addr);
    long perms = PERMS;
    while (true) {
      if (s.table().isFreed()) {
        return 0;
      }
      long e = pt.peek(s);
      if (!Entry.isPresent(e)) {
        return 0;
      }
      perms &= e;
      Level level = s.level();
      if (level == Level.PTE || (level.mayBeHuge() && Entry.isHuge(e))) {
        return leaf(sched, s.table(), s.index(), level, e, addr, perms);
      }
      Page p = pt.mem().pfnValid(Entry.pfn(e)) ? pt.mem().peekPage(Entry.pfn(e)) : null;
      PtDesc t = p == null ? null : p.peekPtDesc();
      if (t == null) {
        return 0;
      }
      s = new PageTables.Slot(t, level.lower().index(addr), level.lower());
    }
  }

  private static long leaf(Sched sched, PtDesc table, int index, Level level, long e, long addr, long perms) {
    long pagesPerLeaf = level.span() >>> Frames.PAGE_SHIFT;
    long base = Entry.pfn(e);
    if ((base & (pagesPerLeaf - 1)) != 0) {
      throw sched.bug(Verdict.of(VerdictKind.INVARIANT,
          new PageTables.Slot(table, index, level) + " holds a huge leaf at a misaligned pfn: " + Entry.describe(e),
          List.of("a " + (level == Level.PUD ? "1 GiB" : "2 MiB") + " leaf must map a naturally aligned frame"),
          List.of()));
    }
    long pfn = base + ((addr & (level.span() - 1)) >>> Frames.PAGE_SHIFT);
    int code = switch (level) {
      case PMD -> 1;
      case PUD -> 2;
      default -> 0;
    };
    return (pfn << Frames.PAGE_SHIFT) | perms | Entry.PRESENT | (e & Entry.SPECIAL) | ((long) code << LEVEL_SHIFT);
  }

  /** The physical address of the frame in a walk result. */
  static long frame(long r) {
    return r & FRAME_MASK;
  }

  /** True if the leaf was {@code pte_special}: no refcounted page behind it. */
  static boolean special(long r) {
    return (r & Entry.SPECIAL) != 0;
  }

  /** The effective permission bits of a walk result ({@link Entry#WRITE}, {@link Entry#USER}). */
  static long perms(long r) {
    return r & PERMS;
  }

  /** A walk result as a {@link Translation}, or null for "not present". */
  static @Nullable Translation decode(long r) {
    if (r == 0) {
      return null;
    }
    Level leaf = switch ((int) ((r >>> LEVEL_SHIFT) & 3)) {
      case 1 -> Level.PMD;
      case 2 -> Level.PUD;
      default -> Level.PTE;
    };
    return new Translation(frame(r) >>> Frames.PAGE_SHIFT, (r & Entry.WRITE) != 0, (r & Entry.USER) != 0, leaf);
  }
}
