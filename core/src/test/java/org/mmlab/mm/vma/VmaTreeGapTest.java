package org.mmlab.mm.vma;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.mmlab.explore.NativeSched;

/** {@code gapAtLeast}, the search of {@code get_unmapped_area}, against hand-worked cases and brute force. */
@Timeout(120)
class VmaTreeGapTest {
  static final long PAGE = 4096;
  static final long SEED = 0x6a70L;

  /** Pages [1,2), [4,5), [10,12) mapped. */
  static VmaTree<String> small() {
    VmaTree<String> t = new VmaTree<>(new NativeSched(), "mm_mt", () -> true);
    t.insert(PAGE, 2 * PAGE, "a");
    t.insert(4 * PAGE, 5 * PAGE, "b");
    t.insert(10 * PAGE, 12 * PAGE, "c");
    return t;
  }

  static VmaTree.Gap pages(long from, long to) {
    return new VmaTree.Gap(from * PAGE, to * PAGE);
  }

  @Test
  void bottomUpFindsTheLowestGapThatFits() {
    VmaTree<String> t = small();
    assertThat(t.gapAtLeast(PAGE, 0, 20 * PAGE, false)).isEqualTo(pages(0, 1));
    assertThat(t.gapAtLeast(2 * PAGE, 0, 20 * PAGE, false)).isEqualTo(pages(2, 4));
    assertThat(t.gapAtLeast(3 * PAGE, 0, 20 * PAGE, false)).isEqualTo(pages(5, 10));
    assertThat(t.gapAtLeast(6 * PAGE, 0, 20 * PAGE, false)).isEqualTo(pages(12, 20));
  }

  @Test
  void topDownFindsTheHighestGapThatFits() {
    VmaTree<String> t = small();
    assertThat(t.gapAtLeast(PAGE, 0, 20 * PAGE, true)).isEqualTo(pages(12, 20));
    assertThat(t.gapAtLeast(PAGE, 0, 10 * PAGE, true)).isEqualTo(pages(5, 10));
    assertThat(t.gapAtLeast(2 * PAGE, 0, 5 * PAGE, true)).isEqualTo(pages(2, 4));
    assertThat(t.gapAtLeast(2 * PAGE, 0, 4 * PAGE, true)).as("[2,4) fits exactly below high").isEqualTo(pages(2, 4));
    assertThat(t.gapAtLeast(2 * PAGE, 0, 3 * PAGE, true)).as("nothing of two pages below page 3").isNull();
  }

  @Test
  void theWindowClipsGapsAtBothEnds() {
    VmaTree<String> t = small();
    assertThat(t.gapAtLeast(PAGE, 3 * PAGE, 20 * PAGE, false)).as("[2,4) clipped to [3,4)").isEqualTo(pages(3, 4));
    assertThat(t.gapAtLeast(2 * PAGE, 3 * PAGE, 20 * PAGE, false)).isEqualTo(pages(5, 10));
    assertThat(t.gapAtLeast(3 * PAGE, 6 * PAGE, 8 * PAGE, false)).as("[5,10) clipped to [6,8)").isNull();
    assertThat(t.gapAtLeast(2 * PAGE, 6 * PAGE, 8 * PAGE, true)).isEqualTo(pages(6, 8));
    assertThat(t.gapAtLeast(PAGE, 10 * PAGE, 12 * PAGE, false)).as("a window inside a mapping").isNull();
    assertThat(t.gapAtLeast(PAGE, 4 * PAGE, 4 * PAGE, false)).as("an empty window").isNull();
  }

  @Test
  void anAlignedPlacementAsksForLengthPlusAlignmentMinusOne() {
    VmaTree<String> t = new VmaTree<>(new NativeSched(), "mm_mt", () -> true);
    long huge = 512 * PAGE; // a 2 MiB-aligned 2 MiB mapping (THP alignment)
    t.insert(0, 100 * PAGE, "low");
    VmaTree.Gap g = t.gapAtLeast(huge + huge - PAGE, 0, 1L << 40, false);
    long addr = (g.start() + huge - 1) & -huge;
    assertThat(addr).isEqualTo(huge);
    assertThat(addr + huge).isLessThanOrEqualTo(g.end());
  }

