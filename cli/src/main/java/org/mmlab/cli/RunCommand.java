package org.mmlab.cli;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.mmlab.explore.NativeSched;
import org.mmlab.explore.report.Json;
import org.mmlab.kernel.Kernel;
import org.mmlab.kernel.KernelConfig;
import org.mmlab.kernel.Process;
import org.mmlab.kernel.Signal;
import org.mmlab.kernel.Uapi;
import org.mmlab.mm.memory.FaultLocking;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code mmlab run page-fault}: will-it-scale's {@code page_fault1} on real threads against one
 * natively booted model kernel. Each thread is attached as a CPU and, by default, runs its own
 * process (page_fault1's "processes" mode; {@code --same-mm}: one process shared by every thread,
 * its "threads" mode). The loop: mmap 128 MiB anonymous private read-write, store one byte per
 * 4 KiB page (each store is one write fault), munmap, repeat until the time is up (a loop cut by
 * the deadline is unmapped too; only pages written count). Then every process exits and
 * /proc/meminfo's MemFree must be back to its value at boot.
 *
 * <p>{@code page-fault3} is will-it-scale's {@code page_fault3}: the same loop on a 128 MiB
 * tmpfs file mapped MAP_SHARED (see {@link #loopShared}); {@code file-rw} is {@link FileRw}.
 *
 * <p>With {@code --warmup W} every thread first runs the same loop for W seconds that are not
 * counted (the JIT compiles the fault path meanwhile; the kernel's C counterpart needs none),
 * then the S measured seconds; vmstat {@code pgfault} is reported net of the warm-up's faults.
 *
 * <p>Worker i is pinned to the i-th host CPU the process may use, as will-it-scale pins its
 * tasks ({@link Affinity}; {@code --no-pin} leaves them to the host scheduler).
 *
 * <p>Exit 0 on success; 1 if a thread failed (exception, signal, syscall error) or frames were not
 * all returned; 2 on usage errors.
 */
@Command(name = "run", description = "Run a native workload on real threads: page-fault, page-fault3 (will-it-scale) or file-rw.")
final class RunCommand implements Callable<Integer> {
  /** page_fault1's mapping size. */
  static final long MEMSIZE = 128L << 20;
  /** How many pages a thread writes between looks at the clock. */
  private static final int CLOCK_EVERY = 256;
  /** The kernel's vmstat work runs every second on each CPU ({@code sysctl_stat_interval}); each worker does it in its loop. */
  private static final long VMSTAT_INTERVAL = 1_000_000_000L;

  @Parameters(index = "0", paramLabel = "WORKLOAD",
      description = "page-fault (page_fault1: anonymous), page-fault3 (page_fault3: a shared tmpfs file) or file-rw")
  String workload = "";

  @Option(names = "--threads", paramLabel = "N", description = "threads, each a CPU (default 1)")
  int threads = 1;

  @Option(names = "--seconds", paramLabel = "S", description = "run time in seconds (default 5)")
  double seconds = 5;

  @Option(names = "--warmup", paramLabel = "W",
      description = "seconds of the same loop before the measured ones, not counted (default 0)")
  double warmup = 0;

  @Option(names = "--memory", paramLabel = "BYTES",
      description = "RAM of the model kernel, with optional K/M/G suffix (default: this machine's MemTotal, at least N x 132 MiB + 16 MiB)")
  @Nullable String memory;

  @Option(names = "--fault-locking", paramLabel = "L", description = "per-vma (default), mmap-lock or rcu-only")
  String faultLocking = "per-vma";

  @Option(names = "--same-mm", description = "all threads share one process (will-it-scale's threads mode)")
  boolean sameMm;

  @Option(names = "--no-pin",
      description = "do not pin worker i to the i-th host CPU (will-it-scale pins; so does this by default)")
  boolean noPin;

  @Option(names = "--json", description = "one JSON object on stdout, nothing else")
  boolean json;

  @Option(names = "--block", paramLabel = "BYTES", description = "file-rw: bytes per pwrite/pread (default 1M)")
  String block = "1M";

  @Option(names = "--size", paramLabel = "BYTES", description = "file-rw: the file's size (default 64M)")
  String size = "64M";

  /** One thread's outcome. */
  static final class Worker {
    final int index;
    long faults;
    /** Faults of the warm-up, not counted in {@link #faults}. */
    long warmupFaults;
    long nanos;
    /** CPU time of the thread over the measured part (-1 if the JVM cannot tell). */
    long cpuNanos = -1;
    @Nullable Throwable failure;

    Worker(int index) {
      this.index = index;
    }
  }

  @Override
  public Integer call() {
    if (!List.of("page-fault", "page-fault3", "file-rw").contains(workload)) {
      throw new IllegalArgumentException("unknown workload " + workload + " (known: page-fault, page-fault3, file-rw)");
    }
    if (threads < 1) {
      throw new IllegalArgumentException("--threads must be at least 1: " + threads);
    }
    if (!(seconds > 0)) {
      throw new IllegalArgumentException("--seconds must be positive: " + seconds);
    }
    if (!(warmup >= 0)) {
      throw new IllegalArgumentException("--warmup must not be negative: " + warmup);
    }
    FaultLocking locking = FaultLocking.byId(faultLocking);
    if (workload.equals("file-rw")) {
      long blockBytes = parseBytes(block);
      long fileBytes = parseBytes(size);
      long bytes = memory == null ? threads * (fileBytes + (4L << 20)) + (16L << 20) : parseBytes(memory);
      Kernel kernel = new Kernel(new NativeSched(), KernelConfig.DEFAULT.withMemory(bytes).withFaultLocking(locking));
      try {
        return new FileRw(kernel, threads, seconds, blockBytes, fileBytes, json, !noPin).run();
      } finally {
        kernel.sched().releaseAll();
      }
    }
    long bytes = memory == null ? defaultMemory(threads) : parseBytes(memory);
    KernelConfig config = KernelConfig.DEFAULT.withMemory(bytes).withFaultLocking(locking);

    Kernel kernel = new Kernel(new NativeSched(), config);
    try {
      return runPageFault(kernel);
    } finally {
      kernel.sched().releaseAll();
    }
  }

  /**
   * The model kernel gets the RAM of the machine it runs on ({@code MemTotal} of the host's
   * {@code /proc/meminfo}), so that it sizes its per-CPU page lists as the kernel it is compared
   * with does: {@code pcp->high_max} is 1/8 of the zone split over the CPUs, and only with
   * gigabytes can a CPU keep a whole 128 MiB round on its list and stay off {@code zone->lock},
   * as the kernel does (with the 148 MiB that one round needs, every batch of 7 pages went
   * through {@code zone->lock} and two workers ran no faster than one). Frames and descriptors
   * cost only when touched, so a large model costs what the workload touches. At least enough
   * for N mappings of 128 MiB, their page tables (about 0.3 MiB each) and slack; that minimum
   * alone where the host's RAM cannot be read.
   */
  static long defaultMemory(int threads) {
    long minimum = threads * (MEMSIZE + (4L << 20)) + (16L << 20);
    return Math.max(minimum, hostMemTotal());
  }

  /** {@code MemTotal} of {@code /proc/meminfo} in bytes (a multiple of 4 KiB), or 0 if it cannot be read. */
  static long hostMemTotal() {
    try {
      for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/meminfo"))) {
        if (line.startsWith("MemTotal:")) {
          String[] f = line.trim().split("\\s+");
          return (Long.parseLong(f[1]) << 10) & -4096L;
        }
      }
    } catch (java.io.IOException | RuntimeException e) {
      return 0;
    }
    return 0;
  }

  private int runPageFault(Kernel kernel) {
    NativeSched sched = (NativeSched) kernel.sched();
    long freeAtBoot = memFreeKb(kernel);
    long pgfaultAtBoot = kernel.pgfault();

    List<Process> procs = new ArrayList<>();
    for (int i = 0; i < (sameMm ? 1 : threads); i++) {
      Process p = kernel.spawn();
      if (p == null) {
        throw new IllegalArgumentException("--memory too small: no memory for a process");
      }
      procs.add(p);
    }

    List<Worker> workers = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      workers.add(new Worker(i));
    }
    // The whole JVM's CPU time and the JIT's compilation time from thread 0's measured start to
    // the end of the last thread: what else ran beside the workers (BENCHMARKS §5.6).
    long[] jvmFrom = {-1, -1};
    Workers.Outcome outcome = Workers.run(sched, threads, !noPin, (index, start) -> {
      Worker w = workers.get(index);
      Process p = procs.get(sameMm ? 0 : index);
      long measured = start + (long) (warmup * 1e9);
      if (warmup > 0) {
        runLoop(p, w, measured);
        w.warmupFaults = w.faults;
        w.faults = 0;
      }
      long from = Math.max(measured, System.nanoTime());
      if (index == 0) {
        jvmFrom[0] = processCpuNanos();
        jvmFrom[1] = jitMillis();
      }
      long cpuFrom = threadCpuNanos();
      runLoop(p, w, measured + (long) (seconds * 1e9));
      w.nanos = System.nanoTime() - from;
      long cpuTo = threadCpuNanos();
      w.cpuNanos = cpuFrom < 0 || cpuTo < 0 ? -1 : cpuTo - cpuFrom;
    });
    for (Worker w : workers) {
      w.failure = outcome.failures().get(w.index);
    }
    AtomicReference<@Nullable Throwable> firstFailure = new AtomicReference<>(outcome.firstFailure());
    long started = outcome.startNanos();
    // Zero if every thread failed before the measured part began (then no rate is meaningful).
    long elapsed = Math.max(0, System.nanoTime() - started - (long) (warmup * 1e9));
    long warmupFaults = 0;
    for (Worker w : workers) {
      warmupFaults += w.warmupFaults;
    }
    long pgfault = kernel.pgfault() - pgfaultAtBoot - warmupFaults;
    long jvmCpuTo = processCpuNanos();
    long jitTo = jitMillis();
    @Nullable Double processCpuSeconds = jvmFrom[0] < 0 || jvmCpuTo < 0 ? null : (jvmCpuTo - jvmFrom[0]) / 1e9;
    @Nullable Double jitSeconds = jvmFrom[1] < 0 || jitTo < 0 ? null : (jitTo - jvmFrom[1]) / 1e3;

    // Exit every process (on this thread's CPU): all frames, tables and PGDs go back.
    boolean exitOk = true;
    for (Process p : procs) {
      try {
        p.exit();
      } catch (RuntimeException e) {
        exitOk = false;
        firstFailure.compareAndSet(null, e);
      }
    }
    long freeAtEnd = memFreeKb(kernel);
    boolean framesReturned = exitOk && freeAtEnd == freeAtBoot;

    long total = 0;
    for (Worker w : workers) {
      total += w.faults;
    }
    double secs = elapsed / 1e9;
    boolean failed = firstFailure.get() != null;
    PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
    if (json) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("workload", workload);
      m.put("threads", threads);
      m.put("pinned", outcome.pinned());
      m.put("seconds", secs);
      m.put("warmupSeconds", warmup);
      m.put("warmupFaults", warmupFaults);
      m.put("faults", total);
      m.put("faultsPerSecond", rate(total, secs));
      List<Object> per = new ArrayList<>();
      for (Worker w : workers) {
        Map<String, Object> pw = new LinkedHashMap<>();
        pw.put("thread", w.index);
        pw.put("faults", w.faults);
        pw.put("faultsPerSecond", rate(w.faults, w.nanos > 0 ? w.nanos / 1e9 : secs));
        pw.put("cpuSeconds", w.cpuNanos < 0 ? null : w.cpuNanos / 1e9);
        pw.put("faultsPerCpuSecond", w.cpuNanos <= 0 ? null : Math.round(w.faults / (w.cpuNanos / 1e9)));
        pw.put("failed", w.failure != null);
        per.add(pw);
      }
      m.put("perThread", per);
      m.put("processCpuSeconds", processCpuSeconds);
      m.put("jitSeconds", jitSeconds);
      m.put("framesReturned", framesReturned);
      m.put("memFreeAtBootKb", freeAtBoot);
      m.put("memFreeAtEndKb", freeAtEnd);
      m.put("pgfault", pgfault);
      m.put("faultLocking", faultLocking);
      m.put("sameMm", sameMm);
      m.put("memoryBytes", kernel.config().memoryBytes());
      Throwable f = firstFailure.get();
      m.put("failure", f == null ? null : String.valueOf(f));
      out.println(Json.write(m));
    } else {
      out.printf("%s: %d thread%s (%s, %s), %d MiB model RAM, %.2f s%s%n", workload, threads, threads == 1 ? "" : "s",
          sameMm ? "one shared process" : "one process each", faultLocking,
          kernel.config().memoryBytes() >> 20, secs,
          warmup > 0 ? String.format(" after a %.2f s warm-up (%,d faults, not counted)", warmup, warmupFaults) : "");
      for (Worker w : workers) {
        out.printf("  thread %d: %,d faults, %,d faults/s%s%n", w.index, w.faults,
            rate(w.faults, w.nanos > 0 ? w.nanos / 1e9 : secs), w.failure != null ? " FAILED" : "");
      }
      out.printf("total: %,d faults, %,d faults/s (vmstat pgfault %,d)%n", total, rate(total, secs), pgfault);
      StringBuilder cpu = new StringBuilder("cpu time:");
      for (Worker w : workers) {
        cpu.append(w.index == 0 ? " " : ", ").append("thread ").append(w.index).append(' ')
            .append(w.cpuNanos < 0 ? "unknown" : String.format("%.2f s (%,d faults per CPU-second)", w.cpuNanos / 1e9,
                w.cpuNanos == 0 ? 0 : Math.round(w.faults / (w.cpuNanos / 1e9))));
      }
      out.printf("MemFree: %d kB at boot, %d kB at end: %s%n", freeAtBoot, freeAtEnd,
          framesReturned ? "every frame returned" : "FRAMES NOT RETURNED");
      out.println(cpu);
      Throwable f = firstFailure.get();
      if (f != null) {
        out.println("failure: " + f);
      }
    }
    out.flush();
    return failed || !framesReturned ? 1 : 0;
  }

  /** The workload's loop ({@link #loop} or {@link #loopShared}) until {@code deadline}. */
  private void runLoop(Process p, Worker w, long deadline) {
    if (workload.equals("page-fault3")) {
      loopShared(p, w, deadline);
    } else {
      loop(p, w, deadline);
    }
  }

  /** The page_fault1 loop of one thread, until {@code deadline} (System.nanoTime). */
  private static void loop(Process p, Worker w, long deadline) {
    rounds(p, w, deadline, Uapi.MAP_PRIVATE | Uapi.MAP_ANONYMOUS, -1);
  }

  /**
   * The page_fault3 loop of one thread: a file of 128 MiB on /dev/shm (created, sized by
   * ftruncate, unlinked: it lives while open), then mmap it MAP_SHARED read-write, store one byte
   * per page, munmap, repeat. The first round allocates the page cache (shmem_fault); later ones
   * fault on pages already cached (do_shared_fault finding the folio). The descriptor is closed
   * at the end, which frees the file.
   */
  private static void loopShared(Process p, Worker w, long deadline) {
    String path = "/dev/shm/willitscale." + w.index;
    long fd = p.open(path, Uapi.O_RDWR | Uapi.O_CREAT | Uapi.O_EXCL, 0600);
    if (Process.errno(fd) != null) {
      throw new IllegalStateException("open " + path + ": " + Process.errno(fd));
    }
    check("ftruncate", p.ftruncate((int) fd, MEMSIZE));
    check("unlink", p.unlink(path));
    try {
      rounds(p, w, deadline, Uapi.MAP_SHARED, (int) fd);
    } finally {
      check("close", p.close((int) fd));
    }
  }

  /**
   * Rounds of mmap {@link #MEMSIZE} read-write with {@code flags} (of {@code fd}, or anonymous),
   * one byte stored per page (each store one write fault), munmap, until {@code deadline}; the
   * round the deadline cuts short is unmapped too.
   */
  private static void rounds(Process p, Worker w, long deadline, int flags, int fd) {
    // Counted in a local and published once per round: the workers' Worker objects sit side by
    // side in memory, and a store to one per fault made the two cores fight over that cache
    // line (two workers ran no faster than one).
    long faults = w.faults;
    long vmstatAt = System.nanoTime() + VMSTAT_INTERVAL;
    try {
      while (true) {
        long addr = p.mmap(0, MEMSIZE, Uapi.PROT_READ | Uapi.PROT_WRITE, flags, fd, 0);
        if (Process.errno(addr) != null) {
          throw new IllegalStateException("mmap failed: " + Process.errno(addr));
        }
        boolean done = false;
        // The stores as a user loop (Process.storeStrided): CLOCK_EVERY pages at a time, the
        // CPU in user mode throughout but for the faults, as the C program's loop is.
        for (long off = 0; off < MEMSIZE; off += CLOCK_EVERY * Uapi.PAGE_SIZE) {
          Signal s = p.storeStrided(addr + off, CLOCK_EVERY, Uapi.PAGE_SIZE, 1, 0);
          if (s != null) {
            throw new IllegalStateException("store at 0x" + Long.toHexString(s.address()) + ": " + s);
          }
          faults += CLOCK_EVERY;
          long now = System.nanoTime();
          if (now >= vmstatAt) {
            p.kernel().mem().vmstatUpdate();
            vmstatAt = now + VMSTAT_INTERVAL;
          }
          if (now >= deadline) {
            done = true;
            break;
          }
        }
        check("munmap", p.munmap(addr, MEMSIZE));
        w.faults = faults;
        if (done || System.nanoTime() >= deadline) {
          return;
        }
      }
    } finally {
      w.faults = faults;
    }
  }

  /** {@code n} per second over {@code secs}, rounded; 0 over no time. */
  static long rate(long n, double secs) {
    return secs > 0 ? Math.round(n / secs) : 0;
  }

  /** CPU time of the whole JVM in nanoseconds, or -1 if the JVM cannot tell. */
  static long processCpuNanos() {
    if (java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
      return os.getProcessCpuTime();
    }
    return -1;
  }

  /**
   * The JIT compilers' accumulated compilation time in milliseconds, or -1 if the JVM cannot tell:
   * the wall-clock time of each compile, summed, so a compile whose thread waits for a core (both
   * taken by workers) counts its wait too (BENCHMARKS §5.8).
   */
  static long jitMillis() {
    java.lang.management.CompilationMXBean c = java.lang.management.ManagementFactory.getCompilationMXBean();
    return c != null && c.isCompilationTimeMonitoringSupported() ? c.getTotalCompilationTime() : -1;
  }

  /** The calling thread's CPU time in nanoseconds, or -1 if the JVM does not measure it. */
  static long threadCpuNanos() {
    java.lang.management.ThreadMXBean b = java.lang.management.ManagementFactory.getThreadMXBean();
    return b.isCurrentThreadCpuTimeSupported() ? b.getCurrentThreadCpuTime() : -1;
  }

  private static void check(String call, long ret) {
    if (ret != 0) {
      throw new IllegalStateException(call + " failed: " + Process.errno(ret));
    }
  }

  static long memFreeKb(Kernel kernel) {
    for (String line : kernel.proc().meminfo().split("\n")) {
      if (line.startsWith("MemFree:")) {
        return Long.parseLong(line.substring("MemFree:".length()).replace("kB", "").trim());
      }
    }
    throw new IllegalStateException("no MemFree in /proc/meminfo");
  }

  /** Decimal or 0x-hex bytes with an optional K/M/G suffix (powers of 2). */
  static long parseBytes(String s) {
    String t = s.trim();
    long mult = 1;
    if (!t.isEmpty()) {
      char c = Character.toUpperCase(t.charAt(t.length() - 1));
      if (c == 'K' || c == 'M' || c == 'G') {
        mult = c == 'K' ? 1L << 10 : c == 'M' ? 1L << 20 : 1L << 30;
        t = t.substring(0, t.length() - 1);
      }
    }
    try {
      long v = t.startsWith("0x") || t.startsWith("0X") ? Long.parseLong(t.substring(2), 16) : Long.parseLong(t);
      long bytes = Math.multiplyExact(v, mult);
      if (bytes <= 0 || (bytes & (Uapi.PAGE_SIZE - 1)) != 0) {
        throw new IllegalArgumentException("--memory must be a positive multiple of 4 KiB: " + s);
      }
      return bytes;
    } catch (NumberFormatException | ArithmeticException e) {
      throw new IllegalArgumentException("bad --memory: " + s);
    }
  }
}
