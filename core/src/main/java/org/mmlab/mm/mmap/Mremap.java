package org.mmlab.mm.mmap;

import static org.mmlab.mm.mmap.VmaOps.PAGE;
import static org.mmlab.mm.mmap.VmaOps.above;
import static org.mmlab.mm.mmap.VmaOps.aligned;
import static org.mmlab.mm.mmap.VmaOps.pageAlign;

import org.jspecify.annotations.Nullable;
import org.mmlab.kernel.Errno;
import org.mmlab.kernel.Uapi;
import org.mmlab.mm.memory.Faults;
import org.mmlab.mm.mmap.Layout.Seg;
import org.mmlab.mm.pgtable.Entry;
import org.mmlab.mm.pgtable.Level;
import org.mmlab.mm.pgtable.PageTables;
import org.mmlab.mm.pgtable.PageTables.Slot;
import org.mmlab.mm.vma.MmStruct;
import org.mmlab.mm.vma.Vma;
import org.mmlab.mm.vma.VmFile;
import org.mmlab.mm.vma.VmFlags;
import org.mmlab.sync.Spinlock;

/**
 * {@code mremap}: the syscall, {@code mremap_to}, {@code vma_to_resize}, {@code move_vma} and
 * {@code move_page_tables} ({@code mm/mremap.c}, Linux 6.12), for anonymous private memory.
 *
 * <h2>The cases</h2>
 * <ul>
 *   <li>Shrink: the tail is unmapped as by munmap (lock downgraded for the zap), even if it
 *       reaches beyond the VMA; an unchanged length returns at once.</li>
 *   <li>Grow in place: only if the old range ends where its VMA ends and the space after it is
 *       free below {@code TASK_SIZE}; the VMA grows and may merge with the next one.</li>
 *   <li>Move ({@code MREMAP_MAYMOVE}, to a top-down address; {@code MREMAP_FIXED}, to
 *       {@code new_addr} after unmapping what is there): a new VMA with the moved part's
 *       {@code vm_pgoff} (merging with neighbours there if it can), the PTEs moved one by one
 *       under both PTE locks with the old range flushed before the locks drop, then the old
 *       range unmapped, unless {@code MREMAP_DONTUNMAP} keeps the (now empty) old VMA.</li>
 * </ul>
 * The contents survive every case: pages move with their PTEs, keeping their {@code index}, and
 * the new VMA keeps the pgoff that index is relative to.
 *
 * <h2>Differences, said here</h2>
 * {@code MREMAP_FIXED} in Linux unmaps the destination, and shrinks the source, before it checks
 * the source VMA ({@code vma_to_resize}), the destination address and the map count; a failure
 * there leaves those unmaps done. Here those checks run first on a {@link Layout} copy of what
 * the unmaps would leave, so a failing call changes nothing, with the same errno. The kernel moves
 * an anonymous VMA that never had a write fault to {@code vm_pgoff = new_addr >> PAGE_SHIFT}
 * (no {@code anon_vma} yet); the model has no {@code anon_vma} and always keeps the pgoff (what
 * Linux does once the VMA was written). {@code move_page_tables} here moves PTEs, never whole PTE
 * tables ({@code move_normal_pmd}), and allocates every destination table before moving any
 * entry, so that running out of memory needs no moving back (Linux moves back, then unmaps the
 * new range: the same outcome, ENOMEM with the old mapping intact).
 *
 * <p>Stateless.
 */
final class Mremap {
  private Mremap() {}

  private static final int KNOWN = Uapi.MREMAP_MAYMOVE | Uapi.MREMAP_FIXED | Uapi.MREMAP_DONTUNMAP;

