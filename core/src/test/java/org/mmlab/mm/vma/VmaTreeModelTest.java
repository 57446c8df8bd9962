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

/**
 * Randomized operations on a {@link VmaTree} and on a {@link ModelTree} (a {@code TreeMap}) side
 * by side: every write has the same outcome, every query the same answer, and the invariant
 * walk passes after every batch.
 *
 * <p>The default seed is fixed and printed; rerun with another in one line:
 * <pre>
 * JAVA_HOME=... ./mvnw -B -q -pl core test -Dtest=VmaTreeModelTest -Dsurefire.failIfNoSpecifiedTests=false \
 *     -Dmmlab.vmatree.seed=0x1234
 * </pre>
 * The workload alternates growing and shrinking phases, so that the tree repeatedly splits up
 * to three levels and merges back down.
 */
@Timeout(300)
class VmaTreeModelTest {
  static final long DEFAULT_SEED = 0x766d612d74726565L; // "vma-tree"
  static final String SEED_PROPERTY = "mmlab.vmatree.seed";
  static final long PAGE = 4096;
  static final int BATCH = 100;

  @Test
  void randomOperationsAgreeWithATreeMap() {
    long seed = Long.decode(System.getProperty(SEED_PROPERTY, "0x" + Long.toHexString(DEFAULT_SEED)));
    System.out.println("VmaTreeModelTest seed=0x" + Long.toHexString(seed) + " (rerun: -D" + SEED_PROPERTY + "=0x"
        + Long.toHexString(seed) + ")");
    Run r = new Run(seed, 1 << 15, 8);
    r.run(100_000);
    System.out.println("VmaTreeModelTest: " + r.stats());
    assertThat(r.maxHeight).as("the workload reached a three-level tree").isGreaterThanOrEqualTo(3);
    assertThat(r.gapsFound).as("gap searches that found a gap").isPositive();
    assertThat(r.gapsNone).as("gap searches that found none").isPositive();
    assertThat(r.refused).as("writes refused for overlapping").isPositive();
  }

  @Test
  void aDenseSmallAddressSpaceAgreesWithATreeMap() {
    // 512 pages, ranges up to 4 pages: overlaps, adjacency and full coverage are frequent.
    new Run(DEFAULT_SEED ^ 0x5a11L, 512, 4).run(20_000);
  }

  /** Regression harness: one given seed, run twice, gives the identical digest of every answer. */
  @Test
  void aGivenSeedReplaysIdentically() {
    long seed = 0x2c1b3c6dL;
    Run a = new Run(seed, 1 << 12, 8);
    a.run(5_000);
    Run b = new Run(seed, 1 << 12, 8);
    b.run(5_000);
    assertThat(b.digest).isEqualTo(a.digest);
    assertThat(b.ops).isEqualTo(5_000);
  }

  /** One randomized run over {@code pages} pages with ranges of up to {@code maxLen} pages. */
  static final class Run {
    final SplittableRandom rnd;
    final long pages;
    final int maxLen;
    final NativeSched sched = new NativeSched();
    final VmaTree<Integer> tree = new VmaTree<>(sched, "mm_mt", () -> true);
    final ModelTree<Integer> model = new ModelTree<>();
    int nextValue;
    int ops;
    int maxHeight;
    int maxSize;
    int gapsFound;
    int gapsNone;
    int refused;
    long digest = 17;

    Run(long seed, long pages, int maxLen) {
      this.rnd = new SplittableRandom(seed);
      this.pages = pages;
      this.maxLen = maxLen;
    }

    void run(int n) {
      for (int i = 0; i < n; i++) {
        boolean growing = (i / 10_000) % 2 == 0;
        step(growing);
        ops++;
        if (ops % BATCH == 0) {
          tree.check();
          assertSameContents();
          maxHeight = Math.max(maxHeight, tree.peek().height());
          maxSize = Math.max(maxSize, tree.peek().size());
        }
      }
      tree.check();
      assertSameContents();
    }

    String stats() {
      return ops + " operations, up to " + maxSize + " entries and height " + maxHeight + ", " + gapsFound
          + " gaps found, " + gapsNone + " searches without one, " + refused + " writes refused";
    }

