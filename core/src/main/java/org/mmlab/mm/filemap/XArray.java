package org.mmlab.mm.filemap;

import java.util.List;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.KObject;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.Sched;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;
import org.mmlab.sync.Rcu;
import org.mmlab.sync.Spinlock;

/**
 * A sparse array of entries indexed by {@code long}, read under RCU and written under its own
 * spinlock: the kernel's XArray ({@code lib/xarray.c}, {@code include/linux/xarray.h}) as the
 * page cache's {@code mapping->i_pages} uses it, with multi-index entries, value entries, retry
 * entries and three marks.
 *
 * <p>This class is the API and the design notes; the work is done in package-private classes,
 * one concern each: {@link XaEntry} (internal, sibling and value entries), {@link XaHead}
 * ({@code xa_head} and the array's marks), {@link XaNode} ({@code struct xa_node}),
 * {@link XaReader} (the RCU-side walks: load, find, find_marked, get_mark), {@link XaWriter}
 * (store, multi-index store, erase and the marks, under {@code xa_lock}), {@link XaNodes}
 * (allocation, growth, freeing through {@code call_rcu}, deletion, shrinking) and
 * {@link XArrayCheck} (the validity walk). Contents here: special entries; construction;
 * readers ({@link #load}, {@link #find}, {@link #findMarked}, {@link #getMark}), which check
 * the caller's context and call {@link XaReader}; writers ({@link #store}, {@link #setMark},
 * {@link #clearMark}), which assert the lock, check their arguments and call {@link XaWriter};
 * argument and context checks; checks and peeks.
 *
 * <h2>Implementation notes</h2>
 *
 * <h3>Overview</h3>
 * A radix tree of {@link XaNode}s with 64 slots each, as in the kernel. The head
 * ({@code xa_head}) holds null, a single entry for index 0, or the root node; a node of shift
 * {@code s} covers {@code 64 << s} indices, slot {@code i} the {@code 1 << s} of them at
 * {@code i << s}. A multi-index entry of order {@code k} is stored at the node of shift
 * {@code k - k % 6} in {@code 2^(k % 6)} consecutive, aligned slots: the first holds the entry,
 * the others sibling entries ({@code xa_mk_sibling}) naming the first. Each node counts its
 * non-null slots and its value slots and keeps three mark bitmaps, each bit the OR of the
 * marks below it; the head's marks ({@code xa_flags}' mark bits) summarize the whole array.
 * The root grows ({@code xas_expand}) when an index beyond it is stored and shrinks
 * ({@code xas_shrink}) when only slot 0 of it is left; empty nodes are deleted
 * ({@code xas_delete_node}).
 *
 * <h3>Concurrency</h3>
 * Writers hold {@link #lock()} ({@code xa_lock}); every writing method asserts it first.
 * Readers hold {@code rcu_read_lock} or the lock (checked once per call, see
 * {@link #setProveRcu}). Every slot and mark access of readers and writers is a scheduling
 * point on the node (READ or WRITE, tagged with the kernel function, e.g. {@code xas_descend},
 * {@code xas_store}); the head's on the array's head object. Natively a slot store is a
 * release store and a slot load an acquire load (where the kernel relies on address
 * dependencies), and a new node is filled before it is published.
 *
 * <p>Nodes are freed through {@code call_rcu} ({@code xa_node_free}) after being unlinked, so a
 * reader inside a read section can go on reading a node the writer has removed; a reader
 * walking without one meets the freed node and is reported as a use-after-free. Before a node
 * is freed it is marked dead and every non-null slot of it that is not a child node gets the
 * retry entry ({@code xas_free_nodes}; {@code xas_shrink} does this to slot 0 of the old
 * root). A reader that reads a retry entry in a dead node, or a sibling whose first slot is a
 * node, restarts its walk from the head at a named retry point ({@code "xas_load"},
 * {@code "xas_find"}): these are the kernel's {@code xas_retry} restarts. A retry entry read in
 * a live node was stored by a writer ({@code XA_RETRY_ENTRY} stored by {@code collapse_file})
 * and is returned to the caller, who retries, as {@code filemap_get_entry} does:
 * <pre>
 *   CPU0 (reader, rcu_read_lock held)        CPU1 (writer, xa_lock held)
 *   root = head                    // R
 *                                            erase the last entry outside R's slot 0
 *                                            head = R.slot[0]; R dead; R.slot[0] = RETRY
 *                                            call_rcu(free R)
 *   e = R.slot[0]                  // RETRY, R dead: restart
 *   root = head                    // R.slot[0]'s old content, now the head
 *   rcu_read_unlock()              // only now can R be freed
 * </pre>
 * Without the read section the grace period can end between the two reads of CPU0, and its
 * read of {@code R.slot[0]} is a use-after-free.
 *
 * <h3>Invariants</h3>
 * ({@link #check()}, registered as a consistency walk of the scheduler.) Every reachable node is
 * live, has a child's shift 6 below its own, the right parent and offset, a non-zero count
 * equal to its non-null slots and a value count equal to its value slots; siblings point back
 * to a first slot holding an entry, and a multi-index entry spans an aligned power of two of
 * slots; a mark bit is set only on a first slot holding an entry, or on a child slot iff the
 * child has that mark somewhere, and the head's marks are the root's; retry entries in the
 * tree are exactly the ones stored explicitly.
 *
 * <h3>Kernel counterpart and simplifications</h3>
 * {@code struct xarray}, {@code struct xa_node}, {@code xas_load}, {@code xas_find},
 * {@code xas_find_marked}, {@code xas_store}, {@code xas_set_mark}, {@code xas_clear_mark},
 * {@code xa_get_mark}, {@code xas_expand}, {@code xas_create}, {@code xas_free_nodes},
 * {@code xas_delete_node}, {@code xas_shrink}. The {@code xa_state} cursor is not modelled: each
 * call walks from the head. Not modelled: {@code XA_ZERO_ENTRY} and allocating arrays
 * ({@code xa_alloc}, free-tracking marks), {@code xas_split}/{@code xas_split_alloc},
 * {@code xas_nomem} (allocation never fails), indices above {@link Long#MAX_VALUE}. Entries are
 * Java objects; internal entries (nodes, siblings, the retry entry) are package-private types, so a
 * caller cannot store a node or sibling. Storing into part of a multi-index entry does what
 * {@code xas_store} does: the new entry replaces the old one over the old one's whole range
 * (see {@link #store}).
 */
