package org.mmlab.mm.mmap;

import java.util.List;
import org.jspecify.annotations.Nullable;
import org.mmlab.kernel.Errno;
import org.mmlab.kernel.Uapi;
import org.mmlab.mm.memory.Faults;
import org.mmlab.mm.mmap.Layout.Seg;
import org.mmlab.mm.pgtable.MmuGather;
import org.mmlab.mm.pgtable.PageTables;
import org.mmlab.mm.vma.MmStruct;
import org.mmlab.mm.vma.Snapshot;
import org.mmlab.mm.vma.Vma;
import org.mmlab.mm.vma.VmFile;
import org.mmlab.mm.vma.VmaTree;

/**
 * The VMA editing steps of {@code mm/vma.c}, on a {@link Layout}: gathering VMAs to unmap
 * ({@code vms_gather_munmap_vmas} with its {@code __split_vma}s), merging a new range with its
 * neighbours ({@code vma_merge_new_range}), changing the flags of part of a VMA
 * ({@code vma_modify_flags}: {@code vma_merge_existing_range}, else {@code split_vma}), and
 * tearing down what an unmap detached ({@code vms_clear_ptes}: zap, {@code free_pgtables}, TLB
 * flush). Plus {@link #doVmiMunmap}, the munmap every call shares.
 *
 * <h2>Merging</h2>
 * Two anonymous VMAs merge when they touch, their flags are equal and their {@code vm_pgoff}s
 * are contiguous (the left one's pgoff plus its pages is the right one's). The kernel also
 * requires compatible {@code anon_vma}s and equal {@code vm_userfaultfd_ctx} and anon names; the
 * model has none of those yet, so every anonymous VMA counts as having no {@code anon_vma},
 * which the kernel finds compatible with any. One visible difference follows: the kernel drops
 * {@code VM_ACCOUNT} from a private VMA made read-only only while it has no {@code anon_vma};
 * the model does not track {@code VM_ACCOUNT} at all (as if no VMA had one), so a VMA that was
 * written and then made read-only can merge here with a read-only neighbour where Linux keeps
 * them apart.
 *
 * <p>Stateless.
 */
final class VmaOps {
  private VmaOps() {}

  static final long PAGE = Uapi.PAGE_SIZE;

  /** {@code PAGE_ALIGN} with the C wrap-around of unsigned arithmetic. */
  static long pageAlign(long len) {
    return (len + PAGE - 1) & -PAGE;
  }

  static boolean aligned(long addr) {
    return (addr & (PAGE - 1)) == 0;
  }

  /** {@code a > b} for unsigned 64-bit values. */
  static boolean above(long a, long b) {
    return Long.compareUnsigned(a, b) > 0;
  }

  /**
   * An end beyond {@code TASK_SIZE} (or beyond 2^63, a negative {@code long}) made
   * {@code TASK_SIZE} plus a page: no VMA lies above {@code TASK_SIZE}, so a walk over the
   * clamped range sees the same VMAs and the same unmapped tail.
   */
  static long clampEnd(long end, MmapLimits limits) {
    return above(end, limits.taskSize()) ? limits.taskSize() + PAGE : end;
  }

  // ------------------------------------------------------------ unmap

  /**
   * What an unmap detached: the segments (existing VMAs, trimmed to the unmapped part), the span
   * they cover, and the {@code free_pgtables} bounds: the end of the VMA below (or 0) and the
   * start of the VMA above (or 0 for "the top").
   */
  record Unmap(List<Seg> segs, long start, long end, long floor, long ceiling) {}

