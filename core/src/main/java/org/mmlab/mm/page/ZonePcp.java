package org.mmlab.mm.page;

import static org.mmlab.mm.page.Zone.PCPS;
import static org.mmlab.mm.page.Zone.PCP_SLOT;

import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.mmlab.explore.Cpu;

/**
 * The per-CPU page lists of a {@link Zone} ({@code zone->per_cpu_pageset} in
 * {@code mm/page_alloc.c}): finding or creating a CPU's {@link PerCpuPages}, allocating from
 * and refilling its lists ({@code rmqueue_pcplist}, {@code rmqueue_bulk}), giving batches back
 * ({@code free_pcppages_bulk}), draining ({@code drain_pages_zone}, {@code drain_all_pages}),
 * turning the lists off and on ({@code zone_pcp_disable}, {@code zone_pcp_enable}), and the
 * double-free lookup over them. Static helpers taking the zone; the buddy lists they fill from
 * and drain to, and the notes on both layers and their locks, are in {@link Zone}.
 *
 * <p>Order: the lists of a CPU, allocation, freeing and draining, {@code high} and
 * {@code batch}, then the lookup.
 */
final class ZonePcp {
  private ZonePcp() {}

  /**
   * {@code this_cpu_ptr(zone->per_cpu_pageset)}: the lists of {@code cpu} (the calling CPU),
   * created under {@code zone->lock} on first use. No scheduling point once created: the
   * pointer is per-CPU data that never changes.
   */
  static PerCpuPages pcpOf(Zone zone, Cpu cpu) {
    int i = cpu.id + 1;
    PerCpuPages[] all = (PerCpuPages[]) PCPS.getAcquire(zone);
    if (i < all.length) {
      PerCpuPages p = (PerCpuPages) PCP_SLOT.getAcquire(all, i);
      if (p != null) {
        return p;
      }
    }
    return createPcp(zone, cpu);
  }

  /** The lists of {@code cpu} if it has any in this zone, else null (does not create them). */
  static @Nullable PerCpuPages peekPcp(Zone zone, Cpu cpu) {
    int i = cpu.id + 1;
    PerCpuPages[] all = (PerCpuPages[]) PCPS.getAcquire(zone);
    return i < all.length ? (PerCpuPages) PCP_SLOT.getAcquire(all, i) : null;
  }

  /**
   * The CPU comes "online" in this zone: its lists are created under {@code zone->lock}, and
   * {@code high_min}/{@code high_max} are split over one more CPU and copied into the other
   * CPUs' lists (under each {@code pcp->lock}), as {@code zone_pcp_update} does on CPU hotplug.
   */
  private static PerCpuPages createPcp(Zone zone, Cpu cpu) {
    int i = cpu.id + 1;
    zone.lock.lock();
    PerCpuPages[] all = (PerCpuPages[]) PCPS.getAcquire(zone);
    if (i >= all.length) {
      all = Arrays.copyOf(all, Math.max(i + 1, Math.max(4, all.length * 2)));
      PCPS.setRelease(zone, all);
    }
    zone.pcpCpus++;
    computeHighAndBatch(zone);
    PerCpuPages p = new PerCpuPages(zone.sched(), zone, cpu.id, zone.pcpBatch, zone.pcpHighMin, zone.pcpHighMax);
    PCP_SLOT.setRelease(all, i, p);
    zone.lock.unlock();
    for (PerCpuPages q : allPcps(zone)) {
      if (q != p) {
        copyHighAndBatch(zone, q);
      }
    }
    return p;
  }

  /** {@code zone_set_pageset_high_and_batch}'s arithmetic: the zone's values for its lists. Under {@code zone->lock} (or at boot). */
  static void computeHighAndBatch(Zone zone) {
    if (zone.pcpDisabled) {
      zone.pcpBatch = 1;
      zone.pcpHighMin = 0;
      zone.pcpHighMax = 0;
      return;
    }
    int batch = PerCpuPages.zoneBatchsize(zone.managed);
    zone.pcpBatch = batch;
    zone.pcpHighMin = PerCpuPages.zoneHighMin(zone.managed, batch, zone.pcpCpus);
    zone.pcpHighMax = PerCpuPages.zoneHighMax(zone.managed, batch, zone.pcpCpus);
  }

