package org.mmlab.mm.page;

/**
 * Migrate types ({@code enum migratetype}, {@code include/linux/mmzone.h}) and pageblocks: the
 * buddy allocator keeps the free blocks of each order on one list per type, each CPU's page
 * lists are split the same way, and every pageblock of {@value #PAGEBLOCK_ORDER} pages has a
 * type ({@code get_pfnblock_migratetype}) which decides the list its free pages go back to. An
 * allocation takes from its own type's lists ({@link #ofGfp}) and falls back to the other type
 * only when they are empty, claiming whole pageblocks where it can ({@code __rmqueue_fallback},
 * see {@link Zone}). So pages that can be migrated (user memory) and pages that cannot (page
 * tables, kernel allocations) stay in different pageblocks, and each CPU recycles each kind
 * on its own list: a page table freed at {@code munmap} is not the next page a user fault gets.
 *
 * <p>Simplified, and said so: two of the kernel's types, {@code MIGRATE_UNMOVABLE} and
 * {@code MIGRATE_MOVABLE} ({@code MIGRATE_RECLAIMABLE}, {@code MIGRATE_HIGHATOMIC},
 * {@code MIGRATE_CMA} and {@code MIGRATE_ISOLATE} are not modelled); every pageblock is movable
 * at boot, as {@code memmap_init} makes them.
 */
final class MigrateType {
  private MigrateType() {}

  /** {@code MIGRATE_UNMOVABLE}. */
  static final int UNMOVABLE = 0;
  /** {@code MIGRATE_MOVABLE}. */
  static final int MOVABLE = 1;
  /** Types modelled ({@code MIGRATE_PCPTYPES} of them in the kernel: three). */
  static final int TYPES = 2;
  /** {@code pageblock_order} on x86-64 with 4 KiB pages ({@code HPAGE_PMD_ORDER}). */
  static final int PAGEBLOCK_ORDER = 9;
  /** Pages per pageblock. */
  static final long PAGEBLOCK_PAGES = 1L << PAGEBLOCK_ORDER;

  /** {@code gfp_migratetype}. */
  static int ofGfp(int gfp) {
    return (gfp & Gfp.MOVABLE) != 0 ? MOVABLE : UNMOVABLE;
  }

  /** {@code fallbacks[type]}: the type an allocation falls back to (the other one, of two). */
  static int fallback(int type) {
    return type == MOVABLE ? UNMOVABLE : MOVABLE;
  }

  /** {@code migratetype_names[]}, for reports. */
  static String name(int type) {
    return type == MOVABLE ? "Movable" : "Unmovable";
  }
}
