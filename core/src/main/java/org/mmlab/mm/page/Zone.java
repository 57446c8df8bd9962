package org.mmlab.mm.page;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.BugException;
import org.mmlab.explore.Cpu;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.SyncObject;
import org.mmlab.sync.PerCpuCounter;
import org.mmlab.sync.Spinlock;

/**
 * A zone and its buddy allocator: the kernel's {@code struct zone} with {@code free_area[]},
 * {@code zone->lock}, {@code __rmqueue_smallest}, {@code expand} and {@code __free_one_page}
 * ({@code mm/page_alloc.c}).
 *
 * <h2>Contents</h2>
 * <ol>
 *   <li>Design notes: overview, per-CPU page lists, accounting, concurrency</li>
 *   <li>Fields, identity and span; lockless counter reads ({@link #nrFreePages}, ...)</li>
 *   <li>Boot ({@code addBootBlock}, {@code initPcp})</li>
 *   <li>Allocation ({@code rmqueue}): the per-CPU path, then the buddy lists
 *       ({@code __rmqueue_smallest}, {@code expand})</li>
 *   <li>Freeing ({@code free_unref_page}, {@code __free_one_page}), the double-free lookups,
 *       descriptor creation under the lock, the buddy mark and {@code NR_FREE_PAGES}</li>
 *   <li>Reports ({@link #state}, {@link #buddyinfo})</li>
 * </ol>
 * The per-CPU lists themselves are handled by {@link ZonePcp} and the zone's part of the
 * consistency walk by {@link ZoneCheck}: package-private static helpers taking the zone, which
 * read its package-private fields below.
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
 * <h2>Per-CPU page lists</h2>
 * In front of the buddy lists, each CPU has a {@link PerCpuPages} cache of blocks of order 0 to
 * {@link PerCpuPages#PCP_MAX_ORDER} ({@code zone->per_cpu_pageset}), created on the CPU's first
 * allocation or free in the zone (the kernel sets them up at boot for every possible CPU). An
 * allocation takes from the CPU's list ({@code rmqueue_pcplist}), refilling it with a batch
 * from the buddy lists under one {@code zone->lock} when empty ({@code rmqueue_bulk}); a free
 * puts the block on the list ({@code free_unref_page}) and, once the list holds {@code high}
 * pages, gives pages back under one {@code zone->lock} ({@code free_pcppages_bulk}). So two
 * CPUs faulting in one zone meet on {@code zone->lock} once per batch, not once per page; and
 * since {@code high} is tuned to what the CPU frees and reallocates (up to 1/8 of the zone over
 * the CPUs, see {@link PerCpuPages}), a CPU that keeps recycling the same pages stops meeting
 * the others there at all.
 * {@link ZonePcp#drainAll} ({@code drain_all_pages}) empties every CPU's lists;
 * {@link ZonePcp#pcpDisable} ({@code zone_pcp_disable}) makes every free go straight through.
 *
 * <p><b>Accounting.</b> As in the kernel, {@code NR_FREE_PAGES} ({@link #nrFreePages}) counts
 * the buddy lists only, and {@code pgalloc}/{@code pgfree} count pages handed to and taken back
 * from callers (per-CPU event counters), not moves between the lists. The model's
 * {@code MemFree} adds the pages on per-CPU lists ({@link PhysMem#nrFreePages}): they are free,
 * and counting them keeps "MemFree after == MemFree before" exact (the kernel's MemFree is lower
 * by whatever sits on the lists).
 *
 * <p>Simplified, and said so: no migrate types, no watermarks or reserves, no reclaim or
 * compaction. One zone per node ({@code ZONE_NORMAL}); {@code ZONE_DMA32} and
 * {@code ZONE_MOVABLE} are not modelled.
 *
 * <h2>Concurrency</h2>
 * <pre>
 *   pcp-&gt;lock      (per CPU; the owner takes it with a trylock, remote drains with a spin)
 *     zone-&gt;lock   (rmqueue_bulk, free_pcppages_bulk; alone on the buddy fallback paths)
 * </pre>
 * The buddy lists are protected by {@code zone->lock} ({@link #lock()}, lock class
 * {@value #LOCK_CLASS_NAME}), which is innermost: under it the allocator only flips
 * {@link PageFlag#BUDDY} on descriptors. {@code NR_FREE_PAGES} is written under the lock, each
 * update announced as one write step on the zone, and read locklessly (one read step) by
 * {@code /proc} views and tests, like the kernel's {@code zone_page_state}. Each CPU's lists are
 * protected by its {@code pcp->lock} (see {@link PerCpuPages}).
 */