  /** {@code pageset_update}: the zone's current values into one list (takes its lock, then {@code zone->lock} to read them). */
  private static void copyHighAndBatch(Zone zone, PerCpuPages p) {
    p.lock().lock();
    zone.lock.lock();
    int batch = zone.pcpBatch;
    int min = zone.pcpHighMin;
    int max = zone.pcpHighMax;
    zone.lock.unlock();
    p.batch = batch;
    p.highMin = min;
    p.highMax = max;
    p.high = Math.clamp(p.high, min, max);
    p.lock().unlock();
  }

  /** Every CPU's lists created so far, by CPU id. */
  static List<PerCpuPages> allPcps(Zone zone) {
    PerCpuPages[] all = (PerCpuPages[]) PCPS.getAcquire(zone);
    List<PerCpuPages> out = new java.util.ArrayList<>(all.length);
    for (int i = 0; i < all.length; i++) {
      PerCpuPages p = (PerCpuPages) PCP_SLOT.getAcquire(all, i);
      if (p != null) {
        out.add(p);
      }
    }
    return out;
  }

  /**
   * {@code rmqueue_pcplist}: the head of the CPU's list of {@code order} and migrate type
   * {@code type}, refilled with a batch ({@code rmqueue_bulk}) when empty. -1 if {@code pcp->lock} is held (by a remote drain: the
   * kernel's {@code pcp_spin_trylock} fails and the caller goes to the buddy lists) or nothing
   * could be taken.
   */
  static long rmqueuePcplist(Zone zone, PerCpuPages pcp, int order, int type) {
    if (!pcp.lock().tryLock()) {
      return -1;
    }
    pcp.freeCount >>= 1; // an allocation breaks a run of frees
    PcpList list = pcp.list(order, type);
    if (list.size() == 0) {
      rmqueueBulk(zone, pcp, order, type, nrPcpAlloc(pcp, order));
    }
    long pfn = -1;
    if (list.size() > 0) {
      pcp.addCount(-(1 << order));
      pfn = list.takeHead();
    }
    pcp.lock().unlock();
    return pfn;
  }

  /**
   * {@code nr_pcp_alloc}: how many blocks of {@code order} a refill takes, and the refill's
   * effect on {@code high}: it grows by the refill (up to {@code high_max}), and the refill
   * doubles each time the CPU refills order 0 again without freeing in between, up to
   * {@code batch << PCP_BATCH_SCALE_MAX} and to the room left under {@code high}. One block
   * while the lists are disabled ({@code high < batch}). Under {@code pcp->lock}.
   */
  static int nrPcpAlloc(PerCpuPages pcp, int order) {
    int base = pcp.batch;
    int high = Math.clamp(pcp.high, pcp.highMin, pcp.highMax);
    pcp.high = high;
    if (high < base) {
      return 1;
    }
    int batch = order == 0 ? base << pcp.allocFactor : base;
    if (pcp.highMin != pcp.highMax) {
      high = (int) Math.min((long) high + batch, pcp.highMax);
      pcp.high = high;
    }
    if (order == 0) {
      int maxNrAlloc = Math.max(high - pcp.count() - base, base);
      if (batch <= maxNrAlloc && pcp.allocFactor < PerCpuPages.PCP_BATCH_SCALE_MAX) {
        pcp.allocFactor++;
      }
      batch = Math.min(batch, maxNrAlloc);
    }
    if (batch > 1) {
      batch = Math.max(batch >> order, 2);
    }
    return batch;
  }

