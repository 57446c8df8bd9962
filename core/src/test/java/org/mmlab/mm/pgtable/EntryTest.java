package org.mmlab.mm.pgtable;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class EntryTest {
  @Test
  void presentEntriesRoundTripPfnAndFlags() {
    long e = Entry.make(0x1a3, Entry.WRITE | Entry.USER);
    assertThat(Entry.isPresent(e)).isTrue();
    assertThat(Entry.pfn(e)).isEqualTo(0x1a3);
    assertThat(Entry.isWrite(e)).isTrue();
    assertThat(Entry.isWrite(Entry.wrprotect(e))).isFalse();
    assertThat(Entry.isDirty(Entry.mkdirty(e))).isTrue();
    assertThat(Entry.isDirty(Entry.mkclean(Entry.mkdirty(e)))).isFalse();
    assertThat(Entry.pfn(Entry.make((1L << 40) - 1, 0))).isEqualTo((1L << 40) - 1);
    assertThat(Entry.describe(Entry.mkyoung(e))).isEqualTo("pfn 0x1a3 rwxu A");
  }

  @Test
  void hugeLeavesAreFlaggedOnlyWhenPresent() {
    assertThat(Entry.isHuge(Entry.make(0x200, Entry.HUGE))).isTrue();
    assertThat(Entry.isHuge(Entry.make(0x200, 0))).isFalse();
    assertThat(Entry.isHuge(Entry.HUGE)).isFalse();
  }

  @Test
  void migrationEntriesAreNonPresentAndCarryThePfn() {
    long m = Entry.migration(0xabcdef, true);
    assertThat(Entry.isPresent(m)).isFalse();
    assertThat(Entry.isNone(m)).isFalse();
    assertThat(Entry.isMigration(m)).isTrue();
    assertThat(Entry.swapKind(m)).isEqualTo(Entry.SwapKind.MIGRATION_WRITE);
    assertThat(Entry.swapOffset(m)).isEqualTo(0xabcdef);
    assertThat(Entry.isMigration(Entry.migration(5, false))).isTrue();
    assertThat(Entry.isMigration(Entry.swap(Entry.SwapKind.SWAP, 5))).isFalse();
    assertThat(Entry.describe(Entry.migration(0x10, false))).isEqualTo("migration_read 0x10");
    assertThatThrownBy(() -> Entry.swap(Entry.SwapKind.NONE, 1)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void levelsSplitA47BitAddress() {
    long addr = 0x7f12_3456_7000L;
    assertThat(Level.PGD.index(addr)).isEqualTo((int) ((addr >>> 39) & 511));
    assertThat(Level.PTE.index(addr)).isEqualTo((int) ((addr >>> 12) & 511));
    assertThat(Level.PMD.span()).isEqualTo(2L << 20);
    assertThat(Level.PUD.span()).isEqualTo(1L << 30);
    assertThat(Level.PMD.floor(addr + 123)).isEqualTo(addr & ~((2L << 20) - 1));
    assertThat(Level.PGD.lower()).isEqualTo(Level.PUD);
    assertThat(Level.PMD.mayBeHuge()).isTrue();
    assertThat(Level.PTE.mayBeHuge()).isFalse();
  }
}
