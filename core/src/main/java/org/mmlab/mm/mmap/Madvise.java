package org.mmlab.mm.mmap;

import static org.mmlab.mm.mmap.VmaOps.aligned;
import static org.mmlab.mm.mmap.VmaOps.pageAlign;

import java.util.List;
import org.mmlab.kernel.Errno;
import org.mmlab.kernel.Uapi;
import org.mmlab.mm.memory.Faults;
import org.mmlab.mm.mmap.Layout.Seg;
import org.mmlab.mm.pgtable.MmuGather;
import org.mmlab.mm.vma.MmStruct;
import org.mmlab.mm.vma.Vma;
import org.mmlab.mm.vma.VmFlags;

/**
 * {@code madvise} for anonymous private memory ({@code mm/madvise.c}, Linux 6.12 built with
 * {@code CONFIG_TRANSPARENT_HUGEPAGE}, without KSM or memory-failure injection).
 *
 * <h2>The advice</h2>
 * <table>
 *   <caption>What each accepted advice does here</caption>
 *   <tr><th>advice</th><th>lock</th><th>effect</th></tr>
 *   <tr><td>{@code DONTNEED}, {@code DONTNEED_LOCKED}</td><td>read</td><td>zaps the range
 *       ({@code madvise_dontneed_single_vma}): the next read sees zeros</td></tr>
 *   <tr><td>{@code POPULATE_READ}, {@code POPULATE_WRITE}</td><td>read</td><td>faults the range
 *       in ({@code madvise_populate})</td></tr>
 *   <tr><td>{@code WILLNEED}, {@code COLD}, {@code PAGEOUT}</td><td>read</td><td>nothing: no
 *       swap, no LRU</td></tr>
 *   <tr><td>{@code FREE}</td><td>read</td><td>nothing: the pages would be freed lazily under
 *       memory pressure, which the model never has, so they keep their contents (a behaviour
 *       Linux allows)</td></tr>
 *   <tr><td>{@code REMOVE}</td><td>read</td><td>EINVAL: anonymous memory has no file</td></tr>
 *   <tr><td>{@code COLLAPSE}</td><td>read</td><td>EINVAL: no VMA is THP-eligible in the model
 *       yet (khugepaged comes later)</td></tr>
 *   <tr><td>{@code NORMAL}, {@code RANDOM}, {@code SEQUENTIAL}, {@code DONTFORK},
 *       {@code DOFORK}, {@code WIPEONFORK}, {@code KEEPONFORK}, {@code DONTDUMP},
 *       {@code DODUMP}, {@code HUGEPAGE}, {@code NOHUGEPAGE}</td><td>write</td><td>set or clear
 *       the {@code VM_*} flag, splitting and merging VMAs ({@code madvise_update_vma})</td></tr>
 * </table>
 * Anything else is EINVAL ({@code madvise_behavior_valid}), including {@code MERGEABLE} and
 * {@code UNMERGEABLE} (no KSM).
 *
 * <h2>Unmapped parts</h2>
 * As in Linux, the advice is applied to every mapped part of the range and the call then fails
 * with ENOMEM if some part was not mapped; this is the one call here that changes the mm and
 * still fails. A split over the map-count limit while changing flags stops the walk with
 * EAGAIN (Linux turns that ENOMEM into EAGAIN), the VMAs before it changed.
 *
 * <p>Stateless.
 */
final class Madvise {
  private Madvise() {}

  /** {@code madvise_behavior_valid} for this kernel configuration. */
  static boolean valid(int advice) {
    return switch (advice) {
      case Uapi.MADV_NORMAL, Uapi.MADV_RANDOM, Uapi.MADV_SEQUENTIAL, Uapi.MADV_WILLNEED, Uapi.MADV_DONTNEED,
          Uapi.MADV_FREE, Uapi.MADV_REMOVE, Uapi.MADV_DONTFORK, Uapi.MADV_DOFORK, Uapi.MADV_DONTDUMP,
          Uapi.MADV_DODUMP, Uapi.MADV_WIPEONFORK, Uapi.MADV_KEEPONFORK, Uapi.MADV_COLD, Uapi.MADV_PAGEOUT,
          Uapi.MADV_POPULATE_READ, Uapi.MADV_POPULATE_WRITE, Uapi.MADV_DONTNEED_LOCKED, Uapi.MADV_HUGEPAGE,
          Uapi.MADV_NOHUGEPAGE, Uapi.MADV_COLLAPSE -> true;
      default -> false;
    };
  }

