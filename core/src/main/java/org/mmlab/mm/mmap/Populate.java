package org.mmlab.mm.mmap;

import static org.mmlab.mm.mmap.VmaOps.PAGE;

import org.jspecify.annotations.Nullable;
import org.mmlab.kernel.Errno;
import org.mmlab.mm.memory.FaultResult;
import org.mmlab.mm.memory.Faults;
import org.mmlab.mm.vma.MmStruct;
import org.mmlab.mm.vma.Vma;
import org.mmlab.mm.vma.VmFlags;

/**
 * Faulting pages in on behalf of the user ({@code mm/gup.c}): {@code __mm_populate} for
 * {@code MAP_POPULATE}, and {@code faultin_page_range} for {@code MADV_POPULATE_READ/WRITE}. Both
 * run under the mmap lock held for read and call the fault handler page by page
 * ({@code handle_mm_fault} through {@code faultin_page}).
 *
 * <p>Simplified: GUP first looks the page up ({@code follow_page_mask}) and faults only if it is
 * missing or lacks the access; here every page goes through {@link Faults#handleMmFault}, which
 * for a present page with the access only marks it young (and dirty for a write), the same
 * effect as {@code FOLL_TOUCH}.
 *
 * <p>Stateless.
 */
final class Populate {
  private Populate() {}

  /**
   * {@code __mm_populate(start, len, ignore_errors = 1)}: faults in every page of the VMAs in
   * [start, start + len) as {@code mmap} asks for {@code MAP_POPULATE}: a write fault for a
   * private writable VMA (breaking COW: no zero page), a forced read fault for any other
   * accessible one, nothing for {@code PROT_NONE}. Errors are ignored. Takes and drops the mmap
   * lock for read.
   */
  static void mmPopulate(MmStruct mm, Faults faults, long start, long len) {
    long end = start + len;
    mm.mmapReadLock();
    try {
      long nstart = start;
      while (Long.compareUnsigned(nstart, end) < 0) {
        Vma vma = firstIntersecting(mm, nstart, end);
        if (vma == null) {
          break;
        }
        long vend = vma.end();
        long nend = Math.min(end, vend);
        nstart = Math.max(nstart, vma.start());
        long f = vma.flags();
        boolean write = (f & (VmFlags.WRITE | VmFlags.SHARED)) == VmFlags.WRITE;
        if (write || (f & VmFlags.ACCESS) != 0) {
          for (long a = nstart; a < nend; a += PAGE) {
            if (faults.handleMmFault(vma, a, write) != FaultResult.HANDLED) {
              break; // the error is ignored: on to the next VMA
            }
          }
        }
        nstart = nend;
      }
    } finally {
      mm.mmapReadUnlock();
    }
  }

  /**
   * {@code madvise_populate}: faults in [start, end) readable or writable. Called with the mmap
   * lock held for read. Returns 0, or ENOMEM at the first page with no VMA (or on out of
   * memory), EINVAL at the first VMA without the access ({@code check_vma_flags}, without
   * {@code FOLL_FORCE}: read needs {@code VM_READ}, write {@code VM_WRITE}), EFAULT if the fault
   * would have raised a signal. The pages before the failing one stay populated.
   */
  static long madvisePopulate(MmStruct mm, Faults faults, long start, long end, boolean write) {
    mm.mmapLock().assertHeld();
    Vma vma = null;
    long vend = 0;
    for (long a = start; a < end; a += PAGE) {
      if (vma == null || a >= vend) {
        vma = mm.vmaLookup(a);
        if (vma == null) {
          return Errno.ENOMEM.ret();
        }
        vend = vma.end();
        long f = vma.flags();
        if ((f & (write ? VmFlags.WRITE : VmFlags.READ)) == 0) {
          return Errno.EINVAL.ret();
        }
      }
      FaultResult r = faults.handleMmFault(vma, a, write);
      if (r == FaultResult.OOM) {
        return Errno.ENOMEM.ret();
      }
      if (r != FaultResult.HANDLED) {
        return Errno.EFAULT.ret();
      }
    }
    return 0;
  }

  /** {@code find_vma_intersection(mm, start, end)}. */
  private static @Nullable Vma firstIntersecting(MmStruct mm, long start, long end) {
    Vma v = mm.findVma(start);
    return v != null && Long.compareUnsigned(v.start(), end) < 0 ? v : null;
  }
}
