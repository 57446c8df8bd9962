package org.mmlab.mm.page;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import org.jspecify.annotations.Nullable;

/**
 * The contents of simulated physical memory: what the kernel reaches through the direct map
 * ({@code page_address}, {@code kmap_local_page}) and user space through its page tables.
 *
 * <h2>Overview</h2>
 * Memory is cut into 2 MiB chunks of off-heap memory, materialized on the first store into
 * them; a load from a chunk that was never written returns zero without allocating anything,
 * so a kernel with gigabytes of RAM costs only what is touched. Chunks come from a
 * {@link FramePool} and go back to it on {@link #release()}. Within a chunk a bitmap records
 * which 4 KiB frames were written ({@link #isTouched}); the pool zeroes exactly those before
 * the chunk serves another kernel.
 *
 * <p>Finer, each frame has a <em>line mask</em>: one bit per 64-byte line, set before a store
 * reaches the line, cleared by {@link #zeroPage} once it has zeroed the line. A clear bit
 * means the line is zero, so {@code clear_page} zeroes only the lines written since the frame
 * was last zeroed: a page that got one byte (will-it-scale's page_fault1) costs one line to
 * clear, not 4 KiB; a page that was filled costs the whole page, as in the kernel. The methods
 * here mark lines themselves; a caller that stores into a {@link #chunkSegment} directly marks
 * the lines first with {@link #markLines} (the MMU's TLB, per line and TLB entry; a page
 * table, every line at its first store). The mask is what the model knows about its own
 * memory, not kernel state: no kernel path sees it, and it changes no user-visible contents.
 * Its one requirement is that no store reaches a frame between {@link #zeroPage} clearing the
 * mask and the frame being handed out; the allocator zeroes pages nobody maps, so only a
 * store through a stale translation (a use-after-free the MMU reports) can break it, and then
 * only lines of that reused page may later escape zeroing. The pool's chunk cleaning does not
 * trust the masks: it zeroes every touched frame whole.
 *
 * <p>Values are little-endian, as on x86-64. An access of 2, 4 or 8 bytes may be unaligned and
 * may cross a frame boundary; one that crosses a chunk boundary is split into bytes.
 *
 * <h2>Concurrency</h2>
 * <ul>
 *   <li>Contents: natively, CPUs race on them as on real hardware. Loads and stores are plain
 *       accesses to the segment (an aligned 8-byte access is not torn on the 64-bit JVMs this
 *       runs on); there is no ordering between them beyond what the caller's synchronization
 *       gives, exactly as for the kernel's plain accesses to page contents. Racy but benign:
 *       the model's own correctness never depends on frame contents, only user-visible
 *       results do, and those are what a racing program may legitimately see.</li>
 *   <li>Accesses to frames are <b>not scheduling points</b>: under the explorer they happen
 *       atomically with the preceding step. The MMU layer announces user loads and stores as
 *       points (so a copy racing a user's write is explorable); kernel-internal copies that
 *       must race (migration, khugepaged) do so through the MMU layer or their own points.</li>
 *   <li>Materialization of a chunk is a CAS on its slot: two CPUs storing into the same fresh
 *       chunk at once agree on one segment, and the loser's chunk goes back to the pool.</li>
 * </ul>
 *
 * <p>Kernel counterparts: {@code clear_page}, {@code copy_page}, {@code memcpy} to and from
 * {@code page_address()}; the "zero until written" behaviour is the model's, for cost.
 */
public final class Frames {
  /** {@code PAGE_SHIFT}: 4 KiB frames. */
  public static final int PAGE_SHIFT = 12;
  /** {@code PAGE_SIZE}. */
  public static final int PAGE_SIZE = 1 << PAGE_SHIFT;
  /** The size of an off-heap chunk: 2 MiB (a PMD's worth). */
  public static final long CHUNK_SIZE = FrameChunk.SIZE;

  private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(FrameChunk[].class);
  /** A frame's line mask in its chunk's tail: (segment, offset) coordinates. */
  private static final VarHandle LINES = ValueLayout.JAVA_LONG.varHandle();
  /** log2 of the line size the masks track: 64 bytes, a cache line. */
  static final int LINE_SHIFT = 6;
  private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  private final long size;
  private final FramePool pool;
  /** Chunk {@code i} covers physical addresses {@code [i << 21, (i + 1) << 21)}. CAS-published. */
  private final @Nullable FrameChunk[] chunks;
  /** Set once by {@link #release()}; accesses after it are a programming error. */
  private volatile boolean released;

