package org.mmlab.mm.mmap;

import static org.mmlab.mm.mmap.VmaOps.PAGE;
import static org.mmlab.mm.mmap.VmaOps.above;

import org.mmlab.kernel.Errno;
import org.mmlab.kernel.Uapi;
import org.mmlab.mm.vma.MmStruct;
import org.mmlab.mm.vma.Snapshot;
import org.mmlab.mm.vma.Vma;
import org.mmlab.mm.vma.VmaTree;

/**
 * {@code __get_unmapped_area} for anonymous memory on x86-64: where a mapping of a given length
 * goes. With {@code MAP_FIXED} the caller's address, checked; else the hint if the range there is
 * free; else the highest free gap below {@code mmap_base} ({@code arch_get_unmapped_area_topdown},
 * {@code vm_unmapped_area} top-down, the mapping at the top of the gap); if there is none, the
 * lowest gap above {@code TASK_UNMAPPED_BASE} (the bottom-up fallback). {@code MAP_32BIT} searches
 * bottom-up in [1 GiB, 2 GiB). A mapping without a hint whose length is a multiple of 2 MiB is
 * placed 2 MiB aligned ({@code thp_get_unmapped_area}: a search for 2 MiB more, then the aligned
 * address inside it, the highest one top-down).
 *
 * <p>Simplified, and said so: there are no stack VMAs, so no guard gaps; no randomization; no
 * 5-level paging (so no hint above the 47-bit window). The caller holds the mmap lock.
 *
 * <p>Stateless.
 */
final class UnmappedArea {
  private UnmappedArea() {}

  private static final long PMD_SIZE = 2L << 20;
  private static final long LOW_32BIT = 0x4000_0000L;
  private static final long HIGH_32BIT = 0x8000_0000L;

  /**
   * {@code __get_unmapped_area(NULL, addr, len, 0, flags)}: the address, or throws ENOMEM (no
   * room, or a fixed range beyond {@code TASK_SIZE}), EINVAL (a fixed address not page aligned)
   * or EPERM (below {@code mmap_min_addr} without {@code CAP_SYS_RAWIO}). {@code len} is page
   * aligned and not 0; a hint has been rounded down to a page and up to {@code mmap_min_addr}.
   */
  static long get(MmStruct mm, MmapLimits limits, long addr, long len, int flags) {
    mm.mmapLock().assertHeld();
    long task = limits.taskSize();
    MmError.check(!above(len, task), Errno.ENOMEM);
    Snapshot<Vma> s = mm.tree().snapshot();
    long got;
    if (limits.thpAlign() && addr == 0 && len % PMD_SIZE == 0) {
      got = thpGet(s, limits, len, flags);
    } else {
      got = topdown(s, limits, addr, len, flags);
    }
    MmError.check(!above(got, task - len), Errno.ENOMEM);
    MmError.check(VmaOps.aligned(got), Errno.EINVAL);
    MmError.check(limits.capSysRawio() || Long.compareUnsigned(got, limits.mmapMinAddr()) >= 0, Errno.EPERM);
    return got;
  }

  /**
   * {@code thp_get_unmapped_area} for anonymous memory (offset 0): searches for {@code len} plus
   * 2 MiB and places the mapping at the aligned address in it, the top one when top-down; falls
   * back to the plain search if the padded one fails.
   */
  private static long thpGet(Snapshot<Vma> s, MmapLimits limits, long len, int flags) {
    long padded = len + PMD_SIZE;
    if (padded > len) {
      try {
        long ret = topdown(s, limits, 0, padded, flags);
        if (ret == 0) {
          return topdown(s, limits, 0, len, flags); // MAP_FIXED at 0: "the hint" was taken
        }
        long offSub = (-ret) & (PMD_SIZE - 1);
        return offSub == 0 ? ret + PMD_SIZE : ret + offSub;
      } catch (MmError e) {
        // The padding may be what did not fit: retry without it.
      }
    }
    return topdown(s, limits, 0, len, flags);
  }

  /** {@code arch_get_unmapped_area_topdown}. */
  private static long topdown(Snapshot<Vma> s, MmapLimits limits, long addr0, long len, int flags) {
    long task = limits.taskSize();
    MmError.check(!above(len, task), Errno.ENOMEM);
    if ((flags & Uapi.MAP_FIXED) != 0) {
      return addr0;
    }
    if ((flags & Uapi.MAP_32BIT) != 0) {
      return bottomup(s, limits, addr0, len, flags);
    }
    if (addr0 != 0) {
      long addr = addr0 & -PAGE;
      if (!above(addr, task - len) && isFree(s, addr, len)) {
        return addr;
      }
    }
    long low = Math.max(PAGE, limits.mmapMinAddr());
    VmaTree.Gap g = s.gapAtLeast(len, low, Math.max(low, limits.mmapBase()), true);
    if (g != null) {
      return g.end() - len;
    }
    return bottomup(s, limits, addr0, len, flags);
  }

  /** {@code arch_get_unmapped_area}: bottom-up from {@code TASK_UNMAPPED_BASE} (or 1 GiB for MAP_32BIT). */
  private static long bottomup(Snapshot<Vma> s, MmapLimits limits, long addr0, long len, int flags) {
    if ((flags & Uapi.MAP_FIXED) != 0) {
      return addr0;
    }
    boolean low32 = (flags & Uapi.MAP_32BIT) != 0;
    long begin = low32 ? LOW_32BIT : limits.legacyBase();
    long end = low32 ? HIGH_32BIT : limits.taskSize();
    MmError.check(!above(len, end), Errno.ENOMEM);
    if (addr0 != 0) {
      long addr = VmaOps.pageAlign(addr0);
      if (Long.compareUnsigned(end - len, addr) >= 0 && isFree(s, addr, len)) {
        return addr;
      }
    }
    long low = Math.max(begin, limits.mmapMinAddr());
    if (low >= end) {
      throw new MmError(Errno.ENOMEM);
    }
    VmaTree.Gap g = s.gapAtLeast(len, low, end, false);
    MmError.check(g != null, Errno.ENOMEM);
    return g.start();
  }

  /** The hint test: the first VMA ending above {@code addr} starts at or after {@code addr + len}. */
  private static boolean isFree(Snapshot<Vma> s, long addr, long len) {
    VmaTree.Entry<Vma> e = s.findFrom(addr);
    return e == null || Long.compareUnsigned(addr + len, e.start()) <= 0;
  }
}
