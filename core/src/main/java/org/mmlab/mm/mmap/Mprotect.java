package org.mmlab.mm.mmap;

import static org.mmlab.mm.mmap.VmaOps.PAGE;
import static org.mmlab.mm.mmap.VmaOps.aligned;
import static org.mmlab.mm.mmap.VmaOps.pageAlign;

import java.util.ArrayList;
import java.util.List;
import org.mmlab.kernel.Errno;
import org.mmlab.kernel.Uapi;
import org.mmlab.mm.mmap.Layout.Seg;
import org.mmlab.mm.pgtable.Entry;
import org.mmlab.mm.pgtable.Level;
import org.mmlab.mm.pgtable.MmuGather;
import org.mmlab.mm.pgtable.PageTables;
import org.mmlab.mm.pgtable.PageTables.Slot;
import org.mmlab.mm.vma.MmStruct;
import org.mmlab.mm.vma.Vma;
import org.mmlab.mm.vma.VmFlags;
import org.mmlab.sync.Spinlock;

/**
 * {@code mprotect}: {@code do_mprotect_pkey}, {@code mprotect_fixup} and {@code change_protection}
 * ({@code mm/mprotect.c}), Linux 6.12, for anonymous memory.
 *
 * <h2>All or nothing (a deliberate difference)</h2>
 * Linux walks the VMAs of the range and changes each in turn, so a call that fails on a hole
 * (ENOMEM), on a VMA whose {@code VM_MAY*} bits forbid the protection (EACCES) or on a split over
 * the map-count limit (ENOMEM) has already changed the VMAs before that point. Here the walk runs
 * on a {@link Layout} and is committed only if it reaches the end, so a failing call changes
 * nothing; the errno is the one Linux returns (the first failure in address order).
 *
 * <h2>Page tables</h2>
 * After the VMAs are published, the present PTEs of every changed range are rewritten under their
 * PTE lock ({@code ptep_modify_prot_start}/{@code _commit}: cleared, then stored) and the range
 * is flushed from every TLB before the call returns ({@code tlb_finish_mmu}). Removing
 * {@code PROT_WRITE} clears the write bit; {@code PROT_NONE} clears the user bit as well (x86
 * marks such PTEs {@code _PAGE_PROTNONE}, not present to the hardware: here the MMU's user check
 * refuses them), so any access faults and the fault path finds the VMA inaccessible. Granting
 * access sets the user bit back and never sets the write bit: the next write faults and
 * {@code do_wp_page} reuses the exclusive anonymous page. (Linux 6.12 sets the write bit at once
 * for exclusive anonymous pages, {@code MM_CP_TRY_CHANGE_WRITABLE}: a fault saved, the same
 * contents.)
 *
 * <p>Stateless.
 */
final class Mprotect {
  private Mprotect() {}

  /** {@code PROT_SEM}: accepted and ignored, as by {@code arch_validate_prot}. */
  static final int PROT_SEM = 0x8;

  /** A range whose flags changed, for {@code change_protection}. */
  private record Changed(long start, long end, long flags) {}

  /** {@code mprotect(start, len, prot)}: see {@link MmSyscalls#mprotect}. */
  static long mprotect(MmStruct mm, MmapLimits limits, long start, long len, int prot) {
    int grows = prot & (Uapi.PROT_GROWSDOWN | Uapi.PROT_GROWSUP);
    prot &= ~(Uapi.PROT_GROWSDOWN | Uapi.PROT_GROWSUP);
    if (grows == (Uapi.PROT_GROWSDOWN | Uapi.PROT_GROWSUP)) {
      return Errno.EINVAL.ret();
    }
    if (!aligned(start)) {
      return Errno.EINVAL.ret();
    }
    if (len == 0) {
      return 0;
    }
    long end = start + pageAlign(len);
    if (Long.compareUnsigned(end, start) <= 0) {
      return Errno.ENOMEM.ret();
    }
    if ((prot & ~(Uapi.PROT_READ | Uapi.PROT_WRITE | Uapi.PROT_EXEC | PROT_SEM)) != 0) {
      return Errno.EINVAL.ret(); // arch_validate_prot
    }
    end = VmaOps.clampEnd(end, limits);
    mm.mmapWriteLock();
    try {
      List<Changed> changed = plan(mm, limits, start, end, prot, grows);
      if (!changed.isEmpty()) {
        changeProtection(mm, changed);
      }
      return 0;
    } catch (MmError e) {
      return e.errno.ret();
    } finally {
      mm.mmapWriteUnlock();
    }
  }

