package org.mmlab.mm.vma;

import java.util.Arrays;

/**
 * A node of the persistent B-tree behind {@link VmaTree}: a {@link Leaf} of entries or a
 * {@link Branch} of children, every one immutable once constructed. A new version of the tree
 * shares every node it did not change with the versions before it, so an RCU reader that found
 * an old root walks a complete old tree: there is nothing to tear.
 *
 * <h2>Shape</h2>
 * Every leaf is at the same depth. A node holds at most {@link #MAX} items (entries in a leaf,
 * children in a branch) and, unless it is the root, at least {@link #MIN}; a root branch has at
 * least two children; an empty tree has no root at all. Arrays are exactly as long as the node
 * is full: a node is copied whenever it changes, so there is no spare capacity to keep.
 *
 * <p>Overflow goes to a neighbour with room before a node is added ({@link #pack}, as in a
 * B*-tree), so runs of insertions at one end, which mmap's top-down placement produces, leave
 * nodes full rather than half empty; underflow borrows from or merges with a neighbour
 * ({@link #rebalance}). Depth: 2 levels for 100 entries, 3 for 10,000, 4 for 100,000.
 *
 * <h2>Summaries (the gap metadata)</h2>
 * Each node caches, for its subtree, the start of its first entry ({@link #minStart}), the end
 * of its last ({@link #maxEnd}) and the largest gap between two consecutive entries of the
 * subtree ({@link #maxGap}); a branch also keeps its children's summaries in primitive arrays,
 * so that a lookup routes by binary search over a {@code long[]}, a write path copies a branch
 * without reading its other children, and the gap search skips a child without reading it. The gap search of
 * {@code get_unmapped_area} skips any subtree whose {@code maxGap} is too small, which is what
 * the maple tree's per-slot gap array does for allocation trees.
 *
 * <p>Kernel counterpart: {@code struct maple_node} ({@code maple_range_64} leaves and
 * {@code maple_arange_64} internal nodes with their {@code gap[]}), {@code lib/maple_tree.c}.
 *
 * <p>Immutable after construction.
 */
abstract sealed class Node permits Node.Leaf, Node.Branch {
  /** Most items in a node (the maple tree has 16 slots per range node; a B-tree of 32 is flatter). */
  static final int MAX = 32;
  /** Fewest items in a non-root node. */
  static final int MIN = MAX / 2;

  /** Start of the subtree's first entry. Immutable. */
  final long minStart;
  /** End of the subtree's last entry. Immutable. */
  final long maxEnd;
  /** Largest {@code next.start - prev.end} over consecutive entries of the subtree (0 if none). Immutable. */
  final long maxGap;

  private Node(long minStart, long maxEnd, long maxGap) {
    this.minStart = minStart;
    this.maxEnd = maxEnd;
    this.maxGap = maxGap;
  }

  /** Items in this node: entries of a leaf, children of a branch. */
  abstract int size();

  /** The first index {@code i} with {@code a[i] > key}, or {@code a.length}. */
  static int firstAbove(long[] a, long key) {
    int lo = 0;
    int hi = a.length;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (a[mid] > key) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    return lo;
  }

  // ------------------------------------------------------------------ leaves

  /**
   * A leaf: entries in address order as three parallel arrays, allocated together whenever the
   * leaf is copied (so a lookup's last steps stay within a few neighbouring cache lines); the
   * {@link VmaTree.Entry} records a query returns are built on the way out.
   */
  static final class Leaf extends Node {
    /** Range starts, ascending. Immutable. */
    final long[] starts;
    /** Range ends: {@code starts[i] < ends[i] <= starts[i + 1]}. Immutable. */
    final long[] ends;
    /** The values. Immutable. */
    final Object[] values;

    Leaf(long[] starts, long[] ends, Object[] values) {
      super(starts[0], ends[ends.length - 1], leafGap(starts, ends));
      this.starts = starts;
      this.ends = ends;
      this.values = values;
    }

    /** A leaf of one entry. */
    static Leaf of(VmaTree.Entry<?> e) {
      return new Leaf(new long[] {e.start()}, new long[] {e.end()}, new Object[] {e.value()});
    }

    @Override
    int size() {
      return ends.length;
    }

    /** Entry {@code i} as a record (a new one each call; records compare by value). */
    VmaTree.Entry<?> entry(int i) {
      return new VmaTree.Entry<>(starts[i], ends[i], values[i]);
    }

    private static long leafGap(long[] starts, long[] ends) {
      long gap = 0;
      for (int i = 1; i < ends.length; i++) {
        gap = Math.max(gap, starts[i] - ends[i - 1]);
      }
      return gap;
    }

