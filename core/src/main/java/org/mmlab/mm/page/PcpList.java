package org.mmlab.mm.page;

/**
 * One list of a CPU's page cache: {@code pcp->lists[pindex]} of the kernel, for one order and
 * no migrate types. The kernel threads it through {@code page->pcp_list}; the model keeps the
 * blocks' start pfns in a ring buffer instead, so that pages on the list need no descriptor
 * (as free buddy blocks need none, see {@link FreeArea}).
 *
 * <p>Order of use as in the kernel: a freed page goes to the head and an allocation takes the
 * head (the cache-hot page first); {@code rmqueue_bulk} appends at the tail and
 * {@code free_pcppages_bulk} gives back from the tail (the coldest pages).
 *
 * <h2>Concurrency</h2>
 * Protected by {@code pcp->lock} of the {@link PerCpuPages} it belongs to; the consistency walk
 * reads it when no CPU runs.
 */
final class PcpList {
  private int[] ring = new int[8];
  /** Index of the head in {@link #ring}. Protected by pcp->lock. */
  private int head;
  /** Number of blocks. Protected by pcp->lock. */
  private int size;

  int size() {
    return size;
  }

  /** {@code list_add}: a block at the head. */
  void addHead(long pfn) {
    growIfFull();
    head = (head - 1) & (ring.length - 1);
    ring[head] = (int) pfn;
    size++;
  }

  /** {@code list_add_tail}: a block at the tail. */
  void addTail(long pfn) {
    growIfFull();
    ring[(head + size) & (ring.length - 1)] = (int) pfn;
    size++;
  }

  /** {@code list_first_entry} + {@code list_del}: the head block; the list must not be empty. */
  long takeHead() {
    long pfn = Integer.toUnsignedLong(ring[head]);
    head = (head + 1) & (ring.length - 1);
    size--;
    return pfn;
  }

  /** {@code list_last_entry} + {@code list_del}: the tail block; the list must not be empty. */
  long takeTail() {
    size--;
    return Integer.toUnsignedLong(ring[(head + size) & (ring.length - 1)]);
  }

  /** The i-th block from the head (walks and checks). */
  long get(int i) {
    return Integer.toUnsignedLong(ring[(head + i) & (ring.length - 1)]);
  }

  /** True if a block starting at {@code pfn} is on the list: a linear scan, for error paths and checks only. */
  boolean contains(long pfn) {
    for (int i = 0; i < size; i++) {
      if (get(i) == pfn) {
        return true;
      }
    }
    return false;
  }

  private void growIfFull() {
    if (size < ring.length) {
      return;
    }
    int[] next = new int[ring.length * 2];
    for (int i = 0; i < size; i++) {
      next[i] = ring[(head + i) & (ring.length - 1)];
    }
    ring = next;
    head = 0;
  }
}
