package org.mmlab.mm.filemap;

import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.mmlab.mm.filemap.IntervalTree.Node;

/**
 * The validity walk of an {@link IntervalTree} (what the kernel's {@code lib/interval_tree_test.c}
 * and the rbtree self-tests check): everything listed under "Invariants" in the tree's notes,
 * collected as one line per problem. Reads plain fields: run under the owner's lock or where no
 * CPU runs.
 */
final class IntervalTreeCheck {
  private final List<String> problems = new ArrayList<>();
  /** The start of the node met last in order. */
  private long prevStart = Long.MIN_VALUE;
  private long nodes;

  private IntervalTreeCheck() {}

  static <T> List<String> problems(@Nullable Node<T> root, int size) {
    IntervalTreeCheck c = new IntervalTreeCheck();
    if (root != null) {
      if (root.parent != null) {
        c.problems.add("the root has a parent");
      }
      if (root.red) {
        c.problems.add("the root is red");
      }
    }
    c.walk(root);
    if (c.nodes != size) {
      c.problems.add("size is " + size + " but the tree holds " + c.nodes + " nodes");
    }
    return c.problems;
  }

  /** Checks the subtree at {@code n} in order; returns its black height. */
  private <T> int walk(@Nullable Node<T> n) {
    if (n == null) {
      return 1;
    }
    String where = "node [" + n.start + ", " + n.last + "] " + n.item;
    for (Node<T> c : childrenOf(n)) {
      if (c.parent != n) {
        problems.add("the child [" + c.start + ", " + c.last + "] of " + where + " names another parent");
      }
      if (n.red && c.red) {
        problems.add("red " + where + " has a red child");
      }
    }
    int lh = walk(n.left);
    if (n.start < prevStart) {
      problems.add(where + " follows start " + prevStart + " in order");
    }
    prevStart = n.start;
    nodes++;
    if (n.start > n.last) {
      problems.add(where + " is empty");
    }
    long reach = IntervalTree.subtreeLastOf(n);
    if (n.subtreeLast != reach) {
      problems.add(where + " records subtree last " + n.subtreeLast + " but its subtree reaches " + reach);
    }
    int rh = walk(n.right);
    if (lh != rh) {
      problems.add(where + " has black heights " + lh + " on the left and " + rh + " on the right");
    }
    return lh + (n.red ? 0 : 1);
  }

  private static <T> List<Node<T>> childrenOf(Node<T> n) {
    List<Node<T>> out = new ArrayList<>(2);
    if (n.left != null) {
      out.add(n.left);
    }
    if (n.right != null) {
      out.add(n.right);
    }
    return out;
  }
}
