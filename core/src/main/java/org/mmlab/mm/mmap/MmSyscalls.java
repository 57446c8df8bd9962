package org.mmlab.mm.mmap;

import org.jspecify.annotations.Nullable;
import org.mmlab.mm.memory.Faults;
import org.mmlab.mm.vma.MmStruct;

/**
 * The address-space system calls at mm level, for anonymous private memory: {@code mmap},
 * {@code munmap}, {@code mprotect}, {@code mremap}, {@code madvise}, {@code mincore} on an
 * {@link MmStruct}. Each returns what the syscall returns: the result (an address, or 0), or a
 * negative errno ({@code Errno.X.ret()}), with Linux 6.12's semantics and errno on x86-64
 * (man pages mmap(2), munmap(2), mprotect(2), mremap(2), madvise(2), mincore(2)). The kernel
 * layer wraps them per process and adds signals and {@code /proc}.
 *
 * <h2>Implementation notes</h2>
 *
 * <h3>Overview</h3>
 * One class per kernel file: {@link Mmap} ({@code mm/mmap.c}), {@link Mprotect}, {@link Mremap},
 * {@link Madvise}, {@link Mincore}, with {@link VmaOps} ({@code mm/vma.c}: split, merge, the
 * munmap they all share), {@link UnmappedArea} ({@code get_unmapped_area}) and {@link Populate}
 * ({@code mm/gup.c}). VMA changes are planned on a {@link Layout}, a copy of the VMAs involved,
 * and committed at the end.
 *
 * <h3>Errors leave the mm unchanged</h3>
 * Every argument and every limit is checked before anything changes, in the kernel's order so
 * that the errno is the kernel's. Where Linux itself changes the mm before failing, the model
 * does not (and says so where it happens): {@code mprotect} over a hole or onto a VMA that forbids
 * the protection, and {@code mremap} with {@code MREMAP_FIXED} failing after its unmaps. The one
 * exception is {@code madvise}, which as in Linux applies the advice to every mapped part before
 * failing with ENOMEM for the unmapped ones.
 *
 * <h3>Locking</h3>
 * As the kernel: the mmap lock for write in {@code mmap} (populating afterwards under it for
 * read), {@code munmap} (downgraded to read for the zap and the page-table freeing),
 * {@code mprotect}, {@code mremap}, and {@code madvise} advice that changes VMA flags; for read
 * in {@code madvise} {@code DONTNEED}/{@code POPULATE_*}/no-op advice and in {@code mincore}.
 * <pre>
 * mmap_lock (write)                        every call that changes VMAs
 *   vma write lock (vma_start_write)       each VMA that changes, leaves or enters (Layout.commit)
 *     pte ptlock                           zap, change_protection, move_ptes (old, then new), mincore
 *       (TLB flush)                        under the PTE locks in move_ptes; after them elsewhere
 * </pre>
 * Every change to the VMA tree is one RCU publication ({@link MmStruct#replaceVmas}): a fault
 * under {@code lock_vma_under_rcu} sees the VMAs before the change or after it, and either way
 * finds the ones that change write-locked and falls back to the mmap lock, which waits.
 * Detached VMAs are freed a grace period later ({@link MmStruct#freeVma}).
 *
 * <h3>Kernel counterparts</h3>
 * <table>
 *   <caption>Kernel functions and where they are modelled</caption>
 *   <tr><th>kernel</th><th>here</th></tr>
 *   <tr><td>{@code ksys_mmap_pgoff}, {@code do_mmap}, {@code mmap_region}</td><td>{@link Mmap}</td></tr>
 *   <tr><td>{@code __get_unmapped_area}, {@code arch_get_unmapped_area_topdown},
 *       {@code vm_unmapped_area}, {@code thp_get_unmapped_area}</td><td>{@link UnmappedArea}</td></tr>
 *   <tr><td>{@code do_vmi_munmap}, {@code vms_gather_munmap_vmas}, {@code vms_clear_ptes},
 *       {@code vma_merge_new_range}, {@code vma_modify_flags}</td><td>{@link VmaOps}</td></tr>
 *   <tr><td>{@code __split_vma}, {@code vma_complete}</td><td>{@link Layout#splitBelow},
 *       {@link Layout#splitAbove}, {@link Layout#commit}</td></tr>
 *   <tr><td>{@code do_mprotect_pkey}, {@code mprotect_fixup}, {@code change_protection}</td>
 *       <td>{@link Mprotect}</td></tr>
 *   <tr><td>{@code mremap}, {@code mremap_to}, {@code vma_to_resize}, {@code move_vma},
 *       {@code move_page_tables}</td><td>{@link Mremap}</td></tr>
 *   <tr><td>{@code do_madvise}, {@code madvise_walk_vmas}, {@code madvise_dontneed_single_vma},
 *       {@code madvise_update_vma}</td><td>{@link Madvise}</td></tr>
 *   <tr><td>{@code __mm_populate}, {@code faultin_page_range}</td><td>{@link Populate}</td></tr>
 *   <tr><td>{@code mincore}, {@code do_mincore}, {@code mincore_pte_range}</td><td>{@link Mincore}</td></tr>
 * </table>
 *
 * <p>Immutable; safe to share between CPUs and processes.
 */
