package org.mmlab.mm.vma;

import org.jspecify.annotations.Nullable;
import org.mmlab.mm.page.Folio;

/**
 * What a VMA knows of the file it maps: the kernel's {@code vma->vm_file} (a {@code struct file})
 * together with the {@code vm_operations_struct} its {@code ->mmap} installed. The address-space
 * layers (this package, {@code mm.mmap}, {@code mm.memory}) see files only through this
 * interface; the file systems above ({@code mm.shmem}) implement it. That keeps the layering of
 * DESIGN.md §3 although the kernel's {@code mm/memory.c} and {@code mm/filemap.c} call each
 * other.
 *
 * <h2>References</h2>
 * A VMA holds one reference to its file from creation ({@code get_file} in {@code mmap_region}
 * and {@code vm_area_dup}) to {@code remove_vma} ({@code fput}): {@link #get} and {@link #put}.
 *
 * <h2>The reverse map of the file ({@code i_mmap})</h2>
 * Every VMA mapping the file is linked in its {@code address_space}'s {@code i_mmap} from the
 * moment it is created until {@code free_pgtables} unlinks it ({@code unlink_file_vma}), which
 * happens after its PTEs were zapped and before its page tables are freed: a truncation that
 * found the VMA in {@code i_mmap} under {@code i_mmap_rwsem} may walk its tables. Changes of a
 * linked VMA's range or offset are made with {@code i_mmap_rwsem} held for write
 * ({@code vma_prepare} / {@code vma_complete}), with the VMA taken out of the interval tree
 * before the change and put back after it ({@link #iMmapRemove}, {@link #iMmapInsert}): the
 * tree is keyed by the file pages each VMA maps.
 */
public interface VmFile {
  /** The outcome of {@link #fault}: a locked folio with a reference, or why there is none. */
  record FaultedFolio(@Nullable Folio folio, Outcome outcome) {
    public static FaultedFolio of(Folio f) {
      return new FaultedFolio(f, Outcome.OK);
    }

    public static FaultedFolio failed(Outcome o) {
      return new FaultedFolio(null, o);
    }
  }

  /** {@code vm_fault_t} values a file's fault handler returns. */
  enum Outcome {
    /** A folio was found or created: locked, with a reference for the caller. */
    OK,
    /** {@code VM_FAULT_SIGBUS}: the page lies beyond the end of the file. */
    SIGBUS,
    /** {@code VM_FAULT_OOM}: no memory for the folio. */
    OOM,
    /**
     * {@code VM_FAULT_RETRY}: the handler dropped the fault's lock ({@link VmFault#releaseFaultLock})
     * and slept; the fault starts over under {@code mmap_lock}.
     */
    RETRY,
    /**
     * {@code VM_FAULT_NOPAGE}: nothing was mapped and the lock is still held (the handler slept
     * with it, not allowed to drop it); the access is retried and faults again.
     */
    NOPAGE
  }

  /**
   * {@code vm_ops->fault} ({@code shmem_fault}, {@code filemap_fault}): the folio caching page
   * {@code pgoff} of the file, locked and with a reference; SIGBUS beyond the end of the file.
   * Called with the VMA's read lock or the mmap lock held ({@code vmf} says which, and whether the
   * handler may drop it to sleep: then it returns {@link Outcome#RETRY}); may sleep.
   */
  FaultedFolio fault(VmFault vmf, long pgoff);

  /**
   * {@code mincore_page}: whether page {@code pgoff} of the file is in its page cache
   * ({@code filemap_get_incore_folio}). Called from {@code mincore} for a page with no PTE, with
   * the mmap lock held for read and possibly a PTE lock: the lookup must not sleep.
   */
  boolean mincorePage(long pgoff);

  /** {@code get_file}: one more reference, for a new VMA. */
  void get();

  /** {@code fput}: drops a reference ({@code remove_vma}). */
  void put();

  /**
   * {@code vma_link_file}: links {@code vma} in the file's {@code i_mmap}, taking
   * {@code i_mmap_rwsem} for write; counts a shared writable mapping
   * ({@code mapping_map_writable}).
   */
  void linkVma(Vma vma);

  /**
   * {@code unlink_file_vma}: unlinks {@code vma} from {@code i_mmap} if it is linked, taking
   * {@code i_mmap_rwsem} for write. Idempotent.
   */
  void unlinkVma(Vma vma);

  /** {@code i_mmap_lock_write}: around a change of a linked VMA's range ({@code vma_prepare}). */
  void iMmapLockWrite();

  /** {@code i_mmap_unlock_write} ({@code vma_complete}). */
  void iMmapUnlockWrite();

  /**
   * {@code vma_interval_tree_remove} as {@code vma_prepare} calls it: takes the linked
   * {@code vma} out of {@code i_mmap} before its range or page offset changes. Called between
   * {@link #iMmapLockWrite} and {@link #iMmapUnlockWrite}, and followed by {@link #iMmapInsert}
   * under the same hold.
   */
  void iMmapRemove(Vma vma);

  /**
   * {@code vma_interval_tree_insert} as {@code vma_complete} calls it: puts {@code vma} back
   * into {@code i_mmap} at its new range. Called with {@code i_mmap_rwsem} held for write.
   */
  void iMmapInsert(Vma vma);

  /** True for shmem / tmpfs files: their pages count as {@code MM_SHMEMPAGES} and "Shmem" in smaps. */
  boolean isShmem();

  /** The path {@code /proc/<pid>/maps} shows, e.g. {@code /dev/shm/x}, {@code /memfd:name (deleted)}. */
  String path();

  /** The inode number shown in {@code /proc/<pid>/maps}. */
  long inodeNumber();

  /** The device shown in {@code /proc/<pid>/maps}, as {@code major:minor} in hex ({@code 00:01}). */
  String device();

  /** The mapping's identity ({@code vma->vm_file->f_mapping}), for checks and reports. */
  Object mapping();
}
