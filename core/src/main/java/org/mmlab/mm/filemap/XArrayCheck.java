package org.mmlab.mm.filemap;

import java.util.ArrayList;
import java.util.List;

/**
 * The validity walk of an {@link XArray} (the role of the kernel's {@code xa_dump} and the
 * consistency checks of {@code lib/test_xarray.c}): everything listed under "Invariants" in
 * {@link XArray}'s notes, collected as one line per problem. Reads without scheduling points:
 * run only where no CPU runs.
 */
final class XArrayCheck {
  private final List<String> problems = new ArrayList<>();
  private long retries;

  private XArrayCheck() {}

  static List<String> problems(XArray xa) {
    XArrayCheck c = new XArrayCheck();
    c.walk(xa);
    return c.problems;
  }

  private void walk(XArray xa) {
    Object h = xa.peekHead();
    int hm = xa.peekHeadMarks();
    if (h == null) {
      if (hm != 0) {
        problems.add("the array is empty but has marks 0b" + Integer.toBinaryString(hm));
      }
    } else if (XaEntry.isSibling(h)) {
      problems.add("the head holds a sibling entry");
    } else if (h instanceof XaNode n) {
      if (n.parent != null) {
        problems.add("the root " + n.name() + " has a parent");
      }
      node(n, 0);
      for (int m = 0; m < XaNode.MARKS; m++) {
        boolean any = n.peekMarks(m) != 0;
        boolean set = (hm & (1 << m)) != 0;
        if (any != set) {
          problems.add("the array's mark " + m + " is " + set + " but the root has it " + (any ? "set" : "nowhere"));
        }
      }
    } else if (XArray.isRetry(h)) {
      retries++;
    }
    if (retries != xa.expectedRetryEntries()) {
      problems.add(retries + " retry entries in live nodes, but " + xa.expectedRetryEntries() + " were stored explicitly");
    }
  }

  private void node(XaNode n, long base) {
    String where = n.name() + " (shift " + n.shift + ", from 0x" + Long.toHexString(base) + ")";
    if (n.isDeadPeek()) {
      problems.add(where + " is reachable but being freed");
    }
    if (n.life.isFreed()) {
      problems.add(where + " is reachable but freed");
    }
    int count = 0;
    int values = 0;
    for (int off = 0; off < XaNode.SIZE; off++) {
      Object e = n.peek(off);
      long bit = 1L << off;
      if (e == null) {
        markedHere(n, off, bit, where, "an empty slot");
        continue;
      }
      count++;
      if (XaEntry.isSibling(e)) {
        values += sibling(n, off, XaEntry.siblingOffset(e), where);
        markedHere(n, off, bit, where, "a sibling slot");
        continue;
      }
      if (e instanceof XaNode c) {
        child(n, off, c, base, where);
        continue;
      }
      if (XArray.isRetry(e)) {
        retries++;
      }
      if (XArray.isValue(e)) {
        values++;
      }
      int sibs = 0;
      for (int o = off + 1; o < XaNode.SIZE && XaEntry.isSibling(n.peek(o)) && XaEntry.siblingOffset(n.peek(o)) == off; o++) {
        sibs++;
      }
      int span = sibs + 1;
      if (Integer.bitCount(span) != 1 || off % span != 0) {
        problems.add(where + ": the entry in slot " + off + " spans " + span + " slots, not an aligned power of two");
      }
    }
    if (count != n.count) {
      problems.add(where + ": count " + n.count + " but " + count + " slots in use");
    }
    if (values != n.nrValues) {
      problems.add(where + ": nr_values " + n.nrValues + " but " + values + " value slots");
    }
    if (count == 0) {
      problems.add(where + " is empty but still in the tree");
    }
  }

  /** Checks a sibling in slot {@code off} naming {@code canon}; returns 1 if it belongs to a value entry. */
  private int sibling(XaNode n, int off, int canon, String where) {
    if (canon >= off) {
      problems.add(where + ": the sibling in slot " + off + " names slot " + canon + ", not an earlier one");
      return 0;
    }
    for (int k = canon + 1; k < off; k++) {
      Object between = n.peek(k);
      if (!XaEntry.isSibling(between) || XaEntry.siblingOffset(between) != canon) {
        problems.add(where + ": slot " + k + " between slot " + canon + " and its sibling in slot " + off
            + " holds " + between);
      }
    }
    Object first = n.peek(canon);
    if (first == null || XaEntry.isSibling(first) || first instanceof XaNode) {
      problems.add(where + ": the sibling in slot " + off + " names slot " + canon + ", which holds " + first);
      return 0;
    }
    return XArray.isValue(first) ? 1 : 0;
  }

  private void child(XaNode n, int off, XaNode c, long base, String where) {
    if (n.shift == 0) {
      problems.add(where + ": a node in slot " + off + " of a shift-0 node");
      return;
    }
    if (c.shift != n.shift - XaNode.SHIFT) {
      problems.add(where + ": child " + c.name() + " in slot " + off + " has shift " + c.shift);
    }
    if (c.parent != n || c.offset != off) {
      problems.add(where + ": child " + c.name() + " in slot " + off + " says its parent is "
          + (c.parent == null ? "none" : c.parent.name()) + " at slot " + c.offset);
    }
    for (int m = 0; m < XaNode.MARKS; m++) {
      boolean any = c.peekMarks(m) != 0;
      boolean set = (n.peekMarks(m) & (1L << off)) != 0;
      if (any != set) {
        problems.add(where + ": mark " + m + " of slot " + off + " is " + (set ? "set" : "clear") + " but child "
            + c.name() + " has it " + (any ? "somewhere" : "nowhere"));
      }
    }
    node(c, base + ((long) off << n.shift));
  }

  private void markedHere(XaNode n, int off, long bit, String where, String what) {
    for (int m = 0; m < XaNode.MARKS; m++) {
      if ((n.peekMarks(m) & bit) != 0) {
        problems.add(where + ": mark " + m + " on " + what + " (" + off + ")");
      }
    }
  }
}
