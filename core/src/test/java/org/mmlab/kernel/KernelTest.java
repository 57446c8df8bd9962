package org.mmlab.kernel;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.mmlab.explore.NativeSched;

class KernelTest {
  static final long PAGE = Uapi.PAGE_SIZE;
  static final int RW = Uapi.PROT_READ | Uapi.PROT_WRITE;
  static final int ANON = Uapi.MAP_PRIVATE | Uapi.MAP_ANONYMOUS;
  static final long X = 0x10_0000_0000L;

  static Kernel boot() {
    return new Kernel(new NativeSched(), KernelConfig.DEFAULT.withMemory(16L << 20));
  }

  @Test
  void exitReturnsEveryFrame() {
    Kernel k = boot();
    String before = k.proc().meminfo();
    Process p = k.spawn();
    assertThat(p.mmap(X, 64 * PAGE, RW, ANON | Uapi.MAP_FIXED, -1, 0)).isEqualTo(X);
    assertThat(p.fill(X, 64 * PAGE, (byte) 7)).isNull();
    assertThat(p.mmap(0x7000_0000_0000L, PAGE, Uapi.PROT_READ, ANON | Uapi.MAP_FIXED, -1, 0)).isEqualTo(0x7000_0000_0000L);
    assertThat(p.load(0x7000_0000_0000L, 8).value()).isZero();
    assertThat(k.proc().meminfo()).isNotEqualTo(before).contains("AnonPages:           256 kB");
    k.check();
    p.exit();
    assertThat(k.proc().meminfo()).isEqualTo(before);
    assertThat(k.processes()).isEmpty();
  }

  @Test
  void meminfoAndVmstatHaveLinuxFormat() {
    Kernel k = boot();
    assertThat(k.proc().meminfo()).startsWith("MemTotal:          16384 kB\nMemFree:           16380 kB\n")
        .contains("\nPageTables:            0 kB\n");
    Process p = k.spawn();
    p.store(X, 8, 1);
    assertThat(p.mmap(X, PAGE, RW, ANON | Uapi.MAP_FIXED, -1, 0)).isEqualTo(X);
    assertThat(p.store(X, 8, 0x1122334455667788L)).isNull();
    assertThat(p.load(X, 8).value()).isEqualTo(0x1122334455667788L);
    assertThat(k.proc().vmstat()).contains("\npgfault 2\n", "nr_anon_pages 1\n", "nr_page_table_pages 4\n");
    assertThat(k.proc().meminfo()).contains("\nPageTables:           16 kB\n");
  }

  /** A loop of stores in user mode: one fault per new page, the bytes where they belong, and the first signal. */
  @Test
  void aStridedStoreLoopFaultsEachPageOnceAndStopsAtTheFirstSignal() {
    Kernel k = boot();
    Process p = k.spawn();
    assertThat(p.mmap(X, 8 * PAGE, RW, ANON | Uapi.MAP_FIXED, -1, 0)).isEqualTo(X);
    assertThat(p.storeStrided(X + 3, 16, PAGE / 2, 1, 0x5a)).isNull();
    assertThat(k.pgfault()).isEqualTo(8);
    for (int i = 0; i < 16; i++) {
      assertThat(p.load(X + 3 + i * PAGE / 2, 1).value()).isEqualTo(0x5a);
    }
    assertThat(p.load(X + 4, 1).value()).isZero();
    assertThat(p.storeStrided(X, 0, PAGE, 8, 1)).isNull();
    assertThat(p.storeStrided(X + 7 * PAGE, 3, PAGE, 8, 1)).isEqualTo(new Signal(Uapi.SIGSEGV, Uapi.SEGV_MAPERR, X + 8 * PAGE));
    assertThat(p.load(X + 7 * PAGE, 8).value()).as("the store before the signal was made").isEqualTo(1);
    p.exit();
  }

  @Test
  void signalsCarryTheirCodesAndFirstFaultingByte() {
    Kernel k = boot();
    Process p = k.spawn();
    assertThat(p.store(X, 1, 1)).isEqualTo(new Signal(Uapi.SIGSEGV, Uapi.SEGV_MAPERR, X));
    assertThat(p.mmap(X, 2 * PAGE, Uapi.PROT_READ, ANON | Uapi.MAP_FIXED, -1, 0)).isEqualTo(X);
    assertThat(p.store(X + 8, 8, 1)).hasToString("SIGSEGV SEGV_ACCERR 0x" + Long.toHexString(X + 8));
    assertThat(p.mprotect(X + PAGE, PAGE, RW)).isZero();
    // A write from the writable page into the read-only one below? Upward: RO first, then RW.
    assertThat(p.mprotect(X, PAGE, RW)).isZero();
    assertThat(p.mprotect(X + PAGE, PAGE, Uapi.PROT_NONE)).isZero();
    Signal s = p.fill(X + PAGE - 4, 16, (byte) 0x61);
    assertThat(s).isEqualTo(new Signal(Uapi.SIGSEGV, Uapi.SEGV_ACCERR, X + PAGE));
    assertThat(p.load(X + PAGE - 4, 4).value()).isEqualTo(0x61616161L);
    Process.Read r = p.read(X + PAGE - 2, 10);
    assertThat(r.count()).isEqualTo(2);
    assertThat(r.signal()).isEqualTo(new Signal(Uapi.SIGSEGV, Uapi.SEGV_ACCERR, X + PAGE));
    assertThat(p.load(X + 2 * PAGE, 1).signal().codeName()).isEqualTo("SEGV_MAPERR");
    assertThat(Process.errno(p.munmap(X + 1, PAGE))).isEqualTo(Errno.EINVAL);
    assertThat(Process.errno(p.munmap(X, PAGE))).isNull();
  }

