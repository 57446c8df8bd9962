package org.mmlab.mm.mmap;

import org.jspecify.annotations.Nullable;

/**
 * Creates the shmem file behind a shared anonymous mapping: the kernel's {@code shmem_zero_setup}
 * (a file named {@code /dev/zero (deleted)} in {@code /proc/<pid>/maps}). Provided by the file
 * system layer at boot.
 */
public interface SharedAnon {
  /** A new unlinked shmem file of {@code size} bytes with one reference for the caller, or null (ENOMEM). */
  @Nullable MmapFile create(long size);
}
