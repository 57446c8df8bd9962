package org.mmlab.mm.vma;

import java.util.Iterator;
import java.util.NoSuchElementException;
import org.jspecify.annotations.Nullable;
import org.mmlab.mm.vma.Node.Branch;
import org.mmlab.mm.vma.Node.Leaf;

/**
 * One published version of a {@link VmaTree}: the object its RCU pointer points to. Every query
 * here reads immutable nodes only, so it has no scheduling point and cannot race with anything:
 * all queries on one snapshot see the same tree, however many versions the writer publishes
 * meanwhile. {@link VmaTree}'s own readers are one {@code rcu_dereference} of the root followed
 * by one query on the snapshot it returns.
 *
 * <p>Holding a snapshot after {@code rcu_read_unlock} is safe for its ranges (old nodes are
 * garbage for the Java GC, never reused), but its <em>values</em> may have been freed by then:
 * the writer frees a value a grace period after removing it. A model object's use-after-free
 * checks catch a use of such a value.
 *
 * <p>Addresses are {@code long}s in {@code [0, 2^63)}, compared as signed numbers.
 *
 * <p>Immutable.
 *
 * @param <V> the values (VMAs)
 */
public final class Snapshot<V> {
  /** The root node, or null for an empty tree. Immutable. */
  private final @Nullable Node root;
  /** Entries in the tree. Immutable. */
  private final int size;
  /** Levels: 0 for an empty tree, 1 for a root leaf. Immutable. */
  private final int height;
  /** Publications of the tree before this one (for tests and reports; the kernel has none). Immutable. */
  private final long generation;

  Snapshot(@Nullable Node root, int size, long generation) {
    this.root = root;
    this.size = size;
    this.generation = generation;
    int h = 0;
    for (Node n = root; n != null; n = n instanceof Branch b ? b.children[0] : null) {
      h++;
    }
    this.height = h;
  }

  @Nullable Node root() {
    return root;
  }

  /** Levels of the B-tree: 0 when empty, 1 for a single leaf, then one more per branch level. */
  public int height() {
    return height;
  }

  /** How many versions were published before this one. */
  public long generation() {
    return generation;
  }

  /** Number of entries ({@code mm->map_count} for a VMA tree). */
  public int size() {
    return size;
  }

  public boolean isEmpty() {
    return size == 0;
  }

  // ------------------------------------------------------------------ point queries

  /** {@code vma_lookup}: the entry whose range contains {@code addr}, or null. */
  @SuppressWarnings("unchecked")
  public VmaTree.@Nullable Entry<V> lookup(long addr) {
    Leaf leaf = leafEndingAbove(addr);
    if (leaf == null) {
      return null;
    }
    int i = Node.firstAbove(leaf.ends, addr);
    return leaf.starts[i] > addr ? null : (VmaTree.Entry<V>) leaf.entry(i);
  }

  /**
   * {@code find_vma}: the first entry ending after {@code addr} (the one containing it, or else
   * the next one above it), or null.
   */
  @SuppressWarnings("unchecked")
  public VmaTree.@Nullable Entry<V> findFrom(long addr) {
    Leaf leaf = leafEndingAbove(addr);
    return leaf == null ? null : (VmaTree.Entry<V>) leaf.entry(Node.firstAbove(leaf.ends, addr));
  }

  /**
   * The leaf holding the first entry that ends after {@code addr}, or null if none does. Each
   * branch routes to its first child ending after {@code addr}, so the leaf reached has such an
   * entry: {@code firstAbove(leaf.ends, addr)} is a valid index in it.
   */
  private @Nullable Leaf leafEndingAbove(long addr) {
    Node n = root;
    if (n == null) {
      return null;
    }
    while (n instanceof Branch b) {
      int i = Node.firstAbove(b.ends, addr);
      if (i == b.size()) {
        return null;
      }
      n = b.children[i];
    }
    Leaf leaf = (Leaf) n;
    return leaf.maxEnd > addr ? leaf : null;
  }

  /**
   * {@code vma_find} / {@code find_vma_intersection}: the first entry intersecting
   * {@code [addr, limit)}, or null.
   */
  public VmaTree.@Nullable Entry<V> findFrom(long addr, long limit) {
    VmaTree.Entry<V> e = findFrom(addr);
    return e != null && e.start() < limit ? e : null;
  }

