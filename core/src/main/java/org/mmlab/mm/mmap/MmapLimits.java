package org.mmlab.mm.mmap;

import org.mmlab.kernel.Uapi;

/**
 * The limits and layout the address-space calls obey: the x86-64 user address space with 4-level
 * paging, the placement bases of a process without address-space randomization, and the sysctls
 * and rlimits that decide errors. Immutable.
 *
 * @param taskSize {@code TASK_SIZE}: user addresses lie below it
 * @param mmapBase {@code mm->mmap_base}: top-down placement starts below it. Without
 *     randomization x86-64 puts it a 128 MiB gap below {@code TASK_SIZE} (the minimum gap of
 *     {@code mmap_base()}, which wins over the 8 MiB stack rlimit plus the 1 MiB guard gap):
 *     0x7ffff7fff000, the familiar base of programs run under {@code setarch -R}
 * @param legacyBase {@code TASK_UNMAPPED_BASE}: where the bottom-up fallback search starts,
 *     a third of {@code TASK_SIZE} rounded up to a page (0x2aaaaaaab000)
 * @param mmapMinAddr {@code vm.mmap_min_addr}: no mapping below it
 * @param maxMapCount {@code vm.max_map_count}: the map-count limit (65530)
 * @param overcommitGuess {@code vm.overcommit_memory = 0} (heuristic: a single private writable
 *     mapping larger than RAM plus swap fails with ENOMEM); false for {@code = 1} (always). The
 *     strict mode 2 needs {@code Committed_AS} accounting, which is not modelled
 * @param rlimitMemlock {@code RLIMIT_MEMLOCK} in bytes (8 MiB by default since 5.16)
 * @param capSysRawio the caller has {@code CAP_SYS_RAWIO}, which lets it map below
 *     {@code mmapMinAddr}; false models an unprivileged process (EPERM there)
 * @param thpAlign {@code CONFIG_TRANSPARENT_HUGEPAGE}: an anonymous mapping without a hint whose
 *     length is a multiple of 2 MiB is placed 2 MiB aligned ({@code thp_get_unmapped_area})
 */
public record MmapLimits(long taskSize, long mmapBase, long legacyBase, long mmapMinAddr, int maxMapCount,
    boolean overcommitGuess, long rlimitMemlock, boolean capSysRawio, boolean thpAlign) {

  /** {@code DEFAULT_MAX_MAP_COUNT}. */
  public static final int DEFAULT_MAX_MAP_COUNT = 65530;

  /** An unprivileged x86-64 process without randomization, default sysctls and rlimits. */
  public static final MmapLimits DEFAULT = new MmapLimits(Uapi.TASK_SIZE, 0x7fff_f7ff_f000L, 0x2aaa_aaaa_b000L,
      Uapi.MMAP_MIN_ADDR, DEFAULT_MAX_MAP_COUNT, true, 8L << 20, false, true);

  public MmapLimits {
    if ((taskSize & (Uapi.PAGE_SIZE - 1)) != 0 || (mmapBase & (Uapi.PAGE_SIZE - 1)) != 0
        || (legacyBase & (Uapi.PAGE_SIZE - 1)) != 0 || mmapBase > taskSize || legacyBase > taskSize
        || mmapMinAddr < 0 || mmapMinAddr > mmapBase || maxMapCount < 0) {
      throw new IllegalArgumentException("inconsistent limits " + this);
    }
  }

  /** The same with another {@code vm.max_map_count}. */
  public MmapLimits withMaxMapCount(int n) {
    return new MmapLimits(taskSize, mmapBase, legacyBase, mmapMinAddr, n, overcommitGuess, rlimitMemlock, capSysRawio,
        thpAlign);
  }

  /** The same with {@code vm.overcommit_memory} 0 ({@code guess}) or 1 (always). */
  public MmapLimits withOvercommitGuess(boolean guess) {
    return new MmapLimits(taskSize, mmapBase, legacyBase, mmapMinAddr, maxMapCount, guess, rlimitMemlock, capSysRawio,
        thpAlign);
  }

  /** The same for a process with or without {@code CAP_SYS_RAWIO}. */
  public MmapLimits withCapSysRawio(boolean cap) {
    return new MmapLimits(taskSize, mmapBase, legacyBase, mmapMinAddr, maxMapCount, overcommitGuess, rlimitMemlock, cap,
        thpAlign);
  }
}
