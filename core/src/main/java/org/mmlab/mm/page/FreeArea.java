package org.mmlab.mm.page;

import java.util.Arrays;

/**
 * The free blocks of one order and one migrate type in one zone: the kernel's
 * {@code free_area[order].free_list[type]} with its share of {@code nr_free}.
 *
 * <h2>Why not a list through the descriptors</h2>
 * The kernel threads its free lists through the {@code lru} field of each free block's first
 * {@code struct page} and finds a buddy by looking at its descriptor ({@code page_is_buddy}).
 * The model creates descriptors lazily, so the free lists must not need them: a just-booted
 * 64 MiB kernel is sixteen order-10 blocks and no descriptor at all. Here a free area is a set
 * of block start pfns: an array used as a stack (the most recently freed block is taken first,
 * as the kernel takes the list head) and an open-addressing index from pfn to array slot, so
 * that taking a block, adding one and removing a given buddy are all O(1) and memory grows
 * with the number of free blocks, not with the size of the zone.
 *
 * <p>Removing a block from the middle moves the last one into its slot, which perturbs the LIFO
 * order slightly; the order is deterministic, which is all the explorer needs.
 *
 * <h2>Concurrency</h2>
 * Protected by the zone's {@code zone->lock}; the walk reads it when no CPU runs.
 */
final class FreeArea {
  private static final int[] EMPTY = new int[0];

  /** Start pfns (unsigned) of the free blocks; {@code [0, size)} is used. Protected by zone->lock. */
  private int[] blocks = EMPTY;
  /** Number of free blocks ({@code nr_free}). Protected by zone->lock; read racily by reports. */
  private int size;
  /** Open addressing with linear probing: slot value = index in {@link #blocks} + 1, 0 = empty. */
  private int[] table = EMPTY;

  /** {@code nr_free}. */
  int nrFree() {
    return size;
  }

  /** The i-th free block's start pfn (walks, in array order). */
  long block(int i) {
    return Integer.toUnsignedLong(blocks[i]);
  }

  boolean contains(long pfn) {
    return size != 0 && slotOf((int) pfn) >= 0;
  }

  /** Adds a free block ({@code add_to_free_list}); it must not be present. */
  void add(long pfn) {
    if ((size + 1) * 2 > table.length) {
      grow();
    }
    int key = (int) pfn;
    int s = slotOf(key);
    if (s >= 0) {
      throw new IllegalStateException("free block 0x" + Long.toHexString(pfn) + " added twice");
    }
    blocks[size] = key;
    table[-s - 1] = size + 1;
    size++;
  }

  /** Removes the block starting at {@code pfn} ({@code del_page_from_free_list}); false if absent. */
  boolean remove(long pfn) {
    if (size == 0) {
      return false;
    }
    int s = slotOf((int) pfn);
    if (s < 0) {
      return false;
    }
    int idx = table[s] - 1;
    int last = size - 1;
    if (idx != last) {
      // Find the moved block's slot before its array entry changes: once blocks[idx] holds it
      // too, the probe could stop at slot s (which still points at idx) instead.
      int moved = blocks[last];
      int ms = slotOf(moved);
      blocks[idx] = moved;
      table[ms] = idx + 1;
    }
    size--;
    deleteSlot(s);
    return true;
  }

  /** The block {@link #take} would take, left on the list; -1 if none. */
  long last() {
    return size == 0 ? -1 : Integer.toUnsignedLong(blocks[size - 1]);
  }

  /** Takes the most recently added block ({@code get_page_from_free_area}), or -1 if none. */
  long take() {
    if (size == 0) {
      return -1;
    }
    long pfn = Integer.toUnsignedLong(blocks[size - 1]);
    remove(pfn);
    return pfn;
  }

  // ------------------------------------------------------------ the index

  private static int hash(int key) {
    int h = key * 0x9E3779B9;
    h ^= h >>> 16;
    h *= 0x85EBCA6B;
    return h ^ (h >>> 13);
  }

  /** The slot holding {@code key}, or {@code -(free slot) - 1} where it would go. */
  private int slotOf(int key) {
    int mask = table.length - 1;
    int i = hash(key) & mask;
    while (true) {
      int e = table[i];
      if (e == 0) {
        return -i - 1;
      }
      if (blocks[e - 1] == key) {
        return i;
      }
      i = (i + 1) & mask;
    }
  }

  /** Backward-shift deletion: keeps every probe chain unbroken without tombstones. */
  private void deleteSlot(int s) {
    int mask = table.length - 1;
    int hole = s;
    int j = s;
    while (true) {
      table[hole] = 0;
      while (true) {
        j = (j + 1) & mask;
        int e = table[j];
        if (e == 0) {
          return;
        }
        int home = hash(blocks[e - 1]) & mask;
        boolean stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (!stays) {
          table[hole] = e;
          hole = j;
          break;
        }
      }
    }
  }

  private void grow() {
    int cap = Math.max(8, blocks.length * 2);
    blocks = Arrays.copyOf(blocks, cap);
    table = new int[cap * 2];
    int mask = table.length - 1;
    for (int i = 0; i < size; i++) {
      int h = hash(blocks[i]) & mask;
      while (table[h] != 0) {
        h = (h + 1) & mask;
      }
      table[h] = i + 1;
    }
  }
}
