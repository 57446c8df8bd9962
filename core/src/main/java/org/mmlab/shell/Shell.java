package org.mmlab.shell;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.mmlab.explore.NativeSched;
import org.mmlab.kernel.Errno;
import org.mmlab.kernel.Kernel;
import org.mmlab.kernel.KernelConfig;
import org.mmlab.kernel.Process;
import org.mmlab.kernel.Signal;
import org.mmlab.kernel.Uapi;
import org.mmlab.mm.vma.VmFlags;
import org.mmlab.mm.vma.Vma;
import org.mmlab.mm.vma.VmaTree;

/**
 * The xfs_io-style interpreter over the syscall surface ({@code mmlab shell}): one command per
 * line, {@code #} starts a comment, every command prints exactly one result line (a {@code cat}
 * prints its file first). The grammar is {@link Command}'s table, mirrored in
 * {@code docs/SHELL.md}.
 *
 * <h2>Result lines</h2>
 * <ul>
 *   <li>{@code = VALUE}: success; addresses in lower-case 0x-hex, counts and pids in decimal.</li>
 *   <li>{@code = -1 ERRNO}: the syscall failed, with errno by its Linux name.</li>
 *   <li>{@code = SIGSEGV SEGV_MAPERR 0xADDR}, {@code SEGV_ACCERR}, {@code SIGBUS BUS_ADRERR}: an
 *       access faulted; ADDR is the first byte not accessed (bytes before it were written, or
 *       read and not printed).</li>
 *   <li>{@code = ERROR message}: the line itself is malformed (unknown command, wrong number of
 *       arguments, a bad number, PROT, flag or advice name). Nothing ran. Kept apart from
 *       {@code = -1 EINVAL}, which only the kernel returns.</li>
 * </ul>
 * Blank and comment-only lines print nothing.
 *
 * <p>The shell boots a native kernel ({@link KernelConfig#DEFAULT}) with one process, pid 1,
 * current, and runs every command on the calling thread's CPU.
 */
public final class Shell {
  /** The largest LEN {@code read} accepts (the bytes are held in memory to be printed). */
  public static final long MAX_READ = 1L << 30;
  /** The largest number of pages {@code pagemap} prints in one command. */
  public static final long MAX_PAGEMAP_PAGES = 4096;
  /** The largest number of pages {@code mincore} reports in one command. */
  public static final long MAX_MINCORE_PAGES = 1L << 24;

  private final Kernel kernel;
  /** The process commands act on. Changed by {@code use}. */
  private Process current;

  /** A shell over {@code kernel}, spawning pid 1 (the kernel must have no process yet). */
  public Shell(Kernel kernel) {
    this.kernel = kernel;
    Process p = kernel.spawn();
    if (p == null) {
      throw new IllegalStateException("no memory for process 1");
    }
    this.current = p;
  }

  /** A shell over a fresh native kernel with the default configuration. */
  public Shell() {
    this(new Kernel(new NativeSched(), KernelConfig.DEFAULT));
  }

  public Kernel kernel() {
    return kernel;
  }

  public Process current() {
    return current;
  }

  /** Runs every line of {@code in}, printing to {@code out}. */
  public void run(BufferedReader in, PrintStream out) throws IOException {
    String line;
    while ((line = in.readLine()) != null) {
      String r = execute(line);
      if (r != null) {
        out.print(r);
      }
    }
    out.flush();
  }

  /** Runs a whole script and returns what it printed. */
  public String runScript(String script) {
    StringBuilder sb = new StringBuilder();
    for (String line : script.split("\n", -1)) {
      String r = execute(line);
      if (r != null) {
        sb.append(r);
      }
    }
    return sb.toString();
  }

