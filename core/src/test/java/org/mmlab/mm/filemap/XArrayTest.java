package org.mmlab.mm.filemap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.BugException;
import org.mmlab.explore.NativeSched;
import org.mmlab.explore.VerdictKind;
import org.mmlab.sync.Rcu;

/** The XArray's semantics, single-threaded ({@link NativeSched}): what each operation stores, finds and marks. */
class XArrayTest {
  static final LockClass XA_LOCK = LockClass.of("test-xa:xa_lock");
  static final long HUGE = Long.MAX_VALUE >>> 1;

  final NativeSched sched = new NativeSched();
  final Rcu rcu = new Rcu(sched);
  final XArray xa = new XArray(sched, "i_pages", XA_LOCK, null);

  // ------------------------------------------------------------------ helpers

  @Nullable Object put(long index, int order, @Nullable Object e) {
    xa.lock().lock();
    try {
      return xa.store(index, order, e);
    } finally {
      xa.lock().unlock();
    }
  }

  @Nullable Object put(long index, @Nullable Object e) {
    return put(index, 0, e);
  }

  @Nullable Object get(long index) {
    rcu.readLock();
    try {
      return xa.load(index);
    } finally {
      rcu.readUnlock();
    }
  }

  XArray.@Nullable Found find(long start, long max) {
    rcu.readLock();
    try {
      return xa.find(start, max);
    } finally {
      rcu.readUnlock();
    }
  }

  XArray.@Nullable Found findMarked(long start, long max, int mark) {
    rcu.readLock();
    try {
      return xa.findMarked(start, max, mark);
    } finally {
      rcu.readUnlock();
    }
  }

  boolean marked(long index, int mark) {
    rcu.readLock();
    try {
      return xa.getMark(index, mark);
    } finally {
      rcu.readUnlock();
    }
  }

  void mark(long index, int mark, boolean set) {
    xa.lock().lock();
    try {
      if (set) {
        xa.setMark(index, mark);
      } else {
        xa.clearMark(index, mark);
      }
    } finally {
      xa.lock().unlock();
    }
  }

  List<String> entries() {
    List<String> out = new ArrayList<>();
    xa.forEachPeek((i, o, e) -> out.add("0x" + Long.toHexString(i) + "/" + o + "=" + e));
    return out;
  }

  // ------------------------------------------------------------------ store, load, erase

  @Test
  void storeLoadAndEraseAtSparseAndHugeIndices() {
    long[] indices = {0, 63, 64, 4095, 1L << 40, HUGE};
    for (long i : indices) {
      assertThat(put(i, "e" + i)).isNull();
      xa.check();
    }
    for (long i : indices) {
      assertThat(get(i)).isEqualTo("e" + i);
      if (i > 0 && i - 1 != 64 - 1 && i - 1 != 63) {
        assertThat(get(i - 1)).as("below %d", i).isNull();
      }
      if (i != 63 && i != Long.MAX_VALUE) {
        assertThat(get(i + 1)).as("above %d", i).isNull();
      }
    }
    assertThat(get(Long.MAX_VALUE)).isNull();
    assertThat(get(-1)).isNull();
    assertThat(xa.peekCount()).isEqualTo(indices.length);
    for (long i : indices) {
      assertThat(put(i, null)).isEqualTo("e" + i);
      assertThat(get(i)).isNull();
      xa.check();
    }
    assertThat(xa.peekCount()).isZero();
    assertThat(xa.peekHead()).as("an emptied array shrinks back to a null head").isNull();
  }

  @Test
  void theEntryOfIndexZeroAloneLivesInTheHeadAndTheTreeShrinksBackToIt() {
    put(0, "zero");
    assertThat(xa.peekHead()).isEqualTo("zero");
    put(1L << 40, "far");
    assertThat(xa.peekHead()).isInstanceOf(XaNode.class);
    assertThat(((XaNode) xa.peekHead()).shift).isEqualTo(36);
    assertThat(get(0)).isEqualTo("zero");
    put(1L << 40, null);
    assertThat(xa.peekHead()).as("shrunk to the head entry").isEqualTo("zero");
    xa.check();
  }

