package org.mmlab.mm.page;

import static org.mmlab.mm.page.Zone.PCPS;
import static org.mmlab.mm.page.Zone.PCP_SLOT;

import java.util.Arrays;
import java.util.List;
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

  private static PerCpuPages createPcp(Zone zone, Cpu cpu) {
    int i = cpu.id + 1;
    zone.lock.lock();
    PerCpuPages[] all = (PerCpuPages[]) PCPS.getAcquire(zone);
    if (i >= all.length) {
      all = Arrays.copyOf(all, Math.max(i + 1, Math.max(4, all.length * 2)));
      PCPS.setRelease(zone, all);
    }
    PerCpuPages p = new PerCpuPages(zone.sched(), zone, cpu.id, zone.pcpBatch, zone.pcpHigh);
    PCP_SLOT.setRelease(all, i, p);
    zone.lock.unlock();
    return p;
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
   * {@code rmqueue_pcplist}: the head of the CPU's list of {@code order}, refilled with a batch
   * ({@code rmqueue_bulk}) when empty. -1 if {@code pcp->lock} is held (by a remote drain: the
   * kernel's {@code pcp_spin_trylock} fails and the caller goes to the buddy lists) or nothing
   * could be taken.
   */
  static long rmqueuePcplist(Zone zone, PerCpuPages pcp, int order) {
    if (!pcp.lock().tryLock()) {
      return -1;
    }
    PcpList list = pcp.list(order);
    if (list.size() == 0) {
      rmqueueBulk(zone, pcp, order, Math.max(1, pcp.batch >> order));
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
  private static void rmqueueBulk(Zone zone, PerCpuPages pcp, int order, int n) {
    zone.lock.lock();
    int got = 0;
    PcpList list = pcp.list(order);
    for (; got < n; got++) {
      long pfn = zone.rmqueueSmallest(order);
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
   * with the list of {@code order} and going round the others. Under {@code pcp->lock}.
   */
  static void freePcppagesBulk(Zone zone, PerCpuPages pcp, int pages, int order) {
    zone.lock.lock();
    int freed = 0;
    int o = order;
    int emptyInARow = 0;
    while (freed < pages && emptyInARow <= PerCpuPages.PCP_MAX_ORDER) {
      PcpList list = pcp.list(o);
      if (list.size() == 0) {
        emptyInARow++;
      } else {
        emptyInARow = 0;
        zone.mergeIntoFreeArea(list.takeTail(), o);
        freed += 1 << o;
      }
      o = o == PerCpuPages.PCP_MAX_ORDER ? 0 : o + 1;
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
    setPcpHighAndBatch(zone, 0, 1);
    drainAll(zone);
  }

  /** {@code zone_pcp_enable}: back to the zone's own {@code high} and {@code batch}. */
  static void pcpEnable(Zone zone) {
    int batch = PerCpuPages.zoneBatchsize(zone.managed);
    setPcpHighAndBatch(zone, PerCpuPages.zoneHighsize(zone.managed, batch), batch);
  }

  private static void setPcpHighAndBatch(Zone zone, int high, int batch) {
    zone.lock.lock();
    zone.pcpHigh = high;
    zone.pcpBatch = batch;
    zone.lock.unlock();
    for (PerCpuPages p : allPcps(zone)) {
      p.lock().lock();
      p.high = high;
      p.batch = batch;
      p.lock().unlock();
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
}