  /** {@code bytes} of RAM (a multiple of {@link #PAGE_SIZE}), chunks from the shared pool. */
  public Frames(long bytes) {
    this(bytes, FramePool.shared());
  }

  public Frames(long bytes, FramePool pool) {
    if (bytes <= 0 || (bytes & (PAGE_SIZE - 1)) != 0) {
      throw new IllegalArgumentException("memory size must be a positive multiple of 4 KiB: " + bytes);
    }
    long n = (bytes + CHUNK_SIZE - 1) >>> FrameChunk.SHIFT;
    if (n > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("too much memory: " + bytes);
    }
    this.size = bytes;
    this.pool = pool;
    this.chunks = new FrameChunk[(int) n];
  }

  /** Bytes of simulated RAM. */
  public long size() {
    return size;
  }

  /** Number of page frames. */
  public long frames() {
    return size >>> PAGE_SHIFT;
  }

  // ------------------------------------------------------------ loads

  /** Loads one byte (zero-extended) at physical address {@code pa}. */
  public int load8(long pa) {
    check(pa, 1);
    FrameChunk c = chunk(pa);
    return c == null ? 0 : c.seg.get(ValueLayout.JAVA_BYTE, pa & FrameChunk.MASK) & 0xFF;
  }

  /** Loads a little-endian 16-bit value (zero-extended). */
  public int load16(long pa) {
    return (int) load(pa, 2);
  }

  /** Loads a little-endian 32-bit value (zero-extended). */
  public long load32(long pa) {
    return load(pa, 4);
  }

  /** Loads a little-endian 64-bit value. */
  public long load64(long pa) {
    return load(pa, 8);
  }

  /** Loads {@code width} (1, 2, 4 or 8) bytes little-endian, zero-extended. */
  public long load(long pa, int width) {
    checkWidth(width);
    check(pa, width);
    long off = pa & FrameChunk.MASK;
    if (off + width > CHUNK_SIZE) {
      return loadSplit(pa, width);
    }
    FrameChunk c = chunk(pa);
    if (c == null) {
      return 0;
    }
    MemorySegment s = c.seg;
    return switch (width) {
      case 1 -> s.get(ValueLayout.JAVA_BYTE, off) & 0xFFL;
      case 2 -> s.get(LE16, off) & 0xFFFFL;
      case 4 -> s.get(LE32, off) & 0xFFFF_FFFFL;
      default -> s.get(LE64, off);
    };
  }

  private long loadSplit(long pa, int width) {
    long v = 0;
    for (int i = 0; i < width; i++) {
      v |= (long) load8(pa + i) << (8 * i);
    }
    return v;
  }

  /** Copies {@code len} bytes from physical {@code pa} into {@code dst[off..]}. */
  public void loadBytes(long pa, byte[] dst, int off, int len) {
    check(pa, len);
    if (off < 0 || len < 0 || off + len > dst.length) {
      throw new IndexOutOfBoundsException("dst[" + off + ", " + (off + len) + ") of " + dst.length);
    }
    while (len > 0) {
      long in = pa & FrameChunk.MASK;
      int n = (int) Math.min(len, CHUNK_SIZE - in);
      FrameChunk c = chunk(pa);
      if (c == null) {
        java.util.Arrays.fill(dst, off, off + n, (byte) 0);
      } else {
        MemorySegment.copy(c.seg, ValueLayout.JAVA_BYTE, in, dst, off, n);
      }
      pa += n;
      off += n;
      len -= n;
    }
  }

  // ------------------------------------------------------------ stores

  /** Stores the low byte of {@code v}. */
  public void store8(long pa, int v) {
    store(pa, 1, v);
  }

  /** Stores the low 16 bits of {@code v}, little-endian. */
  public void store16(long pa, int v) {
    store(pa, 2, v);
  }

  /** Stores the low 32 bits of {@code v}, little-endian. */
  public void store32(long pa, long v) {
    store(pa, 4, v);
  }

  /** Stores {@code v}, little-endian. */
  public void store64(long pa, long v) {
    store(pa, 8, v);
  }

