package org.mmlab.mm.filemap;

import org.jspecify.annotations.Nullable;

/**
 * The entries of an {@link XArray} that are not the caller's objects: internal entries
 * ({@code xa_mk_internal}: the retry entry and the walks' restart marker), sibling entries
 * ({@code xa_mk_sibling}) and value entries ({@code xa_mk_value}). Callers see only
 * {@link XArray#RETRY_ENTRY} and the value helpers of {@link XArray}; the types here are the
 * package's, so a caller can never store a node or a sibling.
 *
 * <p>Ordered: the entry types, then the shared instances, then the tests on an entry.
 */
final class XaEntry {
  private XaEntry() {}

  /** An internal entry ({@code xa_mk_internal}): retry entries and the walk's restart marker. */
  record Internal(String name) {
    @Override
    public String toString() {
      return name;
    }
  }

  /** {@code xa_mk_sibling(offset)}: this slot belongs to the entry in slot {@code offset}. */
  record Sibling(int offset) {}

  /** {@code xa_mk_value(v)}: an integer stored in place of a pointer (shadow and swap entries). */
  record Value(long value) {
    @Override
    public String toString() {
      return "value(" + value + ")";
    }
  }

  /** {@code XA_RETRY_ENTRY}; published as {@link XArray#RETRY_ENTRY}. */
  static final Object RETRY = new Internal("XA_RETRY_ENTRY");

  /** The walk must restart from the head: never stored, never returned to a caller. */
  static final Object RESTART = new Internal("restart");

  private static final Sibling[] SIBLINGS = new Sibling[XaNode.SIZE];

  static {
    for (int i = 0; i < XaNode.SIZE; i++) {
      SIBLINGS[i] = new Sibling(i);
    }
  }

  /** {@code xa_mk_sibling(offset)}, shared: one instance per slot. */
  static Sibling sibling(int offset) {
    return SIBLINGS[offset];
  }

  /** {@code xa_is_sibling}. */
  static boolean isSibling(@Nullable Object e) {
    return e instanceof Sibling;
  }

  /** {@code xa_to_sibling}: the slot a sibling entry names. */
  static int siblingOffset(Object e) {
    return ((Sibling) e).offset();
  }
}
