package org.mmlab.mm.filemap;

import org.jspecify.annotations.Nullable;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.Sched;
import org.mmlab.mm.page.Folio;
import org.mmlab.mm.page.Page;
import org.mmlab.mm.page.PhysMem;

/**
 * The page-cache operations of {@code mm/filemap.c} on an {@link AddressSpace}.
 *
 * <h2>Lookups ({@code filemap_get_entry})</h2>
 * Under RCU alone: load the entry, take a speculative reference ({@code folio_try_get}), then
 * load the entry again and drop the reference if it changed. Each way the lookup can fail is a
 * named retry point, as the kernel's {@code goto repeat}:
 * <pre>
 * CPU0 (lookup)                          CPU1 (truncate)
 * rcu_read_lock()
 * folio = xas_load(index)
 *                                        xa_lock; xas_store(NULL); xa_unlock
 *                                        folio_put(): count 0, freed
 * folio_try_get(folio): fails (count 0)  &lt;- retry: the slot changed
 * </pre>
 * A folio whose count is frozen ({@code folio_ref_freeze}, as collapse and migration do) makes
 * {@code folio_try_get} fail for as long as it stays frozen: the lookup spins, exactly as in the
 * kernel. The retry names the frozen count as what it waits for, so a CPU that spins here while
 * holding a lock the freezer needs is a deadlock with a wait-for chain (seed 004).
 *
 * <h2>Insertion and removal</h2>
 * {@link #addFolio} ({@code __filemap_add_folio}) and {@link #removeFolio}
 * ({@code __filemap_remove_folio} + {@code filemap_free_folio}) run with the folio locked; the
 * slot, {@code folio->mapping}, {@code folio->index} and {@code nrpages} change under the
 * {@code i_pages} lock. The page cache holds one reference per page of a folio.
 *
 * <p>Stateless.
 */
public final class Filemap {
  private Filemap() {}

  /**
   * {@code filemap_get_entry}: the folio at {@code index} with a reference, a value entry, or
   * null. Takes and drops {@code rcu_read_lock}. Never sleeps (may spin on a frozen folio).
   */
  public static @Nullable Object getEntry(AddressSpace m, long index) {
    Sched sched = m.sched();
    XArray xa = m.iPages();
    sched.rcuReadLock();
    try {
      while (true) {
        Object e = xa.load(index);
        if (XArray.isRetry(e)) {
          sched.retry("filemap_get_entry: xas_retry", xa.lock());
          continue;
        }
        if (e == null || XArray.isValue(e)) {
          return e;
        }
        Folio folio = (Folio) e;
        if (!folio.folioTryGet()) {
          sched.retry("filemap_get_entry: folio_try_get", folio.frozenRef());
          continue;
        }
        if (xa.load(index) != e) {
          folio.folioPut();
          sched.retry("filemap_get_entry: xas_reload", xa.lock());
          continue;
        }
        return folio;
      }
    } finally {
      sched.rcuReadUnlock();
    }
  }

  /**
   * {@code filemap_lock_folio} / {@code __filemap_get_folio(FGP_LOCK)}: the folio at
   * {@code index}, locked and with a reference, or null (none, or a value entry). After
   * sleeping on the lock it checks that the folio is still in this mapping at that index
   * (truncation may have removed it) and starts over if not. May sleep.
   */
  public static @Nullable Folio lockFolio(AddressSpace m, long index) {
    while (true) {
      Object e = getEntry(m, index);
      if (!(e instanceof Folio folio)) {
        return null;
      }
      folio.folioLock();
      if (folio.folioMapping() == m) {
        return folio;
      }
      folio.folioUnlock();
      folio.folioPut();
      m.sched().retry("__filemap_get_folio: folio->mapping changed under the lock", m.iPages().lock());
    }
  }

  /**
   * {@code filemap_get_incore_folio} (for {@code mincore}): whether {@code index} is cached.
   * The lookup is {@link #getEntry}: it takes and drops a speculative reference and may spin
   * on a frozen folio — under a PTE lock when {@code mincore} calls it.
   */
  public static boolean incore(AddressSpace m, long index) {
    Object e = getEntry(m, index);
    if (e instanceof Folio folio) {
      folio.folioPut();
      return true;
    }
    return e != null; // a value entry: swapped out, still "in core" for mincore's purposes (no swap yet)
  }

