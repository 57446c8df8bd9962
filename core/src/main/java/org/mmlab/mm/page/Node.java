package org.mmlab.mm.page;

import java.util.List;

/**
 * A NUMA node: the kernel's {@code pg_data_t} ({@code struct pglist_data}), a contiguous range
 * of page frames with its zones. The model has one zone per node, {@code ZONE_NORMAL}
 * ({@link Zone}).
 *
 * <p>Immutable after boot.
 */
public final class Node {
  private final int id;
  private final long startPfn;
  private final long endPfn;
  private final Zone normal;

  Node(PhysMem mem, int id, long startPfn, long endPfn) {
    this.id = id;
    this.startPfn = startPfn;
    this.endPfn = endPfn;
    this.normal = new Zone(this, mem, startPfn, endPfn);
  }

  /** {@code pgdat->node_id}. */
  public int id() {
    return id;
  }

  /** {@code node_start_pfn}. */
  public long startPfn() {
    return startPfn;
  }

  /** {@code node_end_pfn}. */
  public long endPfn() {
    return endPfn;
  }

  /** {@code node_present_pages}. */
  public long presentPages() {
    return endPfn - startPfn;
  }

  /** The node's {@code ZONE_NORMAL}. */
  public Zone normalZone() {
    return normal;
  }

  /** {@code pgdat->node_zones}, populated zones only. */
  public List<Zone> zones() {
    return List.of(normal);
  }

  boolean spans(long pfn) {
    return pfn >= startPfn && pfn < endPfn;
  }

  @Override
  public String toString() {
    return "node" + id + " [0x" + Long.toHexString(startPfn) + ", 0x" + Long.toHexString(endPfn) + ")";
  }
}
