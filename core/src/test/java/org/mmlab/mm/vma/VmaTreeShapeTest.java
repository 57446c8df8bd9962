package org.mmlab.mm.vma;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.mmlab.debug.KObject;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.BugException;
import org.mmlab.explore.NativeSched;
import org.mmlab.explore.VerdictKind;
import org.mmlab.sync.RwSem;

/** The B-tree's shape and the basic reader answers, on hand-made and on large trees. */
@Timeout(120)
class VmaTreeShapeTest {
  static final long PAGE = 4096;
  static final long SEED = 0x5eedL;

  static VmaTree<Integer> tree() {
    return new VmaTree<>(new NativeSched(), "mm_mt", () -> true);
  }

  /** n one-page entries, one page apart: entry i is [2i, 2i+1) pages. */
  static VmaTree<Integer> spaced(int n) {
    VmaTree<Integer> t = tree();
    for (int i = 0; i < n; i++) {
      t.insert(2L * i * PAGE, (2L * i + 1) * PAGE, i);
    }
    return t;
  }

  @Test
  void anEmptyTreeAnswersNothingAndIsAllGap() {
    VmaTree<Integer> t = tree();
    assertThat(t.size()).isZero();
    assertThat(t.lookup(0)).isNull();
    assertThat(t.findFrom(0)).isNull();
    assertThat(t.prev(PAGE)).isNull();
    assertThat(t.first()).isNull();
    assertThat(t.last()).isNull();
    assertThat(t.ranges(0, Long.MAX_VALUE)).isEmpty();
    assertThat(t.gapAtLeast(PAGE, PAGE, 10 * PAGE, true)).isEqualTo(new VmaTree.Gap(PAGE, 10 * PAGE));
    assertThat(t.remove(0)).isNull();
    assertThat(t.replace(0, 1)).isNull();
    assertThat(t.peek().height()).isZero();
    t.check();
  }

  @Test
  void lookupFindFromAndPrevFollowFindVmaSemantics() {
    VmaTree<Integer> t = tree();
    t.insert(0x1000, 0x3000, 1);
    t.insert(0x5000, 0x6000, 2);
    assertThat(t.lookup(0x2fff).value()).isEqualTo(1);
    assertThat(t.lookup(0x3000)).as("end is exclusive").isNull();
    assertThat(t.findFrom(0x3000).value()).as("find_vma: the next one above").isEqualTo(2);
    assertThat(t.findFrom(0x3000, 0x5000)).as("vma_find below the limit").isNull();
    assertThat(t.findFrom(0x3000, 0x5001).value()).isEqualTo(2);
    assertThat(t.findFrom(0x6000)).isNull();
    assertThat(t.prev(0x5800).value()).as("the entry before the one containing addr").isEqualTo(1);
    assertThat(t.prev(0x3000).value()).isEqualTo(1);
    assertThat(t.prev(0x2fff)).isNull();
    assertThat(t.prev(0x9000).value()).as("past the end: the last entry").isEqualTo(2);
  }

  @Test
  void heightGrowsFromTwoToFourBetweenAHundredAndAHundredThousandEntries() {
    assertThat(spaced(100).peek().height()).isEqualTo(2);
    assertThat(spaced(10_000).peek().height()).isEqualTo(3);
    VmaTree<Integer> big = spaced(100_000);
    assertThat(big.peek().height()).isEqualTo(4);
    big.check();
    assertThat(big.lookup(2L * 77_777 * PAGE + 5).value()).isEqualTo(77_777);
    assertThat(big.lookup((2L * 77_777 + 1) * PAGE)).isNull();
  }

