package org.mmlab.mm.mmap;

import org.mmlab.kernel.Errno;

/**
 * An errno raised inside the address-space calls and turned into their negative return value at
 * the entry point ({@link MmSyscalls}); never escapes the package. The kernel returns the error
 * up the call chain; here the checks that fail sit several calls deep in the planning code, and
 * nothing has been changed when they fail, so unwinding is all there is to do. No stack trace:
 * it is control flow, not a bug.
 */
final class MmError extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** The error. Immutable. */
  final Errno errno;

  MmError(Errno errno) {
    super(errno.name(), null, false, false);
    this.errno = errno;
  }

  /** Throws {@code errno} unless {@code ok}. */
  static void check(boolean ok, Errno errno) {
    if (!ok) {
      throw new MmError(errno);
    }
  }
}
