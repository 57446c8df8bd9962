package org.mmlab.mm.filemap;

import org.jspecify.annotations.Nullable;

/**
 * The writer of an {@link XArray}, under {@code xa_lock}: {@code xas_store} of one entry, of a
 * multi-index entry and of null (erase), and the marks ({@code xa_set_mark},
 * {@code xa_clear_mark}, {@code xas_squash_marks}, {@code xas_init_marks}). Nodes are made,
 * freed, deleted and shrunk by {@link XaNodes}. {@link XArray} asserts the lock and checks the
 * arguments before it calls in.
 *
 * <p>Ordered: store (insert, erase, the slot loop, mark squashing); marks (set, clear, the
 * writer's walk to a slot, clearing upward); the count of explicitly stored retry entries.
 */
final class XaWriter {
  /** The array's name, in the message of a broken lock invariant. Immutable. */
  private final String name;
  /** The array's head. Immutable reference. */
  private final XaHead head;
  /** The walk {@link #store} finds the old entry with. Immutable. */
  private final XaReader reader;
  /** Allocation, growth and freeing of nodes. Immutable. */
  private final XaNodes nodes;
  /** Retry entries stored explicitly and still in the tree (for {@link XArray#check()}). Protected by {@code xa_lock}. */
  private long retryEntries;

  XaWriter(String name, XaHead head, XaReader reader, XaNodes nodes) {
    this.name = name;
    this.head = head;
    this.reader = reader;
    this.nodes = nodes;
  }

  /** Retry entries stored explicitly and still present. */
  long retryEntries() {
    return retryEntries;
  }

  /**
   * {@code xas_store} with an {@code xa_state} of order {@code order}: see {@link XArray#store},
   * which has asserted the lock and checked the range. Looks the old entry up with the readers'
   * walk, then inserts or erases.
   */
  @Nullable Object store(long index, int order, @Nullable Object entry) {
    Object old = reader.walk(index, "xas_load");
    if (old == XaEntry.RESTART) {
      throw new IllegalStateException("the xa_lock holder met a dying node in " + name);
    }
    if (entry == null) {
      erase(index, order);
    } else {
      insert(index, order, entry);
    }
    return old;
  }

  /** {@code xas_create} then the slot loop of {@code xas_store}, for a non-null entry. */
  private void insert(long index, int order, Object entry) {
    int sizeShift = order - order % XaNode.SHIFT;
    int sibs = (1 << (order % XaNode.SHIFT)) - 1;
    long last = index + (1L << order) - 1;
    Object h = head.read("xas_create");
    if (order == 0 && index == 0 && !(h instanceof XaNode)) {
      head.write(entry, "xas_store");
      retryAccount(h, entry);
      return;
    }
    XaNode n = nodes.expand(h, last, sizeShift);
    while (n.shift > sizeShift) {
      int off = n.slotOf(index);
      Object e = n.read(off, "xas_create");
      if (e instanceof XaEntry.Sibling s) {
        off = s.offset();
        e = n.read(off, "xas_create");
      }
      if (e == null) {
        XaNode c = nodes.newNode(n.shift - XaNode.SHIFT, n, off);
        n.write(off, c, "xas_create");
        n.count++;
        n = c;
      } else if (e instanceof XaNode c) {
        n = c;
      } else {
        // A larger entry covers index: xas_store writes its first slot only.
        storeSlots(n, off, 0, entry);
        return;
      }
    }
    int off = n.slotOf(index);
    if (n.read(off, "xas_create") instanceof XaEntry.Sibling s) {
      off = s.offset();
      sibs = 0;
    }
    storeSlots(n, off, sibs, entry);
  }

  /** {@code xas_store(NULL)}: erases whatever covers the range; no node is created. */
  private void erase(long index, int order) {
    int sizeShift = order - order % XaNode.SHIFT;
    int sibs = (1 << (order % XaNode.SHIFT)) - 1;
    Object h = head.read("xas_load");
    if (h == null) {
      return;
    }
    if (!(h instanceof XaNode n)) {
      if (index == 0) {
        head.write(null, "xas_store");
        retryAccount(h, null);
        clearHeadMarks();
      }
      return;
    }
    if ((index >>> n.shift) > XaNode.MASK) {
      return;
    }
    if (sizeShift > n.shift) {
      // The range covers the whole tree (aligned, so index is 0).
      head.write(null, "xas_store");
      clearHeadMarks();
      retryEntries -= nodes.freeSubtree(n);
      return;
    }
    for (;;) {
      int off = n.slotOf(index);
      Object e = n.read(off, "xas_load");
      if (e instanceof XaEntry.Sibling s) {
        off = s.offset();
        e = n.read(off, "xas_load");
      }
      if (n.shift > sizeShift) {
        if (e == null) {
          return;
        }
        if (e instanceof XaNode c) {
          n = c;
          continue;
        }
        storeSlots(n, off, 0, null);
        return;
      }
      if (e == null && sibs == 0) {
        return;
      }
      storeSlots(n, off, sibs, null);
      return;
    }
  }