  @Test
  void removingEverythingInRandomOrderShrinksTheTreeToNothing() {
    int n = 20_000;
    VmaTree<Integer> t = spaced(n);
    List<Integer> order = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      order.add(i);
    }
    SplittableRandom rnd = new SplittableRandom(SEED);
    for (int i = n - 1; i > 0; i--) {
      int j = rnd.nextInt(i + 1);
      Integer x = order.get(i);
      order.set(i, order.get(j));
      order.set(j, x);
    }
    for (int k = 0; k < n; k++) {
      int i = order.get(k);
      assertThat(t.remove(2L * i * PAGE).value()).isEqualTo(i);
      if (k % 500 == 0) {
        t.check();
      }
    }
    assertThat(t.peek().height()).isZero();
    assertThat(t.size()).isZero();
    t.check();
  }

  @Test
  void iterationVisitsEveryIntersectingEntryInOrder() {
    VmaTree<Integer> t = spaced(5_000);
    List<Integer> got = new ArrayList<>();
    // [2*100 + 0.5 pages, 2*200 pages): entries 100..199 intersect it.
    t.ranges(200 * PAGE + PAGE / 2, 400 * PAGE).forEach(e -> got.add(e.value()));
    assertThat(got).hasSize(100).startsWith(100).endsWith(199).isSorted();
    List<Integer> all = new ArrayList<>();
    t.peek().all().forEach(e -> all.add(e.value()));
    assertThat(all).hasSize(5_000).isSorted();
  }

  @Test
  void overlappingAndMalformedInsertsAreRefusedAndChangeNothing() {
    VmaTree<Integer> t = tree();
    t.insert(0x1000, 0x3000, 1);
    long gen = t.peek().generation();
    assertThatThrownBy(() -> t.insert(0x2000, 0x4000, 2)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("overlaps");
    assertThatThrownBy(() -> t.insert(0x0, 0x1001, 2)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> t.insert(0x5000, 0x5000, 2)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> t.insert(-0x1000, 0x0, 2)).isInstanceOf(IllegalArgumentException.class);
    assertThat(t.peek().generation()).isEqualTo(gen);
    t.insert(0x3000, 0x4000, 3); // adjacent is fine
    t.insert(0x0, 0x1000, 4);
    assertThat(t.size()).isEqualTo(3);
  }

  @Test
  void replaceKeepsTheRangeAndReturnsTheOldEntry() {
    VmaTree<Integer> t = spaced(1_000);
    VmaTree.Entry<Integer> old = t.replace(2L * 500 * PAGE, -500);
    assertThat(old).isEqualTo(new VmaTree.Entry<>(1000 * PAGE, 1001 * PAGE, 500));
    assertThat(t.lookup(1000 * PAGE).value()).isEqualTo(-500);
    assertThat(t.replace(1000 * PAGE + 1, 0)).as("only an entry's start names it").isNull();
    t.check();
  }

  @Test
  void theInvariantWalkReportsACorruptTree() {
    NativeSched sched = new NativeSched();
    VmaTree<Integer> t = new VmaTree<>(sched, "mm_mt", () -> true);
    t.insert(0, PAGE, 1);
    // Forge a version whose size disagrees with its nodes: what a buggy writer would publish.
    Snapshot<Integer> s = t.peek();
    Snapshot<Integer> forged = new Snapshot<>(s.root(), 2, s.generation());
    assertThat(TreeCheck.problems(forged)).singleElement().asString().contains("size is 2");
    Node.Leaf unordered = new Node.Leaf(new long[] {2 * PAGE, 0}, new long[] {3 * PAGE, 4 * PAGE}, new Object[] {1, 2});
    assertThat(TreeCheck.problems(new Snapshot<>(unordered, 2, 0)))
        .anySatisfy(p -> assertThat(p).contains("out of order or overlapping"));
    Node.Leaf low = Node.Leaf.of(new VmaTree.Entry<>(0, PAGE, 1));
    Node.Leaf high = Node.Leaf.of(new VmaTree.Entry<>(2 * PAGE, 3 * PAGE, 2));
    assertThat(TreeCheck.problems(new Snapshot<>(new Node.Branch(new Node[] {low, high}), 2, 0)))
        .anySatisfy(p -> assertThat(p).contains("holds 1 items (allowed 16..32)"));
    Node.Leaf higher = Node.Leaf.of(new VmaTree.Entry<>(4 * PAGE, 5 * PAGE, 3));
    Node unbalanced = new Node.Branch(new Node[] {low, new Node.Branch(new Node[] {high, higher})});
    assertThat(TreeCheck.problems(new Snapshot<>(unbalanced, 3, 0)))
        .anySatisfy(p -> assertThat(p).contains("leaf at depth 3 in a tree of height 2"));
    // A clean tree passes the walk the scheduler runs.
    t.check();
    sched.consistencyWalk();
  }

  /**
   * With an rwsem as the update lock (the mmap lock): a reader holding it for read needs no RCU
   * read section ({@code find_vma} under {@code mmap_read_lock}); a writer holding it only for
   * read is caught. (RwSem offers {@code assertWriteLocked} but no boolean query, so the test
   * tracks the write holder itself.)
   */
  @Test
  void readersUnderTheMmapReadLockAreLegalAndWritersUnderItAreRcuMisuse() {
    NativeSched sched = new NativeSched();
    RwSem mmapLock = new RwSem(sched, "mmap_lock", LockClass.of("test-vma-shape:mmap_lock"));
    boolean[] writeLocked = {false};
    VmaTree<Integer> t = new VmaTree<>(sched, "mm_mt", () -> sched.cpu().holds(mmapLock), () -> writeLocked[0], null);
    mmapLock.downWrite();
    writeLocked[0] = true;
    t.insert(0, PAGE, 1);
    writeLocked[0] = false;
    mmapLock.upWrite();

    mmapLock.downRead();
    assertThat(t.lookup(0).value()).isEqualTo(1);
    assertThatThrownBy(() -> t.insert(PAGE, 2 * PAGE, 2)).isInstanceOfSatisfying(BugException.class, e -> {
      assertThat(e.verdict().kind()).isEqualTo(VerdictKind.RCU_MISUSE);
      assertThat(e.verdict().headline()).contains("rcu_dereference_protected without the update-side lock");
    });
    mmapLock.upRead();
    assertThatThrownBy(() -> t.lookup(0)).as("neither the lock nor a read section")
        .isInstanceOfSatisfying(BugException.class, e -> assertThat(e.verdict().kind()).isEqualTo(VerdictKind.RCU_MISUSE));
    assertThat(t.peek().size()).isEqualTo(1);
  }

  @Test
  void aFreedValueInTheTreeIsAnInvariantVerdictOfTheWalk() {
    NativeSched sched = new NativeSched();
    VmaTree<KObject> t = new VmaTree<>(sched, "mm_mt", () -> true);
    KObject vma = new KObject(sched, "vma", "a");
    vma.free(); // a bug: inserting a VMA that was already freed
    t.insert(0, PAGE, vma);
    assertThatThrownBy(t::check).isInstanceOfSatisfying(BugException.class, e -> {
      assertThat(e.verdict().kind()).isEqualTo(VerdictKind.INVARIANT);
      assertThat(e.verdict().headline()).contains("holds freed vma a");
    });
    assertThat(t.remove(0).value()).isSameAs(vma);
  }
}
