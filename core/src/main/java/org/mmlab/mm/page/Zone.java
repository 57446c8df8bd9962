package org.mmlab.mm.page;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.List;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.BugException;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.SyncObject;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;
import org.mmlab.sync.Spinlock;

/**
 * A zone and its buddy allocator: the kernel's {@code struct zone} with {@code free_area[]},
 * {@code zone->lock}, {@code __rmqueue_smallest}, {@code expand} and {@code __free_one_page}
 * ({@code mm/page_alloc.c}).
 *
 * <h2>Overview</h2>
 * Free memory is kept as naturally aligned blocks of 2^order pages, order 0 to
 * {@link PhysMem#MAX_PAGE_ORDER}, one {@link FreeArea} per order. Allocation takes a block of
 * the smallest sufficient order and splits it, returning the low half to the caller and putting
 * each upper half on the free area one order below ({@code expand}). Freeing merges a block with
 * its buddy (the block whose start differs in exactly bit {@code order}) as long as the buddy
 * is free at the same order, then adds the result. The first page of every free block whose
 * descriptor exists carries {@link PageFlag#BUDDY} and its order.
 *
 * <p>Simplified, and said so: no per-CPU page lists ({@code pcp}), no migrate types, no
 * watermarks or reserves, no reclaim or compaction. One zone per node ({@code ZONE_NORMAL});
 * {@code ZONE_DMA32} and {@code ZONE_MOVABLE} are not modelled.
 *
 * <h2>Concurrency</h2>
 * Everything is protected by {@code zone->lock} ({@link #lock()}, lock class
 * {@value #LOCK_CLASS_NAME}), which is innermost: under it the allocator only flips
 * {@link PageFlag#BUDDY} on descriptors. The counters are written under the lock, each update
 * announced as one write step on the zone, and read locklessly (one read step) by
 * {@code /proc} views and tests, like the kernel's {@code zone_page_state}.
 */
public final class Zone extends SyncObject {
  /** The lock class of every zone's lock. */
  public static final String LOCK_CLASS_NAME = "zone->lock";

  /** Interned once, outside CPU bodies. */
  private static final LockClass LOCK_CLASS = LockClass.of(LOCK_CLASS_NAME);

