package org.mmlab.mm.mmap;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;
import org.mmlab.kernel.Uapi;
import org.mmlab.mm.vma.MmStruct;
import org.mmlab.mm.vma.Snapshot;
import org.mmlab.mm.vma.Vma;
import org.mmlab.mm.vma.VmFile;
import org.mmlab.mm.vma.VmaTree;

/**
 * A working copy of the VMAs around the ranges a call changes, edited by value and then committed:
 * the model's stand-in for the sequence of {@code __split_vma}, {@code vma_merge} and
 * {@code vma_complete} steps the kernel performs on the live tree.
 *
 * <h2>Why a copy</h2>
 * Every address-space call checks all it can before it changes anything, so that a failing call
 * leaves the mm unchanged: the planning code ({@link VmaOps}) edits this copy, checking the
 * map-count limit against the copy's own count as the kernel checks it before each split, and
 * throws an {@link MmError} to abandon it. Only {@link #commit} touches the mm: it write-locks the
 * VMAs that change or leave ({@code vma_start_write}), sets their fields, and publishes each
 * window's new VMAs with one {@link MmStruct#replaceVmas}, so RCU readers see each window's old
 * VMAs or its new ones, never a half-split tree.
 *
 * <h2>Identity</h2>
 * A segment either is an existing VMA (it keeps its identity when its range or flags change, as
 * the original of a {@code __split_vma} and the survivor of a merge do) or becomes a new VMA at
 * commit (the part a split allocates). Which side of a split is new follows the kernel: munmap and
 * mprotect split with the new VMA below the cut at the start of a range and above it at the end.
 *
 * <h2>Windows</h2>
 * {@link #load} copies every VMA intersecting a window; queries and edits are only meaningful
 * inside the loaded windows (plus the loaded VMAs' full ranges), and every range an edit creates
 * must lie inside one. A caller loads a page on either side of its range to see the neighbours it
 * may merge with.
 *
 * <p>Owned by one CPU for the duration of a call, under the mmap lock held for write.
 */
final class Layout {
  /** One VMA of the working copy. Fields are the copy's; mutable until commit. */
  static final class Seg {
    /** The existing VMA this is, or null: a new VMA at commit. */
    final @Nullable Vma vma;
    final long origStart;
    final long origEnd;
    final long origPgoff;
    final long origFlags;
    long start;
    long end;
    long pgoff;
    long flags;
    /** {@code vm_file}: the same for every piece of a split; merging needs equal files. Immutable. */
    final @Nullable VmFile file;
    /** The VMA this segment is after commit. */
    @Nullable Vma committed;
    /** Taken out of the copy ({@link Layout#remove}). */
    boolean gone;

    Seg(@Nullable Vma vma, long start, long end, long pgoff, long flags, @Nullable VmFile file) {
      this.vma = vma;
      this.file = file;
      this.origStart = start;
      this.origEnd = end;
      this.origPgoff = pgoff;
      this.origFlags = flags;
      this.start = start;
      this.end = end;
      this.pgoff = pgoff;
      this.flags = flags;
      this.committed = vma;
    }

    boolean changed() {
      return vma == null || start != origStart || end != origEnd || pgoff != origPgoff || flags != origFlags;
    }

    long pages() {
      return (end - start) >>> Uapi.PAGE_SHIFT;
    }

    /** {@code vma->vm_pgoff} of the page at {@code addr}, inside or at the ends of the segment. */
    long pgoffAt(long addr) {
      return pgoff + ((addr - start) >> Uapi.PAGE_SHIFT);
    }

    /** The VMA this segment is, once committed (or now, for an existing one). */
    Vma vma() {
      Vma v = committed;
      if (v == null) {
        throw new IllegalStateException("segment " + this + " is not committed yet");
      }
      return v;
    }

    @Override
    public String toString() {
      return "[0x" + Long.toHexString(start) + ", 0x" + Long.toHexString(end) + ")" + (vma == null ? " new" : "");
    }
  }

  private final MmStruct mm;
  /** The live segments by start address. */
  private final TreeMap<Long, Seg> segs = new TreeMap<>();
  /** Existing VMAs taken out (unmapped or merged away), with the ranges they end with, in removal order. */
  private final List<Seg> removed = new ArrayList<>();
  /** The existing VMAs loaded so far (membership only, never iterated). */
  private final Set<Vma> loaded = Collections.newSetFromMap(new IdentityHashMap<>());
  /** Loaded windows {lo, hi}, each widened to the loaded VMAs' ranges. */
  private final List<long[]> windows = new ArrayList<>();
  private final long baseMapCount;
  private long mapCountDelta;
  private boolean committed;

  /** An empty copy of {@code mm}'s VMAs; the mmap lock is held for write. */
  Layout(MmStruct mm) {
    mm.mmapLock().assertWriteLocked();
    this.mm = mm;
    this.baseMapCount = mm.mapCount();
  }

