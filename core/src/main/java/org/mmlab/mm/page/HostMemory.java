package org.mmlab.mm.page;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import org.jspecify.annotations.Nullable;

/**
 * The host memory behind simulated RAM: each 2 MiB chunk ({@link FrameChunk}) is an anonymous
 * {@code mmap(2)} aligned to a host huge page and advised {@code MADV_HUGEPAGE}, so that a host
 * whose transparent huge pages are in {@code madvise} mode (or {@code always}) backs its
 * contents with one huge page when it is first touched.
 *
 * <h2>Why</h2>
 * A page_fault loop touches one 64-byte line per frame, each in another 4 KiB of host memory:
 * with 4 KiB host pages nearly every frame access is a host TLB miss on top of its cache miss
 * (the line was last touched a round of faults ago). {@code Arena.allocate} cannot be used for
 * this: it zeroes the memory it returns, which faults every 4 KiB page in before any advice
 * could apply. An anonymous mapping is zero already and untouched.
 *
 * <p>Where the calls are missing (not Linux) or fail, {@link #allocate} returns null and the
 * chunk falls back to {@code Arena.allocate}: nothing changes but speed. Restricted methods:
 * the JVM runs with {@code --enable-native-access}. The mapping is unmapped when the
 * garbage collector finds the chunk unreachable (an automatic arena's cleanup), as the
 * {@code Arena.allocate} memory it replaces was freed.
 */
final class HostMemory {
  /** The host's huge page size on x86-64 (and the alignment of a chunk's mapping). */
  static final long HUGE_PAGE = 1L << 21;
  private static final int PROT_READ_WRITE = 0x1 | 0x2;
  private static final int MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20;
  private static final int MADV_HUGEPAGE = 14;
  private static final long MAP_FAILED = -1L;

  private static final @Nullable MethodHandle MMAP;
  private static final @Nullable MethodHandle MUNMAP;
  private static final @Nullable MethodHandle MADVISE;

  static {
    MethodHandle mmap = null;
    MethodHandle munmap = null;
    MethodHandle madvise = null;
    if (System.getProperty("os.name", "").startsWith("Linux") && "amd64".equals(System.getProperty("os.arch"))) {
      try {
        Linker linker = Linker.nativeLinker();
        SymbolLookup libc = linker.defaultLookup();
        mmap = libc.find("mmap").map(f -> linker.downcallHandle(f, FunctionDescriptor.of(ValueLayout.JAVA_LONG,
            ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
            ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG))).orElse(null);
        munmap = libc.find("munmap").map(f -> linker.downcallHandle(f,
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG))).orElse(null);
        madvise = libc.find("madvise").map(f -> linker.downcallHandle(f, FunctionDescriptor.of(ValueLayout.JAVA_INT,
            ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT))).orElse(null);
      } catch (RuntimeException e) { // no native access: the fallback
        mmap = null;
      }
    }
    boolean all = mmap != null && munmap != null && madvise != null;
    MMAP = all ? mmap : null;
    MUNMAP = all ? munmap : null;
    MADVISE = all ? madvise : null;
  }

  private HostMemory() {}

  /**
   * {@code len} bytes of zeroed host memory at a huge-page-aligned address, the first
   * {@code hugeLen} of them advised to be huge pages, freed by the garbage collector once the
   * segment is unreachable; or null if the host calls are unavailable or failed.
   */
  static @Nullable MemorySegment allocate(long len, long hugeLen) {
    MethodHandle mmap = MMAP;
    MethodHandle munmap = MUNMAP;
    MethodHandle madvise = MADVISE;
    if (mmap == null || munmap == null || madvise == null) {
      return null;
    }
    try {
      long span = len + HUGE_PAGE; // room to align
      long base = (long) mmap.invokeExact(0L, span, PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS, -1, 0L);
      if (base == MAP_FAILED || base == 0) {
        return null;
      }
      long start = (base + HUGE_PAGE - 1) & -HUGE_PAGE;
      long end = start + len;
      long spanEnd = base + span;
      if (start > base) {
        int unusedHead = (int) munmap.invokeExact(base, start - base);
      }
      long tail = (spanEnd - end) & -4096L; // whole host pages past the end
      if (tail > 0) {
        int unusedTail = (int) munmap.invokeExact(spanEnd - tail, tail);
      }
      long mapped = spanEnd - tail - start;
      int unusedAdvice = (int) madvise.invokeExact(start, hugeLen, MADV_HUGEPAGE); // advice only
      return MemorySegment.ofAddress(start).reinterpret(len, Arena.ofAuto(), s -> unmap(start, mapped));
    } catch (Throwable e) {
      return null;
    }
  }

  private static void unmap(long address, long len) {
    MethodHandle munmap = MUNMAP;
    if (munmap == null) {
      return;
    }
    try {
      int unused = (int) munmap.invokeExact(address, len);
    } catch (Throwable e) { // nothing to do: the mapping stays
    }
  }
}