  /** {@code madvise_need_mmap_write}: the advice that changes VMAs takes the mmap lock for write. */
  static boolean needsWrite(int advice) {
    return switch (advice) {
      case Uapi.MADV_REMOVE, Uapi.MADV_WILLNEED, Uapi.MADV_DONTNEED, Uapi.MADV_DONTNEED_LOCKED, Uapi.MADV_COLD,
          Uapi.MADV_PAGEOUT, Uapi.MADV_FREE, Uapi.MADV_POPULATE_READ, Uapi.MADV_POPULATE_WRITE,
          Uapi.MADV_COLLAPSE -> false;
      default -> true;
    };
  }

  /** {@code madvise(start, len, advice)}: see {@link MmSyscalls#madvise}. */
  static long madvise(MmStruct mm, Faults faults, MmapLimits limits, long start, long lenIn, int advice) {
    if (!valid(advice)) {
      return Errno.EINVAL.ret();
    }
    if (!aligned(start)) {
      return Errno.EINVAL.ret();
    }
    long len = pageAlign(lenIn);
    if (lenIn != 0 && len == 0) {
      return Errno.EINVAL.ret(); // a length rounded up from near 2^64 to 0
    }
    long end = start + len;
    if (Long.compareUnsigned(end, start) < 0) {
      return Errno.EINVAL.ret();
    }
    if (end == start) {
      return 0;
    }
    if (Long.compareUnsigned(start, limits.taskSize()) >= 0) {
      return Errno.ENOMEM.ret(); // no VMA there: what the walk would find
    }
    end = VmaOps.clampEnd(end, limits);
    if (needsWrite(advice)) {
      mm.mmapWriteLock();
      try {
        return updateFlags(mm, limits, start, end, advice);
      } finally {
        mm.mmapWriteUnlock();
      }
    }
    mm.mmapReadLock();
    try {
      return switch (advice) {
        case Uapi.MADV_POPULATE_READ -> Populate.madvisePopulate(mm, faults, start, end, false);
        case Uapi.MADV_POPULATE_WRITE -> Populate.madvisePopulate(mm, faults, start, end, true);
        default -> walkRead(mm, faults, start, end, advice);
      };
    } finally {
      mm.mmapReadUnlock();
    }
  }

  /**
   * {@code madvise_walk_vmas} for the advice that leaves the VMAs alone, on the live tree under
   * the mmap lock held for read.
   */
  private static long walkRead(MmStruct mm, Faults faults, long start, long end, int advice) {
    mm.mmapLock().assertHeld();
    boolean unmapped = false;
    Vma vma = mm.findVma(start);
    while (true) {
      if (vma == null) {
        return Errno.ENOMEM.ret();
      }
      long vs = vma.start();
      long ve = vma.end();
      if (start < vs) {
        unmapped = true;
        start = vs;
        if (Long.compareUnsigned(start, end) >= 0) {
          break;
        }
      }
      long tmp = Math.min(ve, end);
      long r = visitRead(mm, faults, vma, start, tmp, advice);
      if (r != 0) {
        return r;
      }
      start = Math.max(tmp, ve);
      if (Long.compareUnsigned(start, end) >= 0) {
        break;
      }
      vma = mm.findVma(ve);
    }
    return unmapped ? Errno.ENOMEM.ret() : 0;
  }

  private static long visitRead(MmStruct mm, Faults faults, Vma vma, long start, long end, int advice) {
    return switch (advice) {
      case Uapi.MADV_DONTNEED, Uapi.MADV_DONTNEED_LOCKED -> {
        dontneed(mm, faults, vma, start, end);
        yield 0;
      }
      case Uapi.MADV_REMOVE, Uapi.MADV_COLLAPSE -> Errno.EINVAL.ret();
      default -> 0; // WILLNEED, COLD, PAGEOUT, FREE
    };
  }

