package org.mmlab.mm.filemap;

import java.util.ArrayList;
import java.util.List;
import org.mmlab.debug.KObject;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.Sched;
import org.mmlab.mm.vma.Vma;
import org.mmlab.mm.vma.VmFlags;
import org.mmlab.sync.Atomic;
import org.mmlab.sync.RwSem;

/**
 * {@code struct address_space} ({@code include/linux/fs.h}): a file's page cache and the VMAs
 * that map it.
 *
 * <h2>Fields and what protects them</h2>
 * <ul>
 *   <li>{@code i_pages}: the page cache, an {@link XArray} of folios (and, later, value entries
 *       for swapped-out shmem pages) by page index. Written under its lock
 *       ({@code xa_lock_irq(&mapping->i_pages)}), read under RCU (see {@link Filemap}).</li>
 *   <li>{@code nrpages}: pages in {@code i_pages}, a large folio counting all its pages. Written
 *       under the {@code i_pages} lock; read racily.</li>
 *   <li>{@code i_mmap}: the VMAs mapping the file. The kernel keeps an interval tree keyed by
 *       page offset; here a list in link order, searched linearly (simplified: only the lock
 *       matters for concurrency). Protected by {@code i_mmap_rwsem}.</li>
 *   <li>{@code i_mmap_writable}: shared mappings that may be written, or a negative count of
 *       denials ({@code F_SEAL_WRITE} sets it to −1 while none exists). Atomic.</li>
 *   <li>{@code invalidate_lock}: an rwsem taken for write by truncation and hole punching around
 *       removing pages, for read by paths that must not see a page come back meanwhile.</li>
 * </ul>
 *
 * <h2>Lifetime</h2>
 * Lives as long as its inode; the inode is evicted when it has no name, no open file and no
 * mapping, after its pages were truncated.
 */
public final class AddressSpace extends KObject {
  /** {@code mapping->i_pages} lock. */
  public static final LockClass I_PAGES = LockClass.of("mapping->i_pages");
  /** {@code mapping->i_mmap_rwsem}. */
  public static final LockClass I_MMAP_RWSEM = LockClass.of("mapping->i_mmap_rwsem");
  /** {@code mapping->invalidate_lock}. */
  public static final LockClass INVALIDATE_LOCK = LockClass.of("mapping->invalidate_lock");

  private final Sched sched;
  /** The owner (the inode), for reports. Immutable. */
  private final KObject host;
  private final XArray iPages;
  private final Atomic nrpages;
  private final RwSem iMmapRwsem;
  /** Protected by {@link #iMmapRwsem}. */
  private final List<Vma> iMmap = new ArrayList<>();
  private final Atomic iMmapWritable;
  private final RwSem invalidateLock;

  public AddressSpace(Sched sched, String name, KObject host) {
    super(sched, "address_space", name);
    this.sched = sched;
    this.host = host;
    this.iPages = new XArray(sched, name + ".i_pages", I_PAGES, this);
    this.nrpages = new Atomic(sched, name + ".nrpages", 0, this);
    this.iMmapRwsem = new RwSem(sched, name + ".i_mmap_rwsem", I_MMAP_RWSEM, this);
    this.iMmapWritable = new Atomic(sched, name + ".i_mmap_writable", 0, this);
    this.invalidateLock = new RwSem(sched, name + ".invalidate_lock", INVALIDATE_LOCK, this);
  }

  public Sched sched() {
    return sched;
  }

  public KObject host() {
    return host;
  }

  /** {@code mapping->i_pages}. */
  public XArray iPages() {
    return iPages;
  }

  /** {@code mapping->nrpages}: a scheduling point. */
  public long nrpages() {
    return nrpages.read();
  }

  /** {@code mapping->nrpages} without a scheduling point (statistics, walks). */
  public long peekNrpages() {
    return nrpages.peek();
  }