    private long addr() {
      return rnd.nextLong(pages + 2) * PAGE - (rnd.nextInt(4) == 0 ? 1 : 0) + (rnd.nextInt(4) == 0 ? 1 : 0);
    }

    private long pageAddr() {
      return rnd.nextLong(pages) * PAGE;
    }

    private long len() {
      return (1 + rnd.nextInt(maxLen)) * PAGE;
    }

    private void step(boolean growing) {
      int op = rnd.nextInt(100);
      int insertShare = growing ? 45 : 10;
      int removeShare = growing ? 10 : 45;
      if (op < insertShare) {
        insert();
      } else if ((op -= insertShare) < removeShare) {
        remove();
      } else if ((op -= removeShare) < 10) {
        replace();
      } else if ((op -= 10) < 10) {
        replaceRange();
      } else {
        query();
      }
    }

    private void insert() {
      long start = pageAddr();
      long end = start + len();
      int v = nextValue++;
      long generation = tree.peek().generation();
      if (model.overlapsAny(start, end)) {
        assertThatThrownBy(() -> tree.insert(start, end, v)).isInstanceOf(IllegalArgumentException.class);
        assertThat(tree.peek().generation()).as("a refused insert publishes nothing").isEqualTo(generation);
        refused++;
        mix(1);
      } else {
        tree.insert(start, end, v);
        model.map.put(start, new VmaTree.Entry<>(start, end, v));
        mix(2);
      }
    }

    private void remove() {
      long start = model.map.isEmpty() || rnd.nextInt(8) == 0 ? pageAddr() : randomStart();
      VmaTree.Entry<Integer> expected = model.map.remove(start);
      VmaTree.Entry<Integer> got = tree.remove(start);
      assertThat(got).isEqualTo(expected);
      mix(got);
    }

    private void replace() {
      long start = model.map.isEmpty() || rnd.nextInt(8) == 0 ? pageAddr() : randomStart();
      int v = nextValue++;
      VmaTree.Entry<Integer> old = model.map.get(start);
      if (old != null) {
        model.map.put(start, new VmaTree.Entry<>(old.start(), old.end(), v));
      }
      assertThat(tree.replace(start, v)).isEqualTo(old);
      mix(old);
    }

    private long randomStart() {
      Long k = model.map.ceilingKey(pageAddr());
      return k != null ? k : model.map.firstKey();
    }

    /**
     * munmap/mprotect shapes: cut [s, e) out of what it overlaps, keep the outside parts, and
     * optionally map fresh ranges inside; one in eight lists is made overlapping on purpose.
     */
    private void replaceRange() {
      long s = pageAddr();
      long e = s + len() * (1 + rnd.nextInt(3));
      List<VmaTree.Entry<Integer>> gone = model.ranges(s, e);
      List<VmaTree.Entry<Integer>> fresh = new ArrayList<>();
      for (VmaTree.Entry<Integer> g : gone) {
        if (g.start() < s) {
          fresh.add(new VmaTree.Entry<>(g.start(), s, g.value())); // the same value kept: a split
        }
        if (g.end() > e) {
          fresh.add(new VmaTree.Entry<>(e, g.end(), nextValue++));
        }
      }
      long at = s;
      while (at < e && rnd.nextInt(3) != 0) {
        long from = at + rnd.nextLong(3) * PAGE;
        long to = Math.min(e, from + len());
        if (from < to) {
          fresh.add(new VmaTree.Entry<>(from, to, nextValue++));
        }
        at = to;
      }
      boolean bad = rnd.nextInt(8) == 0 && !fresh.isEmpty();
      if (bad) {
        VmaTree.Entry<Integer> dup = fresh.get(rnd.nextInt(fresh.size()));
        fresh.add(new VmaTree.Entry<>(dup.start(), dup.end(), -1));
      }
      shuffle(fresh);
      long generation = tree.peek().generation();
      int size = tree.peek().size();
      if (bad) {
        assertThatThrownBy(() -> tree.replaceRange(s, e, fresh)).isInstanceOf(IllegalArgumentException.class);
        assertThat(tree.peek().generation()).isEqualTo(generation);
        assertThat(tree.peek().size()).isEqualTo(size);
        refused++;
        mix(3);
        return;
      }
      List<VmaTree.Entry<Integer>> removed = tree.replaceRange(s, e, fresh);
      assertThat(removed).isEqualTo(gone);
      for (VmaTree.Entry<Integer> g : gone) {
        model.map.remove(g.start());
      }
      for (VmaTree.Entry<Integer> f : fresh) {
        model.map.put(f.start(), f);
      }
      boolean changed = !gone.isEmpty() || !fresh.isEmpty();
      assertThat(tree.peek().generation()).as("one publication at most").isEqualTo(generation + (changed ? 1 : 0));
      mix(removed.size());
    }

