package org.mmlab.kernel;

import java.util.Optional;

/**
 * Error numbers, with Linux's values and names ({@code include/uapi/asm-generic/errno-base.h},
 * {@code errno.h}). A syscall returns {@code -errno} on failure, as the kernel's entry points
 * do; the shell prints {@code = -1 NAME} as a C program's {@code errno} would show it.
 */
public enum Errno {
  EPERM(1), ENOENT(2), ESRCH(3), EINTR(4), EIO(5), ENXIO(6), E2BIG(7), ENOEXEC(8), EBADF(9), ECHILD(10),
  EAGAIN(11), ENOMEM(12), EACCES(13), EFAULT(14), ENOTBLK(15), EBUSY(16), EEXIST(17), EXDEV(18), ENODEV(19),
  ENOTDIR(20), EISDIR(21), EINVAL(22), ENFILE(23), EMFILE(24), ENOTTY(25), ETXTBSY(26), EFBIG(27), ENOSPC(28),
  ESPIPE(29), EROFS(30), EMLINK(31), EPIPE(32), EDOM(33), ERANGE(34), ENAMETOOLONG(36), ENOSYS(38),
  ENOTEMPTY(39), ELOOP(40), EOVERFLOW(75), EOPNOTSUPP(95);

  private final int value;

  Errno(int value) {
    this.value = value;
  }

  /** The positive errno value. */
  public int value() {
    return value;
  }

  /** What a syscall returns: {@code -value}. */
  public long ret() {
    return -value;
  }

  /** The errno for a positive value, if Linux defines one the model uses. */
  public static Optional<Errno> of(int value) {
    for (Errno e : values()) {
      if (e.value == value) {
        return Optional.of(e);
      }
    }
    return Optional.empty();
  }

  /** True if a syscall return value is an error ({@code -4095 <= ret < 0}, {@code IS_ERR_VALUE}). */
  public static boolean isError(long ret) {
    return ret < 0 && ret >= -4095;
  }
}
