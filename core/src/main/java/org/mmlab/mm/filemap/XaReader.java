package org.mmlab.mm.filemap;

import org.jspecify.annotations.Nullable;
import org.mmlab.explore.Sched;
import org.mmlab.mm.filemap.XArray.Found;

/**
 * The RCU side of an {@link XArray}: the walks from the head that {@code xas_load},
 * {@code xas_find}, {@code xas_find_marked} and {@code xa_get_mark} make, each restarting at a
 * named retry point ({@code xas_retry}) when it meets a node being freed. See the
 * Concurrency notes of {@link XArray}. The caller's context (RCU read section or
 * {@code xa_lock}) is checked by {@link XArray} before it calls in.
 *
 * <p>Ordered: load and its walk; find and its scan of a subtree; the order of a found entry;
 * get_mark.
 */
final class XaReader {
  /** The scheduler of the retry points. Immutable. */
  private final Sched sched;
  /** The array's head. Immutable reference. */
  private final XaHead head;

  XaReader(Sched sched, XaHead head) {
    this.sched = sched;
    this.head = head;
  }

  /** Where a walk was when it met a retry it must restart for ({@code xas_reset}). */
  private record Restart(long index) {}

  /**
   * {@code xas_load}: see {@link XArray#load}. Walks that meet a node being freed restart at the
   * retry point {@code "xas_load"}.
   */
  @Nullable Object load(long index) {
    if (index < 0) {
      return null;
    }
    for (;;) {
      Object e = walk(index, "xas_descend");
      if (e != XaEntry.RESTART) {
        return e;
      }
      sched.retry("xas_load", head);
    }
  }

  /**
   * One walk from the head to the entry of {@code index}; {@link XaEntry#RESTART} if it met a
   * dying node. Also the writer's lookup of the entry it replaces ({@link XaWriter#store}).
   */
  @Nullable Object walk(long index, String what) {
    Object e = head.read("xas_start");
    if (!(e instanceof XaNode n)) {
      return index == 0 ? e : null;
    }
    if ((index >>> n.shift) > XaNode.MASK) {
      return null;
    }
    for (;;) {
      int off = n.slotOf(index);
      e = n.read(off, what);
      if (e instanceof XaEntry.Sibling s) {
        e = n.read(s.offset(), what);
        if (e instanceof XaNode) {
          return XaEntry.RESTART;
        }
      }
      if (e == XaEntry.RETRY && n.isDead()) {
        return XaEntry.RESTART;
      }
      if (!(e instanceof XaNode c)) {
        return e;
      }
      n = c;
    }
  }

  /**
   * {@code xa_find} / {@code xas_find}, and with {@code mark >= 0} {@code xas_find_marked}: see
   * {@link XArray#find} and {@link XArray#findMarked}. A walk that meets a node being freed
   * restarts from where it was at the retry point {@code "xas_find"}.
   */
  @Nullable Found find(long start, long max, int mark) {
    if (start < 0 || max < start) {
      return null;
    }
    long from = start;
    for (;;) {
      Object r = findOnce(from, max, mark);
      if (r instanceof Restart rs) {
        from = rs.index();
        sched.retry("xas_find", head);
        continue;
      }
      return (Found) r;
    }
  }

  private @Nullable Object findOnce(long from, long max, int mark) {
    String what = mark < 0 ? "xas_find" : "xas_find_marked";
    Object h = head.read(what);
    if (h == null) {
      return null;
    }
    if (mark >= 0 && (head.readMarks(what) & (1 << mark)) == 0) {
      return null;
    }
    if (!(h instanceof XaNode n)) {
      return from == 0 ? new Found(0, 0, h) : null;
    }
    if ((from >>> n.shift) > XaNode.MASK) {
      return null;
    }
    return scan(n, 0, from, max, mark, what);
  }