  @Test
  void anOrderNineEntryCoversExactlyItsAligned512Indices() {
    long base = 3 * 512;
    put(base, 9, "huge");
    xa.check();
    assertThat(get(base - 1)).isNull();
    for (long i = base; i < base + 512; i++) {
      assertThat(get(i)).as("index %d", i).isEqualTo("huge");
    }
    assertThat(get(base + 512)).isNull();
    assertThat(find(0, Long.MAX_VALUE)).isEqualTo(new XArray.Found(base, 9, "huge"));
    assertThat(find(base + 100, base + 100)).as("found from its middle").isEqualTo(new XArray.Found(base, 9, "huge"));
    assertThat(find(base + 512, Long.MAX_VALUE)).isNull();
    assertThat(xa.peekCount()).isEqualTo(1);
    assertThat(entries()).containsExactly("0x600/9=huge");
  }

  @Test
  void ordersFromZeroToTwelveRoundTrip() {
    for (int order = 0; order <= 12; order++) {
      long base = (long) (order + 1) << 12;
      put(base, order, "o" + order);
      xa.check();
    }
    for (int order = 0; order <= 12; order++) {
      long base = (long) (order + 1) << 12;
      assertThat(get(base + (1L << order) - 1)).isEqualTo("o" + order);
      assertThat(get(base + (1L << order))).isNull();
      assertThat(find(base, Long.MAX_VALUE)).isEqualTo(new XArray.Found(base, order, "o" + order));
    }
  }

  @Test
  void aLargeEntryReplacesTheSmallerEntriesUnderItAndTheirNodes() {
    long base = 512;
    put(base + 1, "a");
    put(base + 100, "b");
    put(base + 511, "c");
    put(base + 128, 6, "d");
    put(base + 4096, "outside");
    xa.check();
    assertThat(put(base, 9, "big")).as("the entry at the first index before").isNull();
    xa.check();
    assertThat(get(base + 1)).isEqualTo("big");
    assertThat(get(base + 130)).isEqualTo("big");
    assertThat(get(base + 4096)).isEqualTo("outside");
    assertThat(entries()).containsExactly("0x200/9=big", "0x1200/0=outside");
    assertThat(put(base, 9, "big2")).isEqualTo("big");
  }

  /**
   * As {@code xas_store}: a smaller store into part of a multi-index entry replaces the entry
   * over its whole range, and the entry keeps its order (no split).
   */
  @Test
  void aSmallerStoreIntoAMultiIndexEntryReplacesItOverItsWholeRange() {
    put(0, 9, "A");
    assertThat(put(5, "B")).isEqualTo("A");
    xa.check();
    assertThat(get(0)).isEqualTo("B");
    assertThat(get(511)).isEqualTo("B");
    assertThat(entries()).containsExactly("0x0/9=B");
    assertThat(put(64, 6, "C")).as("an order-6 store into it").isEqualTo("B");
    assertThat(entries()).containsExactly("0x0/9=C");
    assertThat(put(0, 3, "D")).as("an order-3 store at its first index").isEqualTo("C");
    assertThat(entries()).containsExactly("0x0/9=D");
    xa.check();
  }

  @Test
  void erasingAnyIndexOfAMultiIndexEntryErasesAllOfIt() {
    put(512, 9, "A");
    put(2048, "other");
    assertThat(put(700, null)).isEqualTo("A");
    assertThat(get(512)).isNull();
    assertThat(get(1023)).isNull();
    assertThat(entries()).containsExactly("0x800/0=other");
    xa.check();
  }

  @Test
  void erasingARangeErasesEverythingInIt() {
    put(8, "a");
    put(9, "b");
    put(15, "c");
    put(16, "d");
    assertThat(put(8, 3, null)).isEqualTo("a");
    assertThat(entries()).containsExactly("0x10/0=d");
    put(9, "b");
    assertThat(put(8, 3, null)).as("the range's first index was empty").isNull();
    assertThat(entries()).containsExactly("0x10/0=d");
    put(0, 12, null);
    assertThat(xa.peekHead()).isNull();
    xa.check();
  }

  // ------------------------------------------------------------------ find

