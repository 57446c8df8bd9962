package org.mmlab.shell;

import java.util.List;
import org.mmlab.kernel.Errno;
import org.mmlab.kernel.Process;
import org.mmlab.kernel.Uapi;
import org.mmlab.shell.Shell.Named;
import org.mmlab.shell.Shell.Usage;

/**
 * The shell's file commands ({@code open}, {@code memfd}, {@code close}, {@code ftruncate},
 * {@code pwrite}, {@code pread}, {@code fallocate}, {@code lseek}, {@code fstat},
 * {@code add_seals}, {@code get_seals}, {@code unlink}); their grammar is in {@link Command}.
 * Stateless.
 */
final class ShellFiles {
  private ShellFiles() {}

  /** The largest {@code pread} or {@code pwrite} length the shell accepts. */
  static final long MAX_IO = 64L << 20;

  static int minArgs(Command c) {
    return switch (c) {
      case OPEN -> 2;
      case MEMFD, CLOSE, FSTAT, GET_SEALS, UNLINK -> 1;
      case FTRUNCATE, ADD_SEALS -> 2;
      case PREAD, LSEEK -> 3;
      case PWRITE, FALLOCATE -> 4;
      default -> throw new IllegalArgumentException(c.word());
    };
  }

  static int maxArgs(Command c) {
    return switch (c) {
      case OPEN -> 3;
      case MEMFD -> 2;
      default -> minArgs(c);
    };
  }

  private static final List<Named> OPEN_FLAGS = List.of(new Named("rdonly", Uapi.O_RDONLY),
      new Named("wronly", Uapi.O_WRONLY), new Named("rdwr", Uapi.O_RDWR), new Named("creat", Uapi.O_CREAT),
      new Named("excl", Uapi.O_EXCL), new Named("trunc", Uapi.O_TRUNC), new Named("append", Uapi.O_APPEND),
      new Named("cloexec", Uapi.O_CLOEXEC));

  private static final List<Named> MFD_FLAGS = List.of(new Named("cloexec", Uapi.MFD_CLOEXEC),
      new Named("allow_sealing", Uapi.MFD_ALLOW_SEALING));

  private static final List<Named> FALLOC_MODES = List.of(new Named("keep_size", Uapi.FALLOC_FL_KEEP_SIZE),
      new Named("punch_hole", Uapi.FALLOC_FL_PUNCH_HOLE));

  private static final List<Named> WHENCE = List.of(new Named("set", Uapi.SEEK_SET), new Named("cur", Uapi.SEEK_CUR),
      new Named("end", Uapi.SEEK_END), new Named("data", Uapi.SEEK_DATA), new Named("hole", Uapi.SEEK_HOLE));

  /** Seal names in bit order: {@code get_seals} prints them in this order. */
  private static final List<Named> SEALS = List.of(new Named("seal", Uapi.F_SEAL_SEAL),
      new Named("shrink", Uapi.F_SEAL_SHRINK), new Named("grow", Uapi.F_SEAL_GROW),
      new Named("write", Uapi.F_SEAL_WRITE), new Named("future_write", Uapi.F_SEAL_FUTURE_WRITE),
      new Named("exec", Uapi.F_SEAL_EXEC));

  static String run(Process p, Command c, List<String> a) {
    return switch (c) {
      case OPEN -> {
        int mode = a.size() == 3 ? (int) Numbers.parse(a.get(2)) : 0644;
        yield Shell.value(p.open(a.get(0), (int) Shell.flags(a.get(1), OPEN_FLAGS), mode));
      }
      case MEMFD -> {
        int flags = a.size() == 2 ? (int) Shell.flags(a.get(1), MFD_FLAGS) : 0;
        yield Shell.value(p.memfdCreate(a.get(0), flags));
      }
      case CLOSE -> Shell.value(p.close(fd(a, 0)));
      case FTRUNCATE -> Shell.value(p.ftruncate(fd(a, 0), Numbers.parse(a.get(1))));
      case PWRITE -> {
        byte[] data = new byte[length(a.get(2))];
        java.util.Arrays.fill(data, (byte) Numbers.parse(a.get(3)));
        yield Shell.value(p.pwrite(fd(a, 0), data, Numbers.parse(a.get(1))));
      }
      case PREAD -> {
        byte[] buf = new byte[length(a.get(2))];
        long r = p.pread(fd(a, 0), buf, Numbers.parse(a.get(1)));
        if (Errno.isError(r)) {
          yield Shell.errno(r);
        }
        String runs = Numbers.runLength(buf, (int) r);
        yield runs.isEmpty() ? "=" : "= " + runs;
      }
      case FALLOCATE -> {
        int mode = a.get(1).equals("0") ? 0 : (int) Shell.flags(a.get(1), FALLOC_MODES);
        yield Shell.value(p.fallocate(fd(a, 0), mode, Numbers.parse(a.get(2)), Numbers.parse(a.get(3))));
      }
      case LSEEK -> Shell.value(p.lseek(fd(a, 0), Numbers.parse(a.get(1)),
          (int) Shell.named(a.get(2), WHENCE, "whence")));
      case FSTAT -> {
        long[] st = new long[4];
        long r = p.fstat(fd(a, 0), st);
        yield Errno.isError(r) ? Shell.errno(r) : "= size=" + st[0] + " blocks=" + st[1];
      }
      case ADD_SEALS -> Shell.value(p.fcntl(fd(a, 0), Uapi.F_ADD_SEALS, Shell.flags(a.get(1), SEALS)));
      case GET_SEALS -> {
        long r = p.fcntl(fd(a, 0), Uapi.F_GET_SEALS, 0);
        yield Errno.isError(r) ? Shell.errno(r) : "= " + sealNames(r);
      }
      case UNLINK -> Shell.value(p.unlink(a.get(0)));
      default -> throw new IllegalArgumentException(c.word());
    };
  }

  /** {@code seal|shrink|...} in bit order, unknown bits as a number, {@code 0} for none. */
  static String sealNames(long seals) {
    if (seals == 0) {
      return "0";
    }
    StringBuilder sb = new StringBuilder();
    long rest = seals;
    for (Named n : SEALS) {
      if ((seals & n.value()) != 0) {
        sb.append(sb.isEmpty() ? "" : "|").append(n.name());
        rest &= ~n.value();
      }
    }
    if (rest != 0) {
      sb.append(sb.isEmpty() ? "" : "|").append(Numbers.hex(rest));
    }
    return sb.toString();
  }

  private static int fd(List<String> a, int i) {
    long v = Numbers.parse(a.get(i));
    return v == (int) v ? (int) v : -1;
  }

  private static int length(String s) {
    long len = Numbers.parse(s);
    if (len < 0 || len > MAX_IO) {
      throw new Usage("LEN must be between 0 and " + MAX_IO + ": " + s);
    }
    return (int) len;
  }
}
