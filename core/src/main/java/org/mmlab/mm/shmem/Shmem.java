package org.mmlab.mm.shmem;

import java.util.List;
import org.jspecify.annotations.Nullable;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.Sched;
import org.mmlab.kernel.Errno;
import org.mmlab.kernel.Uapi;
import org.mmlab.mm.filemap.AddressSpace;
import org.mmlab.mm.filemap.Filemap;
import org.mmlab.mm.filemap.XArray;
import org.mmlab.mm.page.Folio;
import org.mmlab.mm.page.Gfp;
import org.mmlab.mm.page.Page;
import org.mmlab.mm.page.PageFlag;
import org.mmlab.mm.page.PhysMem;
import org.mmlab.mm.vma.Vma;
import org.mmlab.mm.vma.VmFault;
import org.mmlab.mm.vma.VmFile;
import org.mmlab.sync.WaitQueue;

/**
 * The shmem operations of {@code mm/shmem.c} (Linux 6.12): finding or creating a page-cache
 * folio ({@link #getFolio}, {@code shmem_get_folio_gfp}), the fault handler, read and write,
 * truncation, {@code fallocate} and {@code SEEK_DATA}/{@code SEEK_HOLE}.
 *
 * <h2>Uptodate, and what is a hole</h2>
 * A folio is created zero-filled (the model allocates with {@code __GFP_ZERO} where the kernel
 * clears the folio later; the contents are the same). What the kernel decides by
 * {@code PG_uptodate} is modelled exactly: a fault or a read-for-cache marks a new folio
 * uptodate at once; {@code fallocate} leaves its folios <em>not</em> uptodate, so they read as
 * zeros without being data, and {@code SEEK_DATA}/{@code SEEK_HOLE} see them as holes; a write
 * marks the folio uptodate after copying; a fault on a fallocated folio marks it uptodate.
 *
 * <h2>Locking</h2>
 * <pre>
 * inode i_rwsem                  (write, truncate, fallocate, F_ADD_SEALS, SEEK_DATA/HOLE)
 *   mmap_lock / VMA read lock    (faults: shmem_fault, entered from the fault path)
 *     folio lock                 (getFolio returns the folio locked)
 *       i_mmap_rwsem             (unmap_mapping_range, read)
 *         page-table locks       (zap)
 *       i_pages lock             (adding and removing folios)
 *   inode i_lock                 (i_private: the punch in progress; the wait queue's lock inside)
 * </pre>
 * Reads take no inode lock ({@code shmem_file_read_iter}): they look folios up under RCU and lock
 * them, like faults.
 *
 * <p>A hole punch publishes itself in {@code inode->i_private} ({@link ShmemFalloc}) and faults
 * on pages it is emptying sleep until it is over, dropping the fault's lock when they may
 * ({@code shmem_falloc_wait}); the kernel does that so faults cannot keep refilling the hole.
 *
 * <p>Simplified, and said so: no swap (no value entries), no huge folios yet (order 0 only), no
 * size limit of the mount other than RAM (ENOSPC when an allocation fails).
 */
public final class Shmem {
  private Shmem() {}

  /** {@code enum sgp_type}: what the caller wants of a missing or not-uptodate folio. */
  public enum Sgp {
    /** Read: a hole (missing or not uptodate) is returned as null; nothing is allocated. */
    READ,
    /** Fault ({@code SGP_CACHE}): allocate, mark uptodate; beyond the end of file is an error. */
    CACHE,
    /** Write: allocate but leave not uptodate; the writer marks it after copying. */
    WRITE,
    /** fallocate: allocate and leave not uptodate (a hole to SEEK_DATA until written). */
    FALLOC
  }

  /** A folio (locked, with a reference), or null (a hole for {@link Sgp#READ}), or an errno. */
  public record Got(@Nullable Folio folio, @Nullable Errno error) {}