public final class XArray {
  /** {@code XA_MARK_0} ({@code PAGECACHE_TAG_DIRTY} in the page cache). */
  public static final int MARK_0 = 0;
  /** {@code XA_MARK_1} ({@code PAGECACHE_TAG_WRITEBACK}). */
  public static final int MARK_1 = 1;
  /** {@code XA_MARK_2} ({@code PAGECACHE_TAG_TOWRITE}). */
  public static final int MARK_2 = 2;
  /** Largest order of a multi-index entry: {@code 1 << 62} indices (indices are non-negative longs). */
  public static final int MAX_ORDER = 62;

  // ------------------------------------------------------------------ special entries

  /**
   * {@code XA_RETRY_ENTRY}. Stored by a writer (khugepaged's {@code collapse_file} fills holes
   * with it), it makes readers retry: {@link #load} and {@link #find} return it and the caller
   * retries, as {@code xas_retry} callers do. Also what freed nodes' slots hold, which the walks
   * handle themselves.
   */
  public static final Object RETRY_ENTRY = XaEntry.RETRY;

  /** {@code xa_mk_value}: a value entry for {@code v >= 0}. Value entries compare by value. */
  public static Object mkValue(long v) {
    if (v < 0) {
      throw new IllegalArgumentException("xa_mk_value of a negative value " + v);
    }
    return new XaEntry.Value(v);
  }

  /** {@code xa_is_value}. */
  public static boolean isValue(@Nullable Object e) {
    return e instanceof XaEntry.Value;
  }