  /**
   * The first entry in the subtree of {@code n} (covering indices from {@code base}) that
   * covers an index in {@code [from, max]}, {@code from >= base}; a {@link Restart}; or null.
   */
  private @Nullable Object scan(XaNode n, long base, long from, long max, int mark, String what) {
    int off = (int) ((from - base) >>> n.shift);
    long marks = mark >= 0 ? n.readMarks(mark, what) : -1L;
    for (boolean first = true; off < XaNode.SIZE; off++, first = false) {
      long slotStart = base + ((long) off << n.shift);
      if (slotStart < 0 || slotStart > max) {
        return null;
      }
      int canon = off;
      Object e;
      if (first) {
        e = n.read(off, what);
        if (e instanceof XaEntry.Sibling s) {
          canon = s.offset();
          e = n.read(canon, what);
          if (e instanceof XaNode) {
            return new Restart(from);
          }
        }
        if ((marks & (1L << canon)) == 0) {
          continue;
        }
      } else {
        if ((marks & (1L << off)) == 0) {
          continue;
        }
        e = n.read(off, what);
        if (e instanceof XaEntry.Sibling) {
          continue;
        }
      }
      if (e == null) {
        continue;
      }
      if (e == XaEntry.RETRY && n.isDead()) {
        return new Restart(Math.max(from, slotStart));
      }
      if (e instanceof XaNode c) {
        Object r = scan(c, slotStart, Math.max(from, slotStart), max, mark, what);
        if (r != null) {
          return r;
        }
        continue;
      }
      int order = orderAt(n, canon);
      if (n.read(canon, "xas_get_order") != e || n.isDead()) {
        // The siblings were counted while the entry was being replaced, erased or freed.
        return new Restart(Math.max(from, slotStart));
      }
      return new Found(base + ((long) canon << n.shift), order, e);
    }
    return null;
  }

  /**
   * {@code xas_get_order}: the order of the entry in slot {@code canon} of {@code n}, from its
   * siblings. Under RCU the count races with a writer replacing or erasing the entry (it
   * clears the first slot, then the siblings) or freeing the node (siblings become retry
   * entries); the caller re-reads the first slot and the node's state afterwards and restarts
   * if either changed, so a {@link Found}'s order always belongs to its entry. (The kernel
   * leaves this to its callers, which use {@code folio_order} instead.)
   */
  private static int orderAt(XaNode n, int canon) {
    int sibs = 0;
    for (int o = canon + 1; o < XaNode.SIZE; o++) {
      if (n.read(o, "xas_get_order") instanceof XaEntry.Sibling s && s.offset() == canon) {
        sibs++;
      } else {
        break;
      }
    }
    return n.shift + 31 - Integer.numberOfLeadingZeros(sibs + 1);
  }

  /** {@code xa_get_mark}: see {@link XArray#getMark}. */
  boolean getMark(long index, int mark) {
    if (index < 0) {
      return false;
    }
    for (;;) {
      int r = getMarkOnce(index, mark);
      if (r >= 0) {
        return r == 1;
      }
      sched.retry("xa_get_mark", head);
    }
  }

  /** 1 marked, 0 not, -1 restart. */
  private int getMarkOnce(long index, int mark) {
    if ((head.readMarks("xa_get_mark") & (1 << mark)) == 0) {
      return 0;
    }
    Object e = head.read("xa_get_mark");
    if (!(e instanceof XaNode n)) {
      return index == 0 && e != null ? 1 : 0;
    }
    if ((index >>> n.shift) > XaNode.MASK) {
      return 0;
    }
    for (;;) {
      int off = n.slotOf(index);
      e = n.read(off, "xa_get_mark");
      if (e instanceof XaEntry.Sibling s) {
        off = s.offset();
        e = n.read(off, "xa_get_mark");
        if (e instanceof XaNode) {
          return -1;
        }
      }
      if (e == XaEntry.RETRY && n.isDead()) {
        return -1;
      }
      if ((n.readMarks(mark, "xa_get_mark") & (1L << off)) == 0) {
        return 0;
      }
      if (!(e instanceof XaNode c)) {
        return 1;
      }
      n = c;
    }
  }
}