  /**
   * {@code shmem_get_folio_gfp} for an order-0 page at {@code index}: looks the folio up and
   * locks it, or allocates a zeroed one and adds it to the page cache (retrying if another CPU
   * added one first). EINVAL for {@link Sgp#READ} and {@link Sgp#CACHE} beyond the end of the
   * file; ENOMEM (ENOSPC for {@link Sgp#FALLOC}) without memory.
   */
  public static Got getFolio(ShmemInode inode, long index, Sgp sgp) {
    AddressSpace m = inode.mapping();
    Sched sched = inode.fs().sched();
    if ((sgp == Sgp.READ || sgp == Sgp.CACHE) && beyondEof(inode, index)) {
      return new Got(null, Errno.EINVAL);
    }
    while (true) {
      Folio f = Filemap.lockFolio(m, index);
      if (f != null) {
        if ((sgp == Sgp.READ || sgp == Sgp.CACHE) && beyondEof(inode, index)) {
          // Truncated while we slept on the lock.
          f.folioUnlock();
          f.folioPut();
          return new Got(null, Errno.EINVAL);
        }
        if (f.folioTestUptodate()) {
          return new Got(f, null);
        }
        if (sgp == Sgp.READ) {
          f.folioUnlock();
          f.folioPut();
          return new Got(null, null); // a fallocated folio reads as a hole
        }
        if (sgp == Sgp.CACHE) {
          f.folioMarkUptodate(); // the zeroed contents become data
        }
        return new Got(f, null);
      }
      if (sgp == Sgp.READ) {
        return new Got(null, null);
      }
      Page p = inode.fs().mem().allocPages(Gfp.USER | Gfp.ZERO, 0, "shmem_alloc_folio");
      if (p == null) {
        return new Got(null, sgp == Sgp.FALLOC ? Errno.ENOSPC : Errno.ENOMEM);
      }
      p.folioLock(); // __folio_set_locked on a folio nobody else can see yet
      p.setFlag(PageFlag.SWAPBACKED);
      if (!Filemap.addFolio(m, p, index)) {
        p.folioUnlock();
        p.folioPut();
        sched.retry("shmem_add_to_page_cache: -EEXIST", m.iPages().lock());
        continue;
      }
      if (sgp == Sgp.CACHE) {
        p.folioMarkUptodate();
      }
      return new Got(p, null);
    }
  }

  private static boolean beyondEof(ShmemInode inode, long index) {
    return Long.compareUnsigned(index, (inode.size() + Uapi.PAGE_SIZE - 1) >>> Uapi.PAGE_SHIFT) >= 0;
  }

  /**
   * {@code shmem_fault}: the folio for a page of a mapping, or SIGBUS beyond the end of the file.
   * A fault on a page that a hole punch in progress is emptying waits for the punch first
   * ({@link #fallocWait}) and returns RETRY or NOPAGE instead.
   */
  static VmFile.FaultedFolio fault(ShmemInode inode, VmFault vmf, long pgoff) {
    if (inode.falloc() != null) { // unlikely(inode->i_private): a racy look
      VmFile.Outcome waited = fallocWait(inode, vmf, pgoff);
      if (waited != null) {
        return VmFile.FaultedFolio.failed(waited);
      }
    }
    Got g = getFolio(inode, pgoff, Sgp.CACHE);
    if (g.folio() != null) {
      return VmFile.FaultedFolio.of(g.folio());
    }
    return VmFile.FaultedFolio.failed(g.error() == Errno.EINVAL ? VmFile.Outcome.SIGBUS : VmFile.Outcome.OOM);
  }