  /** {@code xa_to_value}. */
  public static long toValue(Object e) {
    if (!(e instanceof XaEntry.Value v)) {
      throw new IllegalArgumentException("not a value entry: " + e);
    }
    return v.value();
  }

  /** {@code xa_is_retry}. */
  public static boolean isRetry(@Nullable Object e) {
    return e == RETRY_ENTRY;
  }

  /**
   * An entry {@link #find} found: the first index it covers, its order and the entry.
   *
   * @param index the first index the entry covers (for a multi-index entry found from the middle,
   *     below the search's start; {@code xas_find} leaves {@code xa_index} at the start instead)
   * @param order the entry covers {@code 1 << order} indices
   * @param entry the entry (a value entry, {@link #RETRY_ENTRY}, or the caller's object)
   */
  public record Found(long index, int order, Object entry) {}

  /** What {@link #forEachPeek} calls for each present entry. */
  @FunctionalInterface
  public interface PeekVisitor {
    void visit(long index, int order, Object entry);
  }

  // ------------------------------------------------------------------ fields

  /** The scheduler of every node and point. Immutable. */
  private final Sched sched;
  /** The name in reports ({@code "i_pages"}). Immutable. */
  private final String name;
  /** {@code xa_lock}. Immutable. */
  private final Spinlock lock;
  /** {@code xa_head} and the array's marks. Immutable reference; see {@link XaHead}. */
  private final XaHead head;
  /** The object owning the array (an {@code address_space}), for reports. Immutable. */
  private final @Nullable Object owner;
  /** The RCU-side walks. Immutable. */
  private final XaReader reader;
  /** The writer under {@code xa_lock}. Immutable. */
  private final XaWriter writer;
  /** Whether readers check that they hold RCU or the lock ({@code CONFIG_PROVE_RCU}). Set-up only. */
  private boolean proveRcu = true;

  /**
   * {@code xa_init_flags}: an empty array whose {@code xa_lock} is a spinlock of class
   * {@code lockClass}. The array registers {@link #check()} as a consistency walk of
   * {@code sched}.
   *
   * @param name the array's name in reports ({@code "i_pages"})
   * @param owner the object the array lives in (an {@code address_space}), or null; when it is
   *     a {@link KObject}, using the array after the owner is freed is a use-after-free
   */
  public XArray(Sched sched, String name, LockClass lockClass, @Nullable Object owner) {
    KObject ko = owner instanceof KObject k ? k : null;
    this.sched = sched;
    this.name = name;
    this.owner = owner;
    this.lock = new Spinlock(sched, name + ".xa_lock", lockClass, ko);
    this.head = new XaHead(sched, name, ko);
    Rcu rcu = new Rcu(sched);
    this.reader = new XaReader(sched, head);
    this.writer = new XaWriter(name, head, reader, new XaNodes(sched, name, head, rcu));
    sched.registerWalk(this::check);
  }

  /** {@code xa_lock}: writers hold it ({@code xa_lock_irq} in the page cache: no interrupts here). */
  public Spinlock lock() {
    return lock;
  }

  /** The array's name in reports. */
  public String name() {
    return name;
  }

  /** The owner given at construction, or null. */
  public @Nullable Object owner() {
    return owner;
  }

  /**
   * Whether readers check, once per call, that the current CPU is in an RCU read section or
   * holds the lock, and raise an {@code rcu-misuse} verdict if not (the kernel's
   * {@code rcu_dereference_check} splat under {@code CONFIG_PROVE_RCU}). On by default; turn it
   * off to see what an unprotected reader really does: it meets freed nodes, a use-after-free.
   * Set-up only.
   */
  public XArray setProveRcu(boolean on) {
    this.proveRcu = on;
    return this;
  }

  // ------------------------------------------------------------------ readers

  /**
   * {@code xas_load} (the loop of {@code xa_load} without its retry on stored retry entries):
   * the entry covering {@code index}, or null. A multi-index entry is returned for every index
   * it covers. A stored {@link #RETRY_ENTRY} is returned: the caller retries. Walks that meet a
   * node being freed restart at the retry point {@code "xas_load"}. Called under
   * {@code rcu_read_lock} or with the lock held.
   */
  public @Nullable Object load(long index) {
    readerCheck("xa_load");
    return reader.load(index);
  }

