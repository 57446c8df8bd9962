package org.mmlab.mm.page;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.List;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.BugException;
import org.mmlab.explore.Cpu;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.SyncObject;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;
import org.mmlab.sync.PerCpuCounter;
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
 * <h2>Per-CPU page lists</h2>
 * In front of the buddy lists, each CPU has a {@link PerCpuPages} cache of blocks of order 0 to
 * {@link PerCpuPages#PCP_MAX_ORDER} ({@code zone->per_cpu_pageset}), created on the CPU's first
 * allocation or free in the zone (the kernel sets them up at boot for every possible CPU). An
 * allocation takes from the CPU's list ({@code rmqueue_pcplist}), refilling it with a batch
 * from the buddy lists under one {@code zone->lock} when empty ({@code rmqueue_bulk}); a free
 * puts the block on the list ({@code free_unref_page}) and, once the list holds {@code high}
 * pages, gives a batch back under one {@code zone->lock} ({@code free_pcppages_bulk}). So two
 * CPUs faulting in one zone meet on {@code zone->lock} once per batch, not once per page.
 * {@link #drainAll} ({@code drain_all_pages}) empties every CPU's lists;
 * {@link #pcpDisable} ({@code zone_pcp_disable}) makes every free go straight through.
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

  private static final VarHandle NR_FREE;
  private static final VarHandle PCPS;
  private static final VarHandle PCP_SLOT = MethodHandles.arrayElementVarHandle(PerCpuPages[].class);
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
  /** {@code pgalloc_normal}: pages handed to callers. A per-CPU event counter. */
  private final PerCpuCounter pgalloc;
  /** {@code pgfree}: pages callers gave back. A per-CPU event counter. */
  private final PerCpuCounter pgfree;
  /**
   * {@code zone->per_cpu_pageset}: CPU {@code id}'s lists at index {@code id + 1} (the set-up
   * CPU is -1), created by that CPU under {@link #lock}. The array is replaced (grown) under
   * {@link #lock} and published with a release store; elements are set with release and read
   * with acquire, so a remote drain sees a fully built {@link PerCpuPages}.
   */
  @SuppressWarnings("unused")
  private PerCpuPages[] pcps = NO_PCPS;
  /** {@code pcp->batch} and {@code pcp->high} for lists created from now on. Protected by {@link #lock}. */
  private int pcpBatch;
  private int pcpHigh;

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
    pcpBatch = PerCpuPages.zoneBatchsize(managed);
    pcpHigh = PerCpuPages.zoneHighsize(managed, pcpBatch);
  }

  // ------------------------------------------------------------ per-CPU lists

  /**
   * {@code this_cpu_ptr(zone->per_cpu_pageset)}: the lists of {@code cpu} (the calling CPU),
   * created under {@code zone->lock} on first use. No scheduling point once created: the
   * pointer is per-CPU data that never changes.
   */
  private PerCpuPages pcpOf(Cpu cpu) {
    int i = cpu.id + 1;
    PerCpuPages[] all = (PerCpuPages[]) PCPS.getAcquire(this);
    if (i < all.length) {
      PerCpuPages p = (PerCpuPages) PCP_SLOT.getAcquire(all, i);
      if (p != null) {
        return p;
      }
    }
    return createPcp(cpu);
  }

  private PerCpuPages createPcp(Cpu cpu) {
    int i = cpu.id + 1;
    lock.lock();
    PerCpuPages[] all = (PerCpuPages[]) PCPS.getAcquire(this);
    if (i >= all.length) {
      all = Arrays.copyOf(all, Math.max(i + 1, Math.max(4, all.length * 2)));
      PCPS.setRelease(this, all);
    }
    PerCpuPages p = new PerCpuPages(sched, this, cpu.id, pcpBatch, pcpHigh);
    PCP_SLOT.setRelease(all, i, p);
    lock.unlock();
    return p;
  }

  /** Every CPU's lists created so far, by CPU id. */
  private List<PerCpuPages> allPcps() {
    PerCpuPages[] all = (PerCpuPages[]) PCPS.getAcquire(this);
    List<PerCpuPages> out = new java.util.ArrayList<>(all.length);
    for (int i = 0; i < all.length; i++) {
      PerCpuPages p = (PerCpuPages) PCP_SLOT.getAcquire(all, i);
      if (p != null) {
        out.add(p);
      }
    }
    return out;
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
      pfn = rmqueuePcplist(pcpOf(cpu), order);
    }
    if (pfn < 0) {
      pfn = rmqueueBuddy(order);
    }
    if (pfn >= 0) {
      pgalloc.add(cpu, 1L << order);
    }
    return pfn;
  }

  /**
   * {@code rmqueue_pcplist}: the head of the CPU's list of {@code order}, refilled with a batch
   * ({@code rmqueue_bulk}) when empty. -1 if {@code pcp->lock} is held (by a remote drain: the
   * kernel's {@code pcp_spin_trylock} fails and the caller goes to the buddy lists) or nothing
   * could be taken.
   */
  private long rmqueuePcplist(PerCpuPages pcp, int order) {
    if (!pcp.lock().tryLock()) {
      return -1;
    }
    PcpList list = pcp.list(order);
    if (list.size() == 0) {
      rmqueueBulk(pcp, order, Math.max(1, pcp.batch >> order));
    }
    long pfn = -1;
    if (list.size() > 0) {
      pcp.addCount(-(1 << order));
      pfn = list.takeHead();
    }
    pcp.lock().unlock();
    return pfn;
  }

  /** {@code rmqueue_bulk}: up to {@code n} blocks of {@code order} appended to the CPU's list, under one {@code zone->lock}. Under {@code pcp->lock}. */
  private void rmqueueBulk(PerCpuPages pcp, int order, int n) {
    lock.lock();
    int got = 0;
    PcpList list = pcp.list(order);
    for (; got < n; got++) {
      long pfn = rmqueueSmallest(order);
      if (pfn < 0) {
        break;
      }
      list.addTail(pfn);
    }
    if (got > 0) {
      account(-((long) got << order));
    }
    lock.unlock();
    pcp.addCount(got << order);
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
      PerCpuPages pcp = pcpOf(cpu);
      if (pcp.lock().tryLock()) {
        pcp.list(order).addHead(pfn);
        pcp.addCount(1 << order);
        if (pcp.count() >= pcp.high) {
          freePcppagesBulk(pcp, Math.max(pcp.batch, pcp.count() - pcp.high), order);
        }
        pcp.lock().unlock();
        return;
      }
    }
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
   * {@code free_pcppages_bulk}: gives at least {@code pages} pages (or all there are) back to
   * the buddy lists under one {@code zone->lock}, from the tails (the coldest blocks), starting
   * with the list of {@code order} and going round the others. Under {@code pcp->lock}.
   */
  private void freePcppagesBulk(PerCpuPages pcp, int pages, int order) {
    lock.lock();
    int freed = 0;
    int o = order;
    int emptyInARow = 0;
    while (freed < pages && emptyInARow <= PerCpuPages.PCP_MAX_ORDER) {
      PcpList list = pcp.list(o);
      if (list.size() == 0) {
        emptyInARow++;
      } else {
        emptyInARow = 0;
        mergeIntoFreeArea(list.takeTail(), o);
        freed += 1 << o;
      }
      o = o == PerCpuPages.PCP_MAX_ORDER ? 0 : o + 1;
    }
    if (freed > 0) {
      account(freed);
    }
    lock.unlock();
    pcp.addCount(-freed);
  }

  /**
   * {@code drain_pages_zone}: everything on {@code pcp}'s lists back to the buddy lists. Takes
   * {@code pcp->lock} (with a spin: the caller may be another CPU).
   */
  private void drainPages(PerCpuPages pcp) {
    pcp.lock().lock();
    if (pcp.count() > 0) {
      freePcppagesBulk(pcp, pcp.count(), 0);
    }
    pcp.lock().unlock();
  }

  /**
   * {@code drain_all_pages(zone)}: every CPU's lists back to the buddy lists. The kernel runs
   * the drain on each CPU (a work item), which takes that CPU's {@code pcp->lock}; the model
   * takes each lock from the calling CPU, which is the same exclusion.
   */
  void drainAll() {
    for (PerCpuPages p : allPcps()) {
      drainPages(p);
    }
  }

  /**
   * {@code zone_pcp_disable}: from now on {@code high} is 0 and {@code batch} 1, so every free
   * goes straight through to the buddy lists and every allocation takes exactly one block; then
   * every list is drained. The kernel does this around memory offlining and
   * {@code alloc_contig_range}; tests of the buddy allocator use it to see the buddy lists alone.
   */
  void pcpDisable() {
    setPcpHighAndBatch(0, 1);
    drainAll();
  }

  /** {@code zone_pcp_enable}: back to the zone's own {@code high} and {@code batch}. */
  void pcpEnable() {
    int batch = PerCpuPages.zoneBatchsize(managed);
    setPcpHighAndBatch(PerCpuPages.zoneHighsize(managed, batch), batch);
  }

  private void setPcpHighAndBatch(int high, int batch) {
    lock.lock();
    pcpHigh = high;
    pcpBatch = batch;
    lock.unlock();
    for (PerCpuPages p : allPcps()) {
      p.lock().lock();
      p.high = high;
      p.batch = batch;
      p.lock().unlock();
    }
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
      int onPcp = pcpOrderCovering(pfn, order);
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
  private void mergeIntoFreeArea(long pfn, int order) {
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
   * Like {@link #freeOrderCovering}, over every CPU's lists, each read under its
   * {@code pcp->lock} (taken with a spin; not under {@code zone->lock}, which nests inside).
   * Error paths and diagnosis only.
   */
  private int pcpOrderCovering(long pfn, int order) {
    for (PerCpuPages p : allPcps()) {
      p.lock().lock();
      int found = -1;
      for (int o = 0; o <= PerCpuPages.PCP_MAX_ORDER && found < 0; o++) {
        long head = o >= order ? pfn & ~((1L << o) - 1) : pfn;
        if (p.list(o).contains(head)) {
          found = o;
        }
      }
      p.lock().unlock();
      if (found >= 0) {
        return found;
      }
    }
    return -1;
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

  /**
   * True if {@code pfn} lies in a free block, on the buddy lists or a CPU's list (takes the
   * {@code pcp->lock}s, then {@code zone->lock}): diagnosis of a suspected double free.
   */
  boolean isFree(long pfn) {
    if (pcpOrderCovering(pfn, 0) >= 0) {
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
  private void account(long freeDelta) {
    sched.point(OpKind.WRITE, this, "__mod_zone_page_state");
    NR_FREE.setOpaque(this, (long) NR_FREE.getOpaque(this) + freeDelta);
  }

  // ------------------------------------------------------------ consistency walk

  /**
   * Checks the free lists when no CPU runs: per-order counts add up to {@code NR_FREE_PAGES},
   * each CPU's lists to its {@code pcp->count}; blocks (buddy and per-CPU) are aligned, inside
   * the zone and pairwise disjoint, buddy blocks fully merged; allocated plus free (buddy and
   * per-CPU) equals managed; every existing descriptor of a free page is unreferenced, unmapped,
   * not a tail and carries {@link PageFlag#BUDDY} exactly if it starts a buddy free block.
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
    List<PerCpuPages> pcpList = allPcps();
    long onPcp = 0;
    for (PerCpuPages p : pcpList) {
      long pages = 0;
      for (int o = 0; o <= PerCpuPages.PCP_MAX_ORDER; o++) {
        n += p.list(o).size();
        pages += (long) p.list(o).size() << o;
      }
      if (pages != p.count()) {
        throw walkFailure(p + " holds " + pages + " pages on its lists");
      }
      onPcp += pages;
    }
    long allocated = pgalloc.peek() - pgfree.peek();
    if (allocated + nrFreeNow + onPcp != managed) {
      throw walkFailure("allocated (" + allocated + ") + free (" + nrFreeNow + ") + on per-CPU lists (" + onPcp
          + ") != managed (" + managed + ")");
    }
    long[] blocks = new long[n];
    int k = 0;
    for (int o = 0; o < freeArea.length; o++) {
      FreeArea fa = freeArea[o];
      for (int i = 0; i < fa.nrFree(); i++) {
        blocks[k++] = (fa.block(i) << 6) | o;
      }
    }
    for (PerCpuPages p : pcpList) {
      for (int o = 0; o <= PerCpuPages.PCP_MAX_ORDER; o++) {
        PcpList l = p.list(o);
        for (int i = 0; i < l.size(); i++) {
          blocks[k++] = (l.get(i) << 6) | 32 | o;
        }
      }
    }
    Arrays.sort(blocks);
    long prevEnd = startPfn;
    for (long b : blocks) {
      long pfn = b >>> 6;
      int o = (int) (b & 31);
      boolean pcp = (b & 32) != 0;
      long size = 1L << o;
      if ((pfn & (size - 1)) != 0 || pfn < startPfn || pfn + size > endPfn) {
        throw walkFailure("free block 0x" + Long.toHexString(pfn) + " of order " + o + " is misaligned or outside the zone");
      }
      if (pfn < prevEnd) {
        throw walkFailure("free block 0x" + Long.toHexString(pfn) + " of order " + o + " overlaps the previous one");
      }
      prevEnd = pfn + size;
      if (!pcp && o < PhysMem.MAX_PAGE_ORDER && freeArea[o].contains(pfn ^ size)) {
        throw walkFailure("free block 0x" + Long.toHexString(pfn) + " and its buddy are both free at order " + o);
      }
      walkFreeDescriptors(pfn, o, pcp);
    }
  }

  private void walkFreeDescriptors(long pfn, int order, boolean pcp) {
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
      int expect = p == pfn && !pcp ? PageFlag.BUDDY.mask() | (order << Page.ORDER_SHIFT) : 0;
      int buddyBits = f & (PageFlag.BUDDY.mask() | Page.ORDER_MASK);
      if (d.peekRefCount() != 0 || d.peekFrozen() || d.peekMapcount() != -1 || d.isTail()
          || (f & PageFlag.CHECK_AT_FREE & ~PageFlag.BUDDY.mask()) != 0 || buddyBits != expect) {
        throw walkFailure("free page " + d.name() + " (in " + (pcp ? "per-CPU " : "") + "block 0x" + Long.toHexString(pfn)
            + " of order " + order + ") has state " + d.state());
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
