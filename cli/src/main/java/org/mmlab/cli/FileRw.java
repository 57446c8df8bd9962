package org.mmlab.cli;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.mmlab.explore.NativeSched;
import org.mmlab.explore.report.Json;
import org.mmlab.kernel.Kernel;
import org.mmlab.kernel.Process;
import org.mmlab.kernel.Uapi;

/**
 * {@code mmlab run file-rw}: sequential {@code pwrite} then {@code pread} of a tmpfs file, on real
 * threads against one natively booted model kernel, for comparison with the kernel's tmpfs
 * ({@code bench/c/run-file-rw.sh}, the same loop in C on /dev/shm).
 *
 * <p>Each thread runs its own process with its own file {@code /dev/shm/file-rw.N} of
 * {@code size} bytes (created, then unlinked: it lives while open). A round writes the whole file
 * front to back in {@code block}-byte {@code pwrite}s (each byte of the block set to the round
 * number, so a later read can be checked), then reads it back the same way with {@code pread}
 * and checks the first and last byte of every block. Rounds repeat until the time is up; the
 * first round allocates the page cache ({@code shmem_get_folio} with SGP_WRITE), later rounds
 * overwrite cached pages. Write and read time are summed separately, so the figures are MiB/s of
 * each call. At the end every process exits and MemFree must be back to its value at boot.
 *
 * <p>Exit 0 on success; 1 if a thread failed (syscall error, short count, wrong data) or frames
 * were not all returned.
 */
final class FileRw {
  private final Kernel kernel;
  private final int threads;
  private final double seconds;
  private final int block;
  private final long size;
  private final boolean json;
  private final boolean pin;

  /** One thread's totals. */
  private static final class Totals {
    long written;
    long writeNanos;
    long read;
    long readNanos;
    long rounds;
  }

  FileRw(Kernel kernel, int threads, double seconds, long block, long size, boolean json, boolean pin) {
    if (block > (64L << 20) || size % block != 0) {
      throw new IllegalArgumentException("--block must be at most 64M and divide --size: " + block + ", " + size);
    }
    this.kernel = kernel;
    this.threads = threads;
    this.seconds = seconds;
    this.block = (int) block;
    this.size = size;
    this.json = json;
    this.pin = pin;
  }

  int run() {
    NativeSched sched = (NativeSched) kernel.sched();
    long freeAtBoot = RunCommand.memFreeKb(kernel);
    List<Process> procs = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      Process p = kernel.spawn();
      if (p == null) {
        throw new IllegalArgumentException("--memory too small: no memory for a process");
      }
      procs.add(p);
    }
    List<Totals> totals = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      totals.add(new Totals());
    }
    Workers.Outcome outcome = Workers.run(sched, threads, pin,
        (index, start) -> loop(procs.get(index), index, totals.get(index), start + (long) (seconds * 1e9)));
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>(outcome.firstFailure());
    long started = outcome.startNanos();
    double secs = (System.nanoTime() - started) / 1e9;
    boolean exitOk = true;
    for (Process p : procs) {
      try {
        p.exit();
      } catch (RuntimeException e) {
        exitOk = false;
        failure.compareAndSet(null, e);
      }
    }
    long freeAtEnd = RunCommand.memFreeKb(kernel);
    boolean framesReturned = exitOk && freeAtEnd == freeAtBoot;
    print(totals, secs, outcome.pinned(), framesReturned, freeAtBoot, freeAtEnd, failure.get());
    return failure.get() != null || !framesReturned ? 1 : 0;
  }

  /** Rounds of write-all then read-all until {@code deadline}; a round cut short still counts what it did. */
  private void loop(Process p, int index, Totals t, long deadline) {
    String path = "/dev/shm/file-rw." + index;
    long fd = p.open(path, Uapi.O_RDWR | Uapi.O_CREAT | Uapi.O_EXCL, 0600);
    if (Process.errno(fd) != null) {
      throw new IllegalStateException("open " + path + ": " + Process.errno(fd));
    }
    if (p.unlink(path) != 0) {
      throw new IllegalStateException("unlink " + path);
    }
    byte[] buf = new byte[block];
    byte[] in = new byte[block];
    try {
      for (int round = 1; System.nanoTime() < deadline; round++) {
        java.util.Arrays.fill(buf, (byte) round);
        long t0 = System.nanoTime();
        for (long off = 0; off < size; off += block) {
          long n = p.pwrite((int) fd, buf, off);
          if (n != block) {
            throw new IllegalStateException("pwrite at " + off + " returned " + n);
          }
          t.written += n;
        }
        long t1 = System.nanoTime();
        for (long off = 0; off < size; off += block) {
          long n = p.pread((int) fd, in, off);
          if (n != block || in[0] != (byte) round || in[block - 1] != (byte) round) {
            throw new IllegalStateException("pread at " + off + " returned " + n + " bytes, first " + in[0]
                + ", last " + in[block - 1] + ", expected " + (byte) round);
          }
          t.read += n;
        }
        long t2 = System.nanoTime();
        t.writeNanos += t1 - t0;
        t.readNanos += t2 - t1;
        t.rounds++;
      }
    } finally {
      p.close((int) fd);
    }
  }

  private void print(List<Totals> totals, double secs, boolean pinned, boolean framesReturned, long freeAtBoot, long freeAtEnd,
      @Nullable Throwable f) {
    long written = 0;
    long read = 0;
    double writeRate = 0;
    double readRate = 0;
    for (Totals t : totals) {
      written += t.written;
      read += t.read;
      writeRate += mibps(t.written, t.writeNanos);
      readRate += mibps(t.read, t.readNanos);
    }
    PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
    if (json) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("workload", "file-rw");
      m.put("threads", threads);
      m.put("pinned", pinned);
      m.put("seconds", secs);
      m.put("blockBytes", (long) block);
      m.put("fileBytes", size);
      m.put("bytesWritten", written);
      m.put("bytesRead", read);
      m.put("writeMiBps", Math.round(writeRate));
      m.put("readMiBps", Math.round(readRate));
      m.put("framesReturned", framesReturned);
      m.put("memFreeAtBootKb", freeAtBoot);
      m.put("memFreeAtEndKb", freeAtEnd);
      m.put("memoryBytes", kernel.config().memoryBytes());
      m.put("failure", f == null ? null : String.valueOf(f));
      out.println(Json.write(m));
    } else {
      out.printf("file-rw: %d thread%s, a %d MiB tmpfs file each, %d-byte blocks, %d MiB model RAM, %.2f s%n",
          threads, threads == 1 ? "" : "s", size >> 20, block, kernel.config().memoryBytes() >> 20, secs);
      for (int i = 0; i < totals.size(); i++) {
        Totals t = totals.get(i);
        out.printf("  thread %d: %d rounds, pwrite %.0f MiB/s, pread %.0f MiB/s%n", i, t.rounds,
            mibps(t.written, t.writeNanos), mibps(t.read, t.readNanos));
      }
      out.printf("total: pwrite %.0f MiB/s, pread %.0f MiB/s%n", writeRate, readRate);
      out.printf("MemFree: %d kB at boot, %d kB at end: %s%n", freeAtBoot, freeAtEnd,
          framesReturned ? "every frame returned" : "FRAMES NOT RETURNED");
      if (f != null) {
        out.println("failure: " + f);
      }
    }
    out.flush();
  }

  private static double mibps(long bytes, long nanos) {
    return nanos == 0 ? 0 : bytes / (double) (1 << 20) / (nanos / 1e9);
  }
}