public final class MmSyscalls {
  /** The fault path (populate) and {@code zap}. Immutable. */
  private final Faults faults;
  /** The layout, sysctls and rlimits. Immutable. */
  private final MmapLimits limits;
  /** {@code shmem_zero_setup}; null until a file system provides it (then ENOMEM). Set once at boot. */
  private @Nullable SharedAnon sharedAnon;

  public MmSyscalls(Faults faults, MmapLimits limits) {
    this.faults = faults;
    this.limits = limits;
  }

  /** With {@link MmapLimits#DEFAULT}. */
  public MmSyscalls(Faults faults) {
    this(faults, MmapLimits.DEFAULT);
  }

  public Faults faults() {
    return faults;
  }

  public MmapLimits limits() {
    return limits;
  }

  /**
   * {@code mmap(addr, len, prot, flags, fd, off)}: maps {@code len} bytes (rounded up to pages)
   * of anonymous private memory and returns the address, or a negative errno. Private anonymous
   * only ({@code MAP_PRIVATE|MAP_ANONYMOUS}; {@code fd} and {@code off} are ignored, but
   * {@code off} must be page aligned). Without {@code MAP_FIXED} the address is the hint if the
   * range there is free (a hint below {@code mmap_min_addr} is raised to it), else the top of the
   * highest free gap below {@code mmap_base}; {@code MAP_FIXED} replaces whatever is there,
   * {@code MAP_FIXED_NOREPLACE} fails with EEXIST instead; {@code MAP_POPULATE} faults every page
   * in (write faults for a writable mapping). The new VMA merges with compatible neighbours.
   *
   * <p>EINVAL: length 0, offset not page aligned, map type neither {@code MAP_PRIVATE} nor
   * {@code MAP_SHARED} ({@code MAP_SHARED_VALIDATE} included), {@code MAP_FIXED} address not page
   * aligned. ENOMEM: length overflowing when rounded, no room, {@code MAP_FIXED} range beyond
   * {@code TASK_SIZE}, {@code map_count} above {@code vm.max_map_count}, a private writable
   * mapping larger than RAM (heuristic overcommit). EEXIST: {@code MAP_FIXED_NOREPLACE} over a
   * mapping. EPERM: a fixed address below {@code mmap_min_addr}. EBADF: no
   * {@code MAP_ANONYMOUS} (there are no files yet). EAGAIN: {@code MAP_LOCKED} beyond
   * {@code RLIMIT_MEMLOCK}.
   *
   * <p><b>ENODEV: not modelled yet</b>, for valid requests that need later layers:
   * {@code MAP_SHARED|MAP_ANONYMOUS} (shmem), {@code MAP_HUGETLB}, {@code MAP_DROPPABLE},
   * {@code MAP_GROWSDOWN}, {@code MAP_LOCKED}. See {@link Mmap}.
   */
  public long mmap(MmStruct mm, long addr, long len, int prot, int flags, int fd, long off) {
    return Mmap.mmap(mm, faults, limits, addr, len, prot, flags, null, sharedAnon, off);
  }

  /**
   * {@code mmap} of {@code file} (the {@code struct file} behind the descriptor; null for
   * {@code MAP_ANONYMOUS}, or for a descriptor that names no file: EBADF). File mappings follow
   * the same rules plus {@code do_mmap}'s file checks: EACCES for a map type or protection the
   * open mode does not allow (a shared writable mapping of a file not opened for writing; any
   * mapping of a file not opened for reading), EOVERFLOW for an offset whose mapped range would
   * end beyond {@code MAX_LFS_FILESIZE}, EOPNOTSUPP for {@code MAP_SHARED_VALIDATE} with flags it
   * does not know, EPERM for a shared writable mapping of a memfd sealed against writes. The
   * caller keeps its own reference on {@code file}; the VMA takes one.
   */
  public long mmap(MmStruct mm, long addr, long len, int prot, int flags, @Nullable MmapFile file, long off) {
    return Mmap.mmap(mm, faults, limits, addr, len, prot, flags, file, sharedAnon, off);
  }

  /** Installs the {@code shmem_zero_setup} of the kernel: shared anonymous mappings need shmem. */
  public void setSharedAnon(SharedAnon factory) {
    this.sharedAnon = factory;
  }

