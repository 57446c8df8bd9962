package org.mmlab.mm.vma;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.KObject;
import org.mmlab.explore.Sched;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;
import org.mmlab.sync.RcuPointer;

/**
 * An ordered map from non-overlapping address ranges {@code [start, end)} to values (VMAs),
 * read under RCU without locks and written under the caller's lock (the mmap write lock): the
 * role of the maple tree {@code mm->mm_mt} ({@code lib/maple_tree.c}, {@code mm/vma.h}'s
 * {@code vma_iter_*}).
 *
 * <p>Contents: the entry and gap records; construction; readers; writers; checks.
 *
 * <h2>Implementation notes</h2>
 *
 * <h3>Overview</h3>
 * A persistent (path-copying) B-tree of {@code Node}s, at most 32 items a node,
 * whose current version, a {@link Snapshot}, is published through one {@link RcuPointer}. A
 * writer builds the next version from the current one by copying the O(log n) nodes on the
 * paths it changes ({@code TreeEdit}) and publishes it with one {@code rcu_assign_pointer}; a
 * reader takes one {@code rcu_dereference} of the pointer and walks the immutable snapshot it
 * got. A compound change ({@link #replaceRange}: munmap, mprotect and mremap splitting and
 * merging VMAs) is several edits on unpublished nodes and still one publication, so no reader
 * ever sees half of it: no VMA missing between its removal and its replacement's insertion.
 *
 * <h3>Concurrency</h3>
 * The one racing operation is the root's publication against its dereference. Nodes are
 * immutable and never reused, so reading them is not an access to shared mutable state and has
 * no scheduling point: under the explorer a reader's query is exactly one step (the
 * dereference), a writer's change two (the protected read of the root, then the assignment).
 * <pre>
 *   CPU0 (reader, e.g. lock_vma_under_rcu)     CPU1 (writer, mmap write lock held)
 *   rcu_read_lock()
 *                                              old = rcu_dereference_protected(root)
 *                                              new = old with [a,d) replaced by [a,b) [c,d)
 *   s = rcu_dereference(root)   // old or new: both are whole trees
 *                                              rcu_assign_pointer(root, new)
 *   e = s.lookup(addr)          // in s, whichever it was
 *   rcu_read_unlock()
 *                                              synchronize_rcu(); free the VMA of [a,d)
 * </pre>
 * Natively the assignment is a release store and the dereference an acquire load
 * ({@link RcuPointer}), and nodes have only final fields: a reader that sees a version sees
 * every node of it fully built.
 *
 * <h3>Memory reclamation: the caller's contract</h3>
 * Old nodes are garbage for the Java GC, which frees them only once no reader can reach them:
 * no use-after-free is possible at node level. <em>Values</em> are another matter: a value the
 * tree stops referencing ({@link #remove}, {@link #replace}, {@link #replaceRange} return them)
 * may still be in the hands of a reader that found it before the publication; the caller frees
 * it after a grace period ({@code synchronize_rcu}, {@code call_rcu}), as the kernel frees VMAs
 * with {@code vm_area_free} through RCU. When the values are {@link KObject}s the tree counts
 * their publication as an {@code RcuPointer} does, so {@link KObject#free()} reports freeing a
 * value still in the tree, or freeing it without a grace period since it left the tree, as RCU
 * misuse; and {@link #check()} reports a freed value still in the tree.
 *
 * <h3>Invariants</h3>
 * Ranges are well-formed ({@code 0 <= start < end}), ordered and non-overlapping; the B-tree is
 * balanced with every non-root node at least half full; each node's gap summary is exact
 * ({@code TreeCheck}). {@link #check()} walks them, and is registered as a consistency walk of
 * the scheduler, so it runs after every explored execution and every test.
 *
 * <h3>Kernel counterpart</h3>
 * The maple tree in RCU mode with an external lock ({@code MT_FLAGS_USE_RCU},
 * {@code MT_FLAGS_LOCK_EXTERN}, {@code mt_set_external_lock(&mm->mm_mt, &mm->mmap_lock)}).
 * Simplified, and said here: the maple tree is a B-tree of ranges that also stores the gaps as
 * empty ranges and replaces nodes in place of their parents' slots, marking the replaced ones
 * dead so that a lockless walker re-walks from the root; here a whole new root is published
 * instead. Observable difference: a query here is atomic (one version), which the kernel also
 * guarantees for a single lookup; iteration over one {@link Snapshot} is stronger than the
 * kernel's (see {@link Snapshot#ranges}).
 *
 * @param <V> the values (VMAs)
 */
