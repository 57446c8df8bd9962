package org.mmlab.mm.memory;

import org.mmlab.kernel.Uapi;

/**
 * What a user fault ends with: handled (the access is retried), or a signal with its
 * {@code si_code}, or out of memory ({@code VM_FAULT_OOM}; the model has no OOM killer, so the
 * access fails with SIGBUS, as a fault that cannot allocate does for a task without one).
 */
public enum FaultResult {
  /** The fault was handled; retry the access. */
  HANDLED(0, 0),
  /** No VMA there: SIGSEGV with SEGV_MAPERR. */
  SEGV_MAPERR(Uapi.SIGSEGV, Uapi.SEGV_MAPERR),
  /** A VMA whose protection forbids the access: SIGSEGV with SEGV_ACCERR. */
  SEGV_ACCERR(Uapi.SIGSEGV, Uapi.SEGV_ACCERR),
  /** An access the mapping cannot back (beyond a file's end): SIGBUS with BUS_ADRERR. */
  SIGBUS(Uapi.SIGBUS, Uapi.BUS_ADRERR),
  /** No memory for a page or a page table. */
  OOM(Uapi.SIGBUS, Uapi.BUS_ADRERR),
  /**
   * {@code VM_FAULT_RETRY}: a speculative fault found the mm changed and gave up, or a file's
   * fault handler released the fault's lock to sleep ({@code shmem_falloc_wait}); the fault is
   * handled again under the mmap lock. Never returned by {@code Faults.userFault}.
   */
  RETRY(0, 0);

  private final int signal;
  private final int code;

  FaultResult(int signal, int code) {
    this.signal = signal;
    this.code = code;
  }

  public int signal() {
    return signal;
  }

  public int code() {
    return code;
  }
}