  /**
   * {@code munmap(addr, len)}: unmaps [addr, addr + len rounded up), splitting VMAs cut by the
   * range; unmapping nothing succeeds. Returns 0, or EINVAL (address not page aligned, length 0,
   * range beyond {@code TASK_SIZE}), or ENOMEM (a split of one VMA into three with
   * {@code map_count} at {@code vm.max_map_count}).
   */
  public long munmap(MmStruct mm, long addr, long len) {
    mm.mmapWriteLock();
    long r = VmaOps.doVmiMunmap(mm, faults, limits, addr, len, true);
    if (r != 0) {
      mm.mmapWriteUnlock();
    }
    return r;
  }

  /**
   * {@code mprotect(addr, len, prot)}: gives every page of the range the protection
   * {@code prot}, splitting and merging VMAs; existing PTEs lose write (or all) access at once,
   * under their PTE lock, flushed from every TLB before the call returns. Returns 0 (also for
   * length 0), or EINVAL (address not page aligned, unknown {@code prot} bits, both
   * {@code PROT_GROWSDOWN} and {@code PROT_GROWSUP}, or either of them where no growing VMA is),
   * ENOMEM (part of the range not mapped, the range wrapping, a split over
   * {@code vm.max_map_count}, a private mapping made writable larger than RAM), EACCES (a VMA
   * whose {@code VM_MAY*} bits forbid {@code prot}). On failure nothing has changed; see
   * {@link Mprotect} for where Linux differs.
   */
  public long mprotect(MmStruct mm, long addr, long len, int prot) {
    return Mprotect.mprotect(mm, limits, addr, len, prot);
  }

  /**
   * {@code mremap(old, oldLen, newLen, flags, newAddr)}: shrinks, grows in place, or moves (with
   * {@code MREMAP_MAYMOVE}; to {@code newAddr} with {@code MREMAP_FIXED}; keeping the old VMA with
   * {@code MREMAP_DONTUNMAP}) the mapping at {@code old}, contents intact. Returns the (new)
   * address, or EINVAL (unknown flags, {@code MREMAP_FIXED} or {@code MREMAP_DONTUNMAP} without
   * {@code MREMAP_MAYMOVE}, {@code MREMAP_DONTUNMAP} with a length change, {@code old} or
   * {@code newAddr} not page aligned, {@code newLen} 0, overlapping old and new ranges, a new range
   * beyond {@code TASK_SIZE}, {@code oldLen} 0 for a private mapping), EFAULT (no VMA at
   * {@code old}, or the old range not inside it when growing or moving), ENOMEM (cannot grow in
   * place without {@code MREMAP_MAYMOVE}, no room, map count within 4 of the limit), EPERM (a fixed
   * new address below {@code mmap_min_addr}). See {@link Mremap}.
   */
  public long mremap(MmStruct mm, long oldAddr, long oldLen, long newLen, int flags, long newAddr) {
    return Mremap.mremap(mm, faults, limits, oldAddr, oldLen, newLen, flags, newAddr);
  }

  /**
   * {@code madvise(addr, len, advice)}: {@code MADV_DONTNEED} zaps (the next read sees zeros),
   * {@code MADV_POPULATE_READ/WRITE} fault in, {@code MADV_RANDOM}/{@code SEQUENTIAL} and the
   * other flag advice set {@code VM_*} flags, the rest are accepted and do nothing. Returns 0, or
   * EINVAL (unknown advice, address not page aligned, a length wrapping; {@code REMOVE} and
   * {@code COLLAPSE} on anonymous memory; {@code POPULATE_*} without the access), ENOMEM (part of
   * the range not mapped, after applying the advice to the rest; out of memory while populating),
   * EFAULT (populating would have raised a signal), EAGAIN (a split over
   * {@code vm.max_map_count}). See {@link Madvise}.
   */
  public long madvise(MmStruct mm, long addr, long len, int advice) {
    return Madvise.madvise(mm, faults, limits, addr, len, advice);
  }

  /**
   * {@code mincore(addr, len, vec)}: fills {@code vec[i]} with 1 if page {@code i} of the range
   * is resident (a present PTE, the zero page included) and 0 if not (never touched, or zapped).
   * Returns 0, or EINVAL (address not page aligned), ENOMEM (range beyond {@code TASK_SIZE}, or a
   * page not mapped: {@code vec} is filled up to it), EFAULT ({@code vec} shorter than the range's
   * pages). See {@link Mincore}.
   */
  public long mincore(MmStruct mm, long addr, long len, byte[] vec) {
    return Mincore.mincore(mm, limits, addr, len, vec);
  }
}