  /** Runs one line; returns its output (ending in a newline), or null for a blank or comment line. */
  public @Nullable String execute(String line) {
    int hash = line.indexOf('#');
    String text = (hash >= 0 ? line.substring(0, hash) : line).trim();
    if (text.isEmpty()) {
      return null;
    }
    List<String> words = Arrays.asList(text.split("\\s+"));
    Command c = Command.of(words.get(0));
    if (c == null) {
      return "= ERROR unknown command " + words.get(0) + "\n";
    }
    List<String> args = words.subList(1, words.size());
    try {
      return run(c, args) + "\n";
    } catch (Usage e) {
      return "= ERROR " + e.getMessage() + "\n";
    } catch (IllegalArgumentException e) {
      return "= ERROR " + e.getMessage() + "; usage: " + c.usage() + "\n";
    }
  }

  /** A malformed line: the message is printed after {@code = ERROR}. */
  static final class Usage extends RuntimeException {
    Usage(String message) {
      super(message, null, false, false);
    }
  }

  private String run(Command c, List<String> a) {
    return switch (c) {
      case MMAP -> {
        count(c, a, 4, 6);
        if (a.size() == 5) {
          throw usage(c);
        }
        long fd = a.size() == 6 ? Numbers.parse(a.get(4)) : -1;
        long off = a.size() == 6 ? Numbers.parse(a.get(5)) : 0;
        yield address(current.mmap(num(a, 0), num(a, 1), prot(a.get(2)), (int) flags(a.get(3), MMAP_FLAGS), (int) fd,
            off));
      }
      case MUNMAP -> {
        count(c, a, 2, 2);
        yield value(current.munmap(num(a, 0), num(a, 1)));
      }
      case MPROTECT -> {
        count(c, a, 3, 3);
        yield value(current.mprotect(num(a, 0), num(a, 1), prot(a.get(2))));
      }
      case MREMAP -> mremap(c, a);
      case MADVISE -> {
        count(c, a, 3, 3);
        yield value(current.madvise(num(a, 0), num(a, 1), advice(a.get(2))));
      }
      case MINCORE -> mincore(c, a);
      case PAGEMAP -> {
        count(c, a, 2, 2);
        long pages = num(a, 1);
        if (pages < 0 || pages > MAX_PAGEMAP_PAGES) {
          throw new Usage("pagemap PAGES must be between 0 and " + MAX_PAGEMAP_PAGES + ": " + a.get(1));
        }
        StringBuilder sb = new StringBuilder("=");
        for (long e : kernel.proc().pagemap(current, num(a, 0), (int) pages)) {
          sb.append(' ').append(Numbers.hex(e));
        }
        yield sb.toString();
      }
      case WRITE -> {
        count(c, a, 3, 3);
        long len = num(a, 1);
        if (len < 0) {
          throw new Usage("negative length " + a.get(1));
        }
        Signal s = current.fill(num(a, 0), len, (byte) num(a, 2));
        yield s == null ? "= 0" : "= " + s;
      }
      case READ -> read(c, a);
      case MAPS -> {
        count(c, a, 0, 0);
        StringBuilder sb = new StringBuilder("=");
        for (VmaTree.Entry<Vma> e : current.mm().tree().peek().all()) {
          sb.append(' ').append(Numbers.hex(e.start())).append('-').append(Numbers.hex(e.end())).append(' ')
              .append(VmFlags.perms(e.value().peekFlags()));
        }
        yield sb.toString();
      }
      case SPAWN -> {
        count(c, a, 0, 0);
        Process p = kernel.spawn();
        yield p == null ? "= -1 " + Errno.ENOMEM.name() : "= " + p.pid();
      }
      case USE -> {
        count(c, a, 1, 1);
        long pid = num(a, 0);
        Process p = pid == (int) pid ? kernel.process((int) pid) : null;
        if (p == null) {
          yield "= -1 " + Errno.ESRCH.name();
        }
        current = p;
        yield "= 0";
      }
      case CAT -> {
        count(c, a, 1, 1);
        String file = kernel.proc().read(a.get(0));
        yield file == null ? "= -1 " + Errno.ENOENT.name() : file + "= 0";
      }
      case OPEN, MEMFD, CLOSE, FTRUNCATE, PWRITE, PREAD, FALLOCATE, LSEEK, FSTAT, ADD_SEALS, GET_SEALS, UNLINK -> {
        count(c, a, ShellFiles.minArgs(c), ShellFiles.maxArgs(c));
        yield ShellFiles.run(current, c, a);
      }
    };
  }

