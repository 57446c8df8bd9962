package org.mmlab.mm.vma;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.mmlab.debug.KObject;
import org.mmlab.explore.BugException;
import org.mmlab.explore.NativeSched;
import org.mmlab.explore.VerdictKind;
import org.mmlab.sync.Rcu;

/** {@code replaceRange}: the one-publication edits of munmap, mprotect and mremap. */
@Timeout(60)
class VmaTreeReplaceRangeTest {
  static final long PAGE = 4096;

  static VmaTree<String> tree() {
    return new VmaTree<>(new NativeSched(), "mm_mt", () -> true);
  }

  static VmaTree.Entry<String> pages(long from, long to, String v) {
    return new VmaTree.Entry<>(from * PAGE, to * PAGE, v);
  }

  static List<VmaTree.Entry<String>> contents(VmaTree<String> t) {
    List<VmaTree.Entry<String>> out = new ArrayList<>();
    t.peek().all().forEach(out::add);
    return out;
  }

  @Test
  void munmapOfAMiddlePageSplitsTheRangeInOnePublication() {
    VmaTree<String> t = tree();
    t.insert(0, 10 * PAGE, "a");
    long gen = t.peek().generation();
    List<VmaTree.Entry<String>> removed = t.replaceRange(4 * PAGE, 5 * PAGE,
        List.of(pages(0, 4, "a"), pages(5, 10, "a'")));
    assertThat(removed).containsExactly(pages(0, 10, "a"));
    assertThat(contents(t)).containsExactly(pages(0, 4, "a"), pages(5, 10, "a'"));
    assertThat(t.lookup(4 * PAGE)).isNull();
    assertThat(t.peek().generation()).isEqualTo(gen + 1);
    t.check();
  }

  @Test
  void mprotectMergeReplacesThreeNeighboursByOne() {
    VmaTree<String> t = tree();
    t.insert(0, 4 * PAGE, "a");
    t.insert(4 * PAGE, 8 * PAGE, "b");
    t.insert(8 * PAGE, 12 * PAGE, "c");
    t.insert(20 * PAGE, 21 * PAGE, "far");
    List<VmaTree.Entry<String>> removed = t.replaceRange(0, 12 * PAGE, List.of(pages(0, 12, "abc")));
    assertThat(removed).extracting(VmaTree.Entry::value).containsExactly("a", "b", "c");
    assertThat(contents(t)).containsExactly(pages(0, 12, "abc"), pages(20, 21, "far"));
  }

  @Test
  void munmapAcrossManyRangesCutsTheEndsAndDropsTheMiddle() {
    VmaTree<String> t = tree();
    for (int i = 0; i < 500; i++) {
      t.insert(3L * i * PAGE, (3L * i + 2) * PAGE, "v" + i);
    }
    // Unmap [10, 1000) pages: v3 = [9,11) loses [10,11); v333 = [999,1001) keeps [1000,1001).
    List<VmaTree.Entry<String>> removed = t.replaceRange(10 * PAGE, 1000 * PAGE,
        List.of(pages(9, 10, "v3"), pages(1000, 1001, "v333")));
    assertThat(removed).hasSize(331).first().isEqualTo(pages(9, 11, "v3"));
    assertThat(removed.getLast()).isEqualTo(pages(999, 1001, "v333"));
    assertThat(t.size()).isEqualTo(500 - 331 + 2);
    assertThat(t.ranges(10 * PAGE, 1000 * PAGE)).isEmpty();
    assertThat(t.lookup(9 * PAGE).value()).isEqualTo("v3");
    assertThat(t.lookup(1000 * PAGE).value()).isEqualTo("v333");
    t.check();
  }