  @Test
  void adjacentMappingsLeaveNoGap() {
    VmaTree<String> t = new VmaTree<>(new NativeSched(), "mm_mt", () -> true);
    for (int i = 0; i < 1_000; i++) {
      t.insert(i * PAGE, (i + 1) * PAGE, "p" + i);
    }
    assertThat(t.gapAtLeast(1, 0, 1_000 * PAGE, false)).isNull();
    assertThat(t.gapAtLeast(1, 0, 1_000 * PAGE, true)).isNull();
    assertThat(t.gapAtLeast(PAGE, 0, 1_001 * PAGE, true)).isEqualTo(pages(1_000, 1_001));
    t.remove(617 * PAGE);
    assertThat(t.gapAtLeast(PAGE, 0, 1_000 * PAGE, false)).isEqualTo(pages(617, 618));
    assertThat(t.gapAtLeast(PAGE, 0, 1_000 * PAGE, true)).isEqualTo(pages(617, 618));
  }

  @Test
  void badArgumentsAreRefused() {
    VmaTree<String> t = small();
    assertThatThrownBy(() -> t.gapAtLeast(0, 0, PAGE, false)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> t.gapAtLeast(PAGE, -1, PAGE, false)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> t.gapAtLeast(PAGE, 2 * PAGE, PAGE, false)).isInstanceOf(IllegalArgumentException.class);
  }

  /**
   * A 20,000-entry tree (three or four levels) of random sizes and gaps, including long runs of
   * adjacent ranges, and 4,000 random searches of each direction against brute force.
   */
  @Test
  void randomSearchesOnALargeTreeAgreeWithBruteForce() {
    SplittableRandom rnd = new SplittableRandom(SEED);
    VmaTree<Integer> t = new VmaTree<>(new NativeSched(), "mm_mt", () -> true);
    ModelTree<Integer> model = new ModelTree<>();
    long at = rnd.nextLong(16) * PAGE;
    for (int i = 0; i < 20_000; i++) {
      long len = (1 + rnd.nextLong(rnd.nextInt(50) == 0 ? 300 : 8)) * PAGE;
      t.insert(at, at + len, i);
      model.map.put(at, new VmaTree.Entry<>(at, at + len, i));
      long gap = rnd.nextInt(3) == 0 ? 0 : rnd.nextLong(rnd.nextInt(100) == 0 ? 400 : 6) * PAGE;
      at += len + gap;
    }
    t.check();
    // The maximal free intervals once, for a linear brute force per search.
    List<VmaTree.Gap> free = new ArrayList<>();
    long prevEnd = 0;
    for (VmaTree.Entry<Integer> e : model.map.values()) {
      if (e.start() > prevEnd) {
        free.add(new VmaTree.Gap(prevEnd, e.start()));
      }
      prevEnd = e.end();
    }
    free.add(new VmaTree.Gap(prevEnd, Long.MAX_VALUE));
    long top = at + 64 * PAGE;
    int found = 0;
    for (int q = 0; q < 8_000; q++) {
      long len = (1 + rnd.nextLong(rnd.nextInt(10) == 0 ? 500 : 12)) * PAGE - (rnd.nextBoolean() ? 0 : rnd.nextLong(PAGE));
      long low = rnd.nextInt(5) == 0 ? 0 : rnd.nextLong(top);
      long window = rnd.nextBoolean() ? top - low + 1 : 64 * PAGE; // half the windows narrow
      long high = rnd.nextInt(5) == 0 ? Long.MAX_VALUE : Math.min(top, low + rnd.nextLong(window));
      boolean topDown = (q & 1) == 1;
      VmaTree.Gap got = t.gapAtLeast(len, low, high, topDown);
      assertThat(got).as("gapAtLeast(%d, %x, %x, %s)", len, low, high, topDown)
          .isEqualTo(bruteForce(free, len, low, high, topDown));
      found += got == null ? 0 : 1;
    }
    assertThat(found).as("searches that found a gap (of 8,000)").isBetween(1_000, 7_000);
  }

  /** The first (or last) of {@code free}, clipped to {@code [low, high)}, that is at least {@code len} long. */
  private static VmaTree.@Nullable Gap bruteForce(List<VmaTree.Gap> free, long len, long low, long high,
      boolean topDown) {
    VmaTree.Gap found = null;
    for (VmaTree.Gap g : free) {
      long lo = Math.max(g.start(), low);
      long hi = Math.min(g.end(), high);
      if (hi - lo >= len) {
        found = new VmaTree.Gap(lo, hi);
        if (!topDown) {
          return found;
        }
      }
    }
    return found;
  }
}