  /**
   * {@code __filemap_add_folio}: inserts the locked folio (not yet in any cache) at the
   * {@code 2^order}-aligned {@code index}. Takes one reference per page for the cache and sets
   * {@code mapping} and {@code index}. Returns false (-EEXIST) if any slot of the range is
   * taken.
   */
  public static boolean addFolio(AddressSpace m, Folio folio, long index) {
    if (!folio.folioTestLocked()) {
      throw new IllegalStateException("filemap_add_folio of an unlocked folio");
    }
    long nr = folio.folioNrPages();
    Page head = folio.headPage();
    folio.folioRefAdd((int) nr);
    head.setMapping(m);
    head.setIndex(index);
    XArray xa = m.iPages();
    xa.lock().lock();
    boolean ok;
    try {
      ok = xa.find(index, index + nr - 1) == null;
      if (ok) {
        xa.store(index, Long.numberOfTrailingZeros(nr), folio);
        m.addNrpages(nr);
      }
    } finally {
      xa.lock().unlock();
    }
    if (!ok) {
      head.setMapping(null);
      folio.folioPutRefs((int) nr);
    }
    return ok;
  }

  /**
   * {@code filemap_remove_folio}: takes the locked folio out of the cache (slot, {@code mapping},
   * {@code nrpages} under the {@code i_pages} lock) and drops the cache's references
   * ({@code filemap_free_folio}); the caller keeps its own.
   */
  public static void removeFolio(AddressSpace m, Folio folio) {
    if (!folio.folioTestLocked()) {
      throw new IllegalStateException("filemap_remove_folio of an unlocked folio");
    }
    long nr = folio.folioNrPages();
    Page head = folio.headPage();
    XArray xa = m.iPages();
    xa.lock().lock();
    try {
      long index = head.index();
      xa.store(index, Long.numberOfTrailingZeros(nr), null);
      head.setMapping(null);
      m.addNrpages(-nr);
    } finally {
      xa.lock().unlock();
    }
    folio.folioPutRefs((int) nr);
  }

  /**
   * {@code mapping_seek_hole_data} with shmem's rule: a folio that is not uptodate (allocated by
   * {@code fallocate} and never written) is a hole. Returns the offset found, or -1 (ENXIO) when
   * {@code SEEK_DATA} finds no data before {@code end}. {@code end} is the file size; the caller
   * has checked {@code start < end}. Lockless: folios are looked at under RCU without references,
   * as {@code folio_seek_hole_data} does for shmem (the uptodate test is racy by design).
   */
  public static long seekHoleData(AddressSpace m, long start, long end, boolean data) {
    Sched sched = m.sched();
    XArray xa = m.iPages();
    long pos = start;
    long lastIndex = (end - 1) >>> 12;
    sched.rcuReadLock();
    try {
      while (pos < end) {
        XArray.Found f = xa.find(pos >>> 12, lastIndex);
        if (f == null) {
          break;
        }
        long fstart = f.index() << 12;
        long fend = (f.index() + (1L << f.order())) << 12;
        boolean isData = !(f.entry() instanceof Folio folio) ? !XArray.isRetry(f.entry()) : uptodate(folio);
        if (!data && fstart > pos) {
          return pos; // a gap before this entry
        }
        if (isData) {
          if (data) {
            return Math.max(pos, fstart);
          }
        } else if (!data) {
          return Math.max(pos, fstart);
        }
        pos = fend;
      }
    } finally {
      sched.rcuReadUnlock();
    }
    return data ? -1 : Math.min(pos, end);
  }

  private static boolean uptodate(Folio f) {
    return f.folioTestUptodate();
  }

  /**
   * Zeroes {@code len} bytes of {@code page} from {@code off} ({@code folio_zero_range}); the
   * folio is locked. One scheduling point on the page.
   */
  public static void zeroRange(PhysMem mem, Page page, int off, int len) {
    mem.sched().point(OpKind.WRITE, page, "folio_zero_range");
    mem.frames().fill((page.pfn() << 12) + off, len, (byte) 0);
  }
}
