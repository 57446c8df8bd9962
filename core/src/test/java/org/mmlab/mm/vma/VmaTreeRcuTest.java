package org.mmlab.mm.vma;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.mmlab.debug.KObject;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.ExploreResult;
import org.mmlab.explore.ExploreSched;
import org.mmlab.explore.Explorer;
import org.mmlab.explore.Sched;
import org.mmlab.sync.Atomic;
import org.mmlab.sync.Rcu;
import org.mmlab.sync.Spinlock;

/**
 * The tree under the explorer: a reader CPU looking ranges up inside RCU read sections while a
 * writer CPU, holding the update lock, inserts, splits, replaces, unmaps and merges, and frees
 * what it removed after a grace period. Readers must only ever see versions the writer
 * published, in publication order, and never a freed value.
 */
@Timeout(300)
class VmaTreeRcuTest {
  static final LockClass MMAP_LOCK = LockClass.of("test-vma:mmap_lock");
  static final long PAGE = 4096;
  static final int EXECUTIONS = 10_000;

  /** A VMA stand-in: its range (immutable, as {@code vm_start}/{@code vm_end} under the tree) and a field readers touch. */
  static final class Vma extends KObject {
    final long start;
    final long end;
    final Atomic flags;

    Vma(Sched sched, long start, long end, String name) {
      super(sched, "vma", name);
      this.start = start;
      this.end = end;
      this.flags = new Atomic(sched, name + ".vm_flags", 0, this);
    }

    VmaTree.Entry<Vma> entry() {
      return new VmaTree.Entry<>(start, end, this);
    }
  }

  /** How the writer frees what it removed. */
  enum Free { KFREE_RCU, SYNCHRONIZE, IMMEDIATELY }

  /** What one explored execution shares between its CPUs and its end check. */
  static final class World {
    final Sched ex;
    final Rcu rcu;
    final Spinlock lock;
    final VmaTree<Vma> tree;
    /** Deep copies of every version the writer published, in order (test bookkeeping, not model state). */
    final List<TreeMap<Long, VmaTree.Entry<Vma>>> versions = new ArrayList<>();
    /** The reader's observations: groups of lookups, each group made on one snapshot or one call. */
    final List<List<Observation>> groups = new ArrayList<>();

    World(Sched ex) {
      this.ex = ex;
      this.rcu = new Rcu(ex);
      this.lock = new Spinlock(ex, "mmap_lock", MMAP_LOCK);
      this.tree = new VmaTree<>(ex, "mm_mt", () -> ex.cpu().holds(lock));
    }

    void recordVersion() {
      TreeMap<Long, VmaTree.Entry<Vma>> copy = new TreeMap<>();
      tree.peek().all().forEach(e -> copy.put(e.start(), e));
      versions.add(copy);
    }
  }

  record Observation(long addr, VmaTree.@Nullable Entry<Vma> seen) {}

  // ------------------------------------------------------------------ the program

  static final long[] ADDRS = {PAGE / 2, PAGE + 5, 3 * PAGE, 9 * PAGE, 17 * PAGE};

  /**
   * Set-up: [0,4) and [8,12) pages mapped. The writer: maps [16,20); unmaps page 1 out of
   * [0,4) (a split, one publication); replaces the VMA of [8,12); unmaps [16,20); maps [1,2)
   * again, merging [0,4) back into one VMA. The reader: two read sections, one querying a
   * snapshot several times, one calling the tree per lookup.
   */
  static Explorer.Program program(Free free, int @Nullable [] sawSeveralVersions) {
    return ex -> {
      World w = new World(ex);
      w.lock.lock();
      w.tree.insert(0, 4 * PAGE, new Vma(ex, 0, 4 * PAGE, "a"));
      w.tree.insert(8 * PAGE, 12 * PAGE, new Vma(ex, 8 * PAGE, 12 * PAGE, "b"));
      w.lock.unlock();
      w.recordVersion();
      ex.addCpu("writer", () -> writer(w, free));
      ex.addCpu("reader", () -> reader(w));
      return () -> {
        int[] span = checkObservations(w);
        if (sawSeveralVersions != null && span[1] > span[0]) {
          sawSeveralVersions[0]++;
        }
        w.tree.check();
      };
    };
  }