  /**
   * The {@code *pprev} of {@code find_vma_prev}: the last entry ending at or below {@code addr}
   * (the entry before {@code findFrom(addr)}, or the last entry if that is null), or null.
   */
  @SuppressWarnings("unchecked")
  public VmaTree.@Nullable Entry<V> prev(long addr) {
    Node n = root;
    @Nullable Node leftOfPath = null; // the deepest subtree seen lying wholly left of the search path
    if (n == null) {
      return null;
    }
    while (n instanceof Branch b) {
      int i = Node.firstAbove(b.ends, addr);
      if (i > 0) {
        leftOfPath = b.children[i - 1];
      }
      if (i == b.size()) {
        return (VmaTree.Entry<V>) rightmost(b);
      }
      n = b.children[i];
    }
    Leaf leaf = (Leaf) n;
    int i = Node.firstAbove(leaf.ends, addr);
    if (i > 0) {
      return (VmaTree.Entry<V>) leaf.entry(i - 1);
    }
    return leftOfPath == null ? null : (VmaTree.Entry<V>) rightmost(leftOfPath);
  }

  /** The lowest entry, or null. */
  @SuppressWarnings("unchecked")
  public VmaTree.@Nullable Entry<V> first() {
    Node n = root;
    if (n == null) {
      return null;
    }
    while (n instanceof Branch b) {
      n = b.children[0];
    }
    return (VmaTree.Entry<V>) ((Leaf) n).entry(0);
  }

  /** The highest entry, or null. */
  @SuppressWarnings("unchecked")
  public VmaTree.@Nullable Entry<V> last() {
    Node n = root;
    return n == null ? null : (VmaTree.Entry<V>) rightmost(n);
  }

  private static VmaTree.Entry<?> rightmost(Node n) {
    while (n instanceof Branch b) {
      n = b.children[b.size() - 1];
    }
    Leaf leaf = (Leaf) n;
    return leaf.entry(leaf.size() - 1);
  }

  // ------------------------------------------------------------------ iteration

  /**
   * {@code for_each_vma_range}: the entries intersecting {@code [from, to)}, in address order,
   * all from this one version. (The kernel's iterator re-walks from the root when it meets a
   * node the writer replaced, so consecutive steps of a lockless iteration there may see
   * different versions; code that must model that calls {@link VmaTree#findFrom} once per step.)
   */
  public Iterable<VmaTree.Entry<V>> ranges(long from, long to) {
    return () -> new Cursor(from, to);
  }

  /** Every entry, in address order ({@code for_each_vma}). */
  public Iterable<VmaTree.Entry<V>> all() {
    return ranges(0, Long.MAX_VALUE);
  }

  /** A walk over the leaves: the path from the root and the index taken at each level. */
  private final class Cursor implements Iterator<VmaTree.Entry<V>> {
    private final Node[] path = new Node[height];
    private final int[] index = new int[height];
    private final long to;
    private VmaTree.@Nullable Entry<V> next;

    Cursor(long from, long to) {
      this.to = to;
      Node n = root;
      int level = 0;
      while (n != null) {
        long[] ends = n instanceof Branch b ? b.ends : ((Leaf) n).ends;
        int i = Node.firstAbove(ends, from);
        if (i == ends.length) {
          return; // nothing ends after from: next stays null
        }
        path[level] = n;
        index[level] = i;
        level++;
        n = n instanceof Branch b ? b.children[i] : null;
      }
      if (level > 0) {
        next = current(); // level == height: a leaf was reached (an empty tree has no levels)
      }
    }

    @SuppressWarnings("unchecked")
    private VmaTree.@Nullable Entry<V> current() {
      VmaTree.Entry<V> e = (VmaTree.Entry<V>) ((Leaf) path[height - 1]).entry(index[height - 1]);
      return e.start() < to ? e : null;
    }

    @Override
    public boolean hasNext() {
      return next != null;
    }

    @Override
    public VmaTree.Entry<V> next() {
      VmaTree.Entry<V> e = next;
      if (e == null) {
        throw new NoSuchElementException();
      }
      next = advance() ? current() : null;
      return e;
    }

    /** Moves to the next entry in address order; false at the end of the tree. */
    private boolean advance() {
      int level = height - 1;
      while (level >= 0 && index[level] + 1 >= path[level].size()) {
        level--;
      }
      if (level < 0) {
        return false;
      }
      index[level]++;
      for (int l = level + 1; l < height; l++) {
        path[l] = ((Branch) path[l - 1]).children[index[l - 1]];
        index[l] = 0;
      }
      return true;
    }
  }

