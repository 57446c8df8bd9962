package org.mmlab.mm.filemap;

import java.util.ArrayList;
import java.util.List;
import org.mmlab.debug.KObject;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.Sched;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;
import org.mmlab.mm.page.Frames;
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
 *   <li>{@code i_mmap}: the VMAs mapping the file, in an {@link IntervalTree} (the kernel's
 *       {@code vma_interval_tree}, an augmented rbtree) where each VMA covers the file pages it
 *       maps, [{@code vma_start_pgoff}, {@code vma_last_pgoff}] = [{@code vm_pgoff},
 *       {@code vm_pgoff} + pages − 1]. Protected by {@code i_mmap_rwsem}: held for write to link,
 *       unlink or re-key a VMA, for read or write to walk the tree. The tree's fields are plain
 *       Java fields and its operations are no scheduling points; the rwsem's acquisition is
 *       the scheduling point that orders them.</li>
 *   <li>{@code i_mmap_writable}: shared mappings that may be written, or a negative count of
 *       denials ({@code F_SEAL_WRITE} sets it to −1 while none exists). Atomic.</li>
 *   <li>{@code invalidate_lock}: an rwsem taken for write by truncation and hole punching around
 *       removing pages, for read by paths that must not see a page come back meanwhile.</li>
 * </ul>
 *
 * <h2>Changing a linked VMA's range</h2>
 * A node's keys are those the VMA had when it was inserted. Whoever changes a linked VMA's
 * {@code vm_start}, {@code vm_end} or {@code vm_pgoff} (a split, a merge, {@code vma_expand},
 * {@code vma_shrink}) does it with {@code i_mmap_rwsem} held for write, between
 * {@link #vmaIntervalTreeRemove} and {@link #vmaIntervalTreeInsert}, as the kernel's
 * {@code vma_prepare} and {@code vma_complete} do; a walker holding the rwsem never sees a VMA
 * at a stale interval. {@link #checkIMmap} reports a key that went stale anyway.
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
  /** {@code mapping->i_mmap}. Protected by {@link #iMmapRwsem}. */
  private final IntervalTree<Vma> iMmap = new IntervalTree<>();
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

  /** The VMAs in {@code i_mmap} in ascending page-offset order (a copy); {@code i_mmap_rwsem} is held. */
  public List<Vma> iMmapVmas() {
    iMmapRwsem.assertHeld();
    return iMmap.overlapping(Long.MIN_VALUE, Long.MAX_VALUE);
  }

  /**
   * {@code vma_interval_tree_foreach}: the VMAs in {@code i_mmap} mapping some file page of
   * [first, last], in ascending page-offset order (a copy); {@code i_mmap_rwsem} is held.
   */
  public List<Vma> iMmapVmas(long first, long last) {
    iMmapRwsem.assertHeld();
    return iMmap.overlapping(first, last);
  }

  /** True if {@code i_mmap} has a VMA ({@code mapping_mapped}); {@code i_mmap_rwsem} is held. */
  public boolean mapped() {
    iMmapRwsem.assertHeld();
    return !iMmap.isEmpty();
  }

  /**
   * {@code vma_start_pgoff}: the first file page {@code vma} maps. Read without a scheduling
   * point: a linked VMA's range changes only under {@code i_mmap_rwsem} for write, which the
   * callers hold (or the read side, which excludes that writer), or no CPU runs.
   */
  static long vmaStartPgoff(Vma vma) {
    return vma.peekPgoff();
  }

  /** {@code vma_last_pgoff}: the last file page {@code vma} maps; as {@link #vmaStartPgoff}. */
  static long vmaLastPgoff(Vma vma) {
    return vma.peekPgoff() + ((vma.peekEnd() - vma.peekStart()) >>> Frames.PAGE_SHIFT) - 1;
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
      iMmap.insert(vma, vmaStartPgoff(vma), vmaLastPgoff(vma));
    } finally {
      iMmapUnlockWrite();
    }
  }

  /** {@code unlink_file_vma}: unlinks {@code vma} if it is linked. */
  public void unlink(Vma vma) {
    iMmapLockWrite();
    try {
      if (removeLinked(vma) && sharedMayWrite(vma)) {
        iMmapWritable.addAndGet(-1);
      }
    } finally {
      iMmapUnlockWrite();
    }
  }

  /**
   * {@code vma_interval_tree_remove} as {@code vma_prepare} calls it: takes the linked
   * {@code vma} out of {@code i_mmap} before its range or page offset changes. Called with
   * {@code i_mmap_rwsem} held for write; {@link #vmaIntervalTreeInsert} follows under the same
   * hold.
   */
  public void vmaIntervalTreeRemove(Vma vma) {
    iMmapRwsem.assertWriteLocked();
    if (!removeLinked(vma)) {
      throw new IllegalStateException(vma + " is not in i_mmap of " + this);
    }
  }

  /**
   * {@code vma_interval_tree_insert} as {@code vma_complete} calls it: puts {@code vma} back into
   * {@code i_mmap} at its new range. Called with {@code i_mmap_rwsem} held for write.
   */
  public void vmaIntervalTreeInsert(Vma vma) {
    iMmapRwsem.assertWriteLocked();
    iMmap.insert(vma, vmaStartPgoff(vma), vmaLastPgoff(vma));
  }

  /**
   * Removes {@code vma} from the tree at its current range; false if it is not linked. A VMA
   * linked at another range had it changed without being taken out first: a bug.
   */
  private boolean removeLinked(Vma vma) {
    if (iMmap.remove(vma, vmaStartPgoff(vma), vmaLastPgoff(vma))) {
      return true;
    }
    for (IntervalTree.Entry<Vma> e : iMmap.entries()) {
      if (e.item() == vma) {
        throw sched.bug(Verdict.of(VerdictKind.INVARIANT, objectName() + ": " + vma + " is in i_mmap at pages ["
            + e.start() + ", " + e.last() + "] but maps [" + vmaStartPgoff(vma) + ", " + vmaLastPgoff(vma)
            + "]: its range changed while it was linked", List.of("i_mmap interval tree"), List.of()));
      }
    }
    return false;
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

  /** For checks: the linked VMAs without taking the lock (no CPU runs), in page-offset order. */
  public List<Vma> peekIMmap() {
    return iMmap.overlapping(Long.MIN_VALUE, Long.MAX_VALUE);
  }

  /** For checks: how many times {@code vma} is linked in {@code i_mmap} (no CPU runs). */
  public int peekLinkCount(Vma vma) {
    int n = 0;
    for (IntervalTree.Entry<Vma> e : iMmap.entries()) {
      if (e.item() == vma) {
        n++;
      }
    }
    return n;
  }

  /**
   * The {@code i_mmap} part of the consistency walk, where no CPU runs: the tree is well formed
   * ({@link IntervalTree#problems}) and every VMA in it sits at the file pages it maps now (no
   * range changed while linked). An {@code invariant} verdict lists what is wrong.
   */
  public void checkIMmap() {
    List<String> problems = new ArrayList<>(iMmap.problems());
    for (IntervalTree.Entry<Vma> e : iMmap.entries()) {
      Vma v = e.item();
      if (e.start() != vmaStartPgoff(v) || e.last() != vmaLastPgoff(v)) {
        problems.add(v + " is linked at pages [" + e.start() + ", " + e.last() + "] but maps [" + vmaStartPgoff(v)
            + ", " + vmaLastPgoff(v) + "]");
      }
    }
    if (!problems.isEmpty()) {
      throw sched.bug(Verdict.of(VerdictKind.INVARIANT, objectName() + ": i_mmap is inconsistent: " + problems.getFirst(),
          problems, List.of()));
    }
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