  private static void writer(World w, Free free) {
    Sched ex = w.ex;
    List<Vma> removed = new ArrayList<>();
    write(w, () -> w.tree.insert(16 * PAGE, 20 * PAGE, new Vma(ex, 16 * PAGE, 20 * PAGE, "c")));
    write(w, () -> gone(removed, w.tree.replaceRange(PAGE, 2 * PAGE, List.of(
        new Vma(ex, 0, PAGE, "a-low").entry(), new Vma(ex, 2 * PAGE, 4 * PAGE, "a-high").entry()))));
    write(w, () -> removed.add(w.tree.replace(8 * PAGE, new Vma(ex, 8 * PAGE, 12 * PAGE, "b2")).value()));
    free(w, removed, free);
    write(w, () -> gone(removed, w.tree.replaceRange(16 * PAGE, 20 * PAGE, List.of())));
    write(w, () -> gone(removed, w.tree.replaceRange(0, 4 * PAGE, List.of(new Vma(ex, 0, 4 * PAGE, "a2").entry()))));
    free(w, removed, free);
  }

  private static void write(World w, Runnable op) {
    w.lock.lock();
    op.run();
    w.recordVersion();
    w.lock.unlock();
  }

  private static void gone(List<Vma> removed, List<VmaTree.Entry<Vma>> entries) {
    entries.forEach(e -> removed.add(e.value()));
  }

  private static void free(World w, List<Vma> removed, Free how) {
    if (how == Free.SYNCHRONIZE && !removed.isEmpty()) {
      w.rcu.synchronize();
    }
    for (Vma v : removed) {
      switch (how) {
        case KFREE_RCU -> w.rcu.freeAfterGracePeriod(v);
        case SYNCHRONIZE, IMMEDIATELY -> v.free();
      }
    }
    removed.clear();
  }

  private static void reader(World w) {
    w.rcu.readLock();
    Snapshot<Vma> s = w.tree.snapshot();
    List<Observation> group = new ArrayList<>();
    for (long a : ADDRS) {
      group.add(observe(a, s.lookup(a)));
    }
    w.groups.add(group);
    w.rcu.readUnlock();

    w.rcu.readLock();
    for (long a : ADDRS) {
      w.groups.add(List.of(observe(a, w.tree.lookup(a))));
    }
    w.rcu.readUnlock();
  }

  /** Checks what a lookup returned and touches the VMA (a use-after-free if it was freed). */
  private static Observation observe(long addr, VmaTree.@Nullable Entry<Vma> e) {
    if (e != null) {
      if (!e.contains(addr) || e.value().start != e.start() || e.value().end != e.end()) {
        throw new AssertionError("lookup(" + Long.toHexString(addr) + ") returned " + e.range() + " -> "
            + e.value().objectName() + " [" + e.value().start + ", " + e.value().end + ")");
      }
      e.value().flags.read();
    }
    return new Observation(addr, e);
  }

  /**
   * Every group of observations must be explained by one published version, and the versions
   * explaining successive groups must not go backwards (greedy: the earliest version that
   * fits, which is the best choice for the groups after it). Returns the first and last
   * version index used.
   */
  private static int[] checkObservations(World w) {
    int lo = 0;
    int first = -1;
    for (List<Observation> group : w.groups) {
      int k = lo;
      while (k < w.versions.size() && !explains(w.versions.get(k), group)) {
        k++;
      }
      if (k == w.versions.size()) {
        throw new AssertionError("the reader saw " + group + ", which no version from " + lo
            + " on explains; versions: " + w.versions);
      }
      first = first < 0 ? k : first;
      lo = k;
    }
    return new int[] {first, lo};
  }

  private static boolean explains(TreeMap<Long, VmaTree.Entry<Vma>> version, List<Observation> group) {
    for (Observation o : group) {
      Map.Entry<Long, VmaTree.Entry<Vma>> floor = version.floorEntry(o.addr());
      VmaTree.Entry<Vma> expected = floor != null && floor.getValue().end() > o.addr() ? floor.getValue() : null;
      if (!java.util.Objects.equals(expected, o.seen())) {
        return false;
      }
    }
    return true;
  }

  private static ExploreResult explore(Explorer.Program p, long executions) {
    return new Explorer(p, Explorer.Config.defaults().withExecutions(executions)
        .withTimeLimit(java.time.Duration.ofMinutes(10))).explore(null);
  }

  // ------------------------------------------------------------------ tests

