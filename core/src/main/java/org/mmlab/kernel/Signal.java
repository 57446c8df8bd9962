package org.mmlab.kernel;

import java.util.Locale;
import org.mmlab.mm.memory.FaultResult;

/**
 * A signal delivered for a user access the kernel could not satisfy: {@code SIGSEGV} or
 * {@code SIGBUS} with its {@code si_code} and {@code si_addr}, the first byte that faulted.
 *
 * @param signo {@link Uapi#SIGSEGV} or {@link Uapi#SIGBUS}
 * @param code {@code si_code}: {@link Uapi#SEGV_MAPERR}, {@link Uapi#SEGV_ACCERR} or
 *     {@link Uapi#BUS_ADRERR}
 * @param address {@code si_addr}
 */
public record Signal(int signo, int code, long address) {

  /** The signal a fault result that is not {@code HANDLED} delivers at {@code address}. */
  public static Signal of(FaultResult r, long address) {
    if (r == FaultResult.HANDLED) {
      throw new IllegalArgumentException("a handled fault delivers no signal");
    }
    return new Signal(r.signal(), r.code(), address);
  }

  /** {@code "SIGSEGV"} or {@code "SIGBUS"}. */
  public String signalName() {
    return switch (signo) {
      case Uapi.SIGSEGV -> "SIGSEGV";
      case Uapi.SIGBUS -> "SIGBUS";
      default -> "SIG" + signo;
    };
  }

  /** {@code "SEGV_MAPERR"}, {@code "SEGV_ACCERR"}, {@code "BUS_ADRERR"}. */
  public String codeName() {
    if (signo == Uapi.SIGSEGV) {
      return switch (code) {
        case Uapi.SEGV_MAPERR -> "SEGV_MAPERR";
        case Uapi.SEGV_ACCERR -> "SEGV_ACCERR";
        default -> "SEGV_" + code;
      };
    }
    return switch (code) {
      case Uapi.BUS_ADRALN -> "BUS_ADRALN";
      case Uapi.BUS_ADRERR -> "BUS_ADRERR";
      default -> "BUS_" + code;
    };
  }

  /** {@code "SIGSEGV SEGV_ACCERR 0x7f0000"}: the shell's form. */
  @Override
  public String toString() {
    return signalName() + " " + codeName() + " 0x" + Long.toHexString(address).toLowerCase(Locale.ROOT);
  }
}