    /** This leaf with {@code e} inserted at {@code i}: one node, or two if it overflows. */
    Node[] inserted(int i, VmaTree.Entry<?> e) {
      int n = size();
      long[] s = new long[n + 1];
      long[] en = new long[n + 1];
      Object[] v = new Object[n + 1];
      System.arraycopy(starts, 0, s, 0, i);
      System.arraycopy(ends, 0, en, 0, i);
      System.arraycopy(values, 0, v, 0, i);
      s[i] = e.start();
      en[i] = e.end();
      v[i] = e.value();
      System.arraycopy(starts, i, s, i + 1, n - i);
      System.arraycopy(ends, i, en, i + 1, n - i);
      System.arraycopy(values, i, v, i + 1, n - i);
      Leaf all = new Leaf(s, en, v);
      return n + 1 <= MAX ? new Node[] {all} : new Node[] {all.slice(0, (n + 1) / 2), all.slice((n + 1) / 2, n + 1)};
    }

    /** This leaf without entry {@code i} (possibly underfull; the caller rebalances). At least two entries. */
    Leaf removed(int i) {
      int n = size();
      long[] s = new long[n - 1];
      long[] en = new long[n - 1];
      Object[] v = new Object[n - 1];
      System.arraycopy(starts, 0, s, 0, i);
      System.arraycopy(ends, 0, en, 0, i);
      System.arraycopy(values, 0, v, 0, i);
      System.arraycopy(starts, i + 1, s, i, n - i - 1);
      System.arraycopy(ends, i + 1, en, i, n - i - 1);
      System.arraycopy(values, i + 1, v, i, n - i - 1);
      return new Leaf(s, en, v);
    }

    /** This leaf with entry {@code i}'s value replaced by {@code value}. */
    Leaf withValue(int i, Object value) {
      Object[] v = values.clone();
      v[i] = value;
      return new Leaf(starts, ends, v); // the key arrays are immutable: shared with this leaf
    }

    /** Entries {@code [from, to)} as a leaf of their own. */
    Leaf slice(int from, int to) {
      return new Leaf(Arrays.copyOfRange(starts, from, to), Arrays.copyOfRange(ends, from, to),
          Arrays.copyOfRange(values, from, to));
    }

    /** The entries of adjacent leaves, in order, as one (possibly overfull) leaf. */
    static Leaf concat(Node[] leaves) {
      int total = 0;
      for (Node n : leaves) {
        total += n.size();
      }
      long[] s = new long[total];
      long[] en = new long[total];
      Object[] v = new Object[total];
      int at = 0;
      for (Node n : leaves) {
        Leaf l = (Leaf) n;
        System.arraycopy(l.starts, 0, s, at, l.size());
        System.arraycopy(l.ends, 0, en, at, l.size());
        System.arraycopy(l.values, 0, v, at, l.size());
        at += l.size();
      }
      return new Leaf(s, en, v);
    }
  }

  // ------------------------------------------------------------------ branches

  /**
   * An internal node: children in address order, with each child's summary copied into three
   * primitive arrays. Copying a branch on a write path then reads only these arrays and the one
   * child that changed, never the other children (cold cache lines in a large tree), and the
   * gap search skips children without touching them.
   */
  static final class Branch extends Node {
    /** {@code starts[i] == children[i].minStart}. Immutable. */
    final long[] starts;
    /** {@code ends[i] == children[i].maxEnd}: what lookups route by. Immutable. */
    final long[] ends;
    /** {@code gaps[i] == children[i].maxGap}. Immutable. */
    final long[] gaps;
    /** The children, all of the same height. Immutable. */
    final Node[] children;

    /** A branch over {@code children}, reading their summaries (splits, merges, a new root). */
    Branch(Node[] children) {
      this(children, summaries(children, 0), summaries(children, 1), summaries(children, 2));
    }

    private Branch(Node[] children, long[] starts, long[] ends, long[] gaps) {
      super(starts[0], ends[ends.length - 1], branchGap(starts, ends, gaps));
      this.children = children;
      this.starts = starts;
      this.ends = ends;
      this.gaps = gaps;
    }

    private static long[] summaries(Node[] children, int which) {
      long[] out = new long[children.length];
      for (int i = 0; i < children.length; i++) {
        Node c = children[i];
        out[i] = which == 0 ? c.minStart : which == 1 ? c.maxEnd : c.maxGap;
      }
      return out;
    }

    private static long branchGap(long[] starts, long[] ends, long[] gaps) {
      long gap = gaps[0];
      for (int i = 1; i < ends.length; i++) {
        gap = Math.max(gap, Math.max(gaps[i], starts[i] - ends[i - 1]));
      }
      return gap;
    }

    @Override
    int size() {
      return children.length;
    }

    /** The route for address {@code addr}: the first child ending after it, or the last child. */
    int route(long addr) {
      return Math.min(firstAbove(ends, addr), children.length - 1);
    }

    /**
     * This branch with child {@code i} replaced by {@code c}, of the same height. A summary array
     * whose slot {@code i} does not change is shared with this branch rather than copied (arrays
     * are never written after construction): a change inside a child usually keeps its first
     * start and last end, so a write path copies little more than the children arrays.
     */
    Branch withChild(int i, Node c) {
      Node[] ch = children.clone();
      ch[i] = c;
      return new Branch(ch, with(starts, i, c.minStart), with(ends, i, c.maxEnd), with(gaps, i, c.maxGap));
    }