public final class VmaTree<V> {
  /**
   * One entry: the range {@code [start, end)} and its value. Immutable.
   *
   * @param start first address, at least 0
   * @param end address after the last one, above {@code start}
   * @param value what the range maps to (a VMA)
   */
  public record Entry<V>(long start, long end, V value) {
    public Entry {
      if (start < 0 || end <= start) {
        throw new IllegalArgumentException("malformed range [" + Long.toHexString(start) + ", " + Long.toHexString(end)
            + ")");
      }
    }

    /** True if {@code addr} lies in {@code [start, end)}. */
    public boolean contains(long addr) {
      return start <= addr && addr < end;
    }

    /** {@code "[0x1000, 0x3000)"}. */
    public String range() {
      return "[0x" + Long.toHexString(start) + ", 0x" + Long.toHexString(end) + ")";
    }
  }

  /**
   * A free interval {@code [start, end)}, as {@link Snapshot#gapAtLeast} returns it. Immutable.
   */
  public record Gap(long start, long end) {
    public long length() {
      return end - start;
    }
  }

  /** The scheduler of the tree's pointer and checks. Immutable. */
  private final Sched sched;
  /** The current version. RCU: published with {@code assign} by writers holding the update lock for write. */
  private final RcuPointer<Snapshot<V>> root;
  /** The readers' lockdep condition: the current CPU holds the update lock in any mode. Immutable. */
  private final BooleanSupplier lockHeld;
  /** The writers' lockdep condition: the current CPU holds the update lock for write. Immutable. */
  private final BooleanSupplier writeLockHeld;

  /**
   * An empty tree whose update lock is exclusive (a spinlock, a mutex): one condition serves
   * readers and writers.
   *
   * @param name the pointer's name in reports ({@code "mm_mt"})
   * @param lockHeld true when the current CPU holds the lock writers must hold
   */
  public VmaTree(Sched sched, String name, BooleanSupplier lockHeld) {
    this(sched, name, lockHeld, lockHeld, null);
  }

  /**
   * An empty tree whose update lock is a reader-writer lock (the mmap lock), embedded in
   * {@code owner} (an mm; using the tree after the owner is freed is a use-after-free).
   *
   * @param name the pointer's name in reports ({@code "mm_mt"})
   * @param lockHeld true when the current CPU holds the update lock in any mode (the kernel's
   *     {@code mt_lock_is_held}): readers outside an RCU read section need it, else an
   *     {@code rcu-misuse} verdict ({@code find_vma} under {@code mmap_read_lock})
   * @param writeLockHeld true when the current CPU holds it for write (the kernel's
   *     {@code mt_write_lock_is_held}): writers need it, else an {@code rcu-misuse} verdict
   * @param owner the object the tree lives in, or null
   */
  public VmaTree(Sched sched, String name, BooleanSupplier lockHeld, BooleanSupplier writeLockHeld,
      @Nullable KObject owner) {
    this.sched = sched;
    this.lockHeld = lockHeld;
    this.writeLockHeld = writeLockHeld;
    this.root = new RcuPointer<>(sched, name, new Snapshot<>(null, 0, 0), owner);
    sched.registerWalk(this::check);
  }

  // ------------------------------------------------------------------ readers

  /**
   * {@code rcu_dereference_check(root, mt_lock_is_held)}: the current version, one scheduling
   * point. Called inside an RCU read section or with the update lock held (in any mode), else an
   * {@code rcu-misuse} verdict. Every query on the result sees that one version.
   */
  public Snapshot<V> snapshot() {
    Snapshot<V> s = root.dereferenceCheck(sched.inRcuReadSection() || lockHeld.getAsBoolean());
    if (s == null) {
      throw new IllegalStateException("the root pointer of a VmaTree is never null");
    }
    return s;
  }

