package org.mmlab.mm.pgtable;

/**
 * The four levels of an x86-64 page table with 4-level paging. Each table is one 4 KiB frame of
 * 512 eight-byte entries; an entry at a level maps {@link #span()} bytes of virtual address.
 */
public enum Level {
  /** Page global directory: bits 39..47 of the address; an entry spans 512 GiB. */
  PGD(39),
  /** Page upper directory: bits 30..38; an entry spans 1 GiB (a huge leaf maps 1 GiB). */
  PUD(30),
  /** Page middle directory: bits 21..29; an entry spans 2 MiB (a huge leaf maps 2 MiB). */
  PMD(21),
  /** Page table: bits 12..20; an entry maps one 4 KiB page. */
  PTE(12);

  /** Entries per table. */
  public static final int ENTRIES = 512;

  private final int shift;

  Level(int shift) {
    this.shift = shift;
  }

  /** The address bit this level's index starts at. */
  public int shift() {
    return shift;
  }

  /** Bytes mapped by one entry of this level. */
  public long span() {
    return 1L << shift;
  }

  /** {@code pgd_index}, {@code pud_index}, {@code pmd_index}, {@code pte_index}. */
  public int index(long addr) {
    return (int) ((addr >>> shift) & (ENTRIES - 1));
  }

  /** The start of the entry's span containing {@code addr}. */
  public long floor(long addr) {
    return addr & -span();
  }

  /** The start of the next span after {@code addr}'s ({@code pgd_addr_end} without the clamp). */
  public long next(long addr) {
    return floor(addr) + span();
  }

  /** The level below, or null for PTE. */
  public Level lower() {
    return switch (this) {
      case PGD -> PUD;
      case PUD -> PMD;
      case PMD -> PTE;
      case PTE -> throw new IllegalStateException("no level below PTE");
    };
  }

  /** True where a present entry may be a leaf mapping a huge page (PUD: 1 GiB, PMD: 2 MiB). */
  public boolean mayBeHuge() {
    return this == PUD || this == PMD;
  }
}