  // ------------------------------------------------------------------ gaps

  /**
   * The free gap {@code get_unmapped_area} wants ({@code unmapped_area} bottom-up,
   * {@code unmapped_area_topdown} top-down): among the maximal free intervals clipped to
   * {@code [low, high)}, the lowest (or, top-down, the highest) at least {@code len} long.
   * Returns it clipped to {@code [low, high)}, so that the caller places its mapping at
   * {@code start} (bottom-up) or {@code end - len} (top-down), or null if none is large enough.
   * For an aligned placement, ask for {@code len + alignment - 1}, as the kernel does.
   *
   * <p>O(log n): subtrees whose largest inner gap is below {@code len} are skipped; only the
   * paths through {@code low} and {@code high} can be entered in vain.
   *
   * @param len the length wanted, at least 1
   * @param low the lowest address the gap may start at, at least 0
   * @param high the address the gap must end at or below, at least {@code low}
   */
  public VmaTree.@Nullable Gap gapAtLeast(long len, long low, long high, boolean topDown) {
    if (len <= 0 || low < 0 || high < low) {
      throw new IllegalArgumentException("gapAtLeast(" + len + ", " + low + ", " + high + ")");
    }
    if (high - low < len) {
      return null;
    }
    Node n = root;
    if (n == null) {
      return new VmaTree.Gap(low, high);
    }
    GapSearch s = new GapSearch(len, low, high);
    if (topDown) {
      VmaTree.Gap g = s.clip(n.maxEnd, Long.MAX_VALUE);
      if (g == null) {
        g = s.down(n);
      }
      return g != null ? g : s.clip(0, n.minStart);
    }
    VmaTree.Gap g = s.clip(0, n.minStart);
    if (g == null) {
      g = s.up(n);
    }
    return g != null ? g : s.clip(n.maxEnd, Long.MAX_VALUE);
  }

  /** One gap search: the wanted length and the window. */
  private record GapSearch(long len, long low, long high) {
    /** The free interval {@code [from, to)} clipped to the window, if at least {@code len} long. */
    VmaTree.@Nullable Gap clip(long from, long to) {
      long lo = Math.max(from, low);
      long hi = Math.min(to, high);
      return hi - lo >= len ? new VmaTree.Gap(lo, hi) : null;
    }

    /** The lowest fitting gap strictly inside {@code n}'s subtree. */
    VmaTree.@Nullable Gap up(Node n) {
      if (n instanceof Leaf leaf) {
        for (int i = 1; i < leaf.size(); i++) {
          long from = leaf.ends[i - 1];
          if (from >= high) {
            return null;
          }
          VmaTree.Gap g = clip(from, leaf.starts[i]);
          if (g != null) {
            return g;
          }
        }
        return null;
      }
      Branch b = (Branch) n;
      for (int i = 0; i < b.size(); i++) {
        if (i > 0) {
          VmaTree.Gap g = clip(b.ends[i - 1], b.starts[i]);
          if (g != null) {
            return g;
          }
        }
        if (b.starts[i] >= high) {
          return null;
        }
        if (b.ends[i] > low && b.gaps[i] >= len) {
          VmaTree.Gap g = up(b.children[i]);
          if (g != null) {
            return g;
          }
        }
      }
      return null;
    }

    /** The highest fitting gap strictly inside {@code n}'s subtree. */
    VmaTree.@Nullable Gap down(Node n) {
      if (n instanceof Leaf leaf) {
        for (int i = leaf.size() - 1; i > 0; i--) {
          long to = leaf.starts[i];
          if (to <= low) {
            return null;
          }
          VmaTree.Gap g = clip(leaf.ends[i - 1], to);
          if (g != null) {
            return g;
          }
        }
        return null;
      }
      Branch b = (Branch) n;
      for (int i = b.size() - 1; i >= 0; i--) {
        if (i < b.size() - 1) {
          VmaTree.Gap g = clip(b.ends[i], b.starts[i + 1]);
          if (g != null) {
            return g;
          }
        }
        if (b.ends[i] <= low) {
          return null;
        }
        if (b.starts[i] < high && b.gaps[i] >= len) {
          VmaTree.Gap g = down(b.children[i]);
          if (g != null) {
            return g;
          }
        }
      }
      return null;
    }
  }

  @Override
  public String toString() {
    return "snapshot generation " + generation + ": " + size + " entries, height " + height;
  }
}
