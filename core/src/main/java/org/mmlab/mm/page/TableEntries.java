package org.mmlab.mm.page;

import org.mmlab.explore.SyncObject;

/**
 * The 512 entries of one page table, as the object that loads and stores of entries are
 * scheduling points on. It belongs to the {@link PtDesc} of that use of the page as a table, so
 * an entry loaded or stored after {@code pagetable_dtor} (a table freed under a racing fault)
 * is a use-after-free naming where the table was created and freed. The entries themselves live
 * in the frame ({@link Frames}); this object holds no state.
 */
public final class TableEntries extends SyncObject {
  /** Entries per table: 512 eight-byte entries in a 4 KiB frame. */
  static final int PER_TABLE = 512;

  private final String kind;

  TableEntries(PtDesc owner, String kind) {
    super(owner.page().sched(), "", null, owner, true);
    this.kind = kind;
  }

  @Override
  public String kind() {
    return kind;
  }
}
