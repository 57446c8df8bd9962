package org.mmlab.mm.mmap;

import static org.mmlab.mm.mmap.VmaOps.PAGE;
import static org.mmlab.mm.mmap.VmaOps.aligned;

import org.mmlab.kernel.Errno;
import org.mmlab.kernel.Uapi;
import org.mmlab.mm.pgtable.Entry;
import org.mmlab.mm.pgtable.Level;
import org.mmlab.mm.pgtable.PageTables;
import org.mmlab.mm.pgtable.PageTables.Slot;
import org.mmlab.mm.vma.MmStruct;
import org.mmlab.mm.vma.Vma;
import org.mmlab.mm.vma.VmFile;
import org.mmlab.sync.Spinlock;

/**
 * {@code mincore} ({@code mm/mincore.c}, Linux 6.12): one byte per page,
 * bit 0 set if the page is resident. For anonymous memory resident means a present PTE
 * ({@code mincore_pte_range}): a page written or read since it was mapped, the shared zero page
 * included (a read fault maps it, and it is present); a page never touched, or zapped by
 * {@code MADV_DONTNEED}, has no PTE and reads 0 ({@code __mincore_unmapped_range} finds no file
 * to look in); a {@code PROT_NONE} page keeps its present PTE and reads 1. With no swap there
 * are no swap entries to look up. For a file mapping (and shared anonymous memory, which is
 * shmem) a page without a PTE reads 1 if it is in the file's page cache ({@code mincore_page}):
 * the page cache says, not the mapping.
 *
 * <p>Like Linux it works in batches of up to 4096 pages ({@code PAGE_SIZE} bytes of vector), each
 * under the mmap lock held for read, and each PTE table under its PTE lock; a batch stops at the
 * end of a VMA. A page with no VMA ends the call with ENOMEM, the vector filled up to it.
 *
 * <p>Stateless.
 */
final class Mincore {
  private Mincore() {}

  private static final long BATCH = Uapi.PAGE_SIZE;

  /** {@code mincore(start, len, vec)}: see {@link MmSyscalls#mincore}. */
  static long mincore(MmStruct mm, MmapLimits limits, long start, long len, byte[] vec) {
    if (!aligned(start)) {
      return Errno.EINVAL.ret();
    }
    long sum = start + len;
    if (Long.compareUnsigned(sum, start) < 0 || Long.compareUnsigned(sum, limits.taskSize()) > 0) {
      return Errno.ENOMEM.ret(); // access_ok: the range must lie in user space
    }
    long pages = (len >>> Uapi.PAGE_SHIFT) + ((len & (PAGE - 1)) != 0 ? 1 : 0);
    if (pages > vec.length) {
      return Errno.EFAULT.ret(); // the vector cannot take a byte per page
    }
    int off = 0;
    while (pages > 0) {
      long n;
      mm.mmapReadLock();
      try {
        n = doMincore(mm, start, Math.min(pages, BATCH), vec, off);
      } finally {
        mm.mmapReadUnlock();
      }
      if (n < 0) {
        return n;
      }
      pages -= n;
      off += (int) n;
      start += n << Uapi.PAGE_SHIFT;
    }
    return 0;
  }

  /**
   * {@code do_mincore}: the pages from {@code addr} to the end of its VMA or of the batch; fills
   * {@code vec} from {@code off}. Returns how many, or ENOMEM if no VMA contains {@code addr}.
   */
  private static long doMincore(MmStruct mm, long addr, long pages, byte[] vec, int off) {
    mm.mmapLock().assertHeld();
    Vma vma = mm.vmaLookup(addr);
    if (vma == null) {
      return Errno.ENOMEM.ret();
    }
    long end = Math.min(vma.end(), addr + (pages << Uapi.PAGE_SHIFT));
    PageTables pt = mm.pageTables();
    int i = off;
    for (long a = addr; a < end; ) {
      long next = Math.min(Level.PMD.next(a), end);
      Slot pmd = pt.walk(a, Level.PMD);
      long pmdEntry = pmd == null ? 0 : pt.load(pmd);
      if (pmd == null || !Entry.isPresent(pmdEntry) || Entry.isHuge(pmdEntry)) {
        boolean huge = pmd != null && Entry.isHuge(pmdEntry); // a THP maps every page
        for (; a < next; a += PAGE) {
          vec[i++] = (byte) (huge || unmappedResident(vma, a) ? 1 : 0);
        }
        continue;
      }
      Spinlock ptl = pt.pteLockptr(pmd, pmdEntry);
      ptl.lock();
      try {
        for (; a < next; a += PAGE) {
          long e = pt.load(pt.lower(pmd, pmdEntry, a));
          // mincore_pte_range: a none PTE asks the file (__mincore_unmapped_range), under the PTE lock.
          vec[i++] = (byte) (Entry.isPresent(e) || Entry.isNone(e) && unmappedResident(vma, a) ? 1 : 0);
        }
      } finally {
        ptl.unlock();
      }
    }
    return (end - addr) >>> Uapi.PAGE_SHIFT;
  }

  /**
   * {@code __mincore_unmapped_range} for one page: for a file mapping (shared anonymous memory
   * included) whether the page is in the file's page cache ({@code mincore_page}); 0 for
   * anonymous memory.
   */
  private static boolean unmappedResident(Vma vma, long addr) {
    VmFile f = vma.file();
    if (f == null) {
      return false;
    }
    long pgoff = vma.pgoff() + ((addr - vma.start()) >>> Uapi.PAGE_SHIFT);
    return f.mincorePage(pgoff);
  }
}