  private static final VarHandle NR_FREE;
  private static final VarHandle PGALLOC;
  private static final VarHandle PGFREE;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      NR_FREE = l.findVarHandle(Zone.class, "nrFree", long.class);
      PGALLOC = l.findVarHandle(Zone.class, "pgalloc", long.class);
      PGFREE = l.findVarHandle(Zone.class, "pgfree", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final Node node;
  private final PhysMem mem;
  /** Span ({@code zone_start_pfn}, {@code zone_end_pfn}). Immutable. */
  private final long startPfn;
  private final long endPfn;
  /** Pages given to the allocator at boot ({@code managed_pages}). Set during boot only. */
  private long managed;
  /** {@code zone->lock}. Immutable reference. */
  private final Spinlock lock;
  /** {@code free_area[order]}. Protected by {@link #lock}. */
  private final FreeArea[] freeArea = new FreeArea[PhysMem.MAX_PAGE_ORDER + 1];
  /** {@code NR_FREE_PAGES}. Written under {@link #lock} (opaque), read locklessly. */
  @SuppressWarnings("unused")
  private long nrFree;
  /** {@code pgalloc_normal}: pages handed out. Written under {@link #lock} (opaque), read locklessly. */
  @SuppressWarnings("unused")
  private long pgalloc;
  /** {@code pgfree}: pages freed. Written under {@link #lock} (opaque), read locklessly. */
  @SuppressWarnings("unused")
  private long pgfree;

  Zone(Node node, PhysMem mem, long startPfn, long endPfn) {
    super(mem.sched(), "Normal@node" + node.id(), null, null);
    this.node = node;
    this.mem = mem;
    this.startPfn = startPfn;
    this.endPfn = endPfn;
    this.lock = new Spinlock(mem.sched(), "zone->lock@node" + node.id(), LOCK_CLASS);
    for (int o = 0; o < freeArea.length; o++) {
      freeArea[o] = new FreeArea();
    }
  }

  @Override
  public String kind() {
    return "zone";
  }

  public Node node() {
    return node;
  }

  /** {@code zone->name}. */
  public String zoneName() {
    return "Normal";
  }

  public long startPfn() {
    return startPfn;
  }

  public long endPfn() {
    return endPfn;
  }

  /** {@code zone_managed_pages}. */
  public long managedPages() {
    return managed;
  }

  /** {@code zone->lock}. */
  public Spinlock lock() {
    return lock;
  }

  boolean spans(long pfn) {
    return pfn >= startPfn && pfn < endPfn;
  }

  // ------------------------------------------------------------ counters (lockless reads)

  /** {@code zone_page_state(zone, NR_FREE_PAGES)}: one read step. */
  public long nrFreePages() {
    sched.point(OpKind.READ, this, "zone_page_state");
    return (long) NR_FREE.getOpaque(this);
  }

  /** {@code free_area[order].nr_free} (as {@code /proc/buddyinfo} shows it): one read step. */
  public long nrFreeBlocks(int order) {
    sched.point(OpKind.READ, this, "buddyinfo");
    return freeArea[order].nrFree();
  }

  /** Pages allocated from this zone so far ({@code pgalloc_normal}): one read step. */
  public long pgalloc() {
    sched.point(OpKind.READ, this, "pgalloc");
    return (long) PGALLOC.getOpaque(this);
  }

  /** Pages freed to this zone so far ({@code pgfree}): one read step. */
  public long pgfree() {
    sched.point(OpKind.READ, this, "pgfree");
    return (long) PGFREE.getOpaque(this);
  }

  /** Free pages without a scheduling point: checks and reports only. */
  public long peekNrFreePages() {
    return (long) NR_FREE.getOpaque(this);
  }

  /** Free blocks of {@code order} without a scheduling point: checks and reports only. */
  public int peekFreeBlocks(int order) {
    return freeArea[order].nrFree();
  }

  public long peekPgalloc() {
    return (long) PGALLOC.getOpaque(this);
  }

  public long peekPgfree() {
    return (long) PGFREE.getOpaque(this);
  }

  // ------------------------------------------------------------ boot

  /** {@code __free_pages_core} at boot: a free block, before any CPU runs. */
  void addBootBlock(long pfn, int order) {
    freeArea[order].add(pfn);
    managed += 1L << order;
    NR_FREE.setOpaque(this, (long) NR_FREE.getOpaque(this) + (1L << order));
  }

  // ------------------------------------------------------------ allocation

  /**
   * {@code rmqueue} / {@code __rmqueue_smallest}: takes a block of {@code 2^order} pages under
   * {@code zone->lock}, splitting a larger one if needed. Returns its first pfn, or -1 if no
   * block is large enough.
   */
  long rmqueue(int order) {
    lock.lock();
    long pfn = rmqueueSmallest(order);
    if (pfn >= 0) {
      account(-(1L << order), 1L << order, 0);
    }
    lock.unlock();
    return pfn;
  }

  private long rmqueueSmallest(int order) {
    for (int o = order; o < freeArea.length; o++) {
      long pfn = freeArea[o].take();
      if (pfn < 0) {
        continue;
      }
      markBuddy(pfn, false, o);
      // expand: the upper halves go back, one per order, the low part is the caller's.
      for (int h = o; h > order; h--) {
        long half = pfn + (1L << (h - 1));
        freeArea[h - 1].add(half);
        markBuddy(half, true, h - 1);
      }
      return pfn;
    }
    return -1;
  }

  // ------------------------------------------------------------ freeing

  /**
   * {@code __free_one_page}: returns the block {@code [pfn, pfn + 2^order)} (already through
   * {@code free_pages_prepare}) under {@code zone->lock}, merging it with free buddies. With
   * {@code checkOverlap}, a block that overlaps a free block is a double free (use-after-free
   * verdict); callers whose reference count just dropped from 1 to 0 have proved the block
   * was allocated and skip the eleven lookups.
   */
  void freeOne(long pfn, int order, String what, boolean checkOverlap) {
    lock.lock();
    int overlap = checkOverlap ? freeOrderCovering(pfn, order) : -1;
    if (overlap >= 0) {
      BugException e = mem.doubleFree(pfn, order, what, "it lies in a free block of order " + overlap);
      if (!sched.exploring) {
        lock.unlock();
      }
      throw e;
    }
    long start = pfn;
    int o = order;
    while (o < PhysMem.MAX_PAGE_ORDER) {
      long buddy = start ^ (1L << o);
      if (!freeArea[o].remove(buddy)) {
        break;
      }
      markBuddy(buddy, false, o);
      start = Math.min(start, buddy);
      o++;
    }
    freeArea[o].add(start);
    markBuddy(start, true, o);
    account(1L << order, 0, 1L << order);
    lock.unlock();
  }

  /**
   * The order of a free block that overlaps {@code [pfn, pfn + 2^order)} at its start, or -1:
   * a free block containing {@code pfn}, or one starting at {@code pfn} inside the range.
   * (A free block strictly inside the range, not at its start, is left to the walk.)
   */
  private int freeOrderCovering(long pfn, int order) {
    for (int o = 0; o < freeArea.length; o++) {
      long head = o >= order ? pfn & ~((1L << o) - 1) : pfn;
      if (freeArea[o].contains(head)) {
        return o;
      }
    }
    return -1;
  }

  /** True if {@code pfn} lies in a free block (takes {@code zone->lock}): diagnosis of a suspected double free. */
  boolean isFree(long pfn) {
    lock.lock();
    boolean free = freeOrderCovering(pfn, 0) >= 0;
    lock.unlock();
    return free;
  }

  /**
   * The descriptor of {@code pfn}, created under {@code zone->lock} so that its
   * {@link PageFlag#BUDDY} state is right: {@link PhysMem#pfnToPage}'s slow path, taken once
   * per frame.
   */
  Page materialize(Section s, long pfn) {
    lock.lock();
    int flags = 0;
    for (int o = 0; o < freeArea.length; o++) {
      if (freeArea[o].contains(pfn)) {
        flags = PageFlag.BUDDY.mask() | (o << Page.ORDER_SHIFT);
        break;
      }
    }
    Page p = s.materialize(pfn, flags);
    lock.unlock();
    return p;
  }

  /** Sets or clears {@link PageFlag#BUDDY} on the first page of a block, if its descriptor exists. Under {@code zone->lock}. */
  private void markBuddy(long pfn, boolean free, int order) {
    Page p = mem.peekPage(pfn);
    if (p != null) {
      p.setBuddy(free, order);
    }
  }

  /** One write step for all counters ({@code __mod_zone_page_state}, {@code count_vm_events}). Under {@code zone->lock}. */
  private void account(long freeDelta, long allocated, long freed) {
    sched.point(OpKind.WRITE, this, "__mod_zone_page_state");
    NR_FREE.setOpaque(this, (long) NR_FREE.getOpaque(this) + freeDelta);
    if (allocated != 0) {
      PGALLOC.setOpaque(this, (long) PGALLOC.getOpaque(this) + allocated);
    }
    if (freed != 0) {
      PGFREE.setOpaque(this, (long) PGFREE.getOpaque(this) + freed);
    }
  }

  // ------------------------------------------------------------ consistency walk

  /**
   * Checks the free lists when no CPU runs: per-order counts add up to {@code NR_FREE_PAGES};
   * blocks are aligned, inside the zone, pairwise disjoint and fully merged; allocated plus
   * free equals managed; every existing descriptor of a free page is unreferenced, unmapped,
   * not a tail and carries {@link PageFlag#BUDDY} exactly if it starts a free block.
   */
  void walk() {
    int n = 0;
    long sum = 0;
    for (int o = 0; o < freeArea.length; o++) {
      n += freeArea[o].nrFree();
      sum += (long) freeArea[o].nrFree() << o;
    }
    long nrFreeNow = (long) NR_FREE.getOpaque(this);
    if (sum != nrFreeNow) {
      throw walkFailure("free areas hold " + sum + " pages but NR_FREE_PAGES is " + nrFreeNow);
    }
    long allocated = (long) PGALLOC.getOpaque(this) - (long) PGFREE.getOpaque(this);
    if (allocated + nrFreeNow != managed) {
      throw walkFailure("allocated (" + allocated + ") + free (" + nrFreeNow + ") != managed (" + managed + ")");
    }
    long[] blocks = new long[n];
    int k = 0;
    for (int o = 0; o < freeArea.length; o++) {
      FreeArea fa = freeArea[o];
      for (int i = 0; i < fa.nrFree(); i++) {
        blocks[k++] = (fa.block(i) << 5) | o;
      }
    }
    Arrays.sort(blocks);
    long prevEnd = startPfn;
    for (long b : blocks) {
      long pfn = b >>> 5;
      int o = (int) (b & 31);
      long size = 1L << o;
      if ((pfn & (size - 1)) != 0 || pfn < startPfn || pfn + size > endPfn) {
        throw walkFailure("free block 0x" + Long.toHexString(pfn) + " of order " + o + " is misaligned or outside the zone");
      }
      if (pfn < prevEnd) {
        throw walkFailure("free block 0x" + Long.toHexString(pfn) + " of order " + o + " overlaps the previous one");
      }
      prevEnd = pfn + size;
      if (o < PhysMem.MAX_PAGE_ORDER && freeArea[o].contains(pfn ^ size)) {
        throw walkFailure("free block 0x" + Long.toHexString(pfn) + " and its buddy are both free at order " + o);
      }
      walkFreeDescriptors(pfn, o);
    }
  }

  private void walkFreeDescriptors(long pfn, int order) {
    Section s = mem.sectionOf(pfn);
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
      int expect = p == pfn ? PageFlag.BUDDY.mask() | (order << Page.ORDER_SHIFT) : 0;
      int buddyBits = f & (PageFlag.BUDDY.mask() | Page.ORDER_MASK);
      if (d.peekRefCount() != 0 || d.peekFrozen() || d.peekMapcount() != -1 || d.isTail()
          || (f & PageFlag.CHECK_AT_FREE & ~PageFlag.BUDDY.mask()) != 0 || buddyBits != expect) {
        throw walkFailure("free page " + d.name() + " (in block 0x" + Long.toHexString(pfn) + " of order " + order
            + ") has state " + d.state());
      }
    }
  }

