package org.mmlab.mm.page;

/**
 * Allocation flags: the kernel's {@code gfp_t} ({@code include/linux/gfp_types.h}), reduced to
 * what the model decides on.
 *
 * <p>There is no reclaim in the model (no LRU scanning, no swap, no OOM killer): an allocation
 * that finds no free block fails whatever its flags, {@link #KERNEL} included, where the kernel
 * would reclaim, retry and finally OOM-kill. Callers must therefore handle failure everywhere,
 * which is what the kernel requires of them anyway; {@link FailHook} makes failures happen on
 * demand. What the flags do decide:
 * <ul>
 *   <li>{@link #DIRECT_RECLAIM} (part of {@link #KERNEL}): the allocation may sleep, so the
 *       caller must not hold a spinlock or be in an RCU read section ({@code might_alloc});
 *       violating that is a verdict, whether or not this allocation would have slept;</li>
 *   <li>{@link #ZERO}: the frames read zero on return ({@code __GFP_ZERO});</li>
 *   <li>{@link #COMP}: a compound page, the head carrying the order and the tails pointing at
 *       it ({@code __GFP_COMP}; every folio allocation has it);</li>
 *   <li>{@link #THISNODE}: no fallback to other nodes ({@code __GFP_THISNODE});</li>
 *   <li>{@link #MOVABLE}: the migrate type the pages come from ({@code gfp_migratetype},
 *       {@link MigrateType#ofGfp}).</li>
 * </ul>
 */
public final class Gfp {
  private Gfp() {}

  /** {@code __GFP_DIRECT_RECLAIM}: the caller may sleep in the allocator. */
  public static final int DIRECT_RECLAIM = 1;
  /** {@code __GFP_KSWAPD_RECLAIM}: wake kswapd on low memory (no effect in the model). */
  public static final int KSWAPD_RECLAIM = 1 << 1;
  /** {@code __GFP_IO} (no effect in the model). */
  public static final int IO = 1 << 2;
  /** {@code __GFP_FS} (no effect in the model). */
  public static final int FS = 1 << 3;
  /** {@code __GFP_ZERO}: return zeroed frames. */
  public static final int ZERO = 1 << 4;
  /** {@code __GFP_COMP}: a compound page (head + tails). */
  public static final int COMP = 1 << 5;
  /** {@code __GFP_THISNODE}: only the preferred node. */
  public static final int THISNODE = 1 << 6;
  /** {@code __GFP_NOWARN} (no effect in the model). */
  public static final int NOWARN = 1 << 7;
  /**
   * {@code __GFP_MOVABLE}: the pages can be migrated, so they come from {@code MIGRATE_MOVABLE}
   * pageblocks ({@link MigrateType}); without it, from {@code MIGRATE_UNMOVABLE} ones.
   */
  public static final int MOVABLE = 1 << 8;

  /** {@code GFP_KERNEL}: may sleep; fails in the model when memory is exhausted (no reclaim). */
  public static final int KERNEL = DIRECT_RECLAIM | KSWAPD_RECLAIM | IO | FS;
  /** {@code GFP_NOWAIT}: never sleeps; may fail. Usable under spinlocks and in RCU read sections. */
  public static final int NOWAIT = KSWAPD_RECLAIM | NOWARN;
  /** {@code GFP_ATOMIC} without the reserves (the model has no watermarks). */
  public static final int ATOMIC = KSWAPD_RECLAIM;
  /**
   * {@code GFP_HIGHUSER_MOVABLE}: user pages (anonymous memory, the page cache of tmpfs):
   * {@code GFP_KERNEL} and {@link #MOVABLE} (no highmem, no movable zone in the model). Page
   * tables are {@code GFP_KERNEL} whatever the fault's flags: unmovable.
   */
  public static final int USER = KERNEL | MOVABLE;

  /** {@code gfpflags_allow_blocking}. */
  public static boolean allowsBlocking(int gfp) {
    return (gfp & DIRECT_RECLAIM) != 0;
  }

  /** {@code "GFP_KERNEL|__GFP_ZERO"}-style text for reports. */
  public static String describe(int gfp) {
    StringBuilder sb = new StringBuilder();
    int rest = gfp;
    if ((rest & USER) == USER) {
      sb.append("GFP_HIGHUSER_MOVABLE");
      rest &= ~USER;
    } else if ((rest & KERNEL) == KERNEL) {
      sb.append("GFP_KERNEL");
      rest &= ~KERNEL;
    } else if ((rest & NOWAIT) == NOWAIT) {
      sb.append("GFP_NOWAIT");
      rest &= ~NOWAIT;
    }
    String[] names = {"__GFP_DIRECT_RECLAIM", "__GFP_KSWAPD_RECLAIM", "__GFP_IO", "__GFP_FS", "__GFP_ZERO",
        "__GFP_COMP", "__GFP_THISNODE", "__GFP_NOWARN", "__GFP_MOVABLE"};
    for (int b = 0; b < names.length; b++) {
      if ((rest & (1 << b)) != 0) {
        if (!sb.isEmpty()) {
          sb.append('|');
        }
        sb.append(names[b]);
      }
    }
    return sb.isEmpty() ? "0" : sb.toString();
  }
}