  private String mremap(Command c, List<String> a) {
    count(c, a, 3, 5);
    long flags = a.size() >= 4 ? flags(a.get(3), MREMAP_FLAGS) : 0;
    boolean fixed = (flags & Uapi.MREMAP_FIXED) != 0;
    if (fixed != (a.size() == 5)) {
      throw new Usage(fixed ? "mremap with fixed needs NEWADDR" : "NEWADDR is given only with fixed");
    }
    long newAddr = fixed ? num(a, 4) : 0;
    return address(current.mremap(num(a, 0), num(a, 1), num(a, 2), (int) flags, newAddr));
  }

  private String mincore(Command c, List<String> a) {
    count(c, a, 2, 2);
    long len = num(a, 1);
    long pages = Long.compareUnsigned(len, -Uapi.PAGE_SIZE) > 0 ? Long.MAX_VALUE
        : Long.divideUnsigned(len + Uapi.PAGE_SIZE - 1, Uapi.PAGE_SIZE);
    byte[] vec = new byte[(int) Math.min(pages, MAX_MINCORE_PAGES)];
    long r = current.mincore(num(a, 0), len, vec);
    if (Errno.isError(r)) {
      return value(r);
    }
    StringBuilder sb = new StringBuilder("= ").append(r);
    if (vec.length > 0) {
      sb.append(' ');
      for (byte b : vec) {
        sb.append((char) ('0' + (b & 1)));
      }
    }
    return sb.toString();
  }

  private String read(Command c, List<String> a) {
    count(c, a, 2, 2);
    long len = num(a, 1);
    if (len < 0 || len > MAX_READ) {
      throw new Usage("read LEN must be between 0 and " + MAX_READ + ": " + a.get(1));
    }
    Process.Read r = current.read(num(a, 0), (int) len);
    if (r.signal() != null) {
      return "= " + r.signal();
    }
    String runs = Numbers.runLength(r.data(), r.count());
    return runs.isEmpty() ? "=" : "= " + runs;
  }

  // ------------------------------------------------------------ results

  /** {@code = 0x...} for an address, or the errno line. */
  private static String address(long r) {
    return Errno.isError(r) ? errno(r) : "= " + Numbers.hex(r);
  }

  /** {@code = N} in decimal, or the errno line. */
  static String value(long r) {
    return Errno.isError(r) ? errno(r) : "= " + Numbers.dec(r);
  }

  static String errno(long r) {
    int v = (int) -r;
    return "= -1 " + Errno.of(v).map(Enum::name).orElse("E" + v);
  }

  // ------------------------------------------------------------ arguments

  private static void count(Command c, List<String> a, int min, int max) {
    if (a.size() < min || a.size() > max) {
      throw usage(c);
    }
  }

  private static Usage usage(Command c) {
    return new Usage("usage: " + c.usage());
  }

  private static long num(List<String> a, int i) {
    return Numbers.parse(a.get(i));
  }

  /** PROT: {@code none}, letters of {@code rwx} (each at most once), or a number. */
  static int prot(String s) {
    if (s.equals("none")) {
      return Uapi.PROT_NONE;
    }
    if (isNumber(s)) {
      return (int) Numbers.parse(s);
    }
    int p = 0;
    for (char ch : s.toCharArray()) {
      int bit = switch (ch) {
        case 'r' -> Uapi.PROT_READ;
        case 'w' -> Uapi.PROT_WRITE;
        case 'x' -> Uapi.PROT_EXEC;
        default -> throw new Usage("bad PROT " + s + ": none, or letters of rwx");
      };
      if ((p & bit) != 0) {
        throw new Usage("bad PROT " + s + ": a letter twice");
      }
      p |= bit;
    }
    return p;
  }

