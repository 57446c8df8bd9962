package org.mmlab.bench;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.mmlab.explore.NativeSched;
import org.mmlab.mm.vma.VmaTree;
import org.mmlab.sync.Rcu;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The VMA tree ({@link VmaTree}, the maple tree's role) in native mode ({@link NativeSched},
 * no lockdep) at 100, 10,000 and 100,000 entries: the cost of its operations must grow with
 * the B-tree's depth (2, 3 and 4 levels), not with the number of VMAs.
 *
 * <p>The tree maps one page in every two: entry {@code k} is pages {@code [2k, 2k+1)}, inserted
 * in a seeded random order (so nodes are as full as random insertion leaves them, not packed).
 * Addresses are drawn from a pre-computed seeded table, so no random number is generated in
 * the measured code. Benchmarks, in average time per operation:
 * <ul>
 *   <li>{@code lookup}: {@code vma_lookup} of a random mapped address inside
 *       {@code rcu_read_lock}/{@code rcu_read_unlock}, as {@code lock_vma_under_rcu} does. Over
 *       100,000 VMAs the tree (several MiB) no longer fits the caches near the core, so this
 *       measures cache misses as much as depth;</li>
 *   <li>{@code lookupHot}: the same over 64 addresses spread evenly over the whole range (64
 *       different leaves): the working set stays cached, so this measures the depth;</li>
 *   <li>{@code insertRemove}: map a one-page hole and unmap it again: two path-copying writes,
 *       two publications;</li>
 *   <li>{@code gapBelow}: the top-down {@code get_unmapped_area} search for one page below a
 *       random ceiling (the path through the ceiling, then the nearest hole);</li>
 *   <li>{@code mmapFaultMunmap}: the tree's part of an mmap + fault + munmap round: the gap
 *       search, the insertion, a lookup under RCU (the fault), and the unmap as a
 *       {@code replaceRange} (one publication), below a random ceiling: each round works on a
 *       different, cold part of the tree (the worst case);</li>
 *   <li>{@code mmapFaultMunmapHot}: the same round with the ceiling fixed above every VMA, as
 *       in will-it-scale's {@code page_fault1} loop, which maps, touches and unmaps the same
 *       area over and over: the path it copies stays cached;</li>
 *   <li>controls for {@code lookup}, the same addresses: {@code controlTreeMap}, a
 *       {@code java.util.TreeMap} from start to range ({@code floorEntry}, then the end check),
 *       and {@code controlSortedArray}, a binary search over a sorted {@code long[]} of starts
 *       and ends (no pointer to follow at all: the lower bound, but O(n) to update). They show
 *       how much of {@code lookup}'s growth any structure pays once its working set leaves the
 *       caches near the core.</li>
 * </ul>
 * The writers' update lock is not taken (the hook says it is held): its cost is the rwsem's,
 * measured by {@code PrimitivesBench}.
 *
 * <p>The fork runs with a 64 MiB young generation ({@code -Xmn64m}). Path copying allocates
 * 1.5 to 2.5 KB per insert+remove, and with the default young generation (over 1 GiB here) eden
 * is cycled slowly enough for this VM's DAMON {@code pageout} scheme to reclaim its cold pages:
 * allocation then page-faults them back, and the write benchmarks turn bimodal (about 250 ns and
 * 7 us of CPU time per operation in alternating phases, with no GC in the slow ones). A small
 * eden stays hot.
 *
 * <p>Run (about 2 minutes; figures in {@code docs/BENCHMARKS.md}):
 * <pre>
 * ./mmlab bench VmaTreeBench -wi 3 -w 1s -i 5 -r 1s -f 1
 * </pre>
 * Kernel counterparts: {@code vma_lookup}, {@code vma_iter_store}, {@code vma_iter_clear},
 * {@code vm_unmapped_area}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "-Xmn64m")
@State(Scope.Thread)
public class VmaTreeBench {
  static final long PAGE = 4096;
  static final long SEED = 0x766d61L;
  static final int TABLE = 1 << 14;

  @Param({"100", "10000", "100000"})
  int size;

  NativeSched sched;
  Rcu rcu;
  VmaTree<Object> tree;
  /** 64 mapped addresses, evenly spread. */
  final long[] hot = new long[64];
  /** Mapped addresses, uniformly over the entries. */
  final long[] mapped = new long[TABLE];
  /** Starts of one-page holes. */
  final long[] holes = new long[TABLE];
  /** Ceilings for the gap search, anywhere in the mapped region above the first entry. */
  final long[] ceilings = new long[TABLE];
  final Object value = new Object();
  int next;
  TreeMap<Long, long[]> treeMap;
  long[] sortedStarts;
  long[] sortedEnds;