  /** {@code mremap(addr, old_len, new_len, flags, new_addr)}: see {@link MmSyscalls#mremap}. */
  static long mremap(MmStruct mm, Faults faults, MmapLimits limits, long addr, long oldLen, long newLen, int flags,
      long newAddr) {
    if ((flags & ~KNOWN) != 0) {
      return Errno.EINVAL.ret();
    }
    if ((flags & Uapi.MREMAP_FIXED) != 0 && (flags & Uapi.MREMAP_MAYMOVE) == 0) {
      return Errno.EINVAL.ret();
    }
    if ((flags & Uapi.MREMAP_DONTUNMAP) != 0 && ((flags & Uapi.MREMAP_MAYMOVE) == 0 || oldLen != newLen)) {
      return Errno.EINVAL.ret(); // always a move, never a resize
    }
    if (!aligned(addr)) {
      return Errno.EINVAL.ret();
    }
    oldLen = pageAlign(oldLen);
    newLen = pageAlign(newLen);
    if (newLen == 0) {
      return Errno.EINVAL.ret();
    }
    mm.mmapWriteLock();
    boolean locked = true;
    try {
      Vma vma = mm.vmaLookup(addr);
      if (vma == null) {
        return Errno.EFAULT.ret();
      }
      if ((flags & (Uapi.MREMAP_FIXED | Uapi.MREMAP_DONTUNMAP)) != 0) {
        return mremapTo(mm, faults, limits, addr, oldLen, newAddr, newLen, flags);
      }
      if (Long.compareUnsigned(oldLen, newLen) >= 0) {
        if (oldLen == newLen) {
          return addr;
        }
        long r = VmaOps.doVmiMunmap(mm, faults, limits, addr + newLen, oldLen - newLen, true);
        if (r != 0) {
          return r;
        }
        locked = false; // released by the munmap
        return addr;
      }
      Resize v = vmaToResize(mm, addr, oldLen, newLen);
      long delta = newLen - oldLen;
      if (oldLen == v.end() - addr && expandable(mm, limits, v, delta)) {
        if (Mmap.accountable(v.flags())) {
          Mmap.enoughMemory(mm, limits, delta >>> Uapi.PAGE_SHIFT);
        }
        growInPlace(mm, v, delta);
        return addr;
      }
      if ((flags & Uapi.MREMAP_MAYMOVE) == 0) {
        return Errno.ENOMEM.ret();
      }
      long to = UnmappedArea.get(mm, limits, 0, newLen, 0);
      return moveVma(mm, faults, limits, addr, oldLen, newLen, to, flags);
    } catch (MmError e) {
      return e.errno.ret();
    } finally {
      if (locked) {
        mm.mmapWriteUnlock();
      }
    }
  }

  /** The VMA {@code vma_to_resize} checked: its range, pgoff and flags (possibly as a plan sees them). */
  private record Resize(long start, long end, long pgoff, long flags) {
    long pgoffAt(long addr) {
      return pgoff + ((addr - start) >>> Uapi.PAGE_SHIFT);
    }
  }

  /** {@code vma_to_resize} on the live tree. */
  private static Resize vmaToResize(MmStruct mm, long addr, long oldLen, long newLen) {
    Vma vma = mm.vmaLookup(addr);
    MmError.check(vma != null, Errno.EFAULT);
    Resize r = new Resize(vma.peekStart(), vma.peekEnd(), vma.peekPgoff(), vma.peekFlags());
    checkResize(r, addr, oldLen, newLen);
    return r;
  }

  /**
   * The checks of {@code vma_to_resize} on {@code r}, the VMA containing {@code addr}: a zero
   * {@code old_len} duplicates only shared mappings (EINVAL for private ones); the old range
   * must lie in the VMA (EFAULT). The rest (pgoff overflow, {@code VM_DONTEXPAND}, mlock and
   * address-space limits) cannot fail for the model's VMAs.
   */
  private static void checkResize(Resize r, long addr, long oldLen, long newLen) {
    MmError.check(oldLen != 0 || (r.flags() & (VmFlags.SHARED | VmFlags.MAYSHARE)) != 0, Errno.EINVAL);
    MmError.check(!above(oldLen, r.end() - addr), Errno.EFAULT);
    if (newLen != oldLen) {
      long pg = r.pgoffAt(addr);
      MmError.check(Long.compareUnsigned(pg + (newLen >>> Uapi.PAGE_SHIFT), pg) >= 0, Errno.EINVAL);
    }
  }

  /** {@code vma_expandable}: nothing in [end, end + delta), and the grown VMA stays below {@code TASK_SIZE}. */
  private static boolean expandable(MmStruct mm, MmapLimits limits, Resize v, long delta) {
    long end = v.end() + delta;
    if (Long.compareUnsigned(end, v.end()) < 0) {
      return false;
    }
    if (mm.tree().findFrom(v.end(), end) != null) {
      return false;
    }
    try {
      UnmappedArea.get(mm, limits, v.start(), end - v.start(), Uapi.MAP_FIXED);
      return true;
    } catch (MmError e) {
      return false;
    }
  }

  /** {@code vma_merge_extend}: the VMA grows by {@code delta} and may absorb the next one. */
  private static void growInPlace(MmStruct mm, Resize v, long delta) {
    long end = v.end() + delta;
    Layout l = new Layout(mm).load(v.start(), end + PAGE);
    Vma vma = mm.vmaLookup(v.start());
    VmaOps.mergeNew(l, v.end(), end, v.pgoffAt(v.end()), v.flags(), vma == null ? null : vma.file());
    VmaOps.freeAll(mm, l.commit());
  }

