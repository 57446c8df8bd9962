package org.mmlab.mm.page;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.Sched;
import org.mmlab.sync.Spinlock;

/**
 * One CPU's page cache in front of one zone's buddy allocator: the kernel's
 * {@code struct per_cpu_pages} ({@code include/linux/mmzone.h}), reached as
 * {@code per_cpu_ptr(zone->per_cpu_pageset, cpu)}. The algorithms that use it live in
 * {@link Zone} ({@code rmqueue_pcplist}, {@code free_unref_page}, {@code free_pcppages_bulk},
 * {@code drain_pages_zone}).
 *
 * <h2>Concurrency</h2>
 * Everything is protected by {@code pcp->lock} ({@link #lock()}, lock class
 * {@value #LOCK_CLASS_NAME}). The owning CPU takes it with a trylock on its fast paths, as
 * kernels since 6.0 do ({@code pcp_spin_trylock}): if it is held, by a remote CPU draining this
 * list, the allocation or free goes to the buddy lists under {@code zone->lock} instead of
 * waiting. Remote CPUs ({@code drain_all_pages}, the double-free diagnosis) take it with a
 * plain spin. {@code zone->lock} nests inside it ({@code rmqueue_bulk},
 * {@code free_pcppages_bulk}). {@link #count} is also read without the lock by
 * {@code /proc/meminfo} and the walk (opaque loads, racy but benign: a statistic).
 *
 * <h2>{@code high}, tuned as the CPU allocates and frees</h2>
 * As in kernels since 6.7 ("PCP high auto-tuning"), {@link #high} moves between
 * {@link #highMin} and {@link #highMax}: every refill from the buddy lists raises it by a batch
 * (had the list been larger, the zone would not have been needed), a free that finds the list
 * at {@code high} raises it far enough to hold the pages freed in a row ({@link #freeCount}) plus
 * a batch, and the periodic vmstat work lowers it by an eighth ({@code decay_pcp_high},
 * {@link ZonePcp#decayPcpHigh}). Refills double in size while the CPU keeps allocating without
 * freeing ({@link #allocFactor}) and bulk frees grow with the frees in a row, both up to
 * {@code batch << }{@link #PCP_BATCH_SCALE_MAX}. So a CPU that frees and reallocates the same
 * 128 MiB over and over (will-it-scale's page_fault1) ends up keeping them on its own list and
 * leaves {@code zone->lock} alone, which is what lets the kernel scale that benchmark.
 *
 * <p>One list per order and {@link MigrateType} ({@code order_to_pindex}): an allocation takes
 * from the list of its type, a free goes to the list of its pageblock's type.
 *
 * <p>Simplified, and said so: two migrate types; no watermarks, so
 * neither {@code ZONE_BELOW_HIGH} nor {@code ZONE_RECLAIM_ACTIVE} ever lowers {@code high}, and
 * no {@code free_high} rule for runs of high-order frees; {@code high_min} is derived from the
 * zone's size instead of its low watermark (see {@link #zoneHighMin}).
 */
final class PerCpuPages {
  /** The lock class of every pcp lock. */
  static final String LOCK_CLASS_NAME = "pcp->lock";

  /** Interned once, outside CPU bodies. */
  private static final LockClass LOCK_CLASS = LockClass.of(LOCK_CLASS_NAME);

  /**
   * {@code PAGE_ALLOC_COSTLY_ORDER}: orders 0..3 are cached per CPU ({@code pcp_allowed_order});
   * the kernel also caches the THP order, which the model does not allocate yet.
   */
  static final int PCP_MAX_ORDER = 3;

  /** {@code CONFIG_PCP_BATCH_SCALE_MAX}: refills and bulk frees grow up to {@code batch << 5}. */
  static final int PCP_BATCH_SCALE_MAX = 5;

  /** {@code MIN_PERCPU_PAGELIST_HIGH_FRACTION}: {@code high_max} lets the CPUs together cache 1/8 of the zone. */
  static final int MIN_HIGH_FRACTION = 8;

  private static final VarHandle COUNT;

