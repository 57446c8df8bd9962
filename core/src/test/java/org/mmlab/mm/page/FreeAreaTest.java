package org.mmlab.mm.page;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.mmlab.explore.Rng;

/** The free-block set against a reference set, under a seeded random mix of operations. */
class FreeAreaTest {
  @Test
  void behavesLikeASetUnderRandomAddsRemovesAndTakes() {
    for (long seed = 1; seed <= 20; seed++) {
      Rng rng = new Rng(seed);
      FreeArea fa = new FreeArea();
      TreeSet<Long> ref = new TreeSet<>();
      List<Long> lifo = new ArrayList<>();
      for (int step = 0; step < 20_000; step++) {
        long pfn = rng.nextLong(512) << 3; // collide often, keep the low bits zero like aligned blocks
        switch (rng.nextInt(4)) {
          case 0, 1 -> {
            if (!ref.contains(pfn)) {
              fa.add(pfn);
              ref.add(pfn);
              lifo.add(pfn);
            }
          }
          case 2 -> {
            assertThat(fa.remove(pfn)).as("seed %d step %d remove %d", seed, step, pfn).isEqualTo(ref.remove(pfn));
            lifo.remove(pfn);
          }
          default -> {
            long t = fa.take();
            if (ref.isEmpty()) {
              assertThat(t).isEqualTo(-1);
            } else {
              assertThat(ref.remove(t)).as("seed %d step %d take %d", seed, step, t).isTrue();
              lifo.remove(t);
            }
          }
        }
        assertThat(fa.nrFree()).isEqualTo(ref.size());
        assertThat(fa.contains(pfn)).isEqualTo(ref.contains(pfn));
      }
      for (long p : ref) {
        assertThat(fa.contains(p)).isTrue();
      }
    }
  }

  @Test
  void takeReturnsTheMostRecentlyAddedBlockFirst() {
    FreeArea fa = new FreeArea();
    fa.add(0);
    fa.add(1024);
    fa.add(2048);
    assertThat(fa.take()).isEqualTo(2048);
    assertThat(fa.take()).isEqualTo(1024);
    assertThat(fa.take()).isZero();
    assertThat(fa.take()).isEqualTo(-1);
  }
}