  /**
   * {@code shmem_falloc_wait}: under {@code i_lock}, if a punch is in progress over
   * {@code pgoff}, drops the fault's lock when the fault may be retried
   * ({@code maybe_unlock_mmap_for_io}), sleeps on the punch's queue until its end wakes it, and
   * returns RETRY (lock dropped) or NOPAGE (slept holding it). Null if there was nothing to wait
   * for: the fault goes on. A fault that looked just before the punch published itself races
   * with it, as in the kernel: the wait only makes such races rare.
   */
  private static VmFile.@Nullable Outcome fallocWait(ShmemInode inode, VmFault vmf, long pgoff) {
    Sched sched = inode.fs().sched();
    inode.iLock().lock();
    ShmemFalloc f = inode.falloc();
    if (f == null || pgoff < f.start || pgoff >= f.next) {
      inode.iLock().unlock();
      return null;
    }
    inode.fs().countFallocWait();
    boolean dropped = vmf.allowRetry();
    if (dropped) {
      vmf.releaseFaultLock();
    }
    WaitQueue.Entry e = new WaitQueue.Entry(sched.cpu()); // autoremove: synchronous_wake_function
    f.waitq.prepareToWait(e, false);
    inode.iLock().unlock();
    f.waitq.schedule(e);
    inode.iLock().lock(); // lest finish_wait race with wake_up_all
    f.waitq.finishWait(e);
    inode.iLock().unlock();
    return dropped ? VmFile.Outcome.RETRY : VmFile.Outcome.NOPAGE;
  }

  // ------------------------------------------------------------ read and write

  /**
   * {@code shmem_file_read_iter} from {@code pos}: up to {@code len} bytes, stopping at the end of
   * the file; holes read as zeros. No inode lock. Returns the bytes read.
   */
  public static byte[] read(ShmemInode inode, long pos, int len) {
    byte[] out = new byte[len];
    int done = read(inode, pos, out, len);
    return done == len ? out : java.util.Arrays.copyOf(out, done);
  }

  /**
   * {@link #read(ShmemInode, long, int)} into {@code out[0, len)} (the caller's buffer, as
   * {@code copy_folio_to_iter} fills the user's): returns the count read; bytes of {@code out}
   * beyond it are left as they were.
   */
  public static int read(ShmemInode inode, long pos, byte[] out, int len) {
    PhysMem mem = inode.fs().mem();
    int done = 0;
    while (done < len) {
      long size = inode.size();
      long p = pos + done;
      if (p >= size) {
        break;
      }
      long index = p >>> Uapi.PAGE_SHIFT;
      int off = (int) (p & (Uapi.PAGE_SIZE - 1));
      int n = (int) Math.min(Math.min(Uapi.PAGE_SIZE - off, len - done), size - p);
      Got g = getFolio(inode, index, Sgp.READ);
      Folio f = g.folio();
      if (g.error() != null) {
        break; // truncated under us: a short read
      }
      if (f != null) {
        f.folioUnlock();
        Page page = f.headPage();
        mem.sched().point(OpKind.READ, page, "copy_folio_to_iter");
        mem.frames().loadBytes((page.pfn() << Uapi.PAGE_SHIFT) + off, out, done, n);
        f.folioPut();
      } else {
        java.util.Arrays.fill(out, done, done + n, (byte) 0); // a hole reads as zeros
      }
      done += n;
    }
    return done;
  }

  /**
   * {@code shmem_file_write_iter} at {@code pos}: writes {@code data}, growing the file. Takes
   * {@code i_rwsem} for write. Returns the bytes written, or a negative errno: EPERM under
   * {@code F_SEAL_WRITE}/{@code F_SEAL_FUTURE_WRITE}, or when growing under {@code F_SEAL_GROW};
   * EFBIG beyond {@code MAX_LFS_FILESIZE}; ENOSPC with nothing written for lack of memory.
   */
  public static long write(ShmemInode inode, long pos, byte[] data) {
    if (data.length == 0) {
      return 0;
    }
    if (pos + data.length < 0) {
      return Errno.EFBIG.ret();
    }
    PhysMem mem = inode.fs().mem();
    inode.iRwsem().downWrite();
    try {
      int seals = inode.seals();
      if ((seals & (Uapi.F_SEAL_WRITE | Uapi.F_SEAL_FUTURE_WRITE)) != 0) {
        return Errno.EPERM.ret();
      }
      if ((seals & Uapi.F_SEAL_GROW) != 0 && pos + data.length > inode.size()) {
        return Errno.EPERM.ret();
      }
      int done = 0;
      while (done < data.length) {
        long p = pos + done;
        long index = p >>> Uapi.PAGE_SHIFT;
        int off = (int) (p & (Uapi.PAGE_SIZE - 1));
        int n = (int) Math.min(Uapi.PAGE_SIZE - off, data.length - done);
        Got g = getFolio(inode, index, Sgp.WRITE);
        Folio f = g.folio();
        if (f == null) {
          break;
        }
        Page page = f.headPage();
        mem.sched().point(OpKind.WRITE, page, "copy_page_from_iter_atomic");
        mem.frames().storeBytes((page.pfn() << Uapi.PAGE_SHIFT) + off, data, done, n);
        if (!f.folioTestUptodate()) {
          f.folioMarkUptodate(); // shmem_write_end: the rest of the page is zero already
        }
        f.folioTestSetDirty();
        f.folioUnlock();
        f.folioPut();
        done += n;
        if (pos + done > inode.size()) {
          inode.setSize(pos + done);
        }
      }
      return done == 0 ? Errno.ENOSPC.ret() : done;
    } finally {
      inode.iRwsem().upWrite();
    }
  }