  @Test
  void mapsAndSmapsShowSplitAndMerge() {
    Kernel k = boot();
    Process p = k.spawn();
    Proc proc = k.proc();
    assertThat(p.mmap(X, 4 * PAGE, RW, ANON | Uapi.MAP_FIXED, -1, 0)).isEqualTo(X);
    assertThat(p.fill(X, PAGE, (byte) 1)).isNull();
    assertThat(p.mprotect(X + PAGE, PAGE, Uapi.PROT_READ)).isZero();
    assertThat(proc.read("/proc/1/maps")).isEqualTo(
        "1000000000-1000001000 rw-p 00000000 00:00 0 \n"
            + "1000001000-1000002000 r--p 00000000 00:00 0 \n"
            + "1000002000-1000004000 rw-p 00000000 00:00 0 \n");
    String smaps = proc.read("1/smaps");
    assertThat(smaps).startsWith("1000000000-1000001000 rw-p 00000000 00:00 0 \nSize:                  4 kB\n"
        + "KernelPageSize:        4 kB\nMMUPageSize:           4 kB\nRss:                   4 kB\n")
        .contains("Anonymous:             4 kB\nKSM:                   0 kB\n")
        .contains("AnonHugePages:         0 kB\n")
        .contains("THPeligible:           0\nVmFlags: rd wr mr mw me \n")
        .contains("1000001000-1000002000 r--p 00000000 00:00 0 \nSize:                  4 kB\n")
        .contains("VmFlags: rd mr mw me \n");
    assertThat(p.mprotect(X + PAGE, PAGE, RW)).isZero();
    assertThat(proc.maps(p)).isEqualTo("1000000000-1000004000 rw-p 00000000 00:00 0 \n");
    assertThat(proc.smaps(p)).contains("Size:                 16 kB\n", "Rss:                   4 kB\n");
    long[] pm = proc.pagemap(p, X, 2);
    assertThat(pm[0] & Proc.PM_PRESENT).isNotZero();
    assertThat(pm[1]).isZero();
    assertThat(p.load(X + PAGE, 1).signal()).isNull();
    assertThat(proc.pagemap(p, X + PAGE, 1)[0] & Proc.PM_PRESENT).as("zero page mapped").isNotZero();
    assertThat(proc.read("2/maps")).isNull();
    assertThat(proc.read("nothing")).isNull();
  }

  @Test
  void twoProcessesOnOneCpuKeepTheirOwnMemoryUnderLockdep() {
    Kernel k = Kernel.bootNative(KernelConfig.DEFAULT.withMemory(8L << 20).withLockdep(true));
    try {
      String before = k.proc().meminfo();
      Process a = k.spawn();
      Process b = k.spawn();
      assertThat(a.pid()).isEqualTo(1);
      assertThat(b.pid()).isEqualTo(2);
      for (Process p : k.processes()) {
        assertThat(p.mmap(X, PAGE, RW, ANON | Uapi.MAP_FIXED, -1, 0)).isEqualTo(X);
        assertThat(p.store(X, 8, p.pid())).isNull();
      }
      assertThat(a.load(X, 8).value()).isEqualTo(1);
      assertThat(b.load(X, 8).value()).isEqualTo(2);
      assertThat(a.mremap(X, PAGE, 2 * PAGE, Uapi.MREMAP_MAYMOVE, 0)).isPositive();
      assertThat(b.madvise(X, PAGE, Uapi.MADV_DONTNEED)).isZero();
      assertThat(b.load(X, 8).value()).isZero();
      byte[] vec = new byte[1];
      assertThat(b.mincore(X, PAGE, vec)).isZero();
      assertThat(vec[0]).isEqualTo((byte) 1);
      k.check();
      a.exit();
      assertThat(k.process(1)).isNull();
      assertThat(b.load(X, 8).signal()).isNull();
      b.exit();
      assertThat(k.proc().meminfo()).isEqualTo(before);
      assertThat(k.sched().lockdep().inversion()).isNull();
    } finally {
      k.sched().consistencyWalk();
      k.sched().releaseAll();
    }
  }

  /** Boot cost as the explorer pays it: a fresh scheduler and kernel, released after use. No assertion on time. */
  @Test
  void bootCostOf64MiBKernel() {
    int n = 5000;
    long[] t = new long[n];
    for (int i = 0; i < n; i++) {
      NativeSched s = new NativeSched();
      long t0 = System.nanoTime();
      new Kernel(s, KernelConfig.DEFAULT);
      t[i] = System.nanoTime() - t0;
      s.releaseAll();
    }
    long[] warm = java.util.Arrays.copyOfRange(t, n / 2, n);
    java.util.Arrays.sort(warm);
    System.out.printf("boot of a 64 MiB kernel (warm, %d boots): median %.1f us, p90 %.1f us, best %.1f us%n",
        warm.length, warm[warm.length / 2] / 1e3, warm[warm.length * 9 / 10] / 1e3, warm[0] / 1e3);
  }
}