  /**
   * {@code madvise_dontneed_single_vma} / {@code zap_page_range_single}: zaps [start, end) of
   * {@code vma} with a gather of its own, flushed before the pages are freed. The page tables
   * stay. Called with the mmap lock held for read, racing faults on the same VMA (they meet at
   * the PTE lock).
   */
  private static void dontneed(MmStruct mm, Faults faults, Vma vma, long start, long end) {
    MmuGather tlb = new MmuGather(mm.pageTables(), mm.flusher());
    faults.zap(vma, tlb, start, end);
    tlb.finish();
  }

  /**
   * {@code madvise_walk_vmas} with {@code madvise_vma_behavior} for the advice that changes
   * {@code vm_flags}, on a {@link Layout} committed at the end (also when the walk stops early:
   * what it did stays, as in Linux). The mmap lock is held for write.
   */
  private static long updateFlags(MmStruct mm, MmapLimits limits, long start, long end, int advice) {
    Layout l = new Layout(mm).loadAround(start, end);
    Seg vma = l.findFrom(start);
    Seg prev = vma != null && start > vma.start ? vma : vma == null ? null : l.before(vma);
    boolean unmapped = false;
    long result = 0;
    while (true) {
      if (vma == null) {
        result = Errno.ENOMEM.ret();
        break;
      }
      if (start < vma.start) {
        unmapped = true;
        start = vma.start;
        if (Long.compareUnsigned(start, end) >= 0) {
          break;
        }
      }
      long tmp = Math.min(vma.end, end);
      try {
        long newFlags = newFlags(vma.flags, advice);
        prev = newFlags == vma.flags ? vma : VmaOps.modifyFlags(l, prev, vma, start, tmp, newFlags, limits);
      } catch (MmError e) {
        result = (e.errno == Errno.ENOMEM ? Errno.EAGAIN : e.errno).ret();
        break;
      }
      start = Math.max(tmp, prev.end);
      if (Long.compareUnsigned(start, end) >= 0) {
        break;
      }
      vma = l.findFrom(prev.end);
    }
    List<Vma> gone = l.commit();
    VmaOps.freeAll(mm, gone);
    if (result == 0 && unmapped) {
      result = Errno.ENOMEM.ret();
    }
    return result;
  }

  /** The {@code vm_flags} {@code madvise_vma_behavior} gives a VMA with {@code flags}. */
  private static long newFlags(long flags, int advice) {
    return switch (advice) {
      case Uapi.MADV_NORMAL -> flags & ~(VmFlags.RAND_READ | VmFlags.SEQ_READ);
      case Uapi.MADV_SEQUENTIAL -> (flags & ~VmFlags.RAND_READ) | VmFlags.SEQ_READ;
      case Uapi.MADV_RANDOM -> (flags & ~VmFlags.SEQ_READ) | VmFlags.RAND_READ;
      case Uapi.MADV_DONTFORK -> flags | VmFlags.DONTCOPY;
      case Uapi.MADV_DOFORK -> {
        MmError.check((flags & VmFlags.IO) == 0, Errno.EINVAL);
        yield flags & ~VmFlags.DONTCOPY;
      }
      case Uapi.MADV_WIPEONFORK -> {
        MmError.check((flags & VmFlags.SHARED) == 0, Errno.EINVAL); // anonymous private only
        yield flags | VmFlags.WIPEONFORK;
      }
      case Uapi.MADV_KEEPONFORK -> flags & ~VmFlags.WIPEONFORK;
      case Uapi.MADV_DONTDUMP -> flags | VmFlags.DONTDUMP;
      case Uapi.MADV_DODUMP -> {
        MmError.check((flags & (VmFlags.IO | VmFlags.DONTEXPAND)) == 0, Errno.EINVAL); // VM_SPECIAL
        yield flags & ~VmFlags.DONTDUMP;
      }
      case Uapi.MADV_HUGEPAGE -> (flags & ~VmFlags.NOHUGEPAGE) | VmFlags.HUGEPAGE;
      case Uapi.MADV_NOHUGEPAGE -> (flags & ~VmFlags.HUGEPAGE) | VmFlags.NOHUGEPAGE;
      default -> throw new IllegalArgumentException("advice " + advice + " does not change flags");
    };
  }
}