    /** {@code a} if {@code a[i] == v}, else a copy of it with {@code v} at {@code i}. */
    private static long[] with(long[] a, int i, long v) {
      if (a[i] == v) {
        return a;
      }
      long[] out = a.clone();
      out[i] = v;
      return out;
    }

    /**
     * This branch with its children {@code [i, i + count)} replaced by {@code with}: one branch,
     * or two if it overflows.
     */
    Node[] spliced(int i, int count, Node[] with) {
      int n = children.length - count + with.length;
      Node[] ch = new Node[n];
      long[] s = new long[n];
      long[] e = new long[n];
      long[] g = new long[n];
      int tail = children.length - i - count;
      System.arraycopy(children, 0, ch, 0, i);
      System.arraycopy(starts, 0, s, 0, i);
      System.arraycopy(ends, 0, e, 0, i);
      System.arraycopy(gaps, 0, g, 0, i);
      for (int k = 0; k < with.length; k++) {
        Node c = with[k];
        ch[i + k] = c;
        s[i + k] = c.minStart;
        e[i + k] = c.maxEnd;
        g[i + k] = c.maxGap;
      }
      System.arraycopy(children, i + count, ch, i + with.length, tail);
      System.arraycopy(starts, i + count, s, i + with.length, tail);
      System.arraycopy(ends, i + count, e, i + with.length, tail);
      System.arraycopy(gaps, i + count, g, i + with.length, tail);
      Branch all = new Branch(ch, s, e, g);
      return n <= MAX ? new Node[] {all} : new Node[] {all.slice(0, n / 2), all.slice(n / 2, n)};
    }

    /** This branch with child {@code i} replaced by {@code with} (two nodes): one or two branches. */
    Node[] replaced(int i, Node[] with) {
      return spliced(i, 1, with);
    }

    /** This branch with children {@code i} and {@code i + 1} replaced by {@code with} (one or two nodes). */
    Branch replacedPair(int i, Node[] with) {
      return (Branch) spliced(i, 2, with)[0];
    }

    /** Children {@code [from, to)} as a branch of their own. */
    Branch slice(int from, int to) {
      return new Branch(Arrays.copyOfRange(children, from, to), Arrays.copyOfRange(starts, from, to),
          Arrays.copyOfRange(ends, from, to), Arrays.copyOfRange(gaps, from, to));
    }

    /** The children of adjacent branches, in order, as one (possibly overfull) branch. */
    static Branch concat(Node[] branches) {
      int total = 0;
      for (Node n : branches) {
        total += n.size();
      }
      Node[] ch = new Node[total];
      long[] s = new long[total];
      long[] e = new long[total];
      long[] g = new long[total];
      int at = 0;
      for (Node n : branches) {
        Branch b = (Branch) n;
        System.arraycopy(b.children, 0, ch, at, b.size());
        System.arraycopy(b.starts, 0, s, at, b.size());
        System.arraycopy(b.ends, 0, e, at, b.size());
        System.arraycopy(b.gaps, 0, g, at, b.size());
        at += b.size();
      }
      return new Branch(ch, s, e, g);
    }
  }

  // ------------------------------------------------------------------ rebalancing

  /**
   * Joins two adjacent siblings of one height, {@code left} before {@code right}, at least one
   * of them underfull: one node if their items fit in {@link #MAX}, else two nodes with the
   * items shared out evenly (both then hold at least {@link #MIN}).
   */
  static Node[] rebalance(Node left, Node right) {
    int total = left.size() + right.size();
    if (total <= MAX) {
      return split(new Node[] {left, right}, total);
    }
    return split(new Node[] {left, right}, total / 2);
  }

  /**
   * Spreads the items of three adjacent siblings of one height (a node that overflowed into
   * {@code a} and {@code b}, and a neighbour with room, in address order) over two nodes, the
   * first of them full if {@code fillFirst}, else the second: B*-tree style overflow into a
   * sibling. With a neighbour of {@code MIN..MAX-1} items and an overflow of {@code MAX+1},
   * the other node gets at least {@code MIN + 1}.
   */
  static Node[] pack(Node a, Node b, Node c, boolean fillFirst) {
    int total = a.size() + b.size() + c.size();
    int full = Math.min(MAX, total - MIN);
    return split(new Node[] {a, b, c}, fillFirst ? full : total - full);
  }

  /**
   * The items of {@code nodes} (adjacent siblings of one height, in order) as one node if
   * {@code first} is all of them, else as two nodes, the first holding {@code first} items.
   */
  private static Node[] split(Node[] nodes, int first) {
    if (nodes[0] instanceof Leaf) {
      Leaf all = Leaf.concat(nodes);
      return first == all.size() ? new Node[] {all} : new Node[] {all.slice(0, first), all.slice(first, all.size())};
    }
    Branch all = Branch.concat(nodes);
    return first == all.size() ? new Node[] {all} : new Node[] {all.slice(0, first), all.slice(first, all.size())};
  }
}