  /** Stores the low {@code width} (1, 2, 4 or 8) bytes of {@code v}, little-endian. */
  public void store(long pa, int width, long v) {
    checkWidth(width);
    check(pa, width);
    long off = pa & FrameChunk.MASK;
    if (off + width > CHUNK_SIZE) {
      for (int i = 0; i < width; i++) {
        store(pa + i, 1, v >>> (8 * i));
      }
      return;
    }
    FrameChunk c = chunkForWrite(pa);
    int first = (int) (off >>> PAGE_SHIFT);
    int last = (int) ((off + width - 1) >>> PAGE_SHIFT);
    c.markTouched(first);
    if (last != first) {
      c.markTouched(last);
      long split = (long) last << PAGE_SHIFT;
      markLines(c.seg, split - PAGE_SIZE, lineBits((off & (PAGE_SIZE - 1)), (int) (split - off)));
      markLines(c.seg, split, lineBits(0, (int) (off + width - split)));
    } else {
      markLines(c.seg, off & -PAGE_SIZE, lineBits(off & (PAGE_SIZE - 1), width));
    }
    MemorySegment s = c.seg;
    switch (width) {
      case 1 -> s.set(ValueLayout.JAVA_BYTE, off, (byte) v);
      case 2 -> s.set(LE16, off, (short) v);
      case 4 -> s.set(LE32, off, (int) v);
      default -> s.set(LE64, off, v);
    }
  }

  /** Copies {@code src[off..off+len)} to physical {@code pa}. */
  public void storeBytes(long pa, byte[] src, int off, int len) {
    check(pa, len);
    if (off < 0 || len < 0 || off + len > src.length) {
      throw new IndexOutOfBoundsException("src[" + off + ", " + (off + len) + ") of " + src.length);
    }
    while (len > 0) {
      long in = pa & FrameChunk.MASK;
      int n = (int) Math.min(len, CHUNK_SIZE - in);
      FrameChunk c = chunkForWrite(pa);
      markRange(c, in, n);
      MemorySegment.copy(src, off, c.seg, ValueLayout.JAVA_BYTE, in, n);
      pa += n;
      off += n;
      len -= n;
    }
  }

  /** Fills {@code len} bytes at {@code pa} with {@code value} ({@code memset}). */
  public void fill(long pa, long len, byte value) {
    check(pa, len);
    while (len > 0) {
      long in = pa & FrameChunk.MASK;
      long n = Math.min(len, CHUNK_SIZE - in);
      FrameChunk c = value == 0 ? chunk(pa) : chunkForWrite(pa);
      if (c != null) {
        if (value != 0) {
          markRange(c, in, n);
        }
        c.seg.asSlice(in, n).fill(value);
      }
      pa += n;
      len -= n;
    }
  }

  // ------------------------------------------------------------ direct access

  /**
   * The off-heap chunk holding physical address {@code pa} (the {@link #CHUNK_SIZE} bytes from
   * {@code pa & -CHUNK_SIZE}), for a caller that caches translations to frames and then
   * accesses them directly: the MMU's TLB. Null if the chunk was never written and
   * {@code forWrite} is false (its frames read as zero: use {@link #load}). With
   * {@code forWrite} the chunk is materialized and the frame holding {@code pa} marked touched
   * first, so that direct stores into that frame (and only that frame) are zeroed before the
   * chunk serves another kernel. The segment is valid until {@link #release()}.
   */
  public @Nullable MemorySegment chunkSegment(long pa, boolean forWrite) {
    check(pa, 1);
    if (!forWrite) {
      FrameChunk c = chunk(pa);
      return c == null ? null : c.seg;
    }
    FrameChunk c = chunkForWrite(pa);
    c.markTouched(frameIn(pa));
    return c.seg;
  }

  /**
   * The line-mask bits of the bytes {@code [off, off + width)} of one frame
   * ({@code 0 <= off}, {@code 1 <= width}, {@code off + width <= PAGE_SIZE}).
   */
  public static long lineBits(long off, int width) {
    int first = (int) (off >>> LINE_SHIFT);
    int last = (int) ((off + width - 1) >>> LINE_SHIFT);
    return (-1L << first) & (-1L >>> (63 - last));
  }

  /**
   * Records that the lines {@code lines} ({@link #lineBits}) of the frame at offset
   * {@code frameOffset} of {@code chunk} (a {@link #chunkSegment} for write) are about to be
   * stored to. Call before the store. One load when they already are marked.
   */
  public static void markLines(MemorySegment chunk, long frameOffset, long lines) {
    long at = FrameChunk.SIZE + (frameOffset >>> FrameChunk.LINE_WORD_SHIFT);
    if (((long) LINES.getOpaque(chunk, at) & lines) != lines) {
      LINES.getAndBitwiseOr(chunk, at, lines);
    }
  }

