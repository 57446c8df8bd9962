package org.mmlab.mm.vma;

import org.jspecify.annotations.Nullable;
import org.mmlab.mm.vma.Node.Branch;
import org.mmlab.mm.vma.Node.Leaf;

/**
 * The writers' algorithms of the persistent B-tree: each takes a root and returns the root of
 * a new version, copying only the nodes on the path it changes (O(log n) nodes of at most
 * {@link Node#MAX} items) and sharing everything else with the old version, which stays intact
 * for the readers still walking it. Nothing here publishes: {@link VmaTree} builds the whole
 * new version, possibly in several edits, and publishes it once.
 *
 * <p>A failed edit throws before anything is published, so the tree is unchanged.
 *
 * <p>Kernel counterpart: the maple tree's copy-on-write store path in RCU mode
 * ({@code mas_store_gfp}, {@code mas_wr_node_store}, {@code mas_split}, {@code mas_rebalance}),
 * which replaces nodes wholesale instead of editing them under readers.
 *
 * <p>Stateless.
 */
final class TreeEdit {
  private TreeEdit() {}

  /** The outcome of an erase: the new root (null for an empty tree) and the entry erased. */
  record Erased(@Nullable Node root, VmaTree.Entry<?> entry) {}

  // ------------------------------------------------------------------ insert

  /**
   * The root of a version with {@code e} added.
   *
   * @throws IllegalArgumentException if {@code e} overlaps an entry of the tree
   */
  static Node insert(@Nullable Node root, VmaTree.Entry<?> e) {
    if (root == null) {
      return Leaf.of(e);
    }
    Node[] out = insertInto(root, e);
    return out.length == 1 ? out[0] : new Branch(out);
  }

  /**
   * Routes by {@code e.start()} to the first child ending after it (or the last child, when
   * nothing ends after it): the only entry {@code e} can overlap is the first one ending after
   * its start, so the leaf reached holds it if it exists.
   */
  private static Node[] insertInto(Node n, VmaTree.Entry<?> e) {
    if (n instanceof Leaf leaf) {
      int i = Node.firstAbove(leaf.ends, e.start());
      if (i < leaf.size() && leaf.starts[i] < e.end()) {
        throw new IllegalArgumentException("range " + e.range() + " overlaps " + leaf.entry(i).range());
      }
      return leaf.inserted(i, e);
    }
    Branch b = (Branch) n;
    int i = b.route(e.start());
    Node[] sub = insertInto(b.children[i], e);
    if (sub.length == 1) {
      return new Node[] {b.withChild(i, sub[0])};
    }
    // The child split. Overflow into a neighbour with room instead of adding a child, if there
    // is one (B*-tree): appending or prepending runs of ranges, as mmap's top-down allocation
    // does, then packs nodes full instead of leaving every one half empty.
    if (i > 0 && b.children[i - 1].size() < Node.MAX) {
      return new Node[] {b.replacedPair(i - 1, Node.pack(b.children[i - 1], sub[0], sub[1], true))};
    }
    if (i + 1 < b.size() && b.children[i + 1].size() < Node.MAX) {
      return new Node[] {b.replacedPair(i, Node.pack(sub[0], sub[1], b.children[i + 1], false))};
    }
    return b.replaced(i, sub);
  }

  // ------------------------------------------------------------------ erase

  /** The version without the entry starting at {@code start}, or null if no entry starts there. */
  static @Nullable Erased erase(@Nullable Node root, long start) {
    if (root == null) {
      return null;
    }
    VmaTree.Entry<?>[] found = new VmaTree.Entry<?>[1];
    if (root instanceof Leaf leaf && leaf.size() == 1) {
      return leaf.starts[0] == start ? new Erased(null, leaf.entry(0)) : null;
    }
    Node r = eraseFrom(root, start, found);
    VmaTree.Entry<?> e = found[0];
    if (e == null) {
      return null;
    }
    if (r instanceof Branch b && b.size() == 1) {
      r = b.children[0]; // the root lost its last sibling pair: the tree gets one level shorter
    }
    return new Erased(r, e);
  }

  /**
   * {@code n} without the entry starting at {@code start} (stored into {@code found[0]}), or
   * {@code n} itself if there is none. The result may be underfull by one item; a child that
   * becomes so is joined with a neighbour ({@link Node#rebalance}). A leaf never empties here:
   * only a root leaf of one entry could, and {@link #erase} handles it.
   */
  private static Node eraseFrom(Node n, long start, VmaTree.Entry<?>[] found) {
    if (n instanceof Leaf leaf) {
      int i = Node.firstAbove(leaf.ends, start);
      if (i == leaf.size() || leaf.starts[i] != start) {
        return n;
      }
      found[0] = leaf.entry(i);
      return leaf.removed(i);
    }
    Branch b = (Branch) n;
    int i = Node.firstAbove(b.ends, start);
    if (i == b.size()) {
      return n;
    }
    Node child = b.children[i];
    Node c = eraseFrom(child, start, found);
    if (c == child) {
      return n;
    }
    if (c.size() >= Node.MIN) {
      return b.withChild(i, c);
    }
    // Underfull: join with the left neighbour, or the right one for the first child. A branch
    // always has a neighbour to offer: non-root branches hold MIN >= 2 children, a root one 2.
    int j = i > 0 ? i - 1 : i;
    Node left = j == i ? c : b.children[j];
    Node right = j == i ? b.children[i + 1] : c;
    return b.replacedPair(j, Node.rebalance(left, right));
  }

  // ------------------------------------------------------------------ replace a value

  /**
   * The version in which the entry starting at {@code e.start()} is {@code e} (same range,
   * new value): one path copied, no change of shape. The caller checked that the entry exists.
   */
  static Node withEntry(Node n, VmaTree.Entry<?> e) {
    if (n instanceof Leaf leaf) {
      int i = Node.firstAbove(leaf.ends, e.start());
      if (i == leaf.size() || leaf.starts[i] != e.start() || leaf.ends[i] != e.end()) {
        throw new IllegalStateException("no entry " + e.range() + " to replace");
      }
      return leaf.withValue(i, e.value());
    }
    Branch b = (Branch) n;
    int i = Node.firstAbove(b.ends, e.start());
    return b.withChild(i, withEntry(b.children[i], e));
  }
}