  // ------------------------------------------------------------ truncate

  /**
   * {@code shmem_setattr} for a size change ({@code ftruncate}, {@code O_TRUNC}): EPERM against
   * {@code F_SEAL_SHRINK}/{@code F_SEAL_GROW}. Shrinking unmaps the pages beyond the new end from
   * every mapping, private copies included ({@code unmap_mapping_range(..., even_cows = 1)}),
   * removes them from the page cache and zeroes the tail of the last page. Called with
   * {@code i_rwsem} held for write.
   */
  public static long setSize(ShmemInode inode, long newSize) {
    inode.iRwsem().assertWriteLocked();
    long old = inode.size();
    int seals = inode.seals();
    if (newSize < old && (seals & Uapi.F_SEAL_SHRINK) != 0 || newSize > old && (seals & Uapi.F_SEAL_GROW) != 0) {
      return Errno.EPERM.ret();
    }
    if (newSize == old) {
      return 0;
    }
    inode.setSize(newSize);
    if (newSize < old) {
      long holebegin = (newSize + Uapi.PAGE_SIZE - 1) & -Uapi.PAGE_SIZE;
      unmapMappingRange(inode, holebegin >>> Uapi.PAGE_SHIFT, -1, true);
      truncateRange(inode, newSize, -1);
      unmapMappingRange(inode, holebegin >>> Uapi.PAGE_SHIFT, -1, true);
    }
    return 0;
  }

  /**
   * {@code unmap_mapping_range}: zaps file pages [first, last] (last −1: to the end) from every
   * VMA in {@code i_mmap} that maps one of them ({@code vma_interval_tree_foreach} over the
   * range), under {@code i_mmap_rwsem} for read.
   */
  static void unmapMappingRange(ShmemInode inode, long first, long last, boolean evenCows) {
    AddressSpace m = inode.mapping();
    long lastIndex = last < 0 ? Long.MAX_VALUE : last;
    m.iMmapLockRead();
    try {
      List<Vma> vmas = m.iMmapVmas(first, lastIndex);
      if (!vmas.isEmpty()) {
        inode.fs().faults().unmapMappingRange(vmas, first, lastIndex, evenCows);
      }
    } finally {
      m.iMmapUnlockRead();
    }
  }