  /**
   * {@code xa_find} / {@code xas_find}: the first present entry (value and retry entries
   * included) covering some index in {@code [start, max]}, or null. As {@code xas_find}, a
   * stored retry entry is returned and the caller retries (the kernel's {@code xa_find} loops
   * on it internally; {@code find_get_entries} and {@code filemap_get_entry} call
   * {@code xas_retry}); walks that meet a node being freed restart from where they were at the
   * retry point {@code "xas_find"}. Called under {@code rcu_read_lock} or with the lock held.
   */
  public @Nullable Found find(long start, long max) {
    readerCheck("xa_find");
    return reader.find(start, max, -1);
  }

  /**
   * {@code xa_find} with a mark filter ({@code xas_find_marked}): the first present entry with
   * mark {@code mark} covering some index in {@code [start, max]}, or null. Marks are read
   * racily, as in the kernel: an entry marked or unmarked during the walk may or may not be
   * found. Called under {@code rcu_read_lock} or with the lock held.
   */
  public @Nullable Found findMarked(long start, long max, int mark) {
    checkMark(mark);
    readerCheck("xa_find");
    return reader.find(start, max, mark);
  }

  /**
   * {@code xa_get_mark}: true if the entry covering {@code index} has mark {@code mark} (every
   * node on the path has the bit). Called under {@code rcu_read_lock} or with the lock held.
   */
  public boolean getMark(long index, int mark) {
    checkMark(mark);
    readerCheck("xa_get_mark");
    return reader.getMark(index, mark);
  }

  // ------------------------------------------------------------------ writers

  /**
   * {@code xas_store} with an {@code xa_state} of order {@code order} at {@code index}
   * ({@code XA_STATE_ORDER}): stores {@code entry} over the {@code 1 << order} indices from
   * {@code index}, which must be aligned to them, and returns the entry that covered
   * {@code index} before (null if none). Called with {@link #lock()} held, else an
   * {@code invariant} verdict.
   *
   * <ul>
   *   <li>Storing over a range that holds several smaller entries (or a subtree) replaces them
   *       all; the nodes under it are freed through RCU.</li>
   *   <li>Storing null erases. Erasing any part of a multi-index entry erases all of it, as
   *       {@code xas_store(NULL)} clears the first slot and then every sibling after it.</li>
   *   <li>Storing a smaller entry into part of a larger one replaces the larger one over its
   *       whole range, keeping its order, exactly as {@code xas_store} does (it writes the first
   *       slot and leaves the siblings naming it; the kernel documents that storing into one
   *       index of a multi-index entry stores into every index). To give one page of a large
   *       entry its own entry the kernel first splits it ({@code xas_split}), which this model
   *       does not have: store the pieces over an erased range instead.</li>
   *   <li>Marks stay with the slot when an entry is overwritten; the marks of slots merged into
   *       a multi-index entry are ORed into its first slot ({@code xas_squash_marks}); erasing
   *       clears them ({@code xas_init_marks}).</li>
   * </ul>
   *
   * @throws IllegalArgumentException for a negative index, an order outside
   *     {@code [0, MAX_ORDER]}, a misaligned or overflowing range
   */
  public @Nullable Object store(long index, int order, @Nullable Object entry) {
    lock.assertHeld();
    checkRange(index, order);
    return writer.store(index, order, entry);
  }

  /**
   * {@code xa_set_mark}: sets mark {@code mark} on the entry covering {@code index} (its first
   * slot) and on every node above it and the array; nothing if no entry covers it. Called with
   * {@link #lock()} held.
   */
  public void setMark(long index, int mark) {
    lock.assertHeld();
    checkMark(mark);
    writer.setMark(index, mark);
  }

  /**
   * {@code xa_clear_mark}: clears mark {@code mark} on the entry covering {@code index}, and on
   * each node above it that has no other entry with the mark, and the array. Called with
   * {@link #lock()} held.
   */
  public void clearMark(long index, int mark) {
    lock.assertHeld();
    checkMark(mark);
    writer.clearMark(index, mark);
  }