  /**
   * {@code mremap_to}: {@code MREMAP_FIXED} and/or {@code MREMAP_DONTUNMAP}. Checks everything
   * on a plan of the unmaps before doing them (see the class notes).
   */
  private static long mremapTo(MmStruct mm, Faults faults, MmapLimits limits, long addr, long oldLen, long newAddr,
      long newLen, int flags) {
    long task = limits.taskSize();
    MmError.check(aligned(newAddr), Errno.EINVAL);
    MmError.check(!above(newLen, task) && !above(newAddr, task - newLen), Errno.EINVAL);
    MmError.check(!(above(addr + oldLen, newAddr) && above(newAddr + newLen, addr)), Errno.EINVAL); // overlap
    // Room for splitting both ranges in three: the kernel's margin of 4 below the limit.
    MmError.check(mm.mapCount() + 2 < limits.maxMapCount() - 3, Errno.ENOMEM);
    boolean fixed = (flags & Uapi.MREMAP_FIXED) != 0;
    Layout plan = new Layout(mm);
    if (fixed) {
      plan.load(newAddr, newAddr + newLen);
      VmaOps.unmap(plan, newAddr, newAddr + newLen, limits);
    }
    long effOld = oldLen;
    if (above(oldLen, newLen)) {
      long ts = addr + newLen;
      long tl = oldLen - newLen;
      MmError.check(!above(ts, task) && !above(tl, task - ts), Errno.EINVAL); // do_munmap's range check
      plan.load(ts, ts + tl);
      VmaOps.unmap(plan, ts, ts + tl, limits);
      effOld = newLen;
    }
    plan.load(addr, addr + PAGE);
    Seg at = plan.lookup(addr);
    MmError.check(at != null, Errno.EFAULT);
    Resize v = new Resize(at.start, at.end, at.pgoff, at.flags);
    checkResize(v, addr, effOld, newLen);
    long to = UnmappedArea.get(mm, limits, newAddr, newLen, fixed ? Uapi.MAP_FIXED : 0);
    checkMove(mm, limits, plan.mapCount(), v.flags(), effOld, newLen, flags);
    // Every check passed: now the unmaps, as Linux does them, then the move.
    if (fixed) {
      expectZero(VmaOps.doVmiMunmap(mm, faults, limits, newAddr, newLen, false));
    }
    if (above(oldLen, newLen)) {
      expectZero(VmaOps.doVmiMunmap(mm, faults, limits, addr + newLen, oldLen - newLen, false));
    }
    return moveVma(mm, faults, limits, addr, effOld, newLen, to, flags);
  }

  private static void expectZero(long r) {
    if (r != 0) {
      throw new IllegalStateException("a planned unmap failed with " + r);
    }
  }

  /**
   * The checks {@code move_vma} makes before it changes anything: {@code map_count} 4 below the
   * limit (an unmap may split a VMA in three), and the commit charge of what the move adds (the
   * whole new length with {@code MREMAP_DONTUNMAP}, the growth otherwise).
   */
  private static void checkMove(MmStruct mm, MmapLimits limits, long mapCount, long vmFlags, long oldLen, long newLen,
      int flags) {
    MmError.check(mapCount < limits.maxMapCount() - 3, Errno.ENOMEM);
    if (Mmap.accountable(vmFlags)) {
      long account = (flags & Uapi.MREMAP_DONTUNMAP) != 0 ? newLen : newLen - oldLen;
      if (account > 0) {
        Mmap.enoughMemory(mm, limits, account >>> Uapi.PAGE_SHIFT);
      }
    }
  }

  /**
   * {@code move_vma}: the VMA part [oldAddr, oldAddr + oldLen) becomes a VMA of {@code newLen}
   * at {@code newAddr} ({@code copy_vma}, merged with neighbours there if possible), its PTEs move
   * there, and the old range is unmapped (kept, empty, with {@code MREMAP_DONTUNMAP}).
   */
  private static long moveVma(MmStruct mm, Faults faults, MmapLimits limits, long oldAddr, long oldLen, long newLen,
      long newAddr, int flags) {
    Vma vma = mm.vmaLookup(oldAddr);
    MmError.check(vma != null, Errno.EFAULT);
    long vmFlags = vma.peekFlags();
    checkMove(mm, limits, mm.mapCount(), vmFlags, oldLen, newLen, flags);
    mm.vmaStartWrite(vma);
    long newPgoff = vma.peekPgoff() + ((oldAddr - vma.peekStart()) >>> Uapi.PAGE_SHIFT);
    long newEnd = newAddr + newLen;
    Layout l = new Layout(mm).loadAround(newAddr, newEnd);
    VmFile file = vma.file();
    VmaOps.mergeNew(l, newAddr, newEnd, newPgoff, vmFlags, file);
    VmaOps.freeAll(mm, l.commit());
    // need_rmap_locks: a truncation walking i_mmap must not see a PTE in neither VMA.
    if (file != null) {
      file.iMmapLockWrite();
    }
    boolean moved;
    try {
      moved = movePageTables(mm, oldAddr, newAddr, oldLen);
    } finally {
      if (file != null) {
        file.iMmapUnlockWrite();
      }
    }
    if (!moved) {
      expectZero(VmaOps.doVmiMunmap(mm, faults, limits, newAddr, newLen, false));
      return Errno.ENOMEM.ret();
    }
    if ((flags & Uapi.MREMAP_DONTUNMAP) == 0) {
      expectZero(VmaOps.doVmiMunmap(mm, faults, limits, oldAddr, oldLen, false));
    }
    return newAddr;
  }