  MmStruct mm() {
    return mm;
  }

  /** Copies every VMA intersecting [lo, hi) that is not loaded yet. */
  Layout load(long lo, long hi) {
    if (lo < 0) {
      return this; // at or above 2^63: no VMA there
    }
    if (hi < 0) {
      hi = Long.MAX_VALUE;
    }
    if (lo >= hi) {
      return this;
    }
    Snapshot<Vma> s = mm.tree().snapshot();
    long wlo = lo;
    long whi = hi;
    for (VmaTree.Entry<Vma> e : s.ranges(lo, hi)) {
      wlo = Math.min(wlo, e.start());
      whi = Math.max(whi, e.end());
      Vma v = e.value();
      if (loaded.add(v)) {
        put(new Seg(v, e.start(), e.end(), v.peekPgoff(), v.peekFlags(), v.file()));
      }
    }
    windows.add(new long[] {wlo, whi});
    return this;
  }

  /** Loads [start, end) and a page on either side: the range and the neighbours touching it. */
  Layout loadAround(long start, long end) {
    return load(Math.max(0, start - Uapi.PAGE_SIZE), end + Uapi.PAGE_SIZE);
  }

  private void put(Seg s) {
    Seg old = segs.put(s.start, s);
    if (old != null) {
      throw new IllegalStateException(s + " overlaps " + old + " in the layout");
    }
  }

  // ------------------------------------------------------------ queries (O(log n))

  /** {@code mm->map_count} as the edits so far would leave it. */
  long mapCount() {
    return baseMapCount + mapCountDelta;
  }

  /** {@code find_vma}: the first segment ending after {@code addr}, or null. */
  @Nullable Seg findFrom(long addr) {
    Map.Entry<Long, Seg> e = segs.floorEntry(addr);
    if (e != null && e.getValue().end > addr) {
      return e.getValue();
    }
    Map.Entry<Long, Seg> n = segs.higherEntry(addr);
    return n == null ? null : n.getValue();
  }

  /** {@code vma_lookup}: the segment containing {@code addr}, or null. */
  @Nullable Seg lookup(long addr) {
    Seg s = findFrom(addr);
    return s != null && s.start <= addr ? s : null;
  }

  /** The segments intersecting [lo, hi), in address order (a copy). */
  List<Seg> intersecting(long lo, long hi) {
    List<Seg> out = new ArrayList<>();
    Seg first = findFrom(lo);
    if (first == null) {
      return out;
    }
    for (Seg s : segs.tailMap(first.start, true).values()) {
      if (s.start >= hi) {
        break;
      }
      out.add(s);
    }
    return out;
  }

  /** The segment before {@code s}, adjacent or not, or null. */
  @Nullable Seg before(Seg s) {
    Map.Entry<Long, Seg> e = segs.lowerEntry(s.start);
    return e == null ? null : e.getValue();
  }

  /** The segment after {@code s}, adjacent or not, or null. */
  @Nullable Seg after(Seg s) {
    Map.Entry<Long, Seg> e = segs.higherEntry(s.start);
    return e == null ? null : e.getValue();
  }

  /** The segment ending exactly at {@code addr}, or null. */
  @Nullable Seg endingAt(long addr) {
    Map.Entry<Long, Seg> e = segs.lowerEntry(addr);
    return e != null && e.getValue().end == addr ? e.getValue() : null;
  }

  /** The segment starting exactly at {@code addr}, or null. */
  @Nullable Seg startingAt(long addr) {
    return segs.get(addr);
  }

  // ------------------------------------------------------------ edits

  /**
   * {@code __split_vma(vma, addr, new_below = 1)}: a new segment takes [s.start, addr); {@code s}
   * keeps [addr, s.end). Returns the new segment. The caller has checked the map count.
   */
  Seg splitBelow(Seg s, long addr) {
    checkInside(s, addr);
    Seg below = new Seg(null, s.start, addr, s.pgoff, s.flags, s.file);
    setStart(s, addr, s.pgoffAt(addr));
    put(below);
    mapCountDelta++;
    return below;
  }

  /**
   * {@code __split_vma(vma, addr, new_below = 0)}: a new segment takes [addr, s.end); {@code s}
   * keeps [s.start, addr). Returns the new segment. The caller has checked the map count.
   */
  Seg splitAbove(Seg s, long addr) {
    checkInside(s, addr);
    Seg above = new Seg(null, addr, s.end, s.pgoffAt(addr), s.flags, s.file);
    s.end = addr;
    put(above);
    mapCountDelta++;
    return above;
  }

  private static void checkInside(Seg s, long addr) {
    if (addr <= s.start || addr >= s.end || (addr & (Uapi.PAGE_SIZE - 1)) != 0) {
      throw new IllegalArgumentException("split of " + s + " at 0x" + Long.toHexString(addr));
    }
  }