  @Test
  void readersSeeOnlyPublishedVersionsInOrderAndNoFreedVma() {
    int[] several = {0};
    ExploreResult r = explore(program(Free.KFREE_RCU, several), EXECUTIONS);
    assertThat(r.verdictId()).as(String.valueOf(r.verdict())).isEqualTo("none");
    assertThat(r.executions()).isEqualTo(EXECUTIONS);
    System.out.println("VmaTreeRcuTest: the reader saw more than one version in " + several[0] + " of "
        + r.executions() + " executions (" + r.elapsedMillis() + " ms)");
    assertThat(several[0]).as("executions in which the reader saw more than one version").isPositive();
  }

  @Test
  void synchronizeThenFreeIsCleanToo() {
    ExploreResult r = explore(program(Free.SYNCHRONIZE, null), EXECUTIONS);
    assertThat(r.verdictId()).as(String.valueOf(r.verdict())).isEqualTo("none");
  }

  @Test
  void freeingARemovedVmaWithoutAGracePeriodIsRcuMisuse() {
    ExploreResult r = explore(program(Free.IMMEDIATELY, null), EXECUTIONS);
    assertThat(r.verdictId()).isEqualTo("rcu-misuse");
    assertThat(r.verdict().headline()).contains("without a grace period");
  }

  @Test
  void aLookupOutsideAReadSectionIsRcuMisuse() {
    ExploreResult r = explore(ex -> {
      World w = new World(ex);
      ex.addCpu("sloppy reader", () -> w.tree.lookup(0));
      return () -> {};
    }, 10);
    assertThat(r.verdictId()).isEqualTo("rcu-misuse");
    assertThat(r.verdict().headline()).contains("rcu_dereference_check");
  }

  @Test
  void aWriterWithoutTheUpdateLockIsRcuMisuse() {
    ExploreResult r = explore(ex -> {
      World w = new World(ex);
      ex.addCpu("lockless writer", () -> w.tree.insert(0, PAGE, new Vma(ex, 0, PAGE, "a")));
      return () -> {};
    }, 10);
    assertThat(r.verdictId()).isEqualTo("rcu-misuse");
    assertThat(r.verdict().headline()).contains("rcu_dereference_protected without the update-side lock");
  }

  /**
   * mprotect of half a VMA: [0,4) becomes [0,2) and [2,4), mapped throughout. Done as one
   * {@code replaceRange}, a lockless reader never finds the address unmapped; done as a removal
   * and two insertions (three publications), the explorer finds the reader that does.
   */
  static Explorer.Program splitHalf(boolean onePublication) {
    return ex -> {
      World w = new World(ex);
      w.lock.lock();
      w.tree.insert(0, 4 * PAGE, new Vma(ex, 0, 4 * PAGE, "a"));
      w.lock.unlock();
      ex.addCpu("mprotect", () -> {
        Vma low = new Vma(ex, 0, 2 * PAGE, "a-low");
        Vma high = new Vma(ex, 2 * PAGE, 4 * PAGE, "a-high");
        w.lock.lock();
        List<Vma> removed = new ArrayList<>();
        if (onePublication) {
          gone(removed, w.tree.replaceRange(0, 4 * PAGE, List.of(low.entry(), high.entry())));
        } else {
          removed.add(w.tree.remove(0).value());
          w.tree.insert(0, 2 * PAGE, low);
          w.tree.insert(2 * PAGE, 4 * PAGE, high);
        }
        w.lock.unlock();
        removed.forEach(w.rcu::freeAfterGracePeriod);
      });
      ex.addCpu("fault", () -> {
        for (long a : new long[] {PAGE, 3 * PAGE}) {
          w.rcu.readLock();
          if (w.tree.lookup(a) == null) {
            throw new AssertionError("address " + Long.toHexString(a) + " found unmapped while mprotect splits its VMA");
          }
          w.rcu.readUnlock();
        }
      });
      return () -> {};
    };
  }

  @Test
  void aSplitPublishedOnceIsNeverSeenHalfDone() {
    ExploreResult r = explore(splitHalf(true), EXECUTIONS);
    assertThat(r.verdictId()).as(String.valueOf(r.verdict())).isEqualTo("none");
  }

  @Test
  void aSplitPublishedInThreeStepsIsFoundHalfDone() {
    ExploreResult r = explore(splitHalf(false), EXECUTIONS);
    assertThat(r.verdictId()).isEqualTo("assertion");
    assertThat(r.verdict().headline()).contains("found unmapped");
  }
}