  /**
   * {@code vms_gather_munmap_vmas} on the copy: splits the VMAs cut by [start, end) and removes
   * the VMAs inside. Returns null if nothing is mapped there. Throws ENOMEM, leaving the copy as
   * it was, if the unmap would split one VMA in three with {@code map_count} at the limit (the
   * only check the kernel makes: splitting at the start and the end of several VMAs does not
   * raise the count).
   */
  static @Nullable Unmap unmap(Layout l, long start, long end, MmapLimits limits) {
    List<Seg> hit = l.intersecting(start, end);
    if (hit.isEmpty()) {
      return null;
    }
    Seg first = hit.getFirst();
    Seg last = hit.getLast();
    MmError.check(!(first.start < start && end < first.end && l.mapCount() >= limits.maxMapCount()), Errno.ENOMEM);
    // The free_pgtables bounds come from the tree, which also knows the VMAs not loaded.
    Snapshot<Vma> tree = l.mm().tree().snapshot();
    VmaTree.Entry<Vma> below = tree.prev(start);
    VmaTree.Entry<Vma> above = tree.findFrom(end);
    long floor = first.start < start ? start : below == null ? 0 : below.end();
    long ceiling = last.end > end ? end : above == null ? 0 : above.start();
    if (first.start < start) {
      l.splitBelow(first, start);
    }
    if (last.end > end) {
      l.splitAbove(last, end);
    }
    for (Seg s : hit) {
      l.remove(s);
    }
    return new Unmap(hit, first.start, last.end, floor, ceiling);
  }

  /**
   * {@code vms_clear_ptes}: zaps what {@code u} detached, frees the page tables that mapped only
   * it, flushes, and drops the pages and tables after the flush. Called after the commit that
   * detached the VMAs, with the mmap lock held (for read after munmap's downgrade).
   */
  static void unmapRegion(MmStruct mm, Faults faults, Unmap u) {
    mm.mmapLock().assertHeld();
    PageTables pt = mm.pageTables();
    MmuGather tlb = new MmuGather(pt, mm.flusher());
    for (Seg s : u.segs()) {
      faults.zap(s.vma(), tlb, s.start, s.end);
    }
    // free_pgtables: each detached VMA leaves its file's i_mmap before the tables that mapped it
    // are freed, so a truncation walking i_mmap never walks a freed table.
    for (Seg s : u.segs()) {
      VmFile f = s.file;
      if (f != null && s.gone) {
        f.unlinkVma(s.vma());
      }
    }
    pt.freePgtables(tlb, u.start(), u.end(), u.floor(), u.ceiling());
    tlb.finish();
  }

  /**
   * {@code remove_vma} of each VMA that left the tree: unlinks it from its file's {@code i_mmap}
   * if an unmap has not (a VMA merged away), drops its file reference ({@code fput}), and frees it
   * after a grace period ({@code vm_area_free}).
   */
  static void freeAll(MmStruct mm, List<Vma> gone) {
    for (Vma v : gone) {
      VmFile f = v.file();
      if (f != null) {
        f.unlinkVma(v);
        f.put();
      }
      mm.freeVma(v);
    }
  }

  /**
   * {@code do_vmi_munmap}: unmaps [start, start + len). Called with the mmap lock held for
   * write. With {@code unlock} (munmap itself, mremap shrinking) and on success the lock is
   * downgraded before the zap and released at the end, as the kernel does; otherwise, and on
   * every error, the caller still holds it for write.
   *
   * @return 0, or a negative errno: EINVAL for a range that is unaligned, empty or beyond
   *     {@code TASK_SIZE}; ENOMEM for a split over the map-count limit
   */
  static long doVmiMunmap(MmStruct mm, Faults faults, MmapLimits limits, long start, long len, boolean unlock) {
    mm.mmapLock().assertWriteLocked();
    long task = limits.taskSize();
    if (!aligned(start) || above(start, task) || above(len, task - start)) {
      return Errno.EINVAL.ret();
    }
    long end = start + pageAlign(len);
    if (end == start) {
      return Errno.EINVAL.ret();
    }
    Layout l = new Layout(mm).load(start, end);
    Unmap u;
    try {
      u = unmap(l, start, end, limits);
    } catch (MmError e) {
      return e.errno.ret();
    }
    if (u == null) {
      if (unlock) {
        mm.mmapWriteUnlock();
      }
      return 0;
    }
    List<Vma> gone = l.commit();
    if (unlock) {
      mm.mmapWriteDowngrade();
    }
    unmapRegion(mm, faults, u);
    freeAll(mm, gone);
    if (unlock) {
      mm.mmapReadUnlock();
    }
    return 0;
  }

  // ------------------------------------------------------------ merge

  /** {@code is_mergeable_vma} and the pgoff test of {@code can_vma_merge_after}: new range after {@code prev}. */
  static boolean canMergeAfter(@Nullable Seg prev, long start, long pgoff, long flags, @Nullable VmFile file) {
    return prev != null && prev.end == start && prev.flags == flags && prev.file == file
        && prev.pgoff + prev.pages() == pgoff;
  }

