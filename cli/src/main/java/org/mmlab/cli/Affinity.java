package org.mmlab.cli;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Pins the calling thread to one host CPU, as will-it-scale pins each of its tasks
 * ({@code sched_setaffinity} on the calling thread, through the FFM linker). The native
 * workloads pin their worker threads by default, as the benchmark they model does and as its C
 * counterparts in {@code bench/c} do, so that a worker keeps its core and its cached working set
 * (TLB entries, page descriptors, page-table lines) whatever the JIT and the collector wake up
 * beside it. On the 2-vCPU machine of BENCHMARKS §5.6 pinned and unpinned runs did not differ
 * beyond the machine's noise.
 *
 * <p>Everything degrades to "not pinned" where the calls are not available (not Linux, no
 * native access): {@link #allowedCpus} returns an empty list and {@link #pin} false.
 */
final class Affinity {
  private Affinity() {}

  /** Bytes of the CPU mask passed to the kernel: {@code sizeof(cpu_set_t)}, 1024 CPUs. */
  private static final int MASK_BYTES = 128;

  private static final @Nullable MethodHandle SET;
  private static final @Nullable MethodHandle GET;

  static {
    MethodHandle set = null;
    MethodHandle get = null;
    try {
      if (System.getProperty("os.name", "").startsWith("Linux")) {
        Linker linker = Linker.nativeLinker();
        FunctionDescriptor fd = FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG,
            ValueLayout.ADDRESS);
        set = linker.downcallHandle(linker.defaultLookup().find("sched_setaffinity").orElseThrow(), fd);
        get = linker.downcallHandle(linker.defaultLookup().find("sched_getaffinity").orElseThrow(), fd);
      }
    } catch (RuntimeException | Error e) {
      set = null;
      get = null;
    }
    SET = set;
    GET = get;
  }

  /** The host CPUs the calling thread may run on, in increasing order; empty if unknown. */
  static List<Integer> allowedCpus() {
    List<Integer> cpus = new ArrayList<>();
    MethodHandle h = GET;
    if (h == null) {
      return cpus;
    }
    try (Arena a = Arena.ofConfined()) {
      MemorySegment mask = a.allocate(MASK_BYTES, 8);
      int r = (int) h.invokeExact(0, (long) MASK_BYTES, mask);
      if (r != 0) {
        return cpus;
      }
      for (int w = 0; w < MASK_BYTES / 8; w++) {
        long bits = mask.getAtIndex(ValueLayout.JAVA_LONG, w);
        for (int b = 0; b < 64; b++) {
          if ((bits & (1L << b)) != 0) {
            cpus.add(w * 64 + b);
          }
        }
      }
    } catch (Throwable e) {
      cpus.clear();
    }
    return cpus;
  }

  /** Pins the calling thread to host CPU {@code cpu}; false if that failed or is not available. */
  static boolean pin(int cpu) {
    MethodHandle h = SET;
    if (h == null || cpu < 0 || cpu >= MASK_BYTES * 8) {
      return false;
    }
    try (Arena a = Arena.ofConfined()) {
      MemorySegment mask = a.allocate(MASK_BYTES, 8);
      mask.setAtIndex(ValueLayout.JAVA_LONG, cpu / 64, 1L << (cpu % 64));
      return (int) h.invokeExact(0, (long) MASK_BYTES, mask) == 0;
    } catch (Throwable e) {
      return false;
    }
  }
}
