package org.mmlab.mm.pgtable;

/**
 * Page-table entry encoding, x86-64 layout for present entries ({@code arch/x86/include/asm/
 * pgtable_types.h}): the hardware bits the model uses, and the frame number in bits 12..51.
 *
 * <pre>
 * bit  0  P    present                bit  6  D    dirty (leaves)
 * bit  1  RW   writable               bit  7  PS   huge leaf at PUD/PMD level
 * bit  2  US   user accessible        bit 12..51   pfn
 * bit  5  A    accessed               bit  9  SPECIAL (software: no struct page to count)
 *                                     bit 63  NX   no execute
 * </pre>
 *
 * <p>Non-present entries: 0 is {@code pte_none}. Any other non-present value is a swap-style
 * entry; the model encodes its own kinds (not bit-compatible with the kernel's inverted swap
 * offsets, which only matter to L1TF mitigation): bits 58..62 hold the kind, bits 9..57 the
 * offset, which for migration entries is the pfn of the folio under migration.
 *
 * <p>Stateless: values are {@code long}s, read and written by the page-table code.
 */
public final class Entry {
  public static final long PRESENT = 1L;
  public static final long WRITE = 1L << 1;
  public static final long USER = 1L << 2;
  public static final long ACCESSED = 1L << 5;
  public static final long DIRTY = 1L << 6;
  public static final long HUGE = 1L << 7;
  /** {@code _PAGE_SPECIAL}: a mapping with no refcounted page behind it (the zero page). */
  public static final long SPECIAL = 1L << 9;
  public static final long NX = 1L << 63;

  private static final int PFN_SHIFT = 12;
  private static final long PFN_MASK = ((1L << 40) - 1) << PFN_SHIFT;

  private static final int KIND_SHIFT = 58;
  private static final long KIND_MASK = 0x1FL << KIND_SHIFT;
  private static final int OFFSET_SHIFT = 9;
  private static final long OFFSET_MASK = ((1L << 49) - 1) << OFFSET_SHIFT;

  /** Non-present entry kinds (the model's swap types). */
  public enum SwapKind {
    /** Not used: a kind value of 0 with a nonzero offset is malformed. */
    NONE,
    /** A migration entry for a folio mapped read-only ({@code SWP_MIGRATION_READ}). */
    MIGRATION_READ,
    /** A migration entry for a folio mapped writable ({@code SWP_MIGRATION_WRITE}). */
    MIGRATION_WRITE,
    /** A swap entry proper (no swap device is modelled yet). */
    SWAP
  }

  private Entry() {}

  /** {@code pte_none}: the empty entry. */
  public static boolean isNone(long e) {
    return e == 0;
  }

  /** {@code pte_present}. */
  public static boolean isPresent(long e) {
    return (e & PRESENT) != 0;
  }

  /** A present entry pointing at a table or page {@code pfn}, with {@code flags} (PRESENT added). */
  public static long make(long pfn, long flags) {
    return ((pfn << PFN_SHIFT) & PFN_MASK) | flags | PRESENT;
  }

  /** The entry a table level stores for a lower table: present, writable, user, accessed. */
  public static long table(long pfn) {
    return make(pfn, WRITE | USER | ACCESSED);
  }

  /** {@code pte_pfn}. */
  public static long pfn(long e) {
    return (e & PFN_MASK) >>> PFN_SHIFT;
  }

  public static boolean isWrite(long e) {
    return (e & WRITE) != 0;
  }

  public static boolean isUser(long e) {
    return (e & USER) != 0;
  }

  public static boolean isDirty(long e) {
    return (e & DIRTY) != 0;
  }

  public static boolean isAccessed(long e) {
    return (e & ACCESSED) != 0;
  }

  public static boolean isExec(long e) {
    return (e & NX) == 0;
  }

  /** {@code pmd_leaf}/{@code pud_leaf}: a present huge mapping rather than a table. */
  public static boolean isHuge(long e) {
    return isPresent(e) && (e & HUGE) != 0;
  }

  /** {@code pte_special}. */
  public static boolean isSpecial(long e) {
    return isPresent(e) && (e & SPECIAL) != 0;
  }

  /** {@code pte_wrprotect}. */
  public static long wrprotect(long e) {
    return e & ~WRITE;
  }

  /** {@code pte_mkwrite}. */
  public static long mkwrite(long e) {
    return e | WRITE;
  }

  /** {@code pte_mkdirty}. */
  public static long mkdirty(long e) {
    return e | DIRTY;
  }

  /** {@code pte_mkyoung}. */
  public static long mkyoung(long e) {
    return e | ACCESSED;
  }

  /** {@code pte_mkclean}. */
  public static long mkclean(long e) {
    return e & ~DIRTY;
  }

  /** A non-present swap-style entry of {@code kind} with {@code offset}. */
  public static long swap(SwapKind kind, long offset) {
    if (kind == SwapKind.NONE) {
      throw new IllegalArgumentException("NONE is not an entry kind");
    }
    if (offset < 0 || offset >= (1L << 49)) {
      throw new IllegalArgumentException("swap offset out of range: " + offset);
    }
    return ((long) kind.ordinal() << KIND_SHIFT) | (offset << OFFSET_SHIFT);
  }

  /** {@code is_swap_pte}: non-present and not none. */
  public static boolean isSwap(long e) {
    return !isPresent(e) && e != 0;
  }

  /** The kind of a swap-style entry. */
  public static SwapKind swapKind(long e) {
    if (!isSwap(e)) {
      throw new IllegalArgumentException("not a swap entry: 0x" + Long.toHexString(e));
    }
    return SwapKind.values()[(int) ((e & KIND_MASK) >>> KIND_SHIFT)];
  }

  /** The offset of a swap-style entry (the pfn, for migration entries). */
  public static long swapOffset(long e) {
    return (e & OFFSET_MASK) >>> OFFSET_SHIFT;
  }

  /** {@code make_readable_migration_entry}/{@code make_writable_migration_entry}. */
  public static long migration(long pfn, boolean writable) {
    return swap(writable ? SwapKind.MIGRATION_WRITE : SwapKind.MIGRATION_READ, pfn);
  }

  /** {@code is_migration_entry}. */
  public static boolean isMigration(long e) {
    if (!isSwap(e)) {
      return false;
    }
    SwapKind k = swapKind(e);
    return k == SwapKind.MIGRATION_READ || k == SwapKind.MIGRATION_WRITE;
  }

  /** For reports: {@code "pfn 0x1a3 rw-u AD"}, {@code "migration pfn 0x1a3"}, {@code "none"}. */
  public static String describe(long e) {
    if (isNone(e)) {
      return "none";
    }
    if (isSwap(e)) {
      return swapKind(e).name().toLowerCase(java.util.Locale.ROOT) + " 0x" + Long.toHexString(swapOffset(e));
    }
    StringBuilder sb = new StringBuilder("pfn 0x").append(Long.toHexString(pfn(e))).append(' ');
    sb.append('r').append(isWrite(e) ? 'w' : '-').append(isExec(e) ? 'x' : '-').append(isUser(e) ? 'u' : 'k');
    if (isHuge(e)) {
      sb.append(" huge");
    }
    if (isAccessed(e) || isDirty(e)) {
      sb.append(' ').append(isAccessed(e) ? "A" : "").append(isDirty(e) ? "D" : "");
    }
    return sb.toString();
  }
}