  /** {@code can_vma_merge_before}: a range of {@code pages} at {@code pgoff} ending where {@code next} starts. */
  static boolean canMergeBefore(@Nullable Seg next, long end, long pgoff, long pages, long flags,
      @Nullable VmFile file) {
    return next != null && next.start == end && next.flags == flags && next.file == file
        && next.pgoff == pgoff + pages;
  }

  /**
   * {@code vma_merge_new_range}, or else a new VMA: the range [start, end) with {@code pgoff} and
   * {@code flags}, free in the copy, joins the segment ending at {@code start} (which grows), or the
   * one starting at {@code end} (which grows down), or both (the left one absorbs the right one),
   * or becomes a segment of its own. Returns the segment that covers it.
   */
  static Seg mergeNew(Layout l, long start, long end, long pgoff, long flags, @Nullable VmFile file) {
    Seg prev = l.endingAt(start);
    Seg next = l.startingAt(end);
    long pages = (end - start) >>> Uapi.PAGE_SHIFT;
    boolean left = canMergeAfter(prev, start, pgoff, flags, file);
    boolean right = canMergeBefore(next, end, pgoff, pages, flags, file);
    if (left && right) {
      prev.end = next.end;
      l.remove(next);
      return prev;
    }
    if (left) {
      prev.end = end;
      return prev;
    }
    if (right) {
      l.setStart(next, start, pgoff);
      return next;
    }
    return l.insert(start, end, pgoff, flags, file);
  }

  /**
   * {@code vma_modify_flags}: gives [start, end) of {@code vma} the flags {@code newFlags}. First
   * tries {@code vma_merge_existing_range}: a range at the left end of the VMA can join
   * {@code prev} and one at its right end the VMA after it, when they touch and would be
   * compatible with the new flags; then the VMA shrinks or disappears. Otherwise the parts outside
   * the range are split off ({@code split_vma}: ENOMEM with {@code map_count} at the limit, checked
   * before each split as the kernel does, but both checks made before either split, so a failure
   * leaves the copy as it was) and the VMA itself takes the new flags.
   *
   * @param prev the segment the caller's walk had before {@code vma} ({@code vma} itself when the
   *     range starts inside it)
   * @return the segment now covering [start, end) with {@code newFlags}
   */
  static Seg modifyFlags(Layout l, @Nullable Seg prev, Seg vma, long start, long end, long newFlags,
      MmapLimits limits) {
    boolean leftSide = start == vma.start;
    boolean rightSide = end == vma.end;
    long pgoffStart = vma.pgoffAt(start);
    long pglen = (end - start) >>> Uapi.PAGE_SHIFT;
    boolean mergeLeft = leftSide && prev != vma && canMergeAfter(prev, start, pgoffStart, newFlags, vma.file);
    Seg next = rightSide ? l.after(vma) : null;
    boolean mergeRight = canMergeBefore(next, end, pgoffStart, pglen, newFlags, vma.file);
    if (mergeLeft && mergeRight) {
      prev.end = next.end;
      l.remove(vma);
      l.remove(next);
      return prev;
    }
    if (mergeLeft) {
      prev.end = end;
      if (rightSide) {
        l.remove(vma);
      } else {
        l.setStart(vma, end, vma.pgoffAt(end));
      }
      return prev;
    }
    if (mergeRight) {
      if (leftSide) {
        l.remove(vma);
      } else {
        vma.end = start;
      }
      l.setStart(next, start, pgoffStart);
      return next;
    }
    boolean splitBelow = vma.start < start;
    boolean splitAbove = end < vma.end;
    long count = l.mapCount();
    if (splitBelow) {
      MmError.check(count < limits.maxMapCount(), Errno.ENOMEM);
      count++;
    }
    if (splitAbove) {
      MmError.check(count < limits.maxMapCount(), Errno.ENOMEM);
    }
    if (splitBelow) {
      l.splitBelow(vma, start);
    }
    if (splitAbove) {
      l.splitAbove(vma, end);
    }
    vma.flags = newFlags;
    return vma;
  }
}