public final class Zone extends SyncObject {
  /** The lock class of every zone's lock. */
  public static final String LOCK_CLASS_NAME = "zone->lock";

  /** Interned once, outside CPU bodies. */
  private static final LockClass LOCK_CLASS = LockClass.of(LOCK_CLASS_NAME);

  static final VarHandle NR_FREE;
  static final VarHandle PCPS;
  static final VarHandle PCP_SLOT = MethodHandles.arrayElementVarHandle(PerCpuPages[].class);
  private static final PerCpuPages[] NO_PCPS = new PerCpuPages[0];

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      NR_FREE = l.findVarHandle(Zone.class, "nrFree", long.class);
      PCPS = l.findVarHandle(Zone.class, "pcps", PerCpuPages[].class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final Node node;
  final PhysMem mem;
  /** Span ({@code zone_start_pfn}, {@code zone_end_pfn}). Immutable. */
  final long startPfn;
  final long endPfn;
  /** Pages given to the allocator at boot ({@code managed_pages}). Set during boot only. */
  long managed;
  /** {@code zone->lock}. Immutable reference. */
  final Spinlock lock;
  /** {@code free_area[order]}. Protected by {@link #lock}. */
  final FreeArea[] freeArea = new FreeArea[PhysMem.MAX_PAGE_ORDER + 1];
  /** {@code NR_FREE_PAGES}. Written under {@link #lock} (opaque), read locklessly. */
  @SuppressWarnings("unused")
  private long nrFree;
  /** {@code pgalloc_normal}: pages handed to callers. A per-CPU event counter. */
  final PerCpuCounter pgalloc;
  /** {@code pgfree}: pages callers gave back. A per-CPU event counter. */
  final PerCpuCounter pgfree;
  /**
   * {@code zone->per_cpu_pageset}: CPU {@code id}'s lists at index {@code id + 1} (the set-up
   * CPU is -1), created by that CPU under {@link #lock}. The array is replaced (grown) under
   * {@link #lock} and published with a release store; elements are set with release and read
   * with acquire, so a remote drain sees a fully built {@link PerCpuPages}.
   */
  @SuppressWarnings("unused")
  private PerCpuPages[] pcps = NO_PCPS;
  /**
   * {@code pcp->batch}, {@code pcp->high_min} and {@code pcp->high_max} for every list
   * ({@code zone_set_pageset_high_and_batch}): recomputed when a CPU's list is created (the
   * high values are split over the CPUs that have lists, as the kernel splits them over the
   * node's CPUs) and by {@code zone_pcp_disable}/{@code _enable}, then copied into each list.
   * Protected by {@link #lock}.
   */
  int pcpBatch;
  int pcpHighMin;
  int pcpHighMax;
  /** CPUs with lists in this zone. Protected by {@link #lock}. */
  int pcpCpus;
  /** {@code zone_pcp_disable} in force: high 0, batch 1. Protected by {@link #lock}. */
  boolean pcpDisabled;

  Zone(Node node, PhysMem mem, long startPfn, long endPfn) {
    super(mem.sched(), "Normal@node" + node.id(), null, null);
    this.node = node;
    this.mem = mem;
    this.startPfn = startPfn;
    this.endPfn = endPfn;
    this.lock = new Spinlock(mem.sched(), "zone->lock@node" + node.id(), LOCK_CLASS);
    this.pgalloc = new PerCpuCounter(mem.sched(), "pgalloc_normal@node" + node.id());
    this.pgfree = new PerCpuCounter(mem.sched(), "pgfree@node" + node.id());
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
    return pgalloc.sum();
  }

  /** Pages freed to this zone so far ({@code pgfree}): one read step. */
  public long pgfree() {
    return pgfree.sum();
  }

  /** Pages on every CPU's lists of this zone: one read step, each {@code pcp->count} read racily. */
  public long nrPcpPages() {
    sched.point(OpKind.READ, this, "pcp->count");
    return peekPcpPages();
  }

  /** Pages on per-CPU lists without a scheduling point: checks and reports only. */
  public long peekPcpPages() {
    long n = 0;
    PerCpuPages[] all = (PerCpuPages[]) PCPS.getAcquire(this);
    for (int i = 0; i < all.length; i++) {
      PerCpuPages p = (PerCpuPages) PCP_SLOT.getAcquire(all, i);
      if (p != null) {
        n += p.count();
      }
    }
    return n;
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
    return pgalloc.peek();
  }

  public long peekPgfree() {
    return pgfree.peek();
  }

  // ------------------------------------------------------------ boot

  /** {@code __free_pages_core} at boot: a free block, before any CPU runs. */
  void addBootBlock(long pfn, int order) {
    freeArea[order].add(pfn);
    managed += 1L << order;
    NR_FREE.setOpaque(this, (long) NR_FREE.getOpaque(this) + (1L << order));
  }

  /** {@code zone_pcp_init} / {@code zone_set_pageset_high_and_batch} at the end of boot. */
  void initPcp() {
    ZonePcp.computeHighAndBatch(this);
  }

  // ------------------------------------------------------------ allocation

  /**
   * {@code rmqueue}: a block of {@code 2^order} pages for {@code cpu} (the calling CPU). Orders
   * up to {@link PerCpuPages#PCP_MAX_ORDER} come from the CPU's list ({@code rmqueue_pcplist});
   * if its lock is busy or the buddy lists cannot refill it, and for higher orders, from the
   * buddy lists under {@code zone->lock} ({@code rmqueue_buddy}). Returns the first pfn, or -1
   * if no block is large enough. Counts {@code pgalloc}.
   */
  long rmqueue(int order, Cpu cpu) {
    long pfn = -1;
    if (order <= PerCpuPages.PCP_MAX_ORDER) {
      pfn = ZonePcp.rmqueuePcplist(this, ZonePcp.pcpOf(this, cpu), order);
    }
    if (pfn < 0) {
      pfn = rmqueueBuddy(order);
    }
    if (pfn >= 0) {
      pgalloc.add(cpu, 1L << order);
    }
    return pfn;
  }

  /** {@code rmqueue_buddy}: one block straight from the buddy lists under {@code zone->lock}. */
  private long rmqueueBuddy(int order) {
    lock.lock();
    long pfn = rmqueueSmallest(order);
    if (pfn >= 0) {
      account(-(1L << order));
    }
    lock.unlock();
    return pfn;
  }

  long rmqueueSmallest(int order) {
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
   * {@code free_unref_page}: the caller (CPU {@code cpu}, the calling CPU) dropped the last
   * reference to the block {@code [pfn, pfn + 2^order)}, already through
   * {@code free_pages_prepare}. Orders up to {@link PerCpuPages#PCP_MAX_ORDER} go to the head of
   * the CPU's list ({@code free_unref_page_commit}), which gives a batch back to the buddy lists
   * once it holds {@code high} pages; if {@code pcp->lock} is busy, and for higher orders, the
   * block goes to the buddy lists ({@code free_one_page}). Counts {@code pgfree}.
   */
  void freeUnrefPage(long pfn, int order, Cpu cpu) {
    pgfree.add(cpu, 1L << order);
    if (order <= PerCpuPages.PCP_MAX_ORDER) {
      PerCpuPages pcp = ZonePcp.pcpOf(this, cpu);
      if (pcp.lock().tryLock()) {
        ZonePcp.freeUnrefPageCommit(this, pcp, pfn, order);
        pcp.lock().unlock();
        return;
      }
    }
    freeOne(pfn, order, "free_one_page", false);
  }

  /** {@code free_unref_page_commit} of one block of a batch, with {@code pcp}'s lock held by {@code cpu}. */
  void freeUnrefPageLocked(PerCpuPages pcp, long pfn, int order, Cpu cpu) {
    pgfree.add(cpu, 1L << order);
    ZonePcp.freeUnrefPageCommit(this, pcp, pfn, order);
  }

  /** A block of a batch whose CPU list could not be locked: {@code free_one_page}. */
  void freeUnrefFallback(long pfn, int order, Cpu cpu) {
    pgfree.add(cpu, 1L << order);
    freeOne(pfn, order, "free_one_page", false);
  }

  /**
   * A free whose caller did not just drop the count from 1 to 0 ({@code free_frozen_pages}, the
   * rest of a partly referenced block): checked against every free list as a possible double
   * free, then straight to the buddy lists. Counts {@code pgfree} on {@code cpu}, the calling CPU.
   */
  void freeUnproven(long pfn, int order, String what, Cpu cpu) {
    freeOne(pfn, order, what, true);
    pgfree.add(cpu, 1L << order);
  }

  /**
   * {@code __free_one_page} on the buddy fallback path: returns the block
   * {@code [pfn, pfn + 2^order)} (already through {@code free_pages_prepare}) under
   * {@code zone->lock}, merging it with free buddies. With {@code checkOverlap}, a block that
   * overlaps a free block, on the buddy lists or on any CPU's list, is a double free
   * (use-after-free verdict); callers whose reference count just dropped from 1 to 0 have
   * proved the block was allocated and skip the lookups.
   */
  private void freeOne(long pfn, int order, String what, boolean checkOverlap) {
    if (checkOverlap) {
      int onPcp = ZonePcp.pcpOrderCovering(this, pfn, order);
      if (onPcp >= 0) {
        throw mem.doubleFree(pfn, order, what, "it lies in a block of order " + onPcp + " on a per-CPU free list");
      }
    }
    lock.lock();
    int overlap = checkOverlap ? freeOrderCovering(pfn, order) : -1;
    if (overlap >= 0) {
      BugException e = mem.doubleFree(pfn, order, what, "it lies in a free block of order " + overlap);
      if (!sched.exploring) {
        lock.unlock();
      }
      throw e;
    }
    mergeIntoFreeArea(pfn, order);
    account(1L << order);
    lock.unlock();
  }

  /** The merge loop of {@code __free_one_page}. Under {@code zone->lock}. */
  void mergeIntoFreeArea(long pfn, int order) {
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
  }

  /**
   * The order of a free block that overlaps {@code [pfn, pfn + 2^order)} at its start, or -1:
   * a free block containing {@code pfn}, or one starting at {@code pfn} inside the range.
   * (A free block strictly inside the range, not at its start, is left to the walk.)
   */
  int freeOrderCovering(long pfn, int order) {
    for (int o = 0; o < freeArea.length; o++) {
      long head = o >= order ? pfn & ~((1L << o) - 1) : pfn;
      if (freeArea[o].contains(head)) {
        return o;
      }
    }
    return -1;
  }

  /**
   * True if {@code pfn} lies in a free block, on the buddy lists or a CPU's list (takes the
   * {@code pcp->lock}s, then {@code zone->lock}): diagnosis of a suspected double free.
   */
  boolean isFree(long pfn) {
    if (ZonePcp.pcpOrderCovering(this, pfn, 0) >= 0) {
      return true;
    }
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
      PagePrep.setBuddy(p, free, order);
    }
  }

  /** {@code __mod_zone_page_state(zone, NR_FREE_PAGES, delta)}: one write step. Under {@code zone->lock}. */
  void account(long freeDelta) {
    sched.point(OpKind.WRITE, this, "__mod_zone_page_state");
    NR_FREE.setOpaque(this, (long) NR_FREE.getOpaque(this) + freeDelta);
  }

  // ------------------------------------------------------------ reports

  @Override
  public String state() {
    StringBuilder sb = new StringBuilder("free=").append(peekNrFreePages()).append(" pcp=").append(peekPcpPages())
        .append(" blocks");
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
