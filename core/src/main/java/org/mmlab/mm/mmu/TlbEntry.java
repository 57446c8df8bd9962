package org.mmlab.mm.mmu;

import java.lang.foreign.MemorySegment;
import org.jspecify.annotations.Nullable;
import org.mmlab.mm.page.Frames;
import org.mmlab.mm.page.Page;
import org.mmlab.mm.pgtable.Entry;

/**
 * One TLB entry: a cached translation of one 4 KiB page of one mm. Everything the hit path
 * needs sits in this one object (one array load, then fields on one cache line): the tag, the
 * walk result with the rights, the page descriptor the access is a point on, and the off-heap
 * chunk holding the frame with the frame's offset in it.
 *
 * <p>Owned by its CPU's {@link Tlb}: mutated in place on fill and flush, never shared.
 */
final class TlbEntry {
  /** The tag of an invalid entry: no (page, mm) pair has it, user addresses are below 2^47. */
  static final long INVALID = -1L;
  /**
   * In {@link #data}: the frame is marked touched in its chunk ({@code Frames}), so stores may go
   * to the chunk directly. A bit the walk result leaves free.
   */
  static final long TOUCHED = 1L << 3;

  /** {@link Tlb#tag}: page number above the context id; {@link #INVALID} when empty. */
  long tag = INVALID;
  /** The {@link Walk} result: frame, effective rights, special bit, leaf level; and {@link #TOUCHED}. */
  long data;
  /** The descriptor of the frame (the access's scheduling object). Null when invalid. */
  @Nullable Page page;
  /**
   * The off-heap chunk holding the frame ({@code Frames.chunkSegment}), or null while that
   * chunk was never written (accesses then go through {@code Frames}).
   */
  @Nullable MemorySegment chunk;
  /** The frame's offset within {@link #chunk}. */
  long chunkOffset;
  /**
   * The frame's absolute address ({@link #chunk}'s address + {@link #chunkOffset}), 0 while
   * {@link #chunk} is null: the hit path reads and writes the frame through
   * {@code UserAccess.RAM} at this address, with no bounds or liveness check of its own. Safe
   * because this entry holds {@link #chunk}, which keeps the chunk's memory allocated (a chunk
   * is freed only by the garbage collector, once nothing refers to it), and the access stays
   * within the frame ({@code UserAccess} checks the offset and width first).
   */
  long base;
  /**
   * The frame's 64-byte lines this entry has marked written ({@code Frames.markLines}) since it
   * was filled: a store to one of them goes straight to the chunk. Reset on fill; a frame is
   * zeroed (and its mask cleared) only after every translation to it was flushed.
   */
  long lines;
  /** The step at which the entry was filled (-1 natively), for reports. */
  long filledAt;

  void fill(long tag, long walkResult, Page page, @Nullable MemorySegment chunk, boolean touched, long step) {
    this.tag = tag;
    this.data = touched ? walkResult | TOUCHED : walkResult;
    this.page = page;
    this.chunkOffset = Walk.frame(walkResult) & (Frames.CHUNK_SIZE - 1);
    chunk(chunk);
    this.lines = 0;
    this.filledAt = step;
  }

  void invalidate() {
    tag = INVALID;
    page = null;
    chunk(null);
  }

  /** The chunk holding the frame, or null (never written): sets {@link #chunk} and {@link #base}. */
  void chunk(@Nullable MemorySegment c) {
    chunk = c;
    base = c == null ? 0 : c.address() + chunkOffset;
  }

  /** The frame is now touched and its chunk is {@code c}. */
  void touched(MemorySegment c) {
    chunk(c);
    data |= TOUCHED;
  }

  boolean valid() {
    return tag != INVALID;
  }

  /** The physical address of the frame. */
  long frame() {
    return Walk.frame(data);
  }

  /** For reports: {@code "0x7f0000 -> pfn 0x1a3 rwu (cached at step 6)"}. */
  String describe(long vaddr) {
    return "0x" + Long.toHexString(vaddr) + " -> pfn 0x" + Long.toHexString(frame() >>> Frames.PAGE_SHIFT)
        + ((data & Entry.WRITE) != 0 ? " rw" : " r-") + ((data & Entry.USER) != 0 ? "u" : "k")
        + (filledAt >= 0 ? " (cached at step " + filledAt + ")" : "");
  }
}
