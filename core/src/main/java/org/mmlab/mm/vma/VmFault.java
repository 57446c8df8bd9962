package org.mmlab.mm.vma;

/**
 * The part of the kernel's {@code struct vm_fault} a file's fault handler needs to decide whether
 * it may sleep with the fault's lock dropped: the VMA, which lock the fault holds
 * ({@code FAULT_FLAG_VMA_LOCK}: the VMA's read lock; else {@code mmap_lock} for read) and whether
 * the caller can start the fault over ({@code FAULT_FLAG_ALLOW_RETRY}, set by
 * {@code do_user_addr_fault}; not by {@code MAP_POPULATE}/{@code MADV_POPULATE} here).
 *
 * <p>A handler that must wait ({@code shmem_falloc_wait}) calls {@link #releaseFaultLock} when
 * {@link #allowRetry} and then returns {@code VM_FAULT_RETRY}: the caller must not unlock again,
 * and starts the fault over under {@code mmap_lock} ({@code maybe_unlock_mmap_for_io},
 * {@code release_fault_lock}). Confined to the faulting CPU.
 */
public final class VmFault {
  /** {@code FAULT_FLAG_ALLOW_RETRY}: the handler may drop the fault's lock and ask for a retry. */
  public static final int ALLOW_RETRY = 1;
  /** {@code FAULT_FLAG_VMA_LOCK}: the fault holds the VMA's read lock, not {@code mmap_lock}. */
  public static final int VMA_LOCK = 2;

  private final Vma vma;
  private final boolean vmaLock;
  private final boolean allowRetry;
  private boolean released;

  /**
   * The fault on {@code vma} with {@code flags} ({@link #ALLOW_RETRY}, {@link #VMA_LOCK}; 0 for a
   * fault under {@code mmap_lock} that cannot be retried: populate, or a holder of it for write).
   */
  public VmFault(Vma vma, int flags) {
    this.vma = vma;
    this.vmaLock = (flags & VMA_LOCK) != 0;
    this.allowRetry = (flags & ALLOW_RETRY) != 0;
  }

  public Vma vma() {
    return vma;
  }

  /** {@code FAULT_FLAG_ALLOW_RETRY} (and not {@code FAULT_FLAG_RETRY_NOWAIT}). */
  public boolean allowRetry() {
    return allowRetry;
  }

  /** True once {@link #releaseFaultLock} ran: the fault holds no lock of the mm any more. */
  public boolean released() {
    return released;
  }

  /**
   * {@code release_fault_lock}: drops the VMA's read lock or {@code mmap_lock}, whichever the
   * fault holds. Only with {@link #allowRetry}, once.
   */
  public void releaseFaultLock() {
    if (!allowRetry || released) {
      throw new IllegalStateException("release_fault_lock without FAULT_FLAG_ALLOW_RETRY, or twice");
    }
    released = true;
    if (vmaLock) {
      vma.mm().vmaEndRead(vma);
    } else {
      vma.mm().mmapReadUnlock();
    }
  }
}
