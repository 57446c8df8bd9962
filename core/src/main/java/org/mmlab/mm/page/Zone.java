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
 *   <li>Design notes: overview, migrate types and pageblocks, per-CPU page lists, accounting,
 *       concurrency</li>
 *   <li>Fields, identity and span; lockless counter reads ({@link #nrFreePages}, ...)</li>
 *   <li>Pageblock types ({@code get_pfnblock_migratetype}, {@code set_pageblock_migratetype})</li>
 *   <li>Boot ({@code addBootBlock}, {@code initPcp})</li>
 *   <li>Allocation ({@code rmqueue}): the per-CPU path, then the buddy lists
 *       ({@code __rmqueue_smallest}, {@code expand}) and the fallback to the other migrate type
 *       ({@code __rmqueue_claim}, {@code try_to_claim_block}, {@code __rmqueue_steal})</li>
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
 * {@link PhysMem#MAX_PAGE_ORDER}, one {@link FreeArea} per order and {@link MigrateType}.
 * Allocation takes a block of the smallest sufficient order from its type's lists and splits it,
 * returning the low half to the caller and putting each upper half on the free area one order
 * below ({@code expand}). Freeing merges a block with its buddy (the block whose start differs
 * in exactly bit {@code order}) as long as the buddy is free at the same order, then adds the
 * result. The first page of every free block whose descriptor exists carries
 * {@link PageFlag#BUDDY} and its order.
 *
 * <h2>Migrate types and pageblocks</h2>
 * Every pageblock ({@value MigrateType#PAGEBLOCK_ORDER} pages, aligned) has a type
 * ({@link #pageblockType}, {@code get_pfnblock_migratetype}); a free block lies on the lists of
 * its pageblock's type, and a block larger than a pageblock spans pageblocks of one type (the
 * kernel's free list hygiene since 6.9): the walk checks both. A free goes to the lists of its
 * pageblock's type, whatever type it was allocated as; a merge above pageblock size makes the
 * buddy's pageblocks the type of the block freed. An allocation whose type's lists are empty
 * falls back ({@code __rmqueue_fallback}): it looks for the largest free block of the other
 * type; a block of a pageblock or more is converted whole; a smaller one has its pageblock
 * claimed ({@code try_to_claim_block}) if the pageblock's free pages make at least half of it,
 * or if the allocation is unmovable, as the kernel's {@code can_steal_fallback} allows for
 * unmovable allocations; otherwise a movable allocation takes the smallest fallback block and
 * leaves the pageblock's type as it was. So page tables and other kernel pages, which cannot
 * move, gather in their own pageblocks, and each CPU keeps them on their own lists.
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
 * <p>Simplified, and said so: two migrate types (see {@link MigrateType}), no watermarks or
 * reserves, no reclaim or compaction. One zone per node ({@code ZONE_NORMAL}); {@code ZONE_DMA32} and
 * {@code ZONE_MOVABLE} are not modelled.
 *
 * <h2>Concurrency</h2>
 * <pre>
 *   pcp-&gt;lock      (per CPU; the owner takes it with a trylock, remote drains with a spin)
 *     zone-&gt;lock   (rmqueue_bulk, free_pcppages_bulk; alone on the buddy fallback paths)
 * </pre>
 * The buddy lists are protected by {@code zone->lock} ({@link #lock()}, lock class
 * {@value #LOCK_CLASS_NAME}), which is innermost: under it the allocator only flips
 * {@link PageFlag#BUDDY} on descriptors and sets pageblock types. {@code NR_FREE_PAGES} is written under the lock, each
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
  private static final VarHandle PAGEBLOCK = MethodHandles.arrayElementVarHandle(byte[].class);
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
  /** {@code free_area[order].free_list[type]}. Protected by {@link #lock}. */
  final FreeArea[][] freeArea = new FreeArea[PhysMem.MAX_PAGE_ORDER + 1][MigrateType.TYPES];
  /**
   * The type of each pageblock of the zone ({@code pageblock_flags}), by
   * {@code (pfn >> pageblock_order) - (startPfn >> pageblock_order)}. Written under
   * {@link #lock} (opaque); read by frees without it ({@code get_pfnblock_migratetype} is racy
   * in the kernel as well: a free that reads the old type puts its page on the old type's list,
   * and the lists stay consistent because the type changes only under the lock with the free
   * blocks moved). No scheduling point: a hint, not state the explorer interleaves on.
   */
  private final byte[] pageblockTypes;
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
    for (FreeArea[] byType : freeArea) {
      for (int t = 0; t < byType.length; t++) {
        byType[t] = new FreeArea();
      }
    }
    long blocks = ((endPfn - 1) >> MigrateType.PAGEBLOCK_ORDER) - (startPfn >> MigrateType.PAGEBLOCK_ORDER) + 1;
    this.pageblockTypes = new byte[(int) Math.max(0, blocks)];
    java.util.Arrays.fill(pageblockTypes, (byte) MigrateType.MOVABLE); // memmap_init: every pageblock movable
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
    return peekFreeBlocks(order);
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
    int n = 0;
    for (FreeArea fa : freeArea[order]) {
      n += fa.nrFree();
    }
    return n;
  }

  /** Free blocks of {@code order} on the lists of migrate type {@code type} (a {@link MigrateType}), without a point: tests and reports. */
  int peekFreeBlocks(int order, int type) {
    return freeArea[order][type].nrFree();
  }

  // ------------------------------------------------------------ pageblocks

  /** {@code get_pfnblock_migratetype}: the type of {@code pfn}'s pageblock. Lockless (see the field). */
  int pageblockType(long pfn) {
    return (byte) PAGEBLOCK.getOpaque(pageblockTypes, pageblockIndex(pfn));
  }

  private int pageblockIndex(long pfn) {
    return (int) ((pfn >> MigrateType.PAGEBLOCK_ORDER) - (startPfn >> MigrateType.PAGEBLOCK_ORDER));
  }

  /** {@code set_pageblock_migratetype} for every pageblock of {@code [pfn, pfn + 2^order)}. Under {@link #lock}. */
  private void setPageblockTypes(long pfn, int order, int type) {
    long n = Math.max(1, (1L << order) >> MigrateType.PAGEBLOCK_ORDER);
    int first = pageblockIndex(pfn);
    for (int i = 0; i < n; i++) {
      PAGEBLOCK.setOpaque(pageblockTypes, first + i, (byte) type);
    }
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
    freeArea[order][pageblockType(pfn)].add(pfn);
    managed += 1L << order;
    NR_FREE.setOpaque(this, (long) NR_FREE.getOpaque(this) + (1L << order));
  }

  /** {@code zone_pcp_init} / {@code zone_set_pageset_high_and_batch} at the end of boot. */
  void initPcp() {
    ZonePcp.computeHighAndBatch(this);
  }

  // ------------------------------------------------------------ allocation

  /**
   * {@code rmqueue}: a block of {@code 2^order} pages of migrate type {@code type} for
   * {@code cpu} (the calling CPU). Orders up to {@link PerCpuPages#PCP_MAX_ORDER} come from the
   * CPU's list of that order and type ({@code rmqueue_pcplist}); if its lock is busy or the buddy
   * lists cannot refill it, and for higher orders, from the buddy lists under {@code zone->lock}
   * ({@code rmqueue_buddy}). Returns the first pfn, or -1 if no block is large enough. Counts
   * {@code pgalloc}.
   */
  long rmqueue(int order, int type, Cpu cpu) {
    long pfn = -1;
    if (order <= PerCpuPages.PCP_MAX_ORDER) {
      pfn = ZonePcp.rmqueuePcplist(this, ZonePcp.pcpOf(this, cpu), order, type);
    }
    if (pfn < 0) {
      pfn = rmqueueBuddy(order, type);
    }
    if (pfn >= 0) {
      pgalloc.add(cpu, 1L << order);
    }
    return pfn;
  }

  /** {@code rmqueue_buddy}: one block straight from the buddy lists under {@code zone->lock}. */
  private long rmqueueBuddy(int order, int type) {
    lock.lock();
    long pfn = rmqueueLocked(order, type);
    if (pfn >= 0) {
      account(-(1L << order));
    }
    lock.unlock();
    return pfn;
  }

  /**
   * {@code __rmqueue}: a block of {@code order} from the lists of {@code type}, or, when they
   * are empty, from the other type's ({@link #rmqueueFallback}); -1 if there is none. Under
   * {@code zone->lock}.
   */
  long rmqueueLocked(int order, int type) {
    long pfn = rmqueueSmallest(order, type);
    if (pfn < 0) {
      pfn = rmqueueFallback(order, type);
    }
    return pfn;
  }

  /** {@code __rmqueue_smallest}: the smallest sufficient block on {@code type}'s lists, split. Under {@code zone->lock}. */
  private long rmqueueSmallest(int order, int type) {
    for (int o = order; o < freeArea.length; o++) {
      long pfn = freeArea[o][type].take();
      if (pfn >= 0) {
        markBuddy(pfn, false, o);
        expand(pfn, order, o, type);
        return pfn;
      }
    }
    return -1;
  }

  /** {@code expand}: of a block of {@code high} taken off the lists, the upper halves go back to {@code type}'s, one per order; the low part of {@code order} is the caller's. */
  private void expand(long pfn, int order, int high, int type) {
    for (int h = high; h > order; h--) {
      long half = pfn + (1L << (h - 1));
      freeArea[h - 1][type].add(half);
      markBuddy(half, true, h - 1);
    }
  }

  /**
   * The fallback when {@code type}'s lists are empty, as kernels since 6.10 split it:
   * {@code __rmqueue_claim}, then {@code __rmqueue_steal}. Claim: from the largest order down
   * to {@code order}, a free block on the other type's lists; one of a pageblock or more becomes
   * {@code type} whole; a smaller one has its pageblock claimed ({@link #claimPageblock}) and
   * the request is served from {@code type}'s lists. Orders below half a pageblock are tried only
   * for unmovable requests ({@code should_try_claim_block}: movable pages do not fragment
   * memory for good, so they claim less). Steal: if nothing was claimed, the smallest fallback
   * block, split on the other type's lists, the pageblock keeping its type. Under
   * {@code zone->lock}.
   */
  private long rmqueueFallback(int order, int type) {
    int from = MigrateType.fallback(type);
    for (int o = freeArea.length - 1; o >= order; o--) {
      if (freeArea[o][from].nrFree() == 0) {
        continue;
      }
      if (o < MigrateType.PAGEBLOCK_ORDER / 2 && type == MigrateType.MOVABLE) {
        break; // too low to claim
      }
      long block = freeArea[o][from].last(); // the block get_page_from_free_area would take
      if (o >= MigrateType.PAGEBLOCK_ORDER) {
        freeArea[o][from].remove(block);
        setPageblockTypes(block, o, type);
        freeArea[o][type].add(block);
      } else if (!claimPageblock(block, from, type)) {
        continue;
      }
      return rmqueueSmallest(order, type);
    }
    return rmqueueSmallest(order, from); // steal: the pageblock keeps its type, the halves its lists
  }

  /**
   * {@code try_to_claim_block} for the pageblock holding {@code pfn}, of type {@code from}: if
   * its free pages make at least half of it, it becomes {@code to} and its free blocks move to
   * {@code to}'s lists ({@code __move_freepages_block}). Simplified: the kernel also counts the
   * pageblock's allocated pages that are already of the claiming kind ("alike" pages, from the
   * LRU flags); the model does not track that and counts free pages only. Under
   * {@code zone->lock}.
   */
  private boolean claimPageblock(long pfn, int from, int to) {
    long start = pfn & -MigrateType.PAGEBLOCK_PAGES;
    int free = 0;
    for (int o = 0; o < MigrateType.PAGEBLOCK_ORDER; o++) {
      FreeArea fa = freeArea[o][from];
      for (int i = 0; i < fa.nrFree(); i++) {
        if ((fa.block(i) & -MigrateType.PAGEBLOCK_PAGES) == start) {
          free += 1 << o;
        }
      }
    }
    if (free < MigrateType.PAGEBLOCK_PAGES / 2) {
      return false;
    }
    for (int o = 0; o < MigrateType.PAGEBLOCK_ORDER; o++) {
      FreeArea fa = freeArea[o][from];
      for (int i = fa.nrFree() - 1; i >= 0; i--) {
        long b = fa.block(i);
        if ((b & -MigrateType.PAGEBLOCK_PAGES) == start) {
          fa.remove(b);
          freeArea[o][to].add(b);
        }
      }
    }
    setPageblockTypes(start, MigrateType.PAGEBLOCK_ORDER, to);
    return true;
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

  /**
   * The merge loop of {@code __free_one_page}: the block goes to the lists of its pageblock's
   * type; a buddy of a pageblock or more merged into it takes that type (its pageblocks are set
   * to it). Under {@code zone->lock}.
   */
  void mergeIntoFreeArea(long pfn, int order) {
    int type = pageblockType(pfn);
    long start = pfn;
    int o = order;
    while (o < PhysMem.MAX_PAGE_ORDER) {
      long buddy = start ^ (1L << o);
      if (!spans(buddy)) {
        break;
      }
      int buddyType = pageblockType(buddy);
      if (!freeArea[o][buddyType].remove(buddy)) {
        break;
      }
      if (buddyType != type) {
        setPageblockTypes(buddy, o, type);
      }
      markBuddy(buddy, false, o);
      start = Math.min(start, buddy);
      o++;
    }
    freeArea[o][type].add(start);
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
      if (freeContains(o, head)) {
        return o;
      }
    }
    return -1;
  }

  /** True if a free block of {@code order} starts at {@code pfn}, on any type's list. Under {@code zone->lock} (or no CPU runs). */
  boolean freeContains(int order, long pfn) {
    for (FreeArea fa : freeArea[order]) {
      if (fa.contains(pfn)) {
        return true;
      }
    }
    return false;
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
      if (freeContains(o, pfn)) {
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
    for (int o = 0; o < freeArea.length; o++) {
      sb.append(' ').append(peekFreeBlocks(o));
    }
    return sb.toString();
  }

  /** {@code /proc/buddyinfo}'s line for this zone: free blocks per order. */
  public String buddyinfo() {
    StringBuilder sb = new StringBuilder("Node ").append(node.id()).append(", zone ").append(zoneName());
    for (int o = 0; o < freeArea.length; o++) {
      sb.append(' ').append(peekFreeBlocks(o));
    }
    return sb.toString();
  }
}