  static {
    try {
      COUNT = MethodHandles.lookup().findVarHandle(PerCpuPages.class, "count", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /**
   * Padding, declared before the other long fields: HotSpot lays a class's fields out by size,
   * the longs first and in declaration order, so these 56 bytes sit between this object's start
   * and its hot fields, and the object before it in memory (often another CPU's, after a
   * garbage collection copied them side by side) cannot share their cache line.
   */
  @SuppressWarnings("unused")
  private long pad0, pad1, pad2, pad3, pad4, pad5, pad6;

  /** {@code pcp->lock}. Immutable reference. */
  private final Spinlock lock;
  /** {@code pcp->lists[]}, one per order 0..{@link #PCP_MAX_ORDER} and migrate type ({@link #pindex}). Protected by {@link #lock}. */
  final PcpList[] lists = new PcpList[(PCP_MAX_ORDER + 1) * MigrateType.TYPES];
  /** The owning CPU's id. Immutable. */
  final int cpu;
  /** {@code pcp->count}: pages on all lists. Written under {@link #lock} (opaque), read locklessly. */
  @SuppressWarnings("unused")
  private int count;
  /** {@code pcp->batch}: pages moved per refill or bulk free. Protected by {@link #lock}. */
  int batch;
  /**
   * {@code pcp->high}: a free that brings {@link #count} to this gives pages back. Tuned between
   * {@link #highMin} and {@link #highMax} (see the class notes). Protected by {@link #lock}.
   */
  int high;
  /** {@code pcp->high_min} and {@code pcp->high_max}, set by {@link ZonePcp} for the zone. Protected by {@link #lock}. */
  int highMin;
  int highMax;
  /** {@code pcp->alloc_factor}: refills are {@code batch << allocFactor}; +1 per refill, halved per free. Protected by {@link #lock}. */
  int allocFactor;
  /** {@code pcp->free_count}: pages freed in a row (halved per allocation), capped at {@code batch << 5}. Protected by {@link #lock}. */
  int freeCount;

  PerCpuPages(Sched sched, Zone zone, int cpu, int batch, int highMin, int highMax) {
    this.cpu = cpu;
    this.batch = batch;
    this.highMin = highMin;
    this.highMax = highMax;
    this.high = highMin;
    this.lock = new Spinlock(sched, "pcp->lock@" + zone.name() + "/cpu" + cpu, LOCK_CLASS);
    for (int i = 0; i < lists.length; i++) {
      lists[i] = new PcpList();
    }
  }

  Spinlock lock() {
    return lock;
  }

  /** {@code pcp->count} under the lock, or a racy read (opaque) outside it. */
  int count() {
    return (int) COUNT.getOpaque(this);
  }

  /** Adds {@code delta} pages to {@code pcp->count}. Under {@link #lock}. */
  void addCount(int delta) {
    COUNT.setOpaque(this, (int) COUNT.getOpaque(this) + delta);
  }

  /** {@code order_to_pindex}: the index of the list of {@code order} and migrate type {@code type}. */
  static int pindex(int order, int type) {
    return order * MigrateType.TYPES + type;
  }

  /** The order of the blocks on list {@code pindex}. */
  static int orderOf(int pindex) {
    return pindex / MigrateType.TYPES;
  }

  /** The list of {@code order} and migrate type {@code type}. */
  PcpList list(int order, int type) {
    return lists[pindex(order, type)];
  }

  /**
   * {@code zone_batchsize}: about a quarter of a megabyte per batch, at most 1/4096 of the zone
   * ({@code 63} for a zone of 1 GiB or more, {@code 3} for 64 MiB), rounded as the kernel does
   * to one less than a power of two (and at least 1).
   */
  static int zoneBatchsize(long managedPages) {
    long batch = Math.min(managedPages >> 10, (1L << 20) / Frames.PAGE_SIZE) / 4;
    if (batch < 1) {
      batch = 1;
    }
    return (int) Math.max(1, Long.highestOneBit(batch + batch / 2) - 1);
  }

  /**
   * {@code zone_highsize} for {@code high_min}, simplified: the kernel splits the zone's low
   * watermark over the node's CPUs (3,971 pages for the 3 GiB zone of the benchmark machine);
   * the model has no watermarks and splits 1/256 of the zone instead, at least four batches.
   */
  static int zoneHighMin(long managedPages, int batch, int cpus) {
    return (int) Math.min(Integer.MAX_VALUE, Math.max(4L * batch, (managedPages >> 8) / Math.max(1, cpus)));
  }

  /**
   * {@code zone_highsize} with {@code MIN_PERCPU_PAGELIST_HIGH_FRACTION} for {@code high_max}:
   * 1/8 of the zone split over its CPUs, at least four batches.
   */
  static int zoneHighMax(long managedPages, int batch, int cpus) {
    return (int) Math.min(Integer.MAX_VALUE, Math.max(4L * batch, managedPages / MIN_HIGH_FRACTION / Math.max(1, cpus)));
  }

  @Override
  public String toString() {
    return "pcp[cpu" + cpu + " count=" + count() + " high=" + high + " (" + highMin + ".." + highMax + ") batch=" + batch + "]";
  }
}
