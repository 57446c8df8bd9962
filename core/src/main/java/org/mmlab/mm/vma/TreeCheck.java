package org.mmlab.mm.vma;

import java.util.ArrayList;
import java.util.List;
import org.mmlab.debug.KObject;
import org.mmlab.mm.vma.Node.Branch;
import org.mmlab.mm.vma.Node.Leaf;

/**
 * The invariant walk of one {@link Snapshot}, visiting every node: entries ordered,
 * well-formed and non-overlapping; every leaf at the same depth; every node between
 * {@link Node#MIN} and {@link Node#MAX} items (the root: a leaf of at least one entry or a
 * branch of at least two children); every node's summary (first start, last end, largest
 * inner gap), and every branch's copies of its children's summaries, equal to what each
 * subtree holds; the entry count equal to the snapshot's size; and no value that is a freed
 * {@link KObject} (a VMA freed while still in the tree).
 *
 * <p>Kernel counterpart: {@code mt_validate} ({@code CONFIG_DEBUG_MAPLE_TREE}) and the tree part
 * of {@code validate_mm}.
 */
final class TreeCheck {
  private final List<String> problems = new ArrayList<>();
  private final int height;
  private int entries;
  private long lastEnd = -1;

  private TreeCheck(int height) {
    this.height = height;
  }

  /** The problems found in {@code s}, at most a few dozen; empty if it is well-formed. */
  static List<String> problems(Snapshot<?> s) {
    TreeCheck c = new TreeCheck(s.height());
    Node root = s.root();
    if (root != null) {
      if (root instanceof Branch b && b.size() < 2) {
        c.problem("root branch has " + b.size() + " child");
      }
      c.walk(root, 1, true);
    }
    if (c.entries != s.size()) {
      c.problem("size is " + s.size() + " but the tree holds " + c.entries + " entries");
    }
    return c.problems;
  }

  private void problem(String what) {
    if (problems.size() < 32) {
      problems.add(what);
    }
  }

  private void walk(Node n, int depth, boolean isRoot) {
    int items = n.size();
    if (items < 1 || items > Node.MAX || (!isRoot && items < Node.MIN)) {
      problem("node at depth " + depth + " holds " + items + " items (allowed " + (isRoot ? 1 : Node.MIN) + ".."
          + Node.MAX + ")");
    }
    if (n instanceof Leaf leaf) {
      if (depth != height) {
        problem("leaf at depth " + depth + " in a tree of height " + height);
      }
      walkLeaf(leaf);
    } else {
      Branch b = (Branch) n;
      if (b.ends.length != b.size() || b.starts.length != b.size() || b.gaps.length != b.size()) {
        problem("branch summary arrays of " + b.starts.length + ", " + b.ends.length + ", " + b.gaps.length + " for "
            + b.size() + " children");
        return;
      }
      for (int i = 0; i < b.size(); i++) {
        Node c = b.children[i];
        walk(c, depth + 1, false);
        if (b.starts[i] != c.minStart || b.ends[i] != c.maxEnd || b.gaps[i] != c.maxGap) {
          problem("branch keeps (start " + b.starts[i] + ", end " + b.ends[i] + ", gap " + b.gaps[i] + ") for child "
              + i + ", which has (" + c.minStart + ", " + c.maxEnd + ", " + c.maxGap + ")");
        }
      }
      checkSummary(n, b.children[0].minStart, b.children[b.size() - 1].maxEnd, branchGap(b));
    }
  }

  private void walkLeaf(Leaf leaf) {
    if (leaf.starts.length != leaf.ends.length || leaf.values.length != leaf.ends.length) {
      problem("leaf arrays of " + leaf.starts.length + " starts, " + leaf.ends.length + " ends, " + leaf.values.length
          + " values");
      return;
    }
    long gap = 0;
    for (int i = 0; i < leaf.size(); i++) {
      long start = leaf.starts[i];
      long end = leaf.ends[i];
      String range = "[0x" + Long.toHexString(start) + ", 0x" + Long.toHexString(end) + ")";
      entries++;
      if (start < 0 || start >= end) {
        problem("malformed range " + range);
      }
      if (start < lastEnd) {
        problem("range " + range + " starts below the end of its predecessor 0x" + Long.toHexString(lastEnd)
            + " (out of order or overlapping)");
      }
      if (i > 0) {
        gap = Math.max(gap, start - leaf.ends[i - 1]);
      }
      Object v = leaf.values[i];
      if (v == null) {
        problem("range " + range + " has no value");
      } else if (v instanceof KObject k && k.isFreed()) {
        problem("range " + range + " holds freed " + k.describeObject());
      }
      lastEnd = end;
    }
    checkSummary(leaf, leaf.starts[0], leaf.ends[leaf.size() - 1], gap);
  }

  private static long branchGap(Branch b) {
    long gap = 0;
    for (int i = 0; i < b.size(); i++) {
      gap = Math.max(gap, b.children[i].maxGap);
      if (i > 0) {
        gap = Math.max(gap, b.children[i].minStart - b.children[i - 1].maxEnd);
      }
    }
    return gap;
  }

  private void checkSummary(Node n, long minStart, long maxEnd, long maxGap) {
    if (n.minStart != minStart || n.maxEnd != maxEnd || n.maxGap != maxGap) {
      problem("node summary (start " + n.minStart + ", end " + n.maxEnd + ", gap " + n.maxGap
          + ") but its subtree has (" + minStart + ", " + maxEnd + ", " + maxGap + ")");
    }
  }
}
