package org.mmlab.mm.filemap;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * An interval tree of items, each covering the closed range [start, last] of page indexes: the
 * kernel's {@code INTERVAL_TREE_DEFINE} ({@code include/linux/interval_tree_generic.h}) as
 * {@code mm/interval_tree.c} instantiates it for {@code i_mmap} ({@code vma_interval_tree_insert},
 * {@code vma_interval_tree_remove}, {@code vma_interval_tree_foreach}).
 *
 * <h2>Overview</h2>
 * A red-black tree ordered by start, with equal starts kept in insertion order; each node also
 * records the largest last index in its subtree (the augmentation the kernel keeps in
 * {@code rb_subtree_last} through the callbacks of {@code lib/rbtree.c}'s augmented insert and
 * erase). A query for [first, last] skips every subtree whose largest last index lies below
 * first, and every node (with its right subtree) whose start lies beyond last, so it costs
 * O(log n) plus the number of items it returns. Items are compared by identity: several may
 * cover the same range (two mappings of the same file pages), and {@link #remove} takes out the
 * one given.
 *
 * <h2>Concurrency</h2>
 * None of its own: the owner's lock serializes it ({@code i_mmap_rwsem} for
 * {@link AddressSpace}, held for write to change the tree and for read or write to query it).
 * Its fields are therefore plain Java fields and its operations are no scheduling points, which
 * matches the kernel, where the tree is an ordinary rbtree under that rwsem.
 *
 * <h2>Invariants</h2>
 * ({@link #problems} checks them all.) Parent and child links agree; the root is black; no red
 * node has a red child; every path from the root to a missing child passes the same number of
 * black nodes; an in-order walk meets non-decreasing starts; every node's start is at most its
 * last; every node's {@code subtreeLast} is the largest last index in its subtree; the count is
 * the number of nodes.
 *
 * <h2>Keys are copies</h2>
 * A node keeps the start and last it was inserted with; it does not read them from the item.
 * The kernel reads them from the VMA, so changing a linked VMA's range corrupts its tree; here
 * the tree stays well formed but its keys go stale, which {@link AddressSpace#checkIMmap}
 * reports and {@link #remove} refuses to match. Either way a caller changes an item's range only
 * after removing it, and inserts it again afterwards.
 *
 * <h2>Order of this file</h2>
 * Insertion with its colour fix-up; removal with its fix-up; the shared structure (rotations and
 * the augmentation's propagation); queries; checks (the walk itself is {@link IntervalTreeCheck}).
 *
 * @param <T> the items, compared by identity
 */
public final class IntervalTree<T> {
  /** One item and its range; for walks and checks. */
  public record Entry<T>(T item, long start, long last) {}

  /** A node; package-private for {@link IntervalTreeCheck}. */
  static final class Node<T> {
    T item;
    long start;
    long last;
    /** The largest {@code last} in the subtree rooted here. */
    long subtreeLast;
    boolean red = true;
    @Nullable Node<T> left;
    @Nullable Node<T> right;
    @Nullable Node<T> parent;

    Node(T item, long start, long last, @Nullable Node<T> parent) {
      this.item = item;
      this.start = start;
      this.last = last;
      this.subtreeLast = last;
      this.parent = parent;
    }
  }

  /** The root, null when empty. Protected by the owner's lock. */
  private @Nullable Node<T> root;
  /** Nodes in the tree. Protected by the owner's lock. */
  private int size;

  public int size() {
    return size;
  }

  public boolean isEmpty() {
    return size == 0;
  }

  // ------------------------------------------------------------ insertion

  /**
   * {@code vma_interval_tree_insert}: adds {@code item} over [start, last], after every item with
   * the same start. The caller does not insert an item twice.
   */
  public void insert(T item, long start, long last) {
    if (start > last) {
      throw new IllegalArgumentException("interval [" + start + ", " + last + "] is empty");
    }
    Node<T> parent = null;
    Node<T> n = root;
    boolean left = false;
    while (n != null) {
      // On the way down every ancestor's subtree gains [start, last].
      n.subtreeLast = Math.max(n.subtreeLast, last);
      parent = n;
      left = start < n.start;
      n = left ? n.left : n.right;
    }
    Node<T> added = new Node<>(item, start, last, parent);
    if (parent == null) {
      root = added;
    } else if (left) {
      parent.left = added;
    } else {
      parent.right = added;
    }
    size++;
    fixAfterInsertion(added);
  }

  private void fixAfterInsertion(Node<T> x) {
    while (x != root && isRed(x.parent)) {
      Node<T> p = x.parent;
      Node<T> g = p.parent;
      if (p == g.left) {
        Node<T> uncle = g.right;
        if (isRed(uncle)) {
          p.red = false;
          uncle.red = false;
          g.red = true;
          x = g;
          continue;
        }
        if (x == p.right) {
          x = p;
          rotateLeft(x);
          p = x.parent;
        }
        p.red = false;
        g.red = true;
        rotateRight(g);
      } else {
        Node<T> uncle = g.left;
        if (isRed(uncle)) {
          p.red = false;
          uncle.red = false;
          g.red = true;
          x = g;
          continue;
        }
        if (x == p.left) {
          x = p;
          rotateRight(x);
          p = x.parent;
        }
        p.red = false;
        g.red = true;
        rotateLeft(g);
      }
    }
    root.red = false;
  }

  // ------------------------------------------------------------ removal

  /**
   * {@code vma_interval_tree_remove}: removes {@code item} if the tree holds it over exactly
   * [start, last]; false otherwise (not linked, or linked with other keys).
   */
  public boolean remove(T item, long start, long last) {
    Node<T> n = find(root, item, start, last);
    if (n == null) {
      return false;
    }
    delete(n);
    size--;
    return true;
  }

  /** The node holding {@code item} over [start, last]: equal starts may lie on both sides. */
  private @Nullable Node<T> find(@Nullable Node<T> n, T item, long start, long last) {
    if (n == null || n.subtreeLast < last) {
      return null;
    }
    if (start < n.start) {
      return find(n.left, item, start, last);
    }
    if (start > n.start) {
      return find(n.right, item, start, last);
    }
    if (n.item == item && n.last == last) {
      return n;
    }
    Node<T> l = find(n.left, item, start, last);
    return l != null ? l : find(n.right, item, start, last);
  }

  private void delete(Node<T> p) {
    if (p.left != null && p.right != null) {
      // Two children: the successor's item moves here and the successor's node goes instead.
      Node<T> s = p.right;
      while (s.left != null) {
        s = s.left;
      }
      p.item = s.item;
      p.start = s.start;
      p.last = s.last;
      propagate(p);
      p = s;
    }
    Node<T> replacement = p.left != null ? p.left : p.right;
    if (replacement != null) {
      replaceChild(p, replacement);
      p.left = null;
      p.right = null;
      p.parent = null;
      propagate(replacement.parent);
      if (!p.red) {
        fixAfterDeletion(replacement);
      }
    } else if (p.parent == null) {
      root = null;
    } else {
      // A leaf stays in place while the colours are fixed, then leaves.
      if (!p.red) {
        fixAfterDeletion(p);
      }
      Node<T> parent = p.parent;
      if (parent != null) {
        if (p == parent.left) {
          parent.left = null;
        } else {
          parent.right = null;
        }
        p.parent = null;
        propagate(parent);
      }
    }
  }

  private void fixAfterDeletion(Node<T> x) {
    while (x != root && !x.red) {
      Node<T> p = x.parent;
      if (x == p.left) {
        Node<T> sib = p.right;
        if (isRed(sib)) {
          sib.red = false;
          p.red = true;
          rotateLeft(p);
          sib = p.right;
        }
        if (!isRed(sib.left) && !isRed(sib.right)) {
          sib.red = true;
          x = p;
          continue;
        }
        if (!isRed(sib.right)) {
          sib.left.red = false;
          sib.red = true;
          rotateRight(sib);
          sib = p.right;
        }
        sib.red = p.red;
        p.red = false;
        sib.right.red = false;
        rotateLeft(p);
        x = root;
      } else {
        Node<T> sib = p.left;
        if (isRed(sib)) {
          sib.red = false;
          p.red = true;
          rotateRight(p);
          sib = p.left;
        }
        if (!isRed(sib.right) && !isRed(sib.left)) {
          sib.red = true;
          x = p;
          continue;
        }
        if (!isRed(sib.left)) {
          sib.right.red = false;
          sib.red = true;
          rotateLeft(sib);
          sib = p.left;
        }
        sib.red = p.red;
        p.red = false;
        sib.left.red = false;
        rotateRight(p);
        x = root;
      }
    }
    x.red = false;
  }

  // ------------------------------------------------------------ structure

  private static boolean isRed(@Nullable Node<?> n) {
    return n != null && n.red;
  }

  static <T> long subtreeLastOf(Node<T> n) {
    long m = n.last;
    if (n.left != null) {
      m = Math.max(m, n.left.subtreeLast);
    }
    if (n.right != null) {
      m = Math.max(m, n.right.subtreeLast);
    }
    return m;
  }

  /** Recomputes the augmentation from {@code n} up to the root (the kernel's propagate callback). */
  private static <T> void propagate(@Nullable Node<T> n) {
    while (n != null) {
      n.subtreeLast = subtreeLastOf(n);
      n = n.parent;
    }
  }

  /** Puts {@code child} where {@code n} hangs from its parent (or at the root). */
  private void replaceChild(Node<T> n, Node<T> child) {
    Node<T> parent = n.parent;
    child.parent = parent;
    if (parent == null) {
      root = child;
    } else if (n == parent.left) {
      parent.left = child;
    } else {
      parent.right = child;
    }
  }

  /**
   * Rotations keep the augmentation (the kernel's rotate callback): the node rising covers what
   * the falling node covered, and the falling node is recomputed from its new children.
   */
  private void rotateLeft(Node<T> p) {
    Node<T> r = p.right;
    p.right = r.left;
    if (r.left != null) {
      r.left.parent = p;
    }
    replaceChild(p, r);
    r.left = p;
    p.parent = r;
    r.subtreeLast = p.subtreeLast;
    p.subtreeLast = subtreeLastOf(p);
  }

  private void rotateRight(Node<T> p) {
    Node<T> l = p.left;
    p.left = l.right;
    if (l.right != null) {
      l.right.parent = p;
    }
    replaceChild(p, l);
    l.right = p;
    p.parent = l;
    l.subtreeLast = p.subtreeLast;
    p.subtreeLast = subtreeLastOf(p);
  }

  // ------------------------------------------------------------ queries

  /**
   * {@code vma_interval_tree_foreach}: the items whose range overlaps [first, last], in
   * ascending start order (equal starts in insertion order).
   */
  public List<T> overlapping(long first, long last) {
    List<T> out = new ArrayList<>();
    forEachOverlapping(first, last, out::add);
    return out;
  }

  /** {@link #overlapping} without the list. */
  public void forEachOverlapping(long first, long last, Consumer<? super T> action) {
    visit(root, first, last, action);
  }

  private static <T> void visit(@Nullable Node<T> n, long first, long last, Consumer<? super T> action) {
    if (n == null || n.subtreeLast < first) {
      return;
    }
    visit(n.left, first, last, action);
    if (n.start > last) {
      return; // this node and its right subtree start beyond the query
    }
    if (n.last >= first) {
      action.accept(n.item);
    }
    visit(n.right, first, last, action);
  }

  /** Every item with its range, in ascending start order. */
  public List<Entry<T>> entries() {
    List<Entry<T>> out = new ArrayList<>(size);
    inOrder(root, out);
    return out;
  }

  private static <T> void inOrder(@Nullable Node<T> n, List<Entry<T>> out) {
    if (n == null) {
      return;
    }
    inOrder(n.left, out);
    out.add(new Entry<>(n.item, n.start, n.last));
    inOrder(n.right, out);
  }

  /** The height of the tree (0 when empty), for tests. */
  public int height() {
    return height(root);
  }

  private static int height(@Nullable Node<?> n) {
    return n == null ? 0 : 1 + Math.max(height(n.left), height(n.right));
  }

  // ------------------------------------------------------------ checks

  /**
   * The validity walk of the Invariants ({@link IntervalTreeCheck}): one line per problem, none
   * if the tree is sound.
   */
  public List<String> problems() {
    return IntervalTreeCheck.problems(root, size);
  }

  /** Throws {@link IllegalStateException} naming the first problem, if any. */
  public void check() {
    List<String> problems = problems();
    if (!problems.isEmpty()) {
      throw new IllegalStateException("interval tree is malformed: " + problems.getFirst() + " (" + problems.size()
          + " problems)");
    }
  }
}
