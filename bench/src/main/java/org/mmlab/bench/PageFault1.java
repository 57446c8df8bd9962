package org.mmlab.bench;

import org.mmlab.kernel.Process;
import org.mmlab.kernel.Uapi;

/**
 * will-it-scale's {@code page_fault1} loop for the benchmarks that drive a model process
 * themselves ({@link PageFaultCpu}, {@link PageFaultPairs}): mmap {@link #MEMSIZE} anonymous
 * private read-write, store one byte per 4 KiB page (one write fault each), munmap, repeat.
 * ({@code ./mmlab run page-fault} has its own loop in {@code RunCommand}, with the user-mode
 * store loop and vmstat work of a CLI workload.)
 */
final class PageFault1 {
  /** page_fault1's mapping size. */
  static final long MEMSIZE = 128L << 20;

  /** Called every 256 faults with the faults so far; true ends the loop. */
  @FunctionalInterface
  interface Every256 {
    boolean stop(long faults);
  }

  private PageFault1() {}

  /**
   * Runs the loop on {@code p} until {@code every256} says stop; the mapping in use is unmapped
   * then too. Returns the number of faults.
   */
  static long run(Process p, Every256 every256) {
    long n = 0; // a local: a store per fault into memory the workers share made their cores fight
    while (true) {
      long addr = p.mmap(0, MEMSIZE, Uapi.PROT_READ | Uapi.PROT_WRITE, Uapi.MAP_PRIVATE | Uapi.MAP_ANONYMOUS, -1, 0);
      for (long off = 0; off < MEMSIZE; off += 4096) {
        if (p.store(addr + off, 1, 0) != null) {
          throw new IllegalStateException("store at 0x" + Long.toHexString(addr + off) + " faulted");
        }
        if ((++n & 255) == 0 && every256.stop(n)) {
          p.munmap(addr, MEMSIZE);
          return n;
        }
      }
      p.munmap(addr, MEMSIZE);
    }
  }
}