  /** Adds {@code n} to {@code nrpages}; the {@code i_pages} lock is held. */
  void addNrpages(long n) {
    iPages.lock().assertHeld();
    nrpages.addAndGet(n);
  }

  /** {@code mapping->invalidate_lock}. */
  public RwSem invalidateLock() {
    return invalidateLock;
  }

  /** {@code mapping->i_mmap_rwsem}. */
  public RwSem iMmapRwsem() {
    return iMmapRwsem;
  }

  /** {@code i_mmap_lock_read}. */
  public void iMmapLockRead() {
    iMmapRwsem.downRead();
  }

  public void iMmapUnlockRead() {
    iMmapRwsem.upRead();
  }

  public void iMmapLockWrite() {
    iMmapRwsem.downWrite();
  }

  public void iMmapUnlockWrite() {
    iMmapRwsem.upWrite();
  }

  /** The VMAs in {@code i_mmap} (a copy); {@code i_mmap_rwsem} is held. */
  public List<Vma> iMmapVmas() {
    iMmapRwsem.assertHeld();
    return new ArrayList<>(iMmap);
  }

  /** True if {@code i_mmap} has a VMA ({@code mapping_mapped}); {@code i_mmap_rwsem} is held. */
  public boolean mapped() {
    iMmapRwsem.assertHeld();
    return !iMmap.isEmpty();
  }

  /**
   * {@code vma_link_file}: links {@code vma} under {@code i_mmap_rwsem} for write, counting it in
   * {@code i_mmap_writable} if it is a shared mapping that may be written.
   */
  public void link(Vma vma) {
    iMmapLockWrite();
    try {
      if (sharedMayWrite(vma)) {
        iMmapWritable.addAndGet(1);
      }
      iMmap.add(vma);
    } finally {
      iMmapUnlockWrite();
    }
  }

  /** {@code unlink_file_vma}: unlinks {@code vma} if it is linked. */
  public void unlink(Vma vma) {
    iMmapLockWrite();
    try {
      if (iMmap.remove(vma) && sharedMayWrite(vma)) {
        iMmapWritable.addAndGet(-1);
      }
    } finally {
      iMmapUnlockWrite();
    }
  }

  private static boolean sharedMayWrite(Vma vma) {
    long f = vma.peekFlags();
    return (f & (VmFlags.SHARED | VmFlags.MAYWRITE)) == (VmFlags.SHARED | VmFlags.MAYWRITE);
  }

  /** {@code mapping_map_writable}: one more writable mapping unless denied (false). */
  public boolean mapWritable() {
    while (true) {
      long c = iMmapWritable.read();
      if (c < 0) {
        return false;
      }
      if (iMmapWritable.compareAndSet(c, c + 1)) {
        return true;
      }
      sched.retry("mapping_map_writable: cmpxchg", iMmapWritable);
    }
  }

  /** {@code mapping_unmap_writable}. */
  public void unmapWritable() {
    iMmapWritable.addAndGet(-1);
  }

  /** {@code mapping_deny_writable}: false (EBUSY) if a writable shared mapping exists. */
  public boolean denyWritable() {
    while (true) {
      long c = iMmapWritable.read();
      if (c > 0) {
        return false;
      }
      if (iMmapWritable.compareAndSet(c, c - 1)) {
        return true;
      }
      sched.retry("mapping_deny_writable: cmpxchg", iMmapWritable);
    }
  }

  /** {@code mapping_writably_mapped}. */
  public boolean writablyMapped() {
    return iMmapWritable.read() > 0;
  }

  /** For checks: the linked VMAs without taking the lock (no CPU runs). */
  public List<Vma> peekIMmap() {
    return new ArrayList<>(iMmap);
  }

  /** For checks: {@code i_mmap_writable} without a scheduling point. */
  public long peekIMmapWritable() {
    return iMmapWritable.peek();
  }

  @Override
  public String toString() {
    return "address_space " + objectName() + " (" + nrpages.peek() + " pages)";
  }
}
