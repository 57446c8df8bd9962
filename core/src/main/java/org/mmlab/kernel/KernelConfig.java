package org.mmlab.kernel;

import org.mmlab.mm.memory.FaultLocking;
import org.mmlab.mm.mmap.MmapLimits;
import org.mmlab.mm.vma.MmStruct;

/**
 * What a {@link Kernel} boots with: the machine (memory, nodes) and the design variants of the
 * mm. Immutable; change one knob with a wither ({@code KernelConfig.DEFAULT.withMemory(16 << 20)}).
 *
 * @param memoryBytes RAM, a multiple of 4 KiB (default 64 MiB); frames cost nothing until written
 * @param nodes NUMA nodes the RAM is split over (default 1)
 * @param faultLocking how the fault path locks the address space (default
 *     {@link FaultLocking#PER_VMA}: the per-VMA locks merged in Linux 6.4; {@link FaultLocking#MMAP_LOCK}
 *     is the design before 6.4; {@link FaultLocking#RCU_ONLY} the speculative-fault proposal of
 *     2022 that was not merged)
 * @param vmaChecks which re-checks {@code lock_vma_under_rcu} makes after locking a VMA found
 *     under RCU (default {@link MmStruct.Checks#ALL}, as in 6.4 and later; turning one off
 *     recreates the races those checks were added for)
 * @param limits the address-space layout, sysctls and rlimits (default {@link MmapLimits#DEFAULT}:
 *     an unprivileged x86-64 process without randomization, Linux 6.12 defaults)
 * @param lockdep check lock order at run time ({@code CONFIG_PROVE_LOCKING}); used when the
 *     kernel creates its own scheduler ({@link Kernel#bootNative}); a kernel booted on a given
 *     scheduler uses that scheduler's lockdep
 */
public record KernelConfig(long memoryBytes, int nodes, FaultLocking faultLocking, MmStruct.Checks vmaChecks,
    MmapLimits limits, boolean lockdep) {

  /** 64 MiB on one node, the 6.4 fault locking with every check, default limits, no lockdep. */
  public static final KernelConfig DEFAULT = new KernelConfig(64L << 20, 1, FaultLocking.PER_VMA,
      MmStruct.Checks.ALL, MmapLimits.DEFAULT, false);

  public KernelConfig {
    if (memoryBytes <= 0 || (memoryBytes & (Uapi.PAGE_SIZE - 1)) != 0) {
      throw new IllegalArgumentException("memory must be a positive multiple of 4 KiB: " + memoryBytes);
    }
    if (nodes < 1) {
      throw new IllegalArgumentException("at least one node: " + nodes);
    }
  }

  public KernelConfig withMemory(long bytes) {
    return new KernelConfig(bytes, nodes, faultLocking, vmaChecks, limits, lockdep);
  }

  public KernelConfig withNodes(int n) {
    return new KernelConfig(memoryBytes, n, faultLocking, vmaChecks, limits, lockdep);
  }

  public KernelConfig withFaultLocking(FaultLocking f) {
    return new KernelConfig(memoryBytes, nodes, f, vmaChecks, limits, lockdep);
  }

  public KernelConfig withVmaChecks(MmStruct.Checks c) {
    return new KernelConfig(memoryBytes, nodes, faultLocking, c, limits, lockdep);
  }

  public KernelConfig withLimits(MmapLimits l) {
    return new KernelConfig(memoryBytes, nodes, faultLocking, vmaChecks, l, lockdep);
  }

  public KernelConfig withLockdep(boolean on) {
    return new KernelConfig(memoryBytes, nodes, faultLocking, vmaChecks, limits, on);
  }
}
