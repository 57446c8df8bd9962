package org.mmlab.mm.page;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One 2 MiB piece of simulated RAM: an off-heap segment and a bitmap of the 512 frames in it
 * that were written since the chunk was last made clean.
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
    // One automatic arena per chunk: a chunk the pool does not keep is freed by the GC.
    this.seg = Arena.ofAuto().allocate(SIZE, Frames.PAGE_SIZE);
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
   * Zeroes every touched frame and clears the bitmap: the chunk reads as fresh RAM again.
   * Called by the pool's owner thread only (the chunk belongs to no kernel).
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
    full = false;
    VarHandle.releaseFence();
  }
}