  @Test
  void newRangesOverlappingARangeThatStaysAreRefusedAndChangeNothing() {
    VmaTree<String> t = tree();
    t.insert(0, 4 * PAGE, "a");
    t.insert(4 * PAGE, 8 * PAGE, "b");
    List<VmaTree.Entry<String>> before = contents(t);
    long gen = t.peek().generation();
    // Replacing what overlaps [0,4) must not reach into b, which stays.
    assertThatThrownBy(() -> t.replaceRange(0, 4 * PAGE, List.of(pages(0, 5, "a+"))))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("overlaps");
    assertThatThrownBy(() -> t.replaceRange(0, 4 * PAGE, List.of(pages(0, 2, "x"), pages(1, 3, "y"))))
        .as("new ranges overlapping each other").isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> t.replaceRange(4 * PAGE, 4 * PAGE, List.of())).isInstanceOf(IllegalArgumentException.class);
    assertThat(contents(t)).isEqualTo(before);
    assertThat(t.peek().generation()).isEqualTo(gen);
  }

  @Test
  void nothingToRemoveAndNothingToAddPublishesNothing() {
    VmaTree<String> t = tree();
    t.insert(0, PAGE, "a");
    long gen = t.peek().generation();
    assertThat(t.replaceRange(5 * PAGE, 6 * PAGE, List.of())).isEmpty();
    assertThat(t.peek().generation()).isEqualTo(gen);
    assertThat(t.replaceRange(5 * PAGE, 6 * PAGE, List.of(pages(5, 6, "new")))).isEmpty();
    assertThat(t.peek().generation()).as("an insertion through replaceRange").isEqualTo(gen + 1);
  }

  @Test
  void anOldSnapshotKeepsSeeingTheOldVersion() {
    VmaTree<String> t = tree();
    for (int i = 0; i < 2_000; i++) {
      t.insert(2L * i * PAGE, (2L * i + 1) * PAGE, "v" + i);
    }
    Snapshot<String> before = t.peek();
    t.replaceRange(0, 4_000 * PAGE, List.of(pages(0, 4_000, "all")));
    assertThat(t.size()).isEqualTo(1);
    assertThat(before.size()).isEqualTo(2_000);
    assertThat(before.lookup(2L * 1234 * PAGE).value()).isEqualTo("v1234");
    assertThat(TreeCheck.problems(before)).isEmpty();
  }

  /** A VMA that the tree counts as RCU-published while it holds it. */
  static final class Vma extends KObject {
    Vma(NativeSched sched, String name) {
      super(sched, "vma", name);
    }
  }

  @Test
  void removedValuesAreFreedOnlyAfterAGracePeriodAndKeptOnesNotAtAll() {
    NativeSched sched = new NativeSched();
    Rcu rcu = new Rcu(sched);
    VmaTree<Vma> t = new VmaTree<>(sched, "mm_mt", () -> true);
    Vma a = new Vma(sched, "a");
    Vma b = new Vma(sched, "b");
    t.insert(0, 4 * PAGE, a);
    t.insert(4 * PAGE, 8 * PAGE, b);
    assertThatThrownBy(a::free).as("a is in the tree").isInstanceOfSatisfying(BugException.class,
        e -> assertThat(e.verdict().headline()).contains("still RCU-published"));
    // munmap [2,6): a keeps [0,2) (the same VMA, trimmed), b is replaced by b' for [6,8).
    Vma b2 = new Vma(sched, "b'");
    List<VmaTree.Entry<Vma>> removed = t.replaceRange(2 * PAGE, 6 * PAGE,
        List.of(new VmaTree.Entry<>(0, 2 * PAGE, a), new VmaTree.Entry<>(6 * PAGE, 8 * PAGE, b2)));
    assertThat(removed).extracting(VmaTree.Entry::value).containsExactly(a, b);
    assertThatThrownBy(b::free).as("b left the tree but readers may hold it").isInstanceOfSatisfying(BugException.class, e -> {
      assertThat(e.verdict().kind()).isEqualTo(VerdictKind.RCU_MISUSE);
      assertThat(e.verdict().headline()).contains("without a grace period");
    });
    rcu.synchronize();
    b.free();
    assertThatThrownBy(a::free).as("a is still in the tree").isInstanceOfSatisfying(BugException.class,
        e -> assertThat(e.verdict().headline()).contains("still RCU-published"));
    t.check();
    // Putting the freed b back is caught by the invariant walk.
    assertThat(t.replace(6 * PAGE, b).value()).isSameAs(b2);
    assertThatThrownBy(t::check).isInstanceOfSatisfying(BugException.class, e -> {
      assertThat(e.verdict().kind()).isEqualTo(VerdictKind.INVARIANT);
      assertThat(e.verdict().headline()).contains("holds freed vma b");
    });
    t.replace(6 * PAGE, b2);
  }
}
