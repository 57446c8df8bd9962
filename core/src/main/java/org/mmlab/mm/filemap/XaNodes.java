package org.mmlab.mm.filemap;

import org.jspecify.annotations.Nullable;
import org.mmlab.explore.Sched;
import org.mmlab.sync.Rcu;

/**
 * The nodes of an {@link XArray} as its writer makes and unmakes them, all under
 * {@code xa_lock}: allocation ({@code xas_alloc}), growth of the root ({@code xas_expand}),
 * freeing of unlinked subtrees through {@code call_rcu} ({@code xas_free_nodes},
 * {@code xa_node_free}), deletion of empty nodes ({@code xas_delete_node}) and shrinking of the
 * root ({@code xas_shrink}). A node is marked dead and its entries become retry entries before
 * it is freed, so that readers still inside it restart (see the Concurrency notes of
 * {@link XArray}).
 *
 * <p>Ordered: allocation and growth, then freeing, deletion and shrinking.
 */
final class XaNodes {
  /** The scheduler of every node. Immutable. */
  private final Sched sched;
  /** The array's name, to name nodes in reports. Immutable. */
  private final String name;
  /** The array's head. Immutable reference. */
  private final XaHead head;
  /** RCU, to free nodes after a grace period. Immutable. */
  private final Rcu rcu;
  /** Nodes allocated so far, to name them. Protected by {@code xa_lock}. */
  private int nodesAllocated;

  XaNodes(Sched sched, String name, XaHead head, Rcu rcu) {
    this.sched = sched;
    this.name = name;
    this.head = head;
    this.rcu = rcu;
  }

  /** {@code xas_alloc}: a new node, named in allocation order. Called with {@code xa_lock} held. */
  XaNode newNode(int shift, @Nullable XaNode parent, int offset) {
    return XaNode.alloc(sched, name + " node#" + nodesAllocated++, shift, parent, offset);
  }

  /**
   * {@code xas_expand}: grows the tree until its root node covers {@code last} at a shift of at
   * least {@code sizeShift}, and returns the root. The old head (an entry of index 0, or the old
   * root) goes to slot 0 of each new level, with the array's marks; the new top is published
   * once.
   */
  XaNode expand(@Nullable Object h, long last, int sizeShift) {
    if (h == null) {
      int s = sizeShift;
      while ((last >>> s) > XaNode.MASK) {
        s += XaNode.SHIFT;
      }
      XaNode root = newNode(s, null, 0);
      head.write(root, "xas_expand");
      return root;
    }
    int headMarks = head.readMarks("xas_expand");
    Object top = h;
    int shift = h instanceof XaNode n ? n.shift + XaNode.SHIFT : 0;
    while (!(top instanceof XaNode t && t.shift >= sizeShift && (last >>> t.shift) <= XaNode.MASK)) {
      XaNode up = newNode(shift, null, 0);
      up.init(0, top);
      up.count = 1;
      up.nrValues = top instanceof XaEntry.Value ? 1 : 0;
      for (int m = 0; m < XaNode.MARKS; m++) {
        if ((headMarks & (1 << m)) != 0) {
          up.initMarks(m, 1L);
        }
      }
      if (top instanceof XaNode t) {
        t.parent = up;
        t.offset = 0;
      }
      top = up;
      shift += XaNode.SHIFT;
    }
    if (top != h) {
      head.write(top, "xas_expand");
    }
    return (XaNode) top;
  }

  /**
   * {@code xas_free_nodes}: frees the subtree of {@code top}, already unlinked. Each node is
   * marked dead, then its entries (siblings included) become retry entries, so that readers
   * still inside restart; children are freed the same way, then the node through RCU. Returns
   * how many explicitly stored retry entries were in the subtree (gone from the tree now).
   */
  long freeSubtree(XaNode top) {
    long retriesDropped = 0;
    top.markDead();
    for (int off = 0; off < XaNode.SIZE; off++) {
      Object e = top.read(off, "xas_free_nodes");
      if (e == null) {
        continue;
      }
      if (e instanceof XaNode c) {
        c.life.rcuUnpublish();
        retriesDropped += freeSubtree(c);
        continue;
      }
      if (e == XaEntry.RETRY) {
        retriesDropped++;
      }
      top.write(off, XaEntry.RETRY, "xas_free_nodes");
    }
    top.count = 0;
    top.nrValues = 0;
    rcu.freeAfterGracePeriod(top.life);
    return retriesDropped;
  }

  /**
   * {@code xas_delete_node}: deletes {@code n} and its ancestors while they are empty, then
   * shrinks the tree if what is left is the root. Each node is unlinked, marked dead and freed
   * through RCU (the kernel queues the free before unlinking; under the lock the order is not
   * observable).
   */
  void deleteNode(XaNode n) {
    XaNode node = n;
    while (node.count == 0) {
      XaNode parent = node.parent;
      if (parent == null) {
        head.write(null, "xas_delete_node");
        node.markDead();
        rcu.freeAfterGracePeriod(node.life);
        return;
      }
      parent.write(node.offset, null, "xas_delete_node");
      node.markDead();
      rcu.freeAfterGracePeriod(node.life);
      parent.count--;
      node = parent;
    }
    if (node.parent == null) {
      shrink();
    }
  }

  /**
   * {@code xas_shrink}: while the root has only slot 0 in use, and that slot holds a node or
   * (at shift 0) the entry of index 0, makes it the head. The old root is marked dead, its slot
   * 0 gets the retry entry unless it held a node (that node stays valid for readers still in
   * the old root), and it is freed through RCU.
   */
  private void shrink() {
    for (;;) {
      if (!(head.read("xas_shrink") instanceof XaNode n) || n.count != 1) {
        return;
      }
      Object e = n.read(0, "xas_shrink");
      if (e == null || (!(e instanceof XaNode) && n.shift > 0)) {
        return;
      }
      if (e instanceof XaNode c) {
        c.parent = null;
      }
      head.write(e, "xas_shrink");
      n.markDead();
      n.count = 0;
      n.nrValues = 0;
      if (e instanceof XaNode c) {
        c.life.rcuUnpublish(); // the dead root's slot no longer counts as publishing it
      } else {
        n.write(0, XaEntry.RETRY, "xas_shrink");
      }
      rcu.freeAfterGracePeriod(n.life);
      if (!(e instanceof XaNode)) {
        return;
      }
    }
  }
}