  /** {@code vma_lookup}: the entry containing {@code addr}, or null. Read section or update lock. */
  public @Nullable Entry<V> lookup(long addr) {
    return snapshot().lookup(addr);
  }

  /** {@code find_vma}: the first entry ending after {@code addr}, or null. Read section or update lock. */
  public @Nullable Entry<V> findFrom(long addr) {
    return snapshot().findFrom(addr);
  }

  /**
   * {@code vma_find} / {@code find_vma_intersection}: the first entry intersecting
   * {@code [addr, limit)}, or null. Read section or update lock.
   */
  public @Nullable Entry<V> findFrom(long addr, long limit) {
    return snapshot().findFrom(addr, limit);
  }

  /** {@code find_vma_prev}'s {@code *pprev}: the last entry ending at or below {@code addr}, or null. */
  public @Nullable Entry<V> prev(long addr) {
    return snapshot().prev(addr);
  }

  /** The lowest entry, or null. Read section or update lock. */
  public @Nullable Entry<V> first() {
    return snapshot().first();
  }

  /** The highest entry, or null. Read section or update lock. */
  public @Nullable Entry<V> last() {
    return snapshot().last();
  }

  /** {@code mm->map_count}: the number of entries. Read section or update lock. */
  public int size() {
    return snapshot().size();
  }

  /**
   * {@code for_each_vma_range}: the entries intersecting {@code [from, to)} in address order,
   * from the one version current at this call. Read section or update lock.
   */
  public Iterable<Entry<V>> ranges(long from, long to) {
    return snapshot().ranges(from, to);
  }

  /**
   * The gap search of {@code get_unmapped_area} ({@code vm_unmapped_area}); see
   * {@link Snapshot#gapAtLeast}. O(log n). Read section or update lock.
   */
  public @Nullable Gap gapAtLeast(long len, long low, long high, boolean topDown) {
    return snapshot().gapAtLeast(len, low, high, topDown);
  }

  // ------------------------------------------------------------------ writers

  /**
   * {@code vma_iter_store} / {@code mtree_insert_range}: adds {@code [start, end) -> value}.
   * Called with the update lock held for write.
   *
   * @throws IllegalArgumentException if the range is malformed or overlaps an entry (the tree is
   *     then unchanged)
   */
  public void insert(long start, long end, V value) {
    Entry<V> e = new Entry<>(start, end, value);
    Snapshot<V> cur = current();
    Node next = TreeEdit.insert(cur.root(), e);
    publish(new Snapshot<>(next, cur.size() + 1, cur.generation() + 1), List.of(), List.of(e));
  }

  /**
   * {@code mas_erase} / {@code vma_iter_clear}: removes the entry starting at {@code start} and
   * returns it (its value is the caller's to free after a grace period), or returns null and
   * changes nothing if no entry starts there. Called with the update lock held for write.
   */
  @SuppressWarnings("unchecked")
  public @Nullable Entry<V> remove(long start) {
    Snapshot<V> cur = current();
    TreeEdit.Erased er = TreeEdit.erase(cur.root(), start);
    if (er == null) {
      return null;
    }
    Entry<V> gone = (Entry<V>) er.entry();
    publish(new Snapshot<>(er.root(), cur.size() - 1, cur.generation() + 1), List.of(gone), List.of());
    return gone;
  }

  /**
   * {@code mas_store} over an existing range: gives the entry starting at {@code start} the value
   * {@code value}, keeping its range, and returns the old entry (its value is the caller's to
   * free after a grace period); null, changing nothing, if no entry starts there. Called with the
   * update lock held for write.
   */
  public @Nullable Entry<V> replace(long start, V value) {
    Snapshot<V> cur = current();
    Entry<V> old = cur.lookup(start);
    if (old == null || old.start() != start) {
      return null;
    }
    Entry<V> e = new Entry<>(old.start(), old.end(), value);
    Node next = TreeEdit.withEntry(cur.root(), e);
    publish(new Snapshot<>(next, cur.size(), cur.generation() + 1), List.of(old), List.of(e));
    return old;
  }