  /**
   * {@code free_unref_page_commit}: the block goes to the head of its list (of its order and
   * its pageblock's migrate type, read as {@code free_unref_folios} reads it); the run of frees
   * grows ({@code free_count}) and the refill size shrinks ({@code alloc_factor}); if the list
   * reached {@code high} ({@link #nrPcpHigh}, which may raise it), {@link #nrPcpFree} pages go
   * back to the buddy lists. Under {@code pcp->lock}.
   */
  static void freeUnrefPageCommit(Zone zone, PerCpuPages pcp, long pfn, int order) {
    pcp.allocFactor >>= 1;
    pcp.list(order, zone.pageblockType(pfn)).addHead(pfn);
    pcp.addCount(1 << order);
    int batch = pcp.batch;
    if (pcp.freeCount < (batch << PerCpuPages.PCP_BATCH_SCALE_MAX)) {
      pcp.freeCount += 1 << order;
    }
    int high = nrPcpHigh(pcp);
    if (pcp.count() >= high) {
      freePcppagesBulk(zone, pcp, nrPcpFree(pcp, high), order);
    }
  }

  /**
   * {@code nr_pcp_high}: the level at which a free gives pages back. A list found at
   * {@code high} raises {@code high} to hold the run of frees plus a batch (up to
   * {@code high_max}); the level used for this free is the one before. 0 while disabled.
   * Under {@code pcp->lock}.
   */
  static int nrPcpHigh(PerCpuPages pcp) {
    int high = Math.clamp(pcp.high, pcp.highMin, pcp.highMax);
    pcp.high = high;
    if (high == 0 || pcp.highMin == pcp.highMax) {
      return high;
    }
    if (pcp.count() >= high) {
      int needHigh = pcp.freeCount + pcp.batch;
      if (pcp.high < needHigh) {
        pcp.high = Math.clamp(needHigh, pcp.highMin, pcp.highMax);
      }
    }
    return high;
  }

  /**
   * {@code nr_pcp_free}: how many pages a free at {@code high} gives back: the run of frees,
   * at least a batch and at most {@code high - batch}; one page while the lists are disabled.
   */
  static int nrPcpFree(PerCpuPages pcp, int high) {
    int batch = pcp.batch;
    if (high < batch) {
      return 1;
    }
    return Math.clamp(pcp.freeCount, batch, Math.max(batch, high - batch));
  }

  /**
   * {@code decay_pcp_high}, from the periodic vmstat work on the owning CPU: {@code high}
   * drops by an eighth (not below {@code high_min}, nor more than {@code batch << 5} below the
   * pages on the list, to bound the work), and whatever the list holds above it goes back to
   * the buddy lists. Returns true if there is more to do (the kernel keeps the work scheduled).
   */
  static boolean decayPcpHigh(Zone zone, PerCpuPages pcp) {
    boolean todo = false;
    pcp.lock().lock();
    int min = pcp.highMin;
    int batch = pcp.batch;
    if (pcp.high > min) {
      pcp.high = Math.max(Math.max(pcp.count() - (batch << PerCpuPages.PCP_BATCH_SCALE_MAX), pcp.high - (pcp.high >> 3)), min);
      todo = pcp.high > min;
    }
    int toDrain = pcp.count() - pcp.high;
    if (toDrain > 0) {
      freePcppagesBulk(zone, pcp, toDrain, 0);
      todo = true;
    }
    pcp.lock().unlock();
    return todo;
  }

  /**
   * {@code rmqueue_bulk}: up to {@code n} blocks of {@code order} and {@code type} (falling back
   * as {@code __rmqueue} does) appended to the CPU's list, under one {@code zone->lock}. Under
   * {@code pcp->lock}.
   */
  private static void rmqueueBulk(Zone zone, PerCpuPages pcp, int order, int type, int n) {
    zone.lock.lock();
    int got = 0;
    PcpList list = pcp.list(order, type);
    for (; got < n; got++) {
      long pfn = zone.rmqueueLocked(order, type);
      if (pfn < 0) {
        break;
      }
      list.addTail(pfn);
    }
    if (got > 0) {
      zone.account(-((long) got << order));
    }
    zone.lock.unlock();
    pcp.addCount(got << order);
  }

