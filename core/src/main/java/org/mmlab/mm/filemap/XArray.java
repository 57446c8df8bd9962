package org.mmlab.mm.filemap;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.KObject;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.Sched;
import org.mmlab.explore.SyncObject;
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
 * <p>Contents: special entries; construction; readers ({@link #load}, {@link #find},
 * {@link #findMarked}, {@link #getMark}); writers ({@link #store}, {@link #setMark},
 * {@link #clearMark}) and their helpers (expand, create, store slots, free, delete, shrink);
 * checks and peeks.
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
 * Java objects; internal entries (nodes, siblings, the retry entry) are private types, so a
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

  private static final int SHIFT = XaNode.SHIFT;
  private static final int SIZE = XaNode.SIZE;
  private static final int MASK = XaNode.MASK;

  // ------------------------------------------------------------------ special entries

  /** An internal entry ({@code xa_mk_internal}): retry entries and the walk's restart marker. */
  private record Internal(String name) {
    @Override
    public String toString() {
      return name;
    }
  }

  /** {@code xa_mk_sibling(offset)}: this slot belongs to the entry in slot {@code offset}. */
  private record Sibling(int offset) {}

  /** {@code xa_mk_value(v)}: an integer stored in place of a pointer (shadow and swap entries). */
  private record Value(long value) {
    @Override
    public String toString() {
      return "value(" + value + ")";
    }
  }

  /** Where a walk was when it met a retry it must restart for ({@code xas_reset}). */
  private record Restart(long index) {}

  private static final Sibling[] SIBLINGS = new Sibling[SIZE];

  static {
    for (int i = 0; i < SIZE; i++) {
      SIBLINGS[i] = new Sibling(i);
    }
  }

  /**
   * {@code XA_RETRY_ENTRY}. Stored by a writer (khugepaged's {@code collapse_file} fills holes
   * with it), it makes readers retry: {@link #load} and {@link #find} return it and the caller
   * retries, as {@code xas_retry} callers do. Also what freed nodes' slots hold, which the walks
   * handle themselves.
   */
  public static final Object RETRY_ENTRY = new Internal("XA_RETRY_ENTRY");

  /** The walk must restart from the head: never stored, never returned. */
  private static final Object RESTART = new Internal("restart");

  /** {@code xa_mk_value}: a value entry for {@code v >= 0}. Value entries compare by value. */
  public static Object mkValue(long v) {
    if (v < 0) {
      throw new IllegalArgumentException("xa_mk_value of a negative value " + v);
    }
    return new Value(v);
  }

  /** {@code xa_is_value}. */
  public static boolean isValue(@Nullable Object e) {
    return e instanceof Value;
  }

  /** {@code xa_to_value}. */
  public static long toValue(Object e) {
    if (!(e instanceof Value v)) {
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

  // ------------------------------------------------------------------ the head

  /**
   * {@code xa_head} and the array's mark bits ({@code xa_flags}' {@code XA_FLAGS_MARK}): the
   * object the head's scheduling points are about, owned by the array's owner.
   */
  private static final class Head extends SyncObject {
    private static final VarHandle ENTRY;
    private static final VarHandle MARKS;

    static {
      try {
        ENTRY = MethodHandles.lookup().findVarHandle(Head.class, "entry", Object.class);
        MARKS = MethodHandles.lookup().findVarHandle(Head.class, "marks", int.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    /** {@code xa_head}: null, the entry of index 0, or the root node. RCU: written (release) under {@code xa_lock}. */
    @SuppressWarnings("unused")
    private volatile @Nullable Object entry;
    /** Bit {@code m}: something in the array has mark {@code m}. Written (release) under {@code xa_lock}, read racily. */
    @SuppressWarnings("unused")
    private volatile int marks;

    Head(Sched sched, String name, @Nullable KObject owner) {
      super(sched, name, null, owner);
    }

    @Override
    public String kind() {
      return "xarray";
    }

    @Nullable Object read(String what) {
      sched.point(OpKind.READ, this, what);
      return ENTRY.getAcquire(this);
    }

    void write(@Nullable Object v, String what) {
      sched.point(OpKind.WRITE, this, what);
      Object old = ENTRY.getOpaque(this);
      if (v instanceof XaNode n) {
        n.life.rcuPublish();
      }
      ENTRY.setRelease(this, v);
      if (old instanceof XaNode n && old != v) {
        n.life.rcuUnpublish();
      }
    }

    @Nullable Object peek() {
      return ENTRY.getAcquire(this);
    }

    int readMarks(String what) {
      sched.point(OpKind.READ, this, what);
      return (int) MARKS.getAcquire(this);
    }

    void writeMarks(int m, String what) {
      sched.point(OpKind.WRITE, this, what);
      MARKS.setRelease(this, m);
    }

    int peekMarks() {
      return (int) MARKS.getAcquire(this);
    }

    @Override
    public String state() {
      return "head=" + peek() + " marks=" + peekMarks();
    }
  }

  // ------------------------------------------------------------------ fields

  /** The scheduler of every node and point. Immutable. */
  private final Sched sched;
  /** The name in reports ({@code "i_pages"}). Immutable. */
  private final String name;
  /** {@code xa_lock}. Immutable. */
  private final Spinlock lock;
  /** {@code xa_head} and the array's marks. Immutable reference; see {@link Head}. */
  private final Head head;
  /** RCU, to free nodes after a grace period. Immutable. */
  private final Rcu rcu;
  /** The object owning the array (an {@code address_space}), for reports. Immutable. */
  private final @Nullable Object owner;
  /** Whether readers check that they hold RCU or the lock ({@code CONFIG_PROVE_RCU}). Set-up only. */
  private boolean proveRcu = true;
  /** Nodes allocated so far, to name them. Protected by {@code xa_lock}. */
  private int nodesAllocated;
  /** Retry entries stored explicitly and still in the tree (for {@link #check()}). Protected by {@code xa_lock}. */
  private long retryEntries;

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
    this.head = new Head(sched, name, ko);
    this.rcu = new Rcu(sched);
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
    if (index < 0) {
      return null;
    }
    for (;;) {
      Object e = walk(index, "xas_descend");
      if (e != RESTART) {
        return e;
      }
      sched.retry("xas_load", head);
    }
  }

  /** One walk from the head to the entry of {@code index}; {@link #RESTART} if it met a dying node. */
  private @Nullable Object walk(long index, String what) {
    Object e = head.read("xas_start");
    if (!(e instanceof XaNode n)) {
      return index == 0 ? e : null;
    }
    if ((index >>> n.shift) > MASK) {
      return null;
    }
    for (;;) {
      int off = offset(index, n);
      e = n.read(off, what);
      if (e instanceof Sibling s) {
        e = n.read(s.offset(), what);
        if (e instanceof XaNode) {
          return RESTART;
        }
      }
      if (e == RETRY_ENTRY && n.isDead()) {
        return RESTART;
      }
      if (!(e instanceof XaNode c)) {
        return e;
      }
      n = c;
    }
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
    return find(start, max, -1, "xa_find");
  }

  /**
   * {@code xa_find} with a mark filter ({@code xas_find_marked}): the first present entry with
   * mark {@code mark} covering some index in {@code [start, max]}, or null. Marks are read
   * racily, as in the kernel: an entry marked or unmarked during the walk may or may not be
   * found. Called under {@code rcu_read_lock} or with the lock held.
   */
  public @Nullable Found findMarked(long start, long max, int mark) {
    checkMark(mark);
    return find(start, max, mark, "xa_find");
  }

  private @Nullable Found find(long start, long max, int mark, String what) {
    readerCheck(what);
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
    if ((from >>> n.shift) > MASK) {
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
    for (boolean first = true; off < SIZE; off++, first = false) {
      long slotStart = base + ((long) off << n.shift);
      if (slotStart < 0 || slotStart > max) {
        return null;
      }
      int canon = off;
      Object e;
      if (first) {
        e = n.read(off, what);
        if (e instanceof Sibling s) {
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
        if (e instanceof Sibling) {
          continue;
        }
      }
      if (e == null) {
        continue;
      }
      if (e == RETRY_ENTRY && n.isDead()) {
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
    for (int o = canon + 1; o < SIZE; o++) {
      if (n.read(o, "xas_get_order") instanceof Sibling s && s.offset() == canon) {
        sibs++;
      } else {
        break;
      }
    }
    return n.shift + 31 - Integer.numberOfLeadingZeros(sibs + 1);
  }

  /**
   * {@code xa_get_mark}: true if the entry covering {@code index} has mark {@code mark} (every
   * node on the path has the bit). Called under {@code rcu_read_lock} or with the lock held.
   */
  public boolean getMark(long index, int mark) {
    checkMark(mark);
    readerCheck("xa_get_mark");
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
    if ((index >>> n.shift) > MASK) {
      return 0;
    }
    for (;;) {
      int off = offset(index, n);
      e = n.read(off, "xa_get_mark");
      if (e instanceof Sibling s) {
        off = s.offset();
        e = n.read(off, "xa_get_mark");
        if (e instanceof XaNode) {
          return -1;
        }
      }
      if (e == RETRY_ENTRY && n.isDead()) {
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
    Object old = walk(index, "xas_load");
    if (old == RESTART) {
      throw new IllegalStateException("the xa_lock holder met a dying node in " + name);
    }
    if (entry == null) {
      erase(index, order);
    } else {
      insert(index, order, entry);
    }
    return old;
  }

  private void insert(long index, int order, Object entry) {
    int sizeShift = order - order % SHIFT;
    int sibs = (1 << (order % SHIFT)) - 1;
    long last = index + (1L << order) - 1;
    Object h = head.read("xas_create");
    if (order == 0 && index == 0 && !(h instanceof XaNode)) {
      head.write(entry, "xas_store");
      retryAccount(h, entry);
      return;
    }
    XaNode n = expand(h, last, sizeShift);
    while (n.shift > sizeShift) {
      int off = offset(index, n);
      Object e = n.read(off, "xas_create");
      if (e instanceof Sibling s) {
        off = s.offset();
        e = n.read(off, "xas_create");
      }
      if (e == null) {
        XaNode c = newNode(n.shift - SHIFT, n, off);
        n.write(off, c, "xas_create");
        n.count++;
        n = c;
      } else if (e instanceof XaNode c) {
        n = c;
      } else {
        // A larger entry covers index: xas_store writes its first slot only.
        storeSlots(n, off, 0, entry);
        return;
      }
    }
    int off = offset(index, n);
    if (n.read(off, "xas_create") instanceof Sibling s) {
      off = s.offset();
      sibs = 0;
    }
    storeSlots(n, off, sibs, entry);
  }

  private void erase(long index, int order) {
    int sizeShift = order - order % SHIFT;
    int sibs = (1 << (order % SHIFT)) - 1;
    Object h = head.read("xas_load");
    if (h == null) {
      return;
    }
    if (!(h instanceof XaNode n)) {
      if (index == 0) {
        head.write(null, "xas_store");
        retryAccount(h, null);
        clearHeadMarks();
      }
      return;
    }
    if ((index >>> n.shift) > MASK) {
      return;
    }
    if (sizeShift > n.shift) {
      // The range covers the whole tree (aligned, so index is 0).
      head.write(null, "xas_store");
      clearHeadMarks();
      freeSubtree(n);
      return;
    }
    for (;;) {
      int off = offset(index, n);
      Object e = n.read(off, "xas_load");
      if (e instanceof Sibling s) {
        off = s.offset();
        e = n.read(off, "xas_load");
      }
      if (n.shift > sizeShift) {
        if (e == null) {
          return;
        }
        if (e instanceof XaNode c) {
          n = c;
          continue;
        }
        storeSlots(n, off, 0, null);
        return;
      }
      if (e == null && sibs == 0) {
        return;
      }
      storeSlots(n, off, sibs, null);
      return;
    }
  }

  /**
   * {@code xas_expand}: grows the tree until its root node covers {@code last} at a shift of at
   * least {@code sizeShift}, and returns the root. The old head (an entry of index 0, or the old
   * root) goes to slot 0 of each new level, with the array's marks; the new top is published
   * once.
   */
  private XaNode expand(@Nullable Object h, long last, int sizeShift) {
    if (h == null) {
      int s = sizeShift;
      while ((last >>> s) > MASK) {
        s += SHIFT;
      }
      XaNode root = newNode(s, null, 0);
      head.write(root, "xas_expand");
      return root;
    }
    int headMarks = head.readMarks("xas_expand");
    Object top = h;
    int shift = h instanceof XaNode n ? n.shift + SHIFT : 0;
    while (!(top instanceof XaNode t && t.shift >= sizeShift && (last >>> t.shift) <= MASK)) {
      XaNode up = newNode(shift, null, 0);
      up.init(0, top);
      up.count = 1;
      up.nrValues = top instanceof Value ? 1 : 0;
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
      shift += SHIFT;
    }
    if (top != h) {
      head.write(top, "xas_expand");
    }
    return (XaNode) top;
  }

  /**
   * The slot loop of {@code xas_store}: writes {@code entry} into slot {@code offset} of
   * {@code n} and siblings naming it into the next {@code sibs} slots; erasing (null) goes on
   * over the siblings of what it cleared. Frees the subtrees it replaces, keeps the counts, and
   * deletes or shrinks nodes when the count went down.
   */
  private void storeSlots(XaNode n, int offset, int sibs, @Nullable Object entry) {
    int max = offset + sibs;
    if (sibs > 0) {
      squashMarks(n, offset, max);
    }
    boolean value = entry instanceof Value;
    Object next = n.read(offset, "xas_store");
    Object first = next;
    Object put = entry;
    int count = 0;
    int values = 0;
    int off = offset;
    for (;;) {
      n.write(off, put, "xas_store");
      if (next instanceof XaNode child) {
        freeSubtree(child);
      }
      if (next == RETRY_ENTRY) {
        retryEntries--;
      }
      count += (next == null ? 1 : 0) - (entry == null ? 1 : 0);
      values += (value ? 1 : 0) - (first instanceof Value ? 1 : 0);
      if (entry != null) {
        if (off == max) {
          break;
        }
        put = SIBLINGS[offset];
      } else if (off == MASK) {
        break;
      }
      next = n.read(++off, "xas_store");
      if (!(next instanceof Sibling)) {
        if (entry == null && off > max) {
          break;
        }
        first = next;
      }
    }
    if (entry != null && (value != first instanceof Value)) {
      // Siblings after max still name the first slot, which now holds the new entry: their
      // value-ness changed with it (the kernel counts only the slots it writes).
      for (int o = off + 1; o < SIZE && n.read(o, "xas_store") instanceof Sibling s && s.offset() == offset; o++) {
        values += value ? 1 : -1;
      }
    }
    if (entry == RETRY_ENTRY) {
      retryEntries++;
    }
    if (entry == null) {
      for (int m = 0; m < XaNode.MARKS; m++) {
        clearMarkUp(n, offset, m);
      }
    }
    n.count += count;
    n.nrValues += values;
    if (count < 0) {
      deleteNode(n);
    }
  }

  /** {@code xas_squash_marks}: ORs the marks of slots {@code offset+1..max} into slot {@code offset}. */
  private static void squashMarks(XaNode n, int offset, int max) {
    long range = (max - offset == MASK ? -1L : ((1L << (max - offset + 1)) - 1)) << offset;
    long rest = range & ~(1L << offset);
    for (int m = 0; m < XaNode.MARKS; m++) {
      long w = n.readMarks(m, "xas_squash_marks");
      if ((w & rest) != 0) {
        n.writeMarks(m, (w & ~rest) | (1L << offset), "xas_squash_marks");
      }
    }
  }

  /**
   * {@code xas_free_nodes}: frees the subtree of {@code top}, already unlinked. Each node is
   * marked dead, then its entries (siblings included) become retry entries, so that readers
   * still inside restart; children are freed the same way, then the node through RCU.
   */
  private void freeSubtree(XaNode top) {
    top.markDead();
    for (int off = 0; off < SIZE; off++) {
      Object e = top.read(off, "xas_free_nodes");
      if (e == null) {
        continue;
      }
      if (e instanceof XaNode c) {
        c.life.rcuUnpublish();
        freeSubtree(c);
        continue;
      }
      if (e == RETRY_ENTRY) {
        retryEntries--;
      }
      top.write(off, RETRY_ENTRY, "xas_free_nodes");
    }
    top.count = 0;
    top.nrValues = 0;
    rcu.freeAfterGracePeriod(top.life);
  }

  /**
   * {@code xas_delete_node}: deletes {@code n} and its ancestors while they are empty, then
   * shrinks the tree if what is left is the root. Each node is unlinked, marked dead and freed
   * through RCU (the kernel queues the free before unlinking; under the lock the order is not
   * observable).
   */
  private void deleteNode(XaNode n) {
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
        n.write(0, RETRY_ENTRY, "xas_shrink");
      }
      rcu.freeAfterGracePeriod(n.life);
      if (!(e instanceof XaNode)) {
        return;
      }
    }
  }

  /**
   * {@code xa_set_mark}: sets mark {@code mark} on the entry covering {@code index} (its first
   * slot) and on every node above it and the array; nothing if no entry covers it. Called with
   * {@link #lock()} held.
   */
  public void setMark(long index, int mark) {
    lock.assertHeld();
    checkMark(mark);
    Object h = head.read("xas_load");
    if (h == null || index < 0) {
      return;
    }
    XaNode node = null;
    int off = 0;
    if (h instanceof XaNode n) {
      Slot at = locate(n, index);
      if (at == null) {
        return;
      }
      node = at.node();
      off = at.offset();
    } else if (index != 0) {
      return;
    }
    while (node != null) {
      if (node.setMark(mark, off)) {
        return;
      }
      off = node.offset;
      node = node.parent;
    }
    int hm = head.readMarks("xa_mark_set");
    if ((hm & (1 << mark)) == 0) {
      head.writeMarks(hm | (1 << mark), "xa_mark_set");
    }
  }

  /**
   * {@code xa_clear_mark}: clears mark {@code mark} on the entry covering {@code index}, and on
   * each node above it that has no other entry with the mark, and the array. Called with
   * {@link #lock()} held.
   */
  public void clearMark(long index, int mark) {
    lock.assertHeld();
    checkMark(mark);
    Object h = head.read("xas_load");
    if (h == null || index < 0) {
      return;
    }
    if (h instanceof XaNode n) {
      Slot at = locate(n, index);
      if (at != null) {
        clearMarkUp(at.node(), at.offset(), mark);
      }
    } else if (index == 0) {
      int hm = head.readMarks("xa_mark_clear");
      if ((hm & (1 << mark)) != 0) {
        head.writeMarks(hm & ~(1 << mark), "xa_mark_clear");
      }
    }
  }

  /** A slot of a node: where an entry's first slot is. */
  private record Slot(XaNode node, int offset) {}

  /**
   * The node and first slot of the entry covering {@code index} below root {@code n}, or null
   * if none. Writer-side walk (lock held: no node on it is dying).
   */
  private static @Nullable Slot locate(XaNode n, long index) {
    if ((index >>> n.shift) > MASK) {
      return null;
    }
    for (;;) {
      int off = offset(index, n);
      Object e = n.read(off, "xas_load");
      if (e instanceof Sibling s) {
        off = s.offset();
        e = n.read(off, "xas_load");
      }
      if (e == null) {
        return null;
      }
      if (!(e instanceof XaNode c)) {
        return new Slot(n, off);
      }
      n = c;
    }
  }

  /** {@code xas_clear_mark} from slot {@code off} of {@code node} upward. */
  private void clearMarkUp(@Nullable XaNode start, int off, int mark) {
    XaNode node = start;
    int o = off;
    while (node != null) {
      if (!node.clearMark(mark, o)) {
        return;
      }
      if (node.readMarks(mark, "node_any_mark") != 0) {
        return;
      }
      o = node.offset;
      node = node.parent;
    }
    int hm = head.readMarks("xa_mark_clear");
    if ((hm & (1 << mark)) != 0) {
      head.writeMarks(hm & ~(1 << mark), "xa_mark_clear");
    }
  }

  private void clearHeadMarks() {
    if (head.readMarks("xas_init_marks") != 0) {
      head.writeMarks(0, "xas_init_marks");
    }
  }

  private void retryAccount(@Nullable Object old, @Nullable Object entry) {
    if (old == RETRY_ENTRY) {
      retryEntries--;
    }
    if (entry == RETRY_ENTRY) {
      retryEntries++;
    }
  }

  private XaNode newNode(int shift, @Nullable XaNode parent, int offset) {
    return XaNode.alloc(sched, name + " node#" + nodesAllocated++, shift, parent, offset);
  }

  // ------------------------------------------------------------------ argument and context checks

  private static int offset(long index, XaNode n) {
    return (int) (index >>> n.shift) & MASK;
  }

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
    return retryEntries;
  }

  static boolean isSibling(@Nullable Object e) {
    return e instanceof Sibling;
  }

  static int siblingOffset(Object e) {
    return ((Sibling) e).offset();
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
    for (int off = 0; off < SIZE; off++) {
      Object e = n.peek(off);
      if (e == null || e instanceof Sibling) {
        continue;
      }
      long start = base + ((long) off << n.shift);
      if (e instanceof XaNode c) {
        peekNode(c, start, v);
        continue;
      }
      int sibs = 0;
      for (int o = off + 1; o < SIZE && n.peek(o) instanceof Sibling s && s.offset() == off; o++) {
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