  /**
   * In one publication, removes every entry intersecting {@code [start, end)} and adds
   * {@code entries}: munmap, mprotect and mremap splitting and merging VMAs ({@code vma_complete}
   * storing the outcome of {@code __split_vma}, {@code vma_merge} and {@code do_vmi_align_munmap}).
   * The new entries may reach outside {@code [start, end)} (the parts of a cut VMA that stay
   * mapped) but must not overlap each other nor any entry that stays. Readers see the tree
   * before or after, never between. Called with the update lock held for write.
   *
   * @return the entries removed, in address order (their values are the caller's to free after
   *     a grace period, unless they are among {@code entries} again)
   * @throws IllegalArgumentException if {@code start >= end} or the new entries overlap (the
   *     tree is then unchanged)
   */
  public List<Entry<V>> replaceRange(long start, long end, List<Entry<V>> entries) {
    if (start < 0 || end <= start) {
      throw new IllegalArgumentException("replaceRange over a malformed range [" + start + ", " + end + ")");
    }
    Snapshot<V> cur = current();
    List<Entry<V>> gone = new ArrayList<>();
    for (Entry<V> e : cur.ranges(start, end)) {
      gone.add(e);
    }
    if (gone.isEmpty() && entries.isEmpty()) {
      return List.of();
    }
    Node r = cur.root();
    for (Entry<V> e : gone) {
      TreeEdit.Erased er = TreeEdit.erase(r, e.start());
      if (er == null) {
        throw new IllegalStateException("entry " + e.range() + " vanished from an unpublished version");
      }
      r = er.root();
    }
    for (Entry<V> e : entries) {
      r = TreeEdit.insert(r, e);
    }
    publish(new Snapshot<>(r, cur.size() - gone.size() + entries.size(), cur.generation() + 1), gone, entries);
    return List.copyOf(gone);
  }

  /**
   * The writers' read of the root: {@code rcu_dereference_protected(root, mt_write_lock_is_held)},
   * misuse without the update lock held for write.
   */
  private Snapshot<V> current() {
    Snapshot<V> s = root.dereferenceProtected(writeLockHeld.getAsBoolean());
    if (s == null) {
      throw new IllegalStateException("the root pointer of a VmaTree is never null");
    }
    return s;
  }

  /**
   * Publishes {@code next}: the values in {@code added} count as published from before the
   * assignment, those in {@code removed} as unpublished from after it (for {@link KObject}'s
   * grace-period check), so a value in both stays published throughout.
   */
  private void publish(Snapshot<V> next, List<Entry<V>> removed, List<Entry<V>> added) {
    for (Entry<V> e : added) {
      if (e.value() instanceof KObject k) {
        k.rcuPublish();
      }
    }
    root.assign(next);
    for (Entry<V> e : removed) {
      if (e.value() instanceof KObject k) {
        k.rcuUnpublish();
      }
    }
  }

  // ------------------------------------------------------------------ checks

  /**
   * The invariant walk (ordering, non-overlap, balance, occupancy, gap summaries, size, no freed
   * value): an {@code invariant} verdict listing what is wrong. Runs where no CPU runs (end
   * checks, consistency walks); no scheduling point.
   */
  public void check() {
    Snapshot<V> s = peek();
    List<String> problems = TreeCheck.problems(s);
    if (!problems.isEmpty()) {
      String headline = "VMA tree " + root.name() + " is malformed: " + problems.getFirst();
      throw sched.bug(Verdict.of(VerdictKind.INVARIANT, headline, problems, List.of(root.id())));
    }
  }

  /** The current version without a scheduling point or check: only for end checks and reports. */
  public Snapshot<V> peek() {
    Snapshot<V> s = root.peek();
    if (s == null) {
      throw new IllegalStateException("the root pointer of a VmaTree is never null");
    }
    return s;
  }

  @Override
  public String toString() {
    return "VmaTree " + root.name() + " (" + peek() + ")";
  }
}