  /**
   * {@code shmem_truncate_range} / {@code truncate_inode_pages_range}: removes the folios
   * wholly inside byte range [lstart, lend] (lend −1: to the end) from the page cache and zeroes
   * the parts of the partial pages at either end. A folio still mapped (a fault raced the unmap)
   * is unmapped again first ({@code truncate_cleanup_folio}).
   */
  static void truncateRange(ShmemInode inode, long lstart, long lend) {
    AddressSpace m = inode.mapping();
    PhysMem mem = inode.fs().mem();
    long startOff = lstart & (Uapi.PAGE_SIZE - 1);
    long first = (lstart + Uapi.PAGE_SIZE - 1) >>> Uapi.PAGE_SHIFT;
    long last = lend < 0 ? Long.MAX_VALUE : ((lend + 1) >>> Uapi.PAGE_SHIFT) - 1;
    // The partial page at the start: zero from lstart to its end (or to lend).
    if (startOff != 0) {
      long idx = lstart >>> Uapi.PAGE_SHIFT;
      long endInPage = lend >= 0 && (lend >>> Uapi.PAGE_SHIFT) == idx ? (lend & (Uapi.PAGE_SIZE - 1)) + 1 : Uapi.PAGE_SIZE;
      zeroPartial(m, mem, idx, (int) startOff, (int) (endInPage - startOff));
    }
    // The partial page at the end.
    if (lend >= 0 && ((lend + 1) & (Uapi.PAGE_SIZE - 1)) != 0 && (lend >>> Uapi.PAGE_SHIFT) != (lstart >>> Uapi.PAGE_SHIFT)) {
      long idx = lend >>> Uapi.PAGE_SHIFT;
      zeroPartial(m, mem, idx, 0, (int) ((lend & (Uapi.PAGE_SIZE - 1)) + 1));
    }
    if (first > last) {
      return;
    }
    long index = first;
    while (index <= last) {
      XArray.Found found = findPresent(m, index, last);
      if (found == null) {
        break;
      }
      index = found.index() + (1L << found.order());
      Folio f = Filemap.lockFolio(m, found.index());
      if (f == null) {
        continue;
      }
      if (f.folioMapped()) {
        unmapMappingRange(inode, found.index(), found.index() + f.folioNrPages() - 1, false);
      }
      Filemap.removeFolio(m, f);
      f.folioUnlock();
      f.folioPut();
    }
  }

  private static XArray.@Nullable Found findPresent(AddressSpace m, long from, long last) {
    Sched sched = m.sched();
    sched.rcuReadLock();
    try {
      return m.iPages().find(from, last);
    } finally {
      sched.rcuReadUnlock();
    }
  }

  private static void zeroPartial(AddressSpace m, PhysMem mem, long index, int off, int len) {
    Folio f = Filemap.lockFolio(m, index);
    if (f == null) {
      return;
    }
    Filemap.zeroRange(mem, f.headPage(), off, len);
    f.folioUnlock();
    f.folioPut();
  }

  // ------------------------------------------------------------ fallocate

  /**
   * {@code shmem_fallocate}: mode 0 or {@code FALLOC_FL_KEEP_SIZE} allocates the pages of
   * [off, off + len) (not uptodate: still holes to SEEK_DATA), growing the file unless
   * {@code KEEP_SIZE}; {@code PUNCH_HOLE|KEEP_SIZE} unmaps the range's whole pages from every
   * mapping (private copies kept), frees them and zeroes the partial pages at either end. The
   * VFS checks are the caller's. EPERM against seals, ENOSPC without memory (what was allocated
   * by this call is freed again).
   */
  public static long fallocate(ShmemInode inode, int mode, long off, long len) {
    inode.iRwsem().downWrite();
    try {
      int seals = inode.seals();
      if ((mode & Uapi.FALLOC_FL_PUNCH_HOLE) != 0) {
        if ((seals & (Uapi.F_SEAL_WRITE | Uapi.F_SEAL_FUTURE_WRITE)) != 0) {
          return Errno.EPERM.ret();
        }
        long unmapStart = (off + Uapi.PAGE_SIZE - 1) >>> Uapi.PAGE_SHIFT;
        long unmapEnd = ((off + len) >>> Uapi.PAGE_SHIFT) - 1;
        // Faults into [unmapStart, unmapEnd] wait until the punch is over (shmem_falloc_wait).
        ShmemFalloc falloc = new ShmemFalloc(inode.fs().sched(), inode.ino(), unmapStart, unmapEnd + 1);
        inode.iLock().lock();
        inode.setFalloc(falloc);
        inode.iLock().unlock();
        if (unmapStart <= unmapEnd) {
          unmapMappingRange(inode, unmapStart, unmapEnd, false);
        }
        truncateRange(inode, off, off + len - 1);
        // No second unmap: the punch leaves private copies mapped, and a folio a racing fault
        // mapped meanwhile is unmapped by truncateRange before it is removed.
        inode.iLock().lock();
        inode.setFalloc(null);
        falloc.waitq.wakeUpAll();
        inode.iLock().unlock();
        return 0;
      }
      boolean keep = (mode & Uapi.FALLOC_FL_KEEP_SIZE) != 0;
      if (!keep && (seals & Uapi.F_SEAL_GROW) != 0 && off + len > inode.size()) {
        return Errno.EPERM.ret();
      }
      long start = off >>> Uapi.PAGE_SHIFT;
      long end = (off + len - 1) >>> Uapi.PAGE_SHIFT;
      for (long index = start; index <= end; index++) {
        Got g = getFolio(inode, index, Sgp.FALLOC);
        Folio f = g.folio();
        if (f == null) {
          undoFallocated(inode, start, index - 1);
          return Errno.ENOSPC.ret();
        }
        f.folioTestSetDirty();
        f.folioUnlock();
        f.folioPut();
      }
      if (!keep && off + len > inode.size()) {
        inode.setSize(off + len);
      }
      return 0;
    } finally {
      inode.iRwsem().upWrite();
    }
  }

