package org.mmlab.mm.page;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import javax.management.ObjectName;
import org.junit.jupiter.api.Test;
import org.mmlab.explore.NativeSched;

/**
 * Heap bytes per resident 4 KiB page (goal: at most 80, DESIGN.md §8). {@value #N} descriptors
 * are materialized by allocating order-0 pages, then measured two ways:
 * <ul>
 *   <li>exactly, from the JVM's class histogram ({@code GC.class_histogram}): the bytes of all
 *       {@link Page} instances plus all {@code Page[]} arrays (the sections' descriptor slots;
 *       the test holds its pages in an {@code ArrayList}, an {@code Object[]});</li>
 *   <li>roughly, as the growth of used heap after full GCs (includes everything else the
 *       allocations created; noisy).</li>
 * </ul>
 * Frames are off-heap and not counted. With the default 12-byte headers the descriptor is 72
 * bytes and its slot 4: 76; with {@code -XX:+UseCompactObjectHeaders}, 64 + 4.
 */
class PageHeapTest {
  private static final int N = 200_000;

  private static long usedAfterGc() {
    Runtime rt = Runtime.getRuntime();
    long best = Long.MAX_VALUE;
    for (int i = 0; i < 5; i++) {
      System.gc();
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      best = Math.min(best, rt.totalMemory() - rt.freeMemory());
    }
    return best;
  }

  /** Bytes of {@code Page} instances and {@code Page[]} arrays, from the class histogram; -1 if unavailable. */
  private static long descriptorBytes() {
    try {
      String h = (String) ManagementFactory.getPlatformMBeanServer().invoke(
          new ObjectName("com.sun.management:type=DiagnosticCommand"), "gcClassHistogram",
          new Object[] {null}, new String[] {String[].class.getName()});
      long bytes = 0;
      for (String line : h.split("\n")) {
        String[] f = line.trim().split("\\s+");
        if (f.length >= 4 && (f[3].equals(Page.class.getName()) || f[3].equals("[L" + Page.class.getName() + ";"))) {
          bytes += Long.parseLong(f[2]);
        }
      }
      return bytes;
    } catch (Exception | LinkageError e) {
      return -1;
    }
  }

  @Test
  void aResidentPageCostsAtMostEightyHeapBytes() {
    PhysMem mem = new PhysMem(new NativeSched(), 1L << 30, 1, new FramePool(0));
    List<Page> held = new ArrayList<>(N);
    long before = usedAfterGc();
    for (int i = 0; i < N; i++) {
      held.add(mem.allocPages(Gfp.KERNEL, 0));
    }
    long listBytes = 16L + 4L * N; // the test's own ArrayList backing array (compressed oops)
    long after = usedAfterGc();
    double rough = (double) (after - before - listBytes) / N;
    long exact = descriptorBytes();
    double perPage = exact > 0 ? (double) exact / N : rough;
    System.out.printf("PageHeapTest: %d descriptors; class histogram: %.1f heap bytes per resident page"
        + " (descriptor + slot); used-heap growth: %.1f%n", mem.materializedDescriptors(), perPage, rough);
    assertThat(mem.materializedDescriptors()).isEqualTo(N);
    assertThat(perPage).isLessThanOrEqualTo(80.0);
    assertThat(held).hasSize(N);
    for (Page p : held) {
      mem.freePages(p, 0);
    }
  }
}
