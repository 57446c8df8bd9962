package org.mmlab.mm.page;

import static org.mmlab.mm.page.Page.FLAGS;
import static org.mmlab.mm.page.Page.PRIV;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.KObject;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.Sched;
import org.mmlab.sync.Spinlock;

/**
 * One use of a page as a page table: the kernel's {@code struct ptdesc} from
 * {@code pagetable_ctor} to {@code pagetable_dtor}, with the split page-table lock it carries
 * ({@code ptlock_ptr}).
 *
 * <p>Page descriptors are type-stable (never freed, reused by the allocator), so a page that is
 * a table now may have been a different table before. Each use is its own {@link KObject}: the
 * {@link #ptl} belongs to it, {@code pagetable_dtor} frees it, and any later operation on that
 * lock (through a pointer taken while it was a table, or through {@link Page#ptlock} before the
 * page is reallocated) is a use-after-free verdict naming where the table was created and
 * freed. This is how the stale-PTL race of seed 000 (a table unshared and freed while another
 * CPU goes on to lock its PTL) becomes visible.
 *
 * <p>Kernel counterpart: {@code struct ptdesc} ({@code include/linux/mm_types.h}),
 * {@code pagetable_ctor}, {@code pagetable_dtor}, {@code ptlock_init}, {@code ptlock_free}.
 */
public final class PtDesc extends KObject {
  /** The page that holds the table. Immutable. */
  private final Page page;
  /** The split page-table lock ({@code ptdesc->ptl}). Immutable reference; owned by this object. */
  private final Spinlock ptl;
  /** The entries as a scheduling object. Immutable reference; owned by this object. */
  private final TableEntries entries;

  private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  /**
   * The off-heap chunk holding the table's frame once it was read from a materialized chunk
   * (or written), so that entry loads and stores skip {@link Frames}' chunk lookup: every fault
   * and every TLB miss goes through several. A chunk never changes while the memory lives, and
   * once {@link #written} the frame is marked touched for good (the bits are sticky), so caching
   * either is exact. Racy but benign: a CPU that does not see another's write looks the chunk up
   * itself and stores the same reference (segments are immutable, safely published objects).
   * Like the TLB's cached chunks, valid only until the memory is released.
   */
  private @Nullable MemorySegment chunk;
  /** {@link #chunk} was obtained for a write: the frame is marked touched. Racy but benign, as above. */
  private boolean written;

  /**
   * The table one level down that entry {@code index}, holding {@code entry}, was last found to
   * point to ({@code PageTables.lowerTable}). In the kernel that step ({@code pmd_page_vaddr} and
   * friends) is address arithmetic; in the model it is a lookup of the pfn's descriptor, made on
   * every level of every walk, so each table remembers its last answer.
   */
  public record Child(int index, long entry, PtDesc table) {}

  /**
   * The last {@link Child}: an immutable holder, replaced whole, read and written racily (a CPU
   * that reads an older one either finds it still right or looks the table up). Valid while its
   * table is not freed: a pfn holds one live table at a time, so an unfreed table found through
   * the same entry value is the one the entry points to. A lookup cache, not model state: no
   * scheduling point reads or writes it.
   */
  private @Nullable Child lastChild;

  /** The last child found below this table, or null ({@link #lastChild}). */
  public @Nullable Child lastChild() {
    return lastChild;
  }

  /** Remembers {@code c} as the last child found below this table. */
  public void rememberChild(Child c) {
    lastChild = c;
  }

  PtDesc(Page page, String kind, LockClass ptlClass) {
    super(page.sched(), kind, null, true);
    this.page = page;
    this.ptl = Spinlock.namedAfter(page.sched(), "ptl@", ptlClass, this);
    this.entries = new TableEntries(this, kind);
  }

  /** The body of {@link Page#pagetableCtor}: sets {@code PG_table} (one point) and publishes a new use. */
  static PtDesc pagetableCtor(Page page, String kind, LockClass ptlClass) {
    Sched sched = page.sched();
    sched.point(OpKind.RMW, page, "pagetable_ctor");
    if (((int) FLAGS.getAndBitwiseOr(page, PageFlag.TABLE.mask()) & PageFlag.TABLE.mask()) != 0) {
      throw page.invariant("pagetable_ctor on a page that already is a page table");
    }
    PtDesc d = new PtDesc(page, kind, ptlClass);
    PRIV.setRelease(page, d);
    return d;
  }

  /** The body of {@link Page#pagetableDtor}: clears {@code PG_table} (one point) and frees the use. */
  static void pagetableDtor(Page page) {
    Sched sched = page.sched();
    sched.point(OpKind.RMW, page, "pagetable_dtor");
    Object p = PRIV.getAcquire(page);
    if (((int) FLAGS.getAndBitwiseAnd(page, ~PageFlag.TABLE.mask()) & PageFlag.TABLE.mask()) == 0
        || !(p instanceof PtDesc d)) {
      throw page.invariant("pagetable_dtor on a page that is not a page table");
    }
    d.free();
  }

  /** The page's name ({@code "pfn 0x1a3"}), made when a report asks: tables are made on the fault path. */
  @Override
  protected String lazyName() {
    return page.name();
  }

  /** Where {@code free_pgtables} unlinked this table to be freed, or null while it is linked. */
  private volatile org.mmlab.debug.@org.jspecify.annotations.Nullable Site unlinkedAt;

  /**
   * The table was unlinked from its parent and handed to the TLB gather: from now on only a
   * hardware walker with a stale path may read it (until the flush); software must not touch
   * it. Called by the page-table code with the parent entry cleared.
   */
  public void markUnlinked(org.mmlab.debug.Site at) {
    unlinkedAt = at;
  }

  /** Where the table was unlinked for freeing, or null. */
  public org.mmlab.debug.@org.jspecify.annotations.Nullable Site unlinkedAt() {
    return unlinkedAt;
  }

  /**
   * Loads entry {@code index} (0..511) from the table's frame, little-endian: the same as
   * {@code frames.load64(page.phys() + 8 * index)}, without the lookup once the chunk is known.
   * No scheduling point: the caller announced it.
   */
  public long loadEntry(Frames frames, int index) {
    MemorySegment c = chunk;
    if (c == null) {
      c = frames.chunkSegment(page.phys(), false);
      if (c == null) {
        return 0; // never written: reads as zero
      }
      chunk = c;
    }
    return c.get(LE64, (page.phys() & (Frames.CHUNK_SIZE - 1)) + 8L * (index & (TableEntries.PER_TABLE - 1)));
  }

  /**
   * Stores entry {@code index}: {@code frames.store64(page.phys() + 8 * index, value)}, marking
   * the frame touched and all its lines written once (a table's frame is zeroed whole when it
   * is reused).
   */
  public void storeEntry(Frames frames, int index, long value) {
    MemorySegment c = chunk;
    if (!written || c == null) {
      c = frames.chunkSegment(page.phys(), true);
      Frames.markLines(c, page.phys() & (Frames.CHUNK_SIZE - 1), -1L);
      chunk = c;
      written = true;
    }
    c.set(LE64, (page.phys() & (Frames.CHUNK_SIZE - 1)) + 8L * (index & (TableEntries.PER_TABLE - 1)), value);
  }

  /** The table's entries, the object entry loads and stores are points on. */
  public TableEntries entries() {
    return entries;
  }

  /** The page holding the table. */
  public Page page() {
    return page;
  }

  /** {@code ptlock_ptr}: the split page-table lock of this use of the page. */
  public Spinlock ptl() {
    return ptl;
  }
}