  /**
   * The VMA walk of {@code do_mprotect_pkey} with {@code mprotect_fixup} on a copy, committed only
   * if it completes. Returns the ranges whose flags changed.
   */
  private static List<Changed> plan(MmStruct mm, MmapLimits limits, long start, long end, int prot, int grows) {
    Layout l = new Layout(mm).loadAround(start, end);
    Seg vma = l.findFrom(start);
    MmError.check(vma != null && Long.compareUnsigned(vma.start, end) < 0, Errno.ENOMEM);
    if ((grows & Uapi.PROT_GROWSDOWN) != 0) {
      // A VM_GROWSDOWN VMA would extend the range down to its start; the model has none.
      MmError.check((vma.flags & VmFlags.GROWSDOWN) != 0, Errno.EINVAL);
    } else {
      MmError.check(vma.start <= start, Errno.ENOMEM);
      // x86-64 has no VM_GROWSUP: PROT_GROWSUP is always EINVAL once a VMA is found.
      MmError.check((grows & Uapi.PROT_GROWSUP) == 0, Errno.EINVAL);
    }
    Seg prev = vma.start < start ? vma : l.before(vma);
    long protBits = VmFlags.fromProt(prot);
    long nstart = start;
    long tmp = vma.start;
    List<Changed> changed = new ArrayList<>();
    while (vma != null && Long.compareUnsigned(vma.start, end) < 0) {
      MmError.check(vma.start == tmp, Errno.ENOMEM); // a hole
      long newFlags = protBits | (vma.flags & ~VmFlags.ACCESS);
      // Each access bit needs its VM_MAY* bit (four bits up).
      MmError.check(((newFlags & ~(newFlags >>> 4)) & VmFlags.ACCESS) == 0, Errno.EACCES);
      tmp = Math.min(vma.end, end);
      prev = fixup(mm, limits, l, prev, vma, nstart, tmp, newFlags, changed);
      tmp = prev.end;
      nstart = tmp;
      vma = l.findFrom(nstart);
    }
    MmError.check(Long.compareUnsigned(tmp, end) >= 0, Errno.ENOMEM);
    List<Vma> gone = l.commit();
    VmaOps.freeAll(mm, gone);
    return changed;
  }

  /** {@code mprotect_fixup} on the copy: returns the segment that now covers [start, end). */
  private static Seg fixup(MmStruct mm, MmapLimits limits, Layout l, Seg prev, Seg vma, long start, long end,
      long newFlags, List<Changed> changed) {
    long oldFlags = vma.flags;
    if (newFlags == oldFlags) {
      return vma;
    }
    if ((newFlags & VmFlags.WRITE) != 0 && (oldFlags & (VmFlags.WRITE | VmFlags.SHARED | VmFlags.NORESERVE)) == 0) {
      // A private mapping made writable is charged against the commit limit.
      Mmap.enoughMemory(mm, limits, (end - start) >>> Uapi.PAGE_SHIFT);
    }
    Seg s = VmaOps.modifyFlags(l, prev, vma, start, end, newFlags, limits);
    changed.add(new Changed(start, end, newFlags));
    return s;
  }

  // ------------------------------------------------------------ change_protection

  /**
   * {@code change_protection} over every changed range, then one TLB flush of what changed
   * ({@code tlb_finish_mmu}). The mmap lock is held for write and the VMAs are write-locked, so
   * no fault runs here; the MMUs of other CPUs may still use their TLB entries until the flush.
   */
  private static void changeProtection(MmStruct mm, List<Changed> ranges) {
    mm.mmapLock().assertWriteLocked();
    PageTables pt = mm.pageTables();
    MmuGather tlb = new MmuGather(pt, mm.flusher());
    for (Changed c : ranges) {
      for (long a = c.start(); a < c.end(); ) {
        long next = Math.min(Level.PMD.next(a), c.end());
        Slot pmd = pt.walk(a, Level.PMD);
        if (pmd != null) {
          long pmdEntry = pt.load(pmd);
          if (Entry.isPresent(pmdEntry) && !Entry.isHuge(pmdEntry)) {
            changePteRange(pt, tlb, pmd, pmdEntry, a, next, c.flags());
          }
        }
        a = next;
      }
    }
    tlb.finish();
  }

  /** {@code change_pte_range}: one PTE table's part of the range, under its PTE lock. */
  private static void changePteRange(PageTables pt, MmuGather tlb, Slot pmd, long pmdEntry, long start, long end,
      long flags) {
    Spinlock ptl = pt.pteLockptr(pmd, pmdEntry);
    ptl.lock();
    try {
      for (long a = start; a < end; a += PAGE) {
        Slot pte = pt.lower(pmd, pmdEntry, a);
        long old = pt.load(pte);
        if (!Entry.isPresent(old)) {
          continue;
        }
        long now = protect(old, flags);
        if (now != old) {
          pt.getAndClear(pte, "ptep_modify_prot_start");
          pt.store(pte, now, "ptep_modify_prot_commit");
          tlb.track(a, a + PAGE);
        }
      }
    } finally {
      ptl.unlock();
    }
  }

  /**
   * {@code pte_modify} for the new {@code vm_flags}: no access clears the user and write bits;
   * otherwise the user bit is set, the write bit cleared unless the VMA is writable (never set),
   * and NX set unless it is executable.
   */
  static long protect(long e, long flags) {
    if ((flags & VmFlags.ACCESS) == 0) {
      return e & ~(Entry.USER | Entry.WRITE);
    }
    long n = e | Entry.USER;
    if ((flags & VmFlags.WRITE) == 0) {
      n &= ~Entry.WRITE;
    }
    return (flags & VmFlags.EXEC) != 0 ? n & ~Entry.NX : n | Entry.NX;
  }
}