  @Setup(Level.Trial)
  public void setUp() {
    BenchEnv.print();
    sched = new NativeSched();
    // A model CPU, as a faulting task is: its read sections cost a nesting counter (a thread that
    // is not attached pays a full fence at its outermost rcu_read_lock instead).
    sched.attach("bench");
    rcu = new Rcu(sched);
    tree = new VmaTree<>(sched, "mm_mt", () -> true);
    SplittableRandom rnd = new SplittableRandom(SEED);
    int[] order = new int[size];
    for (int i = 0; i < size; i++) {
      order[i] = i;
    }
    for (int i = size - 1; i > 0; i--) {
      int j = rnd.nextInt(i + 1);
      int t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    for (int k : order) {
      tree.insert(2L * k * PAGE, (2L * k + 1) * PAGE, new Object());
    }
    for (int i = 0; i < TABLE; i++) {
      long k = rnd.nextLong(size);
      mapped[i] = 2 * k * PAGE + rnd.nextLong(PAGE);
      holes[i] = (2 * k + 1) * PAGE;
      long c = 1 + rnd.nextLong(size - 1); // above entry 0, so a hole lies below every ceiling
      ceilings[i] = (2 * c + 1) * PAGE + rnd.nextLong(PAGE) + 1;
    }
    treeMap = new TreeMap<>();
    for (int k : order) {
      treeMap.put(2L * k * PAGE, new long[] {2L * k * PAGE, (2L * k + 1) * PAGE});
    }
    sortedStarts = new long[size];
    sortedEnds = new long[size];
    for (int k = 0; k < size; k++) {
      sortedStarts[k] = 2L * k * PAGE;
      sortedEnds[k] = (2L * k + 1) * PAGE;
    }
    for (int i = 0; i < hot.length; i++) {
      hot[i] = 2L * (i * (long) size / hot.length) * PAGE + PAGE / 2;
    }
    tree.check();
    System.out.println("[bench] VmaTree of " + size + " entries, height " + tree.peek().height());
  }

  @Benchmark
  public Object lookup() {
    long addr = mapped[next++ & (TABLE - 1)];
    rcu.readLock();
    try {
      return tree.lookup(addr);
    } finally {
      rcu.readUnlock();
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    sched.detach();
  }

  @Benchmark
  public Object lookupHot() {
    long addr = hot[next++ & (hot.length - 1)];
    rcu.readLock();
    try {
      return tree.lookup(addr);
    } finally {
      rcu.readUnlock();
    }
  }

  @Benchmark
  public Object insertRemove() {
    long hole = holes[next++ & (TABLE - 1)];
    tree.insert(hole, hole + PAGE, value);
    return tree.remove(hole);
  }

  @Benchmark
  public Object gapBelow() {
    return tree.gapAtLeast(PAGE, 0, ceilings[next++ & (TABLE - 1)], true);
  }

  @Benchmark
  public Object mmapFaultMunmap() {
    VmaTree.Gap gap = tree.gapAtLeast(PAGE, 0, ceilings[next++ & (TABLE - 1)], true);
    long addr = gap.end() - PAGE;
    tree.insert(addr, addr + PAGE, value);
    Object found;
    rcu.readLock();
    try {
      found = tree.lookup(addr + 8);
    } finally {
      rcu.readUnlock();
    }
    tree.replaceRange(addr, addr + PAGE, List.of());
    return found;
  }

  @Benchmark
  public Object controlTreeMap() {
    long addr = mapped[next++ & (TABLE - 1)];
    Map.Entry<Long, long[]> e = treeMap.floorEntry(addr);
    return e != null && e.getValue()[1] > addr ? e.getValue() : null;
  }

  @Benchmark
  public long controlSortedArray() {
    long addr = mapped[next++ & (TABLE - 1)];
    int i = Arrays.binarySearch(sortedStarts, addr);
    int at = i >= 0 ? i : -i - 2;
    return at >= 0 && sortedEnds[at] > addr ? sortedStarts[at] : -1;
  }

  @Benchmark
  public Object mmapFaultMunmapHot() {
    VmaTree.Gap gap = tree.gapAtLeast(PAGE, 0, (2L * size + 64) * PAGE, true);
    long addr = gap.end() - PAGE;
    tree.insert(addr, addr + PAGE, value);
    Object found;
    rcu.readLock();
    try {
      found = tree.lookup(addr + 8);
    } finally {
      rcu.readUnlock();
    }
    tree.replaceRange(addr, addr + PAGE, List.of());
    return found;
  }
}