  /** The line mask of frame {@code pfn} (0 if its chunk was never written): tests and checks. */
  public long lineMask(long pfn) {
    long pa = pfn << PAGE_SHIFT;
    check(pa, PAGE_SIZE);
    FrameChunk c = chunk(pa);
    return c == null ? 0 : (long) LINES.getOpaque(c.seg, FrameChunk.SIZE + ((pa & FrameChunk.MASK) >>> FrameChunk.LINE_WORD_SHIFT));
  }

  // ------------------------------------------------------------ whole frames

  /**
   * {@code clear_page}: zeroes frame {@code pfn}. Allocates nothing if it was never written,
   * and zeroes only the lines written since it was last zeroed (see the class notes). For a
   * frame nobody can store to meanwhile: one the allocator is handing out.
   */
  public void zeroPage(long pfn) {
    long pa = pfn << PAGE_SHIFT;
    check(pa, PAGE_SIZE);
    FrameChunk c = chunk(pa);
    if (c != null && c.isTouched(frameIn(pa))) {
      long base = pa & FrameChunk.MASK;
      MemorySegment seg = c.seg;
      long lines = (long) LINES.getAndSet(seg, FrameChunk.SIZE + (base >>> FrameChunk.LINE_WORD_SHIFT), 0L);
      if (lines == -1L) {
        seg.asSlice(base, PAGE_SIZE).fill((byte) 0);
        return;
      }
      while (lines != 0) {
        int first = Long.numberOfTrailingZeros(lines);
        int run = Long.numberOfTrailingZeros(~(lines >>> first)); // the run of set bits from first
        zeroLines(seg, base + ((long) first << LINE_SHIFT), run);
        lines &= run + first >= 64 ? 0 : -1L << (first + run);
      }
    }
  }

  /** Zeroes {@code n} 64-byte lines from {@code at}: short runs as plain 8-byte stores. */
  private static void zeroLines(MemorySegment seg, long at, int n) {
    if (n > 2) {
      seg.asSlice(at, (long) n << LINE_SHIFT).fill((byte) 0);
      return;
    }
    for (long p = at, end = at + ((long) n << LINE_SHIFT); p < end; p += 8) {
      seg.set(ValueLayout.JAVA_LONG, p, 0L);
    }
  }

  /** {@code copy_page}: copies frame {@code src} to frame {@code dst}, a frame nobody stores to meanwhile (a new page). */
  public void copyPage(long dstPfn, long srcPfn) {
    long dst = dstPfn << PAGE_SHIFT;
    long src = srcPfn << PAGE_SHIFT;
    check(dst, PAGE_SIZE);
    check(src, PAGE_SIZE);
    FrameChunk s = chunk(src);
    if (s == null || !s.isTouched(frameIn(src))) {
      zeroPage(dstPfn);
      return;
    }
    FrameChunk d = chunkForWrite(dst);
    d.markTouched(frameIn(dst));
    long dBase = dst & FrameChunk.MASK;
    long sBase = src & FrameChunk.MASK;
    MemorySegment.copy(s.seg, sBase, d.seg, dBase, PAGE_SIZE);
    // Every line of dst was rewritten, so a nonzero line of dst is now a nonzero line of src:
    // dst's mask becomes src's, read after the copy (a store racing on src marks its line
    // before it writes, so a write the copy saw is in the mask read after it).
    VarHandle.fullFence();
    long lines = (long) LINES.getVolatile(s.seg, FrameChunk.SIZE + (sBase >>> FrameChunk.LINE_WORD_SHIFT));
    LINES.setVolatile(d.seg, FrameChunk.SIZE + (dBase >>> FrameChunk.LINE_WORD_SHIFT), lines);
  }

  /**
   * True if frame {@code pfn} was written since its chunk was materialized (a store, a fill with
   * a nonzero byte, a copy of a touched frame). Zeroing does not make a frame untouched.
   */
  public boolean isTouched(long pfn) {
    long pa = pfn << PAGE_SHIFT;
    check(pa, PAGE_SIZE);
    FrameChunk c = chunk(pa);
    return c != null && c.isTouched(frameIn(pa));
  }