  /**
   * {@code move_page_tables}: moves the PTEs of [oldAddr, oldAddr + len) to the same offsets from
   * {@code newAddr}, one PMD-sized extent at a time (bounded by both ranges' PMD boundaries). The
   * destination tables are allocated first, for every extent whose source has a PTE table;
   * returns false, having moved nothing, if one cannot be. Then each extent's PTEs move under the
   * old and the new PTE lock ({@code move_ptes}); if a present PTE moved, the old extent is
   * flushed from every TLB before the locks drop, so no CPU keeps using the old address once
   * the page is reachable at the new one. The mmap lock is held for write, both VMAs are
   * write-locked.
   */
  private static boolean movePageTables(MmStruct mm, long oldAddr, long newAddr, long len) {
    mm.mmapLock().assertWriteLocked();
    PageTables pt = mm.pageTables();
    for (long off = 0; off < len; off += extent(oldAddr, newAddr, off, len)) {
      Slot oldPmd = tableBelow(pt, oldAddr + off);
      if (oldPmd == null) {
        continue;
      }
      long na = newAddr + off;
      Slot pud = pt.pudAlloc(na);
      Slot pmd = pud == null ? null : pt.pmdAlloc(pud, na);
      if (pmd == null || pt.pteAlloc(pmd, na) == null) {
        return false;
      }
    }
    for (long off = 0; off < len; ) {
      long ext = extent(oldAddr, newAddr, off, len);
      Slot oldPmd = tableBelow(pt, oldAddr + off);
      if (oldPmd != null) {
        moveExtent(mm, pt, oldPmd, oldAddr + off, newAddr + off, ext);
      }
      off += ext;
    }
    return true;
  }

  /** The bytes from {@code off} to the next PMD boundary of either range, or to {@code len}. */
  private static long extent(long oldAddr, long newAddr, long off, long len) {
    long o = oldAddr + off;
    long n = newAddr + off;
    return Math.min(Math.min(Level.PMD.next(o) - o, Level.PMD.next(n) - n), len - off);
  }

  /** The PMD slot of {@code addr} if it points to a PTE table, else null. */
  private static @Nullable Slot tableBelow(PageTables pt, long addr) {
    Slot pmd = pt.walk(addr, Level.PMD);
    if (pmd == null) {
      return null;
    }
    long e = pt.load(pmd);
    return Entry.isPresent(e) && !Entry.isHuge(e) ? pmd : null;
  }

  /** {@code move_ptes}: one extent, under the old and then the new PTE lock. */
  private static void moveExtent(MmStruct mm, PageTables pt, Slot oldPmd, long oldStart, long newStart, long len) {
    long oldPmdEntry = pt.load(oldPmd);
    Slot newPmd = pt.walk(newStart, Level.PMD);
    if (newPmd == null) {
      throw new IllegalStateException("destination PMD of 0x" + Long.toHexString(newStart) + " vanished");
    }
    long newPmdEntry = pt.load(newPmd);
    Spinlock oldPtl = pt.pteLockptr(oldPmd, oldPmdEntry);
    Spinlock newPtl = pt.pteLockptr(newPmd, newPmdEntry);
    oldPtl.lock();
    if (newPtl != oldPtl) {
      newPtl.lock(); // spin_lock_nested: two locks of one class
    }
    try {
      boolean flush = false;
      for (long i = 0; i < len; i += PAGE) {
        Slot from = pt.lower(oldPmd, oldPmdEntry, oldStart + i);
        if (Entry.isNone(pt.load(from))) {
          continue;
        }
        long e = pt.getAndClear(from, "ptep_get_and_clear");
        flush |= Entry.isPresent(e);
        pt.store(pt.lower(newPmd, newPmdEntry, newStart + i), e, "set_pte_at");
      }
      if (flush) {
        mm.flusher().flushTlbRange(oldStart, oldStart + len);
      }
    } finally {
      if (newPtl != oldPtl) {
        newPtl.unlock();
      }
      oldPtl.unlock();
    }
  }
}
