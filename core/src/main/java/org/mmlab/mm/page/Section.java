package org.mmlab.mm.page;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.KObject;

/**
 * A memory section: 128 MiB of physical address space ({@code SECTION_SIZE_BITS} 27 on x86-64)
 * whose page descriptors are created and destroyed together. The kernel's
 * {@code struct mem_section} with its section of {@code mem_map} ({@code mm/sparse.c}).
 *
 * <h2>Lazy descriptors</h2>
 * The kernel allocates a section's whole {@code mem_map} when the section comes online. The
 * model creates descriptors one by one, when a page is first allocated or first looked up
 * ({@link PhysMem#pfnToPage}), so that booting costs microseconds whatever the memory size:
 * the section holds 64 slots of 512 descriptors (one per 2 MiB), each slot's array created on
 * first use. Once created a descriptor is never freed while the section is online: it is
 * type-stable, as {@code struct page} is.
 *
 * <h2>Lifetime</h2>
 * Every descriptor (and every pseudo-lock of one) names its section as its owning
 * {@link KObject}: if a section is ever taken offline (memory hot-remove, a later issue) and
 * this object freed, any later operation on one of its descriptors is a use-after-free, as a
 * stale {@code struct page} pointer into a removed memmap is in the kernel. Offlining would
 * free this object and online a fresh one.
 *
 * <h2>Concurrency</h2>
 * Slot arrays and descriptors are published by CAS (natively) and read with acquire; a
 * descriptor's fields are initialized before it is published. Creation is not a scheduling
 * point: it is invisible to the model except through the descriptor's id, which under the
 * explorer is handed out in step order and therefore deterministic.
 */
public final class Section extends KObject {
  /** {@code SECTION_SIZE_BITS}: sections of 128 MiB. */
  public static final int SIZE_BITS = 27;
  /** {@code PFN_SECTION_SHIFT}: 32,768 pages per section. */
  public static final int PFN_SHIFT = SIZE_BITS - Frames.PAGE_SHIFT;
  /** Pages per section. */
  public static final int PAGES = 1 << PFN_SHIFT;

  static final int SLOT_SHIFT = 9;
  static final int SLOT_PAGES = 1 << SLOT_SHIFT;
  private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(Page[][].class);
  private static final VarHandle DESC = MethodHandles.arrayElementVarHandle(Page[].class);

  /** The memory this section belongs to. Immutable. */
  final PhysMem mem;
  /** Section number ({@code pfn_to_section_nr}). Immutable. */
  private final int nr;
  /** First and last+1 pfn of RAM in this section. Immutable. */
  private final long startPfn;
  private final long endPfn;
  /** The zone of every page here, or null when the section spans several nodes. Immutable. */
  private final @Nullable Zone zone;
  /** Descriptor arrays by 2 MiB slot, created on first use. CAS-published (natively). */
  private final @Nullable Page[][] slots = new Page[PAGES / SLOT_PAGES][];

  Section(PhysMem mem, int nr, long startPfn, long endPfn, @Nullable Zone zone) {
    super(mem.sched(), "memory section", "#" + nr);
    this.mem = mem;
    this.nr = nr;
    this.startPfn = startPfn;
    this.endPfn = endPfn;
    this.zone = zone;
  }

  public int nr() {
    return nr;
  }

  public long startPfn() {
    return startPfn;
  }

  public long endPfn() {
    return endPfn;
  }

  /** The zone of {@code pfn} (which must be in this section). */
  Zone zoneOf(long pfn) {
    Zone z = zone;
    return z != null ? z : mem.zoneOfPfn(pfn);
  }

  /** The descriptor of {@code pfn} if it was created, else null. No scheduling point. */
  @Nullable Page peek(long pfn) {
    int i = (int) (pfn & (PAGES - 1));
    Page[] slot = (Page[]) SLOT.getAcquire(slots, i >>> SLOT_SHIFT);
    return slot == null ? null : (Page) DESC.getAcquire(slot, i & (SLOT_PAGES - 1));
  }

  /**
   * The descriptor of {@code pfn}, created with {@code initialFlags} if it does not exist yet
   * (a concurrent creator may win: its descriptor is returned).
   */
  Page materialize(long pfn, int initialFlags) {
    int i = (int) (pfn & (PAGES - 1));
    int si = i >>> SLOT_SHIFT;
    Page[] slot = (Page[]) SLOT.getAcquire(slots, si);
    if (slot == null) {
      Page[] fresh = new Page[SLOT_PAGES];
      Page[] witness = (Page[]) SLOT.compareAndExchange(slots, si, (Page[]) null, fresh);
      slot = witness == null ? fresh : witness;
    }
    int di = i & (SLOT_PAGES - 1);
    Page p = (Page) DESC.getAcquire(slot, di);
    if (p != null) {
      return p;
    }
    Page fresh = new Page(this, pfn, initialFlags);
    Page witness = (Page) DESC.compareAndExchange(slot, di, (Page) null, fresh);
    return witness == null ? fresh : witness;
  }

  /** Number of descriptors created (for statistics and the heap measurement). */
  public long materialized() {
    long n = 0;
    for (int s = 0; s < slots.length; s++) {
      Page[] slot = (Page[]) SLOT.getAcquire(slots, s);
      if (slot != null) {
        for (int d = 0; d < slot.length; d++) {
          if (DESC.getAcquire(slot, d) != null) {
            n++;
          }
        }
      }
    }
    return n;
  }

  /** Calls {@code action} on every created descriptor, in pfn order (walks; no CPU runs). */
  void forEachMaterialized(java.util.function.Consumer<Page> action) {
    for (int s = 0; s < slots.length; s++) {
      Page[] slot = (Page[]) SLOT.getAcquire(slots, s);
      if (slot != null) {
        for (int d = 0; d < slot.length; d++) {
          Page p = (Page) DESC.getAcquire(slot, d);
          if (p != null) {
            action.accept(p);
          }
        }
      }
    }
  }

  /** True if no descriptor of {@code [pfn, pfn + n)} can exist (their slot arrays were never created). */
  boolean noneMaterialized(long pfn, long n) {
    long end = pfn + n;
    for (long p = pfn; p < end; p = (p | (SLOT_PAGES - 1)) + 1) {
      if (SLOT.getAcquire(slots, (int) ((p & (PAGES - 1)) >>> SLOT_SHIFT)) != null) {
        return false;
      }
    }
    return true;
  }
}
