package org.mmlab.mm.vma;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * The reference a {@link VmaTree} is tested against: a {@link TreeMap} from start address to
 * entry, with every query answered the obvious (linear where that is simplest) way.
 */
final class ModelTree<V> {
  final TreeMap<Long, VmaTree.Entry<V>> map = new TreeMap<>();

  boolean overlapsAny(long start, long end) {
    Map.Entry<Long, VmaTree.Entry<V>> below = map.lowerEntry(end);
    return below != null && below.getValue().end() > start;
  }

  VmaTree.@Nullable Entry<V> findFrom(long addr) {
    Map.Entry<Long, VmaTree.Entry<V>> floor = map.floorEntry(addr);
    if (floor != null && floor.getValue().end() > addr) {
      return floor.getValue();
    }
    Map.Entry<Long, VmaTree.Entry<V>> above = map.higherEntry(addr);
    return above == null ? null : above.getValue();
  }

  VmaTree.@Nullable Entry<V> lookup(long addr) {
    VmaTree.Entry<V> e = findFrom(addr);
    return e != null && e.start() <= addr ? e : null;
  }

  VmaTree.@Nullable Entry<V> prev(long addr) {
    VmaTree.Entry<V> best = null;
    for (VmaTree.Entry<V> e : map.headMap(addr, true).values()) {
      if (e.end() <= addr) {
        best = e;
      }
    }
    return best;
  }

  List<VmaTree.Entry<V>> ranges(long from, long to) {
    List<VmaTree.Entry<V>> out = new ArrayList<>();
    for (VmaTree.Entry<V> e : map.values()) {
      if (e.end() > from && e.start() < to) {
        out.add(e);
      }
    }
    return out;
  }

  /** Brute force: every maximal free interval, clipped to [low, high), the first or last long enough. */
  VmaTree.@Nullable Gap gap(long len, long low, long high, boolean topDown) {
    List<VmaTree.Gap> fits = new ArrayList<>();
    long prevEnd = 0;
    for (VmaTree.Entry<V> e : map.values()) {
      addClipped(fits, prevEnd, e.start(), len, low, high);
      prevEnd = e.end();
    }
    addClipped(fits, prevEnd, Long.MAX_VALUE, len, low, high);
    if (fits.isEmpty()) {
      return null;
    }
    return topDown ? fits.getLast() : fits.getFirst();
  }

  private static void addClipped(List<VmaTree.Gap> out, long from, long to, long len, long low, long high) {
    long lo = Math.max(from, low);
    long hi = Math.min(to, high);
    if (hi - lo >= len) {
      out.add(new VmaTree.Gap(lo, hi));
    }
  }
}