  /**
   * The line masks' invariant, for the consistency walk: a line whose bit is clear reads as
   * zero. Returns {@code pfn << 6 | line} of the first nonzero line that is not marked, or -1.
   * Reads every unmarked line of every touched frame; call when no CPU stores.
   */
  public long findUnmarkedLine() {
    for (int i = 0; i < chunks.length; i++) {
      FrameChunk c = (FrameChunk) SLOT.getAcquire(chunks, i);
      if (c == null) {
        continue;
      }
      for (int f = 0; f < FrameChunk.FRAMES; f++) {
        if (!c.isTouched(f)) {
          continue;
        }
        long base = (long) f << PAGE_SHIFT;
        long unmarked = ~(long) LINES.getVolatile(c.seg, FrameChunk.SIZE + (base >>> FrameChunk.LINE_WORD_SHIFT));
        while (unmarked != 0) {
          int line = Long.numberOfTrailingZeros(unmarked);
          unmarked &= unmarked - 1;
          long at = base + ((long) line << LINE_SHIFT);
          for (long p = at; p < at + (1 << LINE_SHIFT); p += 8) {
            if (c.seg.get(ValueLayout.JAVA_LONG, p) != 0) {
              return ((((long) i << FrameChunk.SHIFT) + base) >>> PAGE_SHIFT) << LINE_SHIFT | line;
            }
          }
        }
      }
    }
    return -1;
  }

  /** Number of materialized 2 MiB chunks. */
  public int materializedChunks() {
    int n = 0;
    for (int i = 0; i < chunks.length; i++) {
      if (SLOT.getAcquire(chunks, i) != null) {
        n++;
      }
    }
    return n;
  }

  /** Number of touched frames. */
  public long touchedFrames() {
    long n = 0;
    for (int i = 0; i < chunks.length; i++) {
      FrameChunk c = (FrameChunk) SLOT.getAcquire(chunks, i);
      if (c != null) {
        n += c.touchedCount();
      }
    }
    return n;
  }

  /**
   * Gives every materialized chunk back to the pool. Call when no CPU uses this memory any
   * more (kernel teardown, end of an explored execution); later accesses fail.
   */
  public void release() {
    if (released) {
      return;
    }
    released = true;
    for (int i = 0; i < chunks.length; i++) {
      FrameChunk c = (FrameChunk) SLOT.getAndSet(chunks, i, (FrameChunk) null);
      if (c != null) {
        pool.give(c);
      }
    }
  }

  // ------------------------------------------------------------ internals

  private @Nullable FrameChunk chunk(long pa) {
    return (FrameChunk) SLOT.getAcquire(chunks, (int) (pa >>> FrameChunk.SHIFT));
  }

  private FrameChunk chunkForWrite(long pa) {
    int i = (int) (pa >>> FrameChunk.SHIFT);
    FrameChunk c = (FrameChunk) SLOT.getAcquire(chunks, i);
    return c != null ? c : materialize(i);
  }

  private FrameChunk materialize(int i) {
    if (released) {
      throw new IllegalStateException("frames used after release()");
    }
    FrameChunk fresh = pool.take();
    FrameChunk witness = (FrameChunk) SLOT.compareAndExchange(chunks, i, (FrameChunk) null, fresh);
    if (witness == null) {
      return fresh;
    }
    pool.give(fresh);
    return witness;
  }

  /** Marks frames touched and lines written for a store of {@code n} bytes at chunk offset {@code in}. */
  private static void markRange(FrameChunk c, long in, long n) {
    if (n <= 0) {
      return;
    }
    long end = in + n;
    for (long f = in >>> PAGE_SHIFT; f <= (end - 1) >>> PAGE_SHIFT; f++) {
      c.markTouched((int) f);
      long base = f << PAGE_SHIFT;
      long from = Math.max(in, base) - base;
      long to = Math.min(end, base + PAGE_SIZE) - base;
      markLines(c.seg, base, lineBits(from, (int) (to - from)));
    }
  }

  private static int frameIn(long pa) {
    return (int) ((pa & FrameChunk.MASK) >>> PAGE_SHIFT);
  }

  private void check(long pa, long len) {
    if (pa < 0 || len < 0 || pa + len > size || pa + len < pa) {
      throw new IndexOutOfBoundsException(
          "physical range [0x" + Long.toHexString(pa) + ", +" + len + ") outside RAM of " + size + " bytes");
    }
  }

  private static void checkWidth(int width) {
    if (width != 1 && width != 2 && width != 4 && width != 8) {
      throw new IllegalArgumentException("access width must be 1, 2, 4 or 8: " + width);
    }
  }
}
