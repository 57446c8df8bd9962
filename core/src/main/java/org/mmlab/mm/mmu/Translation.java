package org.mmlab.mm.mmu;

import org.jspecify.annotations.Nullable;
import org.mmlab.mm.page.Frames;
import org.mmlab.mm.pgtable.Level;

/**
 * What a page walk found for one 4 KiB page of virtual memory: the frame and the effective
 * permissions (x86 grants a right only if every level on the way grants it). For a huge leaf
 * the frame is the 4 KiB piece of the huge page that holds the address, and {@code leaf} says
 * at which level the walk stopped ({@code PMD}: 2 MiB, {@code PUD}: 1 GiB).
 *
 * <p>Immutable.
 *
 * @param pfn the 4 KiB frame holding the address
 * @param writable every entry on the way has {@code _PAGE_RW}
 * @param user every entry on the way has {@code _PAGE_USER}
 * @param leaf the level of the leaf entry
 */
public record Translation(long pfn, boolean writable, boolean user, Level leaf) {
  /** The bytes the leaf entry maps: 4 KiB, 2 MiB or 1 GiB. */
  public long pageSize() {
    return leaf.span();
  }

  /** The physical address of {@code addr} (which must lie in the translated page). */
  public long phys(long addr) {
    return (pfn << Frames.PAGE_SHIFT) | (addr & (Frames.PAGE_SIZE - 1));
  }

  /** The fault a user access of this kind would raise here, or null if it is allowed. */
  public Fault.@Nullable Kind check(boolean write) {
    return !user || (write && !writable) ? Fault.Kind.PROTECTION : null;
  }
}