  /** {@code shmem_undo_range} after a failed fallocate: drops the not-uptodate folios it allocated. */
  private static void undoFallocated(ShmemInode inode, long first, long last) {
    AddressSpace m = inode.mapping();
    for (long index = first; index <= last; index++) {
      Folio f = Filemap.lockFolio(m, index);
      if (f == null) {
        continue;
      }
      if (!f.folioTestUptodate() && !f.folioMapped()) {
        Filemap.removeFolio(m, f);
      }
      f.folioUnlock();
      f.folioPut();
    }
  }

  // ------------------------------------------------------------ seek

  /**
   * {@code shmem_file_llseek} for {@code SEEK_DATA} / {@code SEEK_HOLE}: ENXIO for a negative
   * offset or one at or beyond the end of the file, and for {@code SEEK_DATA} with no data after
   * it. Takes {@code i_rwsem} (the kernel's {@code inode_lock}) for the lookup.
   */
  public static long seekHoleData(ShmemInode inode, long offset, boolean data) {
    if (offset < 0) {
      return Errno.ENXIO.ret();
    }
    inode.iRwsem().downWrite();
    try {
      long size = inode.size();
      if (offset >= size) {
        return Errno.ENXIO.ret();
      }
      long r = Filemap.seekHoleData(inode.mapping(), offset, size, data);
      return r < 0 ? Errno.ENXIO.ret() : r;
    } finally {
      inode.iRwsem().upWrite();
    }
  }

  // ------------------------------------------------------------ seals

  /**
   * {@code memfd_add_seals}: EPERM if the file is not open for writing or {@code F_SEAL_SEAL} is
   * set; EINVAL for unknown bits; EBUSY when adding {@code F_SEAL_WRITE} while a shared writable
   * mapping exists ({@code mapping_deny_writable}).
   */
  public static long addSeals(OpenFile file, int seals) {
    if (!file.writable()) {
      return Errno.EPERM.ret();
    }
    if ((seals & ~Uapi.F_ALL_SEALS) != 0) {
      return Errno.EINVAL.ret();
    }
    ShmemInode inode = file.inode();
    inode.iRwsem().downWrite();
    try {
      int cur = inode.seals();
      if ((cur & Uapi.F_SEAL_SEAL) != 0) {
        return Errno.EPERM.ret();
      }
      if ((seals & Uapi.F_SEAL_WRITE) != 0 && (cur & Uapi.F_SEAL_WRITE) == 0) {
        if (!inode.mapping().denyWritable()) {
          return Errno.EBUSY.ret();
        }
      }
      inode.addSeals(seals);
      return 0;
    } finally {
      inode.iRwsem().upWrite();
    }
  }
}