    private void shuffle(List<VmaTree.Entry<Integer>> l) {
      for (int i = l.size() - 1; i > 0; i--) {
        int j = rnd.nextInt(i + 1);
        VmaTree.Entry<Integer> t = l.get(i);
        l.set(i, l.get(j));
        l.set(j, t);
      }
    }

    private void query() {
      long a = addr();
      switch (rnd.nextInt(8)) {
        case 0 -> mix(same(tree.lookup(a), model.lookup(a)));
        case 1 -> mix(same(tree.findFrom(a), model.findFrom(a)));
        case 2 -> {
          long limit = a + rnd.nextLong(4 * PAGE);
          VmaTree.Entry<Integer> f = model.findFrom(a);
          mix(same(tree.findFrom(a, limit), f != null && f.start() < limit ? f : null));
        }
        case 3 -> mix(same(tree.prev(a), model.prev(a)));
        case 4 -> {
          mix(same(tree.first(), model.map.isEmpty() ? null : model.map.firstEntry().getValue()));
          mix(same(tree.last(), model.map.isEmpty() ? null : model.map.lastEntry().getValue()));
          assertThat(tree.size()).isEqualTo(model.map.size());
        }
        case 5 -> {
          long to = a + rnd.nextLong(64 * PAGE);
          List<VmaTree.Entry<Integer>> got = new ArrayList<>();
          tree.ranges(a, to).forEach(got::add);
          assertThat(got).isEqualTo(model.ranges(a, to));
          mix(got.size());
        }
        default -> {
          long len = 1 + rnd.nextLong((rnd.nextInt(4) == 0 ? 64L : 3L) * maxLen * PAGE);
          long low = rnd.nextInt(4) == 0 ? 0 : Math.max(0, a);
          long high = rnd.nextInt(4) == 0 ? Long.MAX_VALUE : low + rnd.nextLong(pages * PAGE >> rnd.nextInt(8));
          boolean topDown = rnd.nextBoolean();
          VmaTree.Gap got = tree.gapAtLeast(len, low, high, topDown);
          assertThat(got).as("gapAtLeast(%d, %x, %x, %s)", len, low, high, topDown)
              .isEqualTo(model.gap(len, low, high, topDown));
          if (got == null) {
            gapsNone++;
          } else {
            gapsFound++;
          }
          mix(got == null ? -1 : got.start());
        }
      }
    }

    private VmaTree.@Nullable Entry<Integer> same(VmaTree.@Nullable Entry<Integer> got,
        VmaTree.@Nullable Entry<Integer> expected) {
      assertThat(got).isEqualTo(expected);
      return got;
    }

    private void assertSameContents() {
      List<VmaTree.Entry<Integer>> all = new ArrayList<>();
      tree.peek().all().forEach(all::add);
      assertThat(all).isEqualTo(new ArrayList<>(model.map.values()));
      assertThat(tree.peek().size()).isEqualTo(model.map.size());
    }

    private void mix(@Nullable Object o) {
      long h = o == null ? 0x5bd1e995L : o.hashCode();
      mix(h);
    }

    private void mix(long v) {
      digest = (digest ^ v) * 0x9E3779B97F4A7C15L;
      digest ^= digest >>> 29;
    }
  }
}