  /** Moves the start of a live segment (its pgoff with it); the caller keeps the copy non-overlapping. */
  void setStart(Seg s, long start, long pgoff) {
    if (segs.get(s.start) != s) {
      throw new IllegalArgumentException(s + " is not in the layout");
    }
    segs.remove(s.start);
    s.start = start;
    s.pgoff = pgoff;
    put(s);
  }

  /** Takes {@code s} out of the copy: an existing VMA is detached at commit. */
  void remove(Seg s) {
    if (segs.get(s.start) != s) {
      throw new IllegalArgumentException(s + " is not in the layout");
    }
    segs.remove(s.start);
    s.gone = true;
    if (s.vma != null) {
      removed.add(s);
    }
    mapCountDelta--;
  }

  /** A new segment [start, end); the caller has checked that it overlaps nothing. */
  Seg insert(long start, long end, long pgoff, long flags, @Nullable VmFile file) {
    Seg s = new Seg(null, start, end, pgoff, flags, file);
    put(s);
    mapCountDelta++;
    return s;
  }

  // ------------------------------------------------------------ commit

  /**
   * Applies the edits to the mm: write-locks every existing VMA that changes or leaves, sets
   * their fields, creates the new VMAs, and publishes each window's result with one
   * {@link MmStruct#replaceVmas}. Returns the existing VMAs that left the tree, for the caller to
   * zap (if unmapped) and free after a grace period. The mmap lock is held for write.
   */
  List<Vma> commit() {
    if (committed) {
      throw new IllegalStateException("a layout is committed once");
    }
    committed = true;
    List<Seg> all = new ArrayList<>(segs.values());
    all.addAll(removed);
    for (Seg s : all) {
      Vma v = s.vma;
      if (v != null && (s.changed() || s.gone)) {
        mm.vmaStartWrite(v);
      }
    }
    for (Seg s : all) {
      Vma v = s.vma;
      VmFile f = s.file;
      if (v == null) {
        // vm_area_alloc / vm_area_dup: a new VMA takes a file reference and joins i_mmap
        // before it is published (vma_link_file, or vma_complete after a split).
        Vma nv = new Vma(mm, s.start, s.end, s.pgoff, s.flags, f);
        if (f != null) {
          f.get();
          f.linkVma(nv);
        }
        s.committed = nv;
        continue;
      }
      if (!s.changed()) {
        continue;
      }
      // vma_prepare: a linked VMA's range and offset change under i_mmap_rwsem for write, out
      // of the file's interval tree (keyed by the file pages it maps); vma_complete puts it
      // back at its new range before the rwsem drops.
      boolean rekey = f != null && (s.start != s.origStart || s.pgoff != s.origPgoff || s.end != s.origEnd);
      if (f != null) {
        f.iMmapLockWrite();
      }
      try {
        if (rekey) {
          f.iMmapRemove(v);
        }
        try {
          if (s.start != s.origStart || s.pgoff != s.origPgoff) {
            v.setStart(s.start, s.pgoff);
          }
          if (s.end != s.origEnd) {
            v.setEnd(s.end);
          }
          if (s.flags != s.origFlags) {
            v.setFlags(s.flags);
          }
        } finally {
          if (rekey) {
            f.iMmapInsert(v);
          }
        }
      } finally {
        if (f != null) {
          f.iMmapUnlockWrite();
        }
      }
    }
    List<Vma> gone = new ArrayList<>();
    for (long[] w : clusters()) {
      if (!touches(w)) {
        continue;
      }
      List<Vma> now = new ArrayList<>();
      for (Seg s : intersecting(w[0], w[1])) {
        if (s.changed() && (s.start < w[0] || s.end > w[1])) {
          throw new IllegalStateException(s + " reaches outside its loaded window");
        }
        now.add(s.vma());
      }
      gone.addAll(mm.replaceVmas(w[0], w[1], now));
    }
    if (gone.size() != removed.size()) {
      throw new IllegalStateException("commit detached " + gone + " but the layout removed " + removed);
    }
    return gone;
  }

  /** True if something in window {@code w} changed. */
  private boolean touches(long[] w) {
    for (Seg s : intersecting(w[0], w[1])) {
      if (s.changed()) {
        return true;
      }
    }
    for (Seg s : removed) {
      if (s.origEnd > w[0] && s.origStart < w[1]) {
        return true;
      }
    }
    return false;
  }

  /** The loaded windows, overlapping or touching ones merged, in address order. */
  private List<long[]> clusters() {
    List<long[]> sorted = new ArrayList<>();
    for (long[] w : windows) {
      sorted.add(w.clone());
    }
    sorted.sort((a, b) -> Long.compare(a[0], b[0]));
    List<long[]> out = new ArrayList<>();
    for (long[] w : sorted) {
      long[] last = out.isEmpty() ? null : out.getLast();
      if (last != null && w[0] <= last[1]) {
        last[1] = Math.max(last[1], w[1]);
      } else {
        out.add(w);
      }
    }
    return out;
  }
}