  /** A materialized descriptor outside every free block must not carry {@link PageFlag#BUDDY}. */
  void walkAllocatedDescriptor(Page d) {
    if (d.peekFlag(PageFlag.BUDDY)) {
      long pfn = d.pfn();
      int o = d.peekOrder();
      if (!freeArea[o].contains(pfn)) {
        throw walkFailure(d.name() + " is marked as a free block of order " + o + " but is not on that free list");
      }
    }
  }

  private BugException walkFailure(String what) {
    return new BugException(Verdict.of(VerdictKind.INVARIANT, "buddy allocator of zone " + name() + ": " + what,
        List.of("consistency walk of mm.page"), List.of(id())));
  }

  @Override
  public String state() {
    StringBuilder sb = new StringBuilder("free=").append(peekNrFreePages()).append(" blocks");
    for (FreeArea fa : freeArea) {
      sb.append(' ').append(fa.nrFree());
    }
    return sb.toString();
  }

  /** {@code /proc/buddyinfo}'s line for this zone: free blocks per order. */
  public String buddyinfo() {
    StringBuilder sb = new StringBuilder("Node ").append(node.id()).append(", zone ").append(zoneName());
    for (FreeArea fa : freeArea) {
      sb.append(' ').append(fa.nrFree());
    }
    return sb.toString();
  }
}
