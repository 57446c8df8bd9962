package org.mmlab.mm.memory;

/**
 * How the fault path locks the address space: the design variants of seed 001
 * ({@code KernelConfig}'s {@code fault-locking}).
 */
public enum FaultLocking {
  /** Linux 6.4 and later: {@code lock_vma_under_rcu}, falling back to {@code mmap_read_lock}. */
  PER_VMA("per-vma"),
  /** The classic design: every fault takes {@code mmap_read_lock}. */
  MMAP_LOCK("mmap-lock"),
  /**
   * The speculative-fault design the May 2022 thread rejected, reduced to its core: the VMA is
   * found and the page tables are allocated under {@code rcu_read_lock} alone, with no lock that
   * excludes munmap's {@code free_pgtables}.
   */
  RCU_ONLY("rcu-only");

  private final String id;

  FaultLocking(String id) {
    this.id = id;
  }

  /** The name in {@code --variant fault-locking=...}. */
  public String id() {
    return id;
  }

  public static FaultLocking byId(String id) {
    for (FaultLocking f : values()) {
      if (f.id.equals(id)) {
        return f;
      }
    }
    throw new IllegalArgumentException("unknown fault-locking " + id);
  }
}