  // ------------------------------------------------------------------ argument and context checks

  private void readerCheck(String what) {
    if (proveRcu && !sched.inRcuReadSection() && !sched.cpu().holds(lock)) {
      throw sched.bug(Verdict.of(VerdictKind.RCU_MISUSE,
          sched.cpu().label() + ": " + what + " on " + name + " outside an RCU read-side section and without the xa_lock",
          List.of("rcu_dereference_check(xa_head, lockdep_is_held(&xa->xa_lock)) would splat",
              "held: " + sched.cpu().heldLocks()),
          List.of(head.id())));
    }
  }

  private static void checkMark(int mark) {
    if (mark < 0 || mark >= XaNode.MARKS) {
      throw new IllegalArgumentException("no such mark " + mark + " (XA_MARK_0..XA_MARK_2)");
    }
  }

  private static void checkRange(long index, int order) {
    if (index < 0) {
      throw new IllegalArgumentException("negative index " + index);
    }
    if (order < 0 || order > MAX_ORDER) {
      throw new IllegalArgumentException("order " + order + " outside [0, " + MAX_ORDER + "]");
    }
    long size = 1L << order;
    if ((index & (size - 1)) != 0) {
      throw new IllegalArgumentException("index 0x" + Long.toHexString(index) + " not aligned to order " + order);
    }
    if (index + (size - 1) < 0) {
      throw new IllegalArgumentException("range of order " + order + " at 0x" + Long.toHexString(index)
          + " overflows");
    }
  }

  // ------------------------------------------------------------------ checks and peeks

  /**
   * The validity walk (see Invariants): an {@code invariant} verdict listing what is wrong. No
   * scheduling point: runs where no CPU runs (end checks, consistency walks). Skipped once the
   * owner is freed.
   */
  public void check() {
    if (owner instanceof KObject k && k.isFreed()) {
      return;
    }
    List<String> problems = XArrayCheck.problems(this);
    if (!problems.isEmpty()) {
      throw sched.bug(Verdict.of(VerdictKind.INVARIANT, "XArray " + name + " is malformed: " + problems.getFirst(),
          problems, List.of(head.id())));
    }
  }

  /** For {@link XArrayCheck}: the head without a point. */
  @Nullable Object peekHead() {
    return head.peek();
  }

  /** For {@link XArrayCheck}: the array's marks without a point. */
  int peekHeadMarks() {
    return head.peekMarks();
  }

  /** For {@link XArrayCheck}: retry entries stored explicitly and still present. */
  long expectedRetryEntries() {
    return writer.retryEntries();
  }

  /** {@code (index, order, entry)} of every present entry, in index order; no scheduling point. */
  public void forEachPeek(PeekVisitor v) {
    Object h = head.peek();
    if (h == null) {
      return;
    }
    if (!(h instanceof XaNode n)) {
      v.visit(0, 0, h);
      return;
    }
    peekNode(n, 0, v);
  }

  private static void peekNode(XaNode n, long base, PeekVisitor v) {
    for (int off = 0; off < XaNode.SIZE; off++) {
      Object e = n.peek(off);
      if (e == null || e instanceof XaEntry.Sibling) {
        continue;
      }
      long start = base + ((long) off << n.shift);
      if (e instanceof XaNode c) {
        peekNode(c, start, v);
        continue;
      }
      int sibs = 0;
      for (int o = off + 1; o < XaNode.SIZE && n.peek(o) instanceof XaEntry.Sibling s && s.offset() == off; o++) {
        sibs++;
      }
      v.visit(start, n.shift + 31 - Integer.numberOfLeadingZeros(sibs + 1), e);
    }
  }

  /** The number of present entries (a multi-index entry counts once); no scheduling point. */
  public long peekCount() {
    long[] n = {0};
    forEachPeek((i, o, e) -> n[0]++);
    return n[0];
  }

  @Override
  public String toString() {
    return "XArray " + name + " (" + peekCount() + " entries)";
  }
}