  /**
   * {@code free_pcppages_bulk}: gives at least {@code pages} pages (or all there are) back to
   * the buddy lists under one {@code zone->lock}, from the tails (the coldest blocks), starting
   * with the first list of {@code order} and going round the others; each block goes to the
   * lists of its pageblock's type. Under {@code pcp->lock}.
   */
  static void freePcppagesBulk(Zone zone, PerCpuPages pcp, int pages, int order) {
    zone.lock.lock();
    int freed = 0;
    int n = pcp.lists.length;
    int i = PerCpuPages.pindex(order, 0);
    int emptyInARow = 0;
    while (freed < pages && emptyInARow < n) {
      PcpList list = pcp.lists[i];
      if (list.size() == 0) {
        emptyInARow++;
      } else {
        emptyInARow = 0;
        int o = PerCpuPages.orderOf(i);
        zone.mergeIntoFreeArea(list.takeTail(), o);
        freed += 1 << o;
      }
      i = i + 1 == n ? 0 : i + 1;
    }
    if (freed > 0) {
      zone.account(freed);
    }
    zone.lock.unlock();
    pcp.addCount(-freed);
  }

  /**
   * {@code drain_pages_zone}: everything on {@code pcp}'s lists back to the buddy lists. Takes
   * {@code pcp->lock} (with a spin: the caller may be another CPU).
   */
  private static void drainPages(Zone zone, PerCpuPages pcp) {
    pcp.lock().lock();
    if (pcp.count() > 0) {
      freePcppagesBulk(zone, pcp, pcp.count(), 0);
    }
    pcp.lock().unlock();
  }

  /**
   * {@code drain_all_pages(zone)}: every CPU's lists back to the buddy lists. The kernel runs
   * the drain on each CPU (a work item), which takes that CPU's {@code pcp->lock}; the model
   * takes each lock from the calling CPU, which is the same exclusion.
   */
  static void drainAll(Zone zone) {
    for (PerCpuPages p : allPcps(zone)) {
      drainPages(zone, p);
    }
  }

  /**
   * {@code zone_pcp_disable}: from now on {@code high} is 0 and {@code batch} 1, so every free
   * goes straight through to the buddy lists and every allocation takes exactly one block; then
   * every list is drained. The kernel does this around memory offlining and
   * {@code alloc_contig_range}; tests of the buddy allocator use it to see the buddy lists alone.
   */
  static void pcpDisable(Zone zone) {
    setPcpDisabled(zone, true);
    drainAll(zone);
  }

  /** {@code zone_pcp_enable}: back to the zone's own {@code high} and {@code batch}. */
  static void pcpEnable(Zone zone) {
    setPcpDisabled(zone, false);
  }

  private static void setPcpDisabled(Zone zone, boolean disabled) {
    zone.lock.lock();
    zone.pcpDisabled = disabled;
    computeHighAndBatch(zone);
    zone.lock.unlock();
    for (PerCpuPages p : allPcps(zone)) {
      copyHighAndBatch(zone, p);
    }
  }

  /**
   * Like {@link Zone#freeOrderCovering}, over every CPU's lists, each read under its
   * {@code pcp->lock} (taken with a spin; not under {@code zone->lock}, which nests inside).
   * Error paths and diagnosis only.
   */
  static int pcpOrderCovering(Zone zone, long pfn, int order) {
    for (PerCpuPages p : allPcps(zone)) {
      p.lock().lock();
      int found = -1;
      for (int i = 0; i < p.lists.length && found < 0; i++) {
        int o = PerCpuPages.orderOf(i);
        long head = o >= order ? pfn & ~((1L << o) - 1) : pfn;
        if (p.lists[i].contains(head)) {
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
}
