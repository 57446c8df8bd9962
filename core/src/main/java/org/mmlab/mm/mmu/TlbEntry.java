package org.mmlab.mm.mmu;

import java.lang.foreign.MemorySegment;
import org.jspecify.annotations.Nullable;
import org.mmlab.mm.page.Frames;
import org.mmlab.mm.page.Page;
import org.mmlab.mm.pgtable.Entry;

/**
 * One TLB entry: a cached translation of one 4 KiB page of one mm (the mm whose set of entries
 * in its {@link Tlb} holds it). Everything the hit path needs sits in this one object (one array
 * load, then its fields): the page number, the walk result with the rights, the page descriptor the access is a point on, and the
 * off-heap chunk holding the frame with the frame's address in it.
 *
 * <h2>The hit tags</h2>
 * A hardware TLB compares the tag and checks the rights in parallel; the model folds the rights
 * into the comparison. Besides its page number ({@link #vpn}) an entry keeps one tag per kind of
 * access that may use it without more checks: {@link #loadTag} is the page number if a user load
 * may read the frame straight from {@link #base}, {@link #storeTag} if a user store may write it
 * there, else {@link #INVALID}. So a native hit is one comparison of the access's page number
 * with the tag of its kind ({@code UserAccess.loadFast}); every other case
 * (no rights, a frame never written, a miss) takes the general path, which checks each condition
 * on its own. {@link #retag} keeps the tags in step with the fields they summarize.
 *
 * <p>Owned by its CPU's {@link Tlb}: mutated in place on fill and flush, never shared.
 */
final class TlbEntry {
  /** The page number of an invalid entry: no user address has it, page numbers have 52 bits. */
  static final long INVALID = -1L;
  /**
   * In {@link #data}: the frame is marked touched in its chunk ({@code Frames}), so stores may go
   * to the chunk directly. A bit the walk result leaves free.
   */
  static final long TOUCHED = 1L << 3;

  /** The virtual page number ({@code addr >>> PAGE_SHIFT}); {@link #INVALID} when empty. */
  long vpn = INVALID;
  /** {@link #vpn} if the rights allow a user load and the frame's chunk is known ({@link #base} set), else {@link #INVALID}. */
  long loadTag = INVALID;
  /** {@link #vpn} if the rights allow a user store and the frame is {@link #TOUCHED}, else {@link #INVALID}. */
  long storeTag = INVALID;
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

  void fill(long vpn, long walkResult, Page page, @Nullable MemorySegment chunk, boolean touched, long step) {
    this.vpn = vpn;
    this.data = touched ? walkResult | TOUCHED : walkResult;
    this.page = page;
    this.chunkOffset = Walk.frame(walkResult) & (Frames.CHUNK_SIZE - 1);
    this.lines = 0;
    this.filledAt = step;
    chunk(chunk);
  }

  void invalidate() {
    vpn = INVALID;
    page = null;
    chunk(null);
  }

  /** Recomputes {@link #loadTag} and {@link #storeTag} after a change of the fields they summarize. */
  private void retag() {
    boolean mapped = vpn != INVALID && base != 0;
    loadTag = mapped && (data & UserAccess.NEED_READ) == UserAccess.NEED_READ ? vpn : INVALID;
    storeTag = mapped && (data & UserAccess.NEED_WRITE) == UserAccess.NEED_WRITE && (data & TOUCHED) != 0 ? vpn : INVALID;
  }

  /** The chunk holding the frame, or null (never written): sets {@link #chunk} and {@link #base}. */
  void chunk(@Nullable MemorySegment c) {
    chunk = c;
    base = c == null ? 0 : c.address() + chunkOffset;
    retag();
  }

  /** The frame is now touched and its chunk is {@code c}. */
  void touched(MemorySegment c) {
    data |= TOUCHED;
    chunk(c);
  }

  boolean valid() {
    return vpn != INVALID;
  }

  /** The virtual address of the page (meaningful while valid). */
  long vaddr() {
    return vpn << Frames.PAGE_SHIFT;
  }

  /** The physical address of the frame. */
  long frame() {
    return Walk.frame(data);
  }

  /** For reports: {@code "0x7f0000 -> pfn 0x1a3 rwu (cached at step 6)"}. */
  String describe() {
    return "0x" + Long.toHexString(vaddr()) + " -> pfn 0x" + Long.toHexString(frame() >>> Frames.PAGE_SHIFT)
        + ((data & Entry.WRITE) != 0 ? " rw" : " r-") + ((data & Entry.USER) != 0 ? "u" : "k")
        + (filledAt >= 0 ? " (cached at step " + filledAt + ")" : "");
  }
}