  /**
   * The slot loop of {@code xas_store}: writes {@code entry} into slot {@code offset} of
   * {@code n} and siblings naming it into the next {@code sibs} slots; erasing (null) goes on
   * over the siblings of what it cleared. Frees the subtrees it replaces, keeps the counts, and
   * deletes or shrinks nodes when the count went down.
   */
  private void storeSlots(XaNode n, int offset, int sibs, @Nullable Object entry) {
    int max = offset + sibs;
    if (sibs > 0) {
      squashMarks(n, offset, max);
    }
    boolean value = entry instanceof XaEntry.Value;
    Object next = n.read(offset, "xas_store");
    Object first = next;
    Object put = entry;
    int count = 0;
    int values = 0;
    int off = offset;
    for (;;) {
      n.write(off, put, "xas_store");
      if (next instanceof XaNode child) {
        retryEntries -= nodes.freeSubtree(child);
      }
      if (next == XaEntry.RETRY) {
        retryEntries--;
      }
      count += (next == null ? 1 : 0) - (entry == null ? 1 : 0);
      values += (value ? 1 : 0) - (first instanceof XaEntry.Value ? 1 : 0);
      if (entry != null) {
        if (off == max) {
          break;
        }
        put = XaEntry.sibling(offset);
      } else if (off == XaNode.MASK) {
        break;
      }
      next = n.read(++off, "xas_store");
      if (!(next instanceof XaEntry.Sibling)) {
        if (entry == null && off > max) {
          break;
        }
        first = next;
      }
    }
    if (entry != null && (value != first instanceof XaEntry.Value)) {
      // Siblings after max still name the first slot, which now holds the new entry: their
      // value-ness changed with it (the kernel counts only the slots it writes).
      for (int o = off + 1; o < XaNode.SIZE && n.read(o, "xas_store") instanceof XaEntry.Sibling s && s.offset() == offset; o++) {
        values += value ? 1 : -1;
      }
    }
    if (entry == XaEntry.RETRY) {
      retryEntries++;
    }
    if (entry == null) {
      for (int m = 0; m < XaNode.MARKS; m++) {
        clearMarkUp(n, offset, m);
      }
    }
    n.count += count;
    n.nrValues += values;
    if (count < 0) {
      nodes.deleteNode(n);
    }
  }

  /** {@code xas_squash_marks}: ORs the marks of slots {@code offset+1..max} into slot {@code offset}. */
  private static void squashMarks(XaNode n, int offset, int max) {
    long range = (max - offset == XaNode.MASK ? -1L : ((1L << (max - offset + 1)) - 1)) << offset;
    long rest = range & ~(1L << offset);
    for (int m = 0; m < XaNode.MARKS; m++) {
      long w = n.readMarks(m, "xas_squash_marks");
      if ((w & rest) != 0) {
        n.writeMarks(m, (w & ~rest) | (1L << offset), "xas_squash_marks");
      }
    }
  }

  // ------------------------------------------------------------------ marks

  /**
   * {@code xa_set_mark}: see {@link XArray#setMark}. Sets the bit in the entry's first slot and
   * upward until a node already has it.
   */
  void setMark(long index, int mark) {
    Object h = head.read("xas_load");
    if (h == null || index < 0) {
      return;
    }
    XaNode node = null;
    int off = 0;
    if (h instanceof XaNode n) {
      Slot at = locate(n, index);
      if (at == null) {
        return;
      }
      node = at.node();
      off = at.offset();
    } else if (index != 0) {
      return;
    }
    while (node != null) {
      if (node.setMark(mark, off)) {
        return;
      }
      off = node.offset;
      node = node.parent;
    }
    int hm = head.readMarks("xa_mark_set");
    if ((hm & (1 << mark)) == 0) {
      head.writeMarks(hm | (1 << mark), "xa_mark_set");
    }
  }

  /** {@code xa_clear_mark}: see {@link XArray#clearMark}. */
  void clearMark(long index, int mark) {
    Object h = head.read("xas_load");
    if (h == null || index < 0) {
      return;
    }
    if (h instanceof XaNode n) {
      Slot at = locate(n, index);
      if (at != null) {
        clearMarkUp(at.node(), at.offset(), mark);
      }
    } else if (index == 0) {
      int hm = head.readMarks("xa_mark_clear");
      if ((hm & (1 << mark)) != 0) {
        head.writeMarks(hm & ~(1 << mark), "xa_mark_clear");
      }
    }
  }

  /** A slot of a node: where an entry's first slot is. */
  private record Slot(XaNode node, int offset) {}

  /**
   * The node and first slot of the entry covering {@code index} below root {@code n}, or null
   * if none. Writer-side walk (lock held: no node on it is dying).
   */
  private static @Nullable Slot locate(XaNode n, long index) {
    if ((index >>> n.shift) > XaNode.MASK) {
      return null;
    }
    for (;;) {
      int off = n.slotOf(index);
      Object e = n.read(off, "xas_load");
      if (e instanceof XaEntry.Sibling s) {
        off = s.offset();
        e = n.read(off, "xas_load");
      }
      if (e == null) {
        return null;
      }
      if (!(e instanceof XaNode c)) {
        return new Slot(n, off);
      }
      n = c;
    }
  }

  /** {@code xas_clear_mark} from slot {@code off} of {@code node} upward. */
  private void clearMarkUp(@Nullable XaNode start, int off, int mark) {
    XaNode node = start;
    int o = off;
    while (node != null) {
      if (!node.clearMark(mark, o)) {
        return;
      }
      if (node.readMarks(mark, "node_any_mark") != 0) {
        return;
      }
      o = node.offset;
      node = node.parent;
    }
    int hm = head.readMarks("xa_mark_clear");
    if ((hm & (1 << mark)) != 0) {
      head.writeMarks(hm & ~(1 << mark), "xa_mark_clear");
    }
  }

  /** {@code xas_init_marks} on the head: the array's marks go when its last entry does. */
  private void clearHeadMarks() {
    if (head.readMarks("xas_init_marks") != 0) {
      head.writeMarks(0, "xas_init_marks");
    }
  }

  // ------------------------------------------------------------------ retry entries

  /** Keeps {@link #retryEntries} when the head's entry {@code old} is replaced by {@code entry}. */
  private void retryAccount(@Nullable Object old, @Nullable Object entry) {
    if (old == XaEntry.RETRY) {
      retryEntries--;
    }
    if (entry == XaEntry.RETRY) {
      retryEntries++;
    }
  }
}
