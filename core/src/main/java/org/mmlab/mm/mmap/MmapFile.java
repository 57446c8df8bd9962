package org.mmlab.mm.mmap;

import org.mmlab.mm.vma.VmFile;

/**
 * A file as {@code mmap} sees it: the {@code struct file} passed by descriptor, with its open
 * mode ({@code f_mode}) and, for memfds, its seals. Implemented by the file systems
 * ({@code mm.shmem}).
 */
public interface MmapFile extends VmFile {
  /** {@code FMODE_READ}: opened for reading. */
  boolean readable();

  /** {@code FMODE_WRITE}: opened for writing. */
  boolean writable();

  /**
   * {@code memfd_check_seals_mmap}: with {@code F_SEAL_WRITE} or {@code F_SEAL_FUTURE_WRITE}, a
   * shared writable mapping is refused (EPERM) and a shared read-only one loses
   * {@code VM_MAYWRITE} (so {@code mprotect} cannot make it writable). Returns the flags, or a
   * negative errno.
   */
  long checkSealsMmap(long vmFlags);

  /**
   * {@code mapping_map_writable}: counts a new shared mapping that may be written; false (EPERM)
   * while {@code F_SEAL_WRITE} denies writable mappings. Undone by {@link #unmapWritable}.
   */
  boolean mapWritable();

  /** {@code mapping_unmap_writable}. */
  void unmapWritable();
}