  private static final List<Named> MMAP_FLAGS = List.of(new Named("private", Uapi.MAP_PRIVATE),
      new Named("shared", Uapi.MAP_SHARED), new Named("anon", Uapi.MAP_ANONYMOUS), new Named("fixed", Uapi.MAP_FIXED),
      new Named("noreplace", Uapi.MAP_FIXED_NOREPLACE), new Named("populate", Uapi.MAP_POPULATE),
      new Named("norsv", Uapi.MAP_NORESERVE));

  private static final List<Named> MREMAP_FLAGS = List.of(new Named("maymove", Uapi.MREMAP_MAYMOVE),
      new Named("fixed", Uapi.MREMAP_FIXED), new Named("dontunmap", Uapi.MREMAP_DONTUNMAP));

  record Named(String name, long value) {}

  /** A {@code |}-joined list of names from {@code table} or numbers, OR-ed. */
  static long flags(String s, List<Named> table) {
    long f = 0;
    for (String part : s.split("\\|", -1)) {
      f |= named(part, table, "flag");
    }
    return f;
  }

  static long named(String word, List<Named> table, String what) {
    if (isNumber(word)) {
      return Numbers.parse(word);
    }
    for (Named n : table) {
      if (n.name.equals(word)) {
        return n.value;
      }
    }
    List<String> names = new ArrayList<>();
    table.forEach(n -> names.add(n.name));
    throw new Usage("unknown " + what + " " + (word.isEmpty() ? "''" : word) + "; one of " + String.join(" ", names)
        + " or a number");
  }

  /** MADV_ names, lower case without the prefix, with Linux's values. */
  private static final List<Named> ADVICE = List.of(new Named("normal", Uapi.MADV_NORMAL),
      new Named("random", Uapi.MADV_RANDOM), new Named("sequential", Uapi.MADV_SEQUENTIAL),
      new Named("willneed", Uapi.MADV_WILLNEED), new Named("dontneed", Uapi.MADV_DONTNEED),
      new Named("free", Uapi.MADV_FREE), new Named("remove", Uapi.MADV_REMOVE),
      new Named("dontfork", Uapi.MADV_DONTFORK), new Named("dofork", Uapi.MADV_DOFORK),
      new Named("mergeable", Uapi.MADV_MERGEABLE), new Named("unmergeable", Uapi.MADV_UNMERGEABLE),
      new Named("hugepage", Uapi.MADV_HUGEPAGE), new Named("nohugepage", Uapi.MADV_NOHUGEPAGE),
      new Named("dontdump", Uapi.MADV_DONTDUMP), new Named("dodump", Uapi.MADV_DODUMP),
      new Named("wipeonfork", Uapi.MADV_WIPEONFORK), new Named("keeponfork", Uapi.MADV_KEEPONFORK),
      new Named("cold", Uapi.MADV_COLD), new Named("pageout", Uapi.MADV_PAGEOUT),
      new Named("populate_read", Uapi.MADV_POPULATE_READ), new Named("populate_write", Uapi.MADV_POPULATE_WRITE),
      new Named("dontneed_locked", Uapi.MADV_DONTNEED_LOCKED), new Named("collapse", Uapi.MADV_COLLAPSE));

  static int advice(String s) {
    return (int) named(s, ADVICE, "advice");
  }

  private static boolean isNumber(String s) {
    return !s.isEmpty() && (Character.isDigit(s.charAt(0)) || s.charAt(0) == '-');
  }

  @Override
  public String toString() {
    return "shell(" + kernel + ", current pid " + current.pid() + ")";
  }
}