  @Test
  void findSkipsGapsAndStopsAtMax() {
    put(10, "a");
    put(5000, "b");
    put(1L << 40, "c");
    assertThat(find(0, Long.MAX_VALUE)).isEqualTo(new XArray.Found(10, 0, "a"));
    assertThat(find(10, 10)).isEqualTo(new XArray.Found(10, 0, "a"));
    assertThat(find(11, Long.MAX_VALUE)).isEqualTo(new XArray.Found(5000, 0, "b"));
    assertThat(find(5001, (1L << 40) - 1)).isNull();
    assertThat(find(5001, 1L << 40)).isEqualTo(new XArray.Found(1L << 40, 0, "c"));
    assertThat(find((1L << 40) + 1, Long.MAX_VALUE)).isNull();
    assertThat(find(20, 10)).as("start above max").isNull();
  }

  // ------------------------------------------------------------------ special entries

  @Test
  void valueEntriesAreStoredCountedAndFound() {
    Object v = XArray.mkValue(7);
    assertThat(XArray.isValue(v)).isTrue();
    assertThat(XArray.toValue(v)).isEqualTo(7);
    assertThat(XArray.isValue("x")).isFalse();
    assertThat(XArray.isValue(null)).isFalse();
    put(3, v);
    put(512, 9, XArray.mkValue(1));
    put(4096, "folio");
    xa.check();
    assertThat(get(3)).isEqualTo(XArray.mkValue(7));
    assertThat(XArray.toValue(get(600))).isEqualTo(1);
    assertThat(find(4, Long.MAX_VALUE)).isEqualTo(new XArray.Found(512, 9, XArray.mkValue(1)));
    XaNode root = (XaNode) xa.peekHead();
    assertThat(root.shift).isEqualTo(12);
    put(512, 9, "folio2");
    xa.check();
    assertThatThrownBy(() -> XArray.mkValue(-1)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> XArray.toValue("x")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aStoredRetryEntryIsReturnedToTheCaller() {
    put(5, "a");
    put(7, XArray.RETRY_ENTRY);
    xa.check();
    assertThat(XArray.isRetry(get(7))).isTrue();
    assertThat(XArray.isRetry(get(5))).isFalse();
    assertThat(find(6, Long.MAX_VALUE)).isEqualTo(new XArray.Found(7, 0, XArray.RETRY_ENTRY));
    assertThat(put(7, "b")).isSameAs(XArray.RETRY_ENTRY);
    xa.check();
    put(0, XArray.RETRY_ENTRY);
    put(0, 6, XArray.RETRY_ENTRY);
    xa.check();
    put(0, 6, null);
    assertThat(xa.peekHead()).isNull();
    xa.check();
  }

  // ------------------------------------------------------------------ marks

  @Test
  void marksPropagateUpAndAreFoundAndCleared() {
    long[] at = {0, 4095, 1L << 40};
    for (long i : at) {
      put(i, "e" + i);
      mark(i, XArray.MARK_0, true);
    }
    put(100, "unmarked");
    xa.check();
    assertThat(marked(4095, XArray.MARK_0)).isTrue();
    assertThat(marked(100, XArray.MARK_0)).isFalse();
    assertThat(marked(4095, XArray.MARK_1)).isFalse();
    assertThat(findMarked(0, Long.MAX_VALUE, XArray.MARK_0)).isEqualTo(new XArray.Found(0, 0, "e0"));
    assertThat(findMarked(1, Long.MAX_VALUE, XArray.MARK_0)).isEqualTo(new XArray.Found(4095, 0, "e4095"));
    assertThat(findMarked(4096, Long.MAX_VALUE, XArray.MARK_0)).isEqualTo(new XArray.Found(1L << 40, 0, "e" + (1L << 40)));
    assertThat(findMarked(0, Long.MAX_VALUE, XArray.MARK_1)).isNull();
    mark(4095, XArray.MARK_0, false);
    xa.check();
    assertThat(marked(4095, XArray.MARK_0)).isFalse();
    assertThat(findMarked(1, Long.MAX_VALUE, XArray.MARK_0)).isEqualTo(new XArray.Found(1L << 40, 0, "e" + (1L << 40)));
    mark(0, XArray.MARK_0, false);
    mark(1L << 40, XArray.MARK_0, false);
    xa.check();
    assertThat(xa.peekHeadMarks()).as("no mark left anywhere").isZero();
    mark(200, XArray.MARK_2, true);
    assertThat(xa.peekHeadMarks()).as("marking an absent index does nothing").isZero();
  }

  @Test
  void aMarkStaysWithAnOverwrittenEntryAndGoesWithAnErasedOne() {
    put(70, "a");
    mark(70, XArray.MARK_1, true);
    put(70, "b");
    assertThat(marked(70, XArray.MARK_1)).isTrue();
    put(70, null);
    put(70, "c");
    assertThat(marked(70, XArray.MARK_1)).isFalse();
    xa.check();
  }

  @Test
  void aMarkOnAMultiIndexEntryCoversEveryIndexAndMergesIntoALargerStore() {
    put(512, 9, "big");
    mark(700, XArray.MARK_2, true);
    assertThat(marked(512, XArray.MARK_2)).isTrue();
    assertThat(marked(1023, XArray.MARK_2)).isTrue();
    assertThat(findMarked(800, Long.MAX_VALUE, XArray.MARK_2)).isEqualTo(new XArray.Found(512, 9, "big"));
    xa.check();
    put(1024, "x");
    put(1030, "y");
    mark(1030, XArray.MARK_0, true);
    put(1024, 6, "merged");
    assertThat(marked(1024, XArray.MARK_0)).as("squashed into the new entry").isTrue();
    xa.check();
  }

  // ------------------------------------------------------------------ misuse and checks

  @Test
  void aWriteWithoutTheLockIsAnInvariantVerdict() {
    assertThatThrownBy(() -> xa.store(1, 0, "x")).isInstanceOfSatisfying(BugException.class,
        b -> assertThat(b.verdict().kind()).isEqualTo(VerdictKind.INVARIANT));
    assertThatThrownBy(() -> xa.setMark(1, 0)).isInstanceOf(BugException.class);
  }

  @Test
  void aReadOutsideRcuAndTheLockIsRcuMisuseUnlessProveRcuIsOff() {
    put(1, "x");
    assertThatThrownBy(() -> xa.load(1)).isInstanceOfSatisfying(BugException.class,
        b -> assertThat(b.verdict().kind()).isEqualTo(VerdictKind.RCU_MISUSE));
    xa.lock().lock();
    assertThat(xa.load(1)).as("under the lock").isEqualTo("x");
    xa.lock().unlock();
    xa.setProveRcu(false);
    assertThat(xa.load(1)).isEqualTo("x");
  }

  @Test
  void badArgumentsAreRejected() {
    xa.lock().lock();
    try {
      assertThatThrownBy(() -> xa.store(-1, 0, "x")).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> xa.store(100, 9, "x")).as("misaligned").isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> xa.store(0, 63, "x")).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> xa.setMark(0, 3)).isInstanceOf(IllegalArgumentException.class);
    } finally {
      xa.lock().unlock();
    }
    assertThat(xa.peekHead()).isNull();
  }

  /** The validity walk is real: each corruption is caught, and undoing it passes again. */
  @Test
  void checkCatchesACorruptedCountMarkAndSibling() {
    put(0, "a");
    put(100, "b");
    put(512, 9, "c");
    mark(100, XArray.MARK_0, true);
    xa.check();
    XaNode root = (XaNode) xa.peekHead();
    XaNode leaf = (XaNode) root.peek(1);

    leaf.count++;
    assertInvariant("count");
    leaf.count--;

    leaf.clearMark(XArray.MARK_0, 100 & 63);
    assertInvariant("mark 0 of slot 1 is set but child");
    leaf.setMark(XArray.MARK_0, 100 & 63);

    Object sib = root.peek(9);
    root.init(9, null);
    root.count--;
    assertInvariant("slot 9 between slot 8 and its sibling");
    root.init(9, sib);
    root.count++;

    xa.check();
  }

  private void assertInvariant(String what) {
    assertThatThrownBy(xa::check).isInstanceOfSatisfying(BugException.class, b -> {
      assertThat(b.verdict().kind()).isEqualTo(VerdictKind.INVARIANT);
      assertThat(String.join("\n", b.verdict().details())).contains(what);
    });
  }
}
