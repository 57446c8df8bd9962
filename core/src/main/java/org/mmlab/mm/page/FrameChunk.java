package org.mmlab.mm.page;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One 2 MiB piece of simulated RAM: an off-heap segment and a bitmap of the 512 frames in it
 * that were written since the chunk was last made clean.
 *
 * <p>The segment is {@link #SIZE} bytes of contents followed by {@link #LINE_WORDS} 64-bit
 * <em>line masks</em>, one per frame: bit {@code i} of frame {@code f}'s mask is set before a
 * store reaches bytes {@code [64 i, 64 i + 64)} of that frame, and cleared only by
 * {@code Frames.zeroPage} after it zeroed the line. So a clear bit means the line reads as
 * zero, and {@code clear_page} zeroes only the lines that were written since the frame was
 * last zeroed (see {@link Frames} for who marks them and why that is safe).
 *
 * <h2>Concurrency</h2>
 * The segment's contents are raced on by CPUs like real RAM (see {@link Frames}). A bit of
 * {@link #touched} is set with an atomic OR the first time a store reaches its frame and is
 * never cleared while the chunk belongs to a kernel; {@link #clean()} clears it once the chunk
 * is back in a {@link FramePool} and owned by one thread. Bits are sticky on purpose: clearing
 * one while another CPU stores to the frame could leave nonzero data marked clean, and the
 * pool would hand it to the next kernel unzeroed.
 */
final class FrameChunk {
  static final int SHIFT = 21;
  static final long SIZE = 1L << SHIFT;
  static final long MASK = SIZE - 1;
  static final int FRAMES = 1 << (SHIFT - Frames.PAGE_SHIFT);
  /** Number of line-mask words after the contents: one per frame. */
  static final int LINE_WORDS = FRAMES;
  /** The line-mask word of the frame at chunk offset {@code off} is at {@code SIZE + (off >>> LINE_WORD_SHIFT)}. */
  static final int LINE_WORD_SHIFT = Frames.PAGE_SHIFT - 3;

  private static final VarHandle BITS = MethodHandles.arrayElementVarHandle(long[].class);

  /** The contents. Immutable reference; the memory is raced on as hardware RAM is. */
  final MemorySegment seg;

  /** One bit per frame: written since the chunk was last cleaned. Atomic OR; sticky (see above). */
  private final long[] touched = new long[FRAMES / 64];

  /**
   * True once every bit of {@link #touched} is set: then {@link #markTouched} is one plain load
   * of this field (the chunk is at hand anyway) instead of a load from the bitmap. Set with a
   * release store after the OR that completed the bitmap, read with opaque loads; a stale false
   * only sends the reader to the bitmap. Cleared by {@link #clean()} (owner thread only).
   */
  @SuppressWarnings("unused")
  private boolean full;

  private static final VarHandle FULL;

  static {
    try {
      FULL = MethodHandles.lookup().findVarHandle(FrameChunk.class, "full", boolean.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  FrameChunk() {
    // Host memory the GC frees once the pool no longer keeps the chunk: a huge-page-aligned
    // mapping advised to be one huge page (HostMemory), else an automatic arena's memory.
    MemorySegment m = HostMemory.allocate(SIZE + 8L * LINE_WORDS, SIZE);
    this.seg = m != null ? m : Arena.ofAuto().allocate(SIZE + 8L * LINE_WORDS, Frames.PAGE_SIZE);
  }

  /** Marks frame {@code frame} (0..511) as written. Cheap when it already is: one load (of {@link #full} once the whole chunk is). */
  void markTouched(int frame) {
    if ((boolean) FULL.getOpaque(this)) {
      return;
    }
    int w = frame >>> 6;
    long bit = 1L << frame;
    if (((long) BITS.getOpaque(touched, w) & bit) == 0
        && ((long) BITS.getAndBitwiseOr(touched, w, bit) | bit) == -1L) {
      checkFull();
    }
  }

  /** A word just became full: if all are, set {@link #full}. */
  private void checkFull() {
    for (int w = 0; w < touched.length; w++) {
      if ((long) BITS.getOpaque(touched, w) != -1L) {
        return;
      }
    }
    FULL.setRelease(this, true);
  }

  boolean isTouched(int frame) {
    return (boolean) FULL.getOpaque(this) || ((long) BITS.getOpaque(touched, frame >>> 6) & (1L << frame)) != 0;
  }

  /** Number of touched frames. */
  int touchedCount() {
    int n = 0;
    for (int w = 0; w < touched.length; w++) {
      n += Long.bitCount((long) BITS.getOpaque(touched, w));
    }
    return n;
  }

  /**
   * Zeroes every touched frame (whole, whatever its line mask says: a store through a stale
   * translation after a use-after-free may have skipped its mark, and nothing may leak into
   * the next kernel) and clears the bitmap and the line masks: the chunk reads as fresh RAM
   * again. Called by the pool's owner thread only (the chunk belongs to no kernel).
   */
  void clean() {
    for (int w = 0; w < touched.length; w++) {
      long bits = touched[w];
      while (bits != 0) {
        int frame = (w << 6) + Long.numberOfTrailingZeros(bits);
        bits &= bits - 1;
        seg.asSlice((long) frame << Frames.PAGE_SHIFT, Frames.PAGE_SIZE).fill((byte) 0);
      }
      touched[w] = 0;
    }
    seg.asSlice(SIZE, 8L * LINE_WORDS).fill((byte) 0);
    full = false;
    VarHandle.releaseFence();
  }
}
