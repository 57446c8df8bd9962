package org.mmlab.mm.page;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@Timeout(30)
class FramesTest {
  private static final long MIB = 1 << 20;

  @Test
  void untouchedMemoryReadsZeroWithoutMaterializingAnything() {
    Frames f = new Frames(64 * MIB, new FramePool(4));
    assertThat(f.load64(0)).isZero();
    assertThat(f.load32(64 * MIB - 4)).isZero();
    assertThat(f.load8(12345)).isZero();
    byte[] buf = new byte[8192];
    buf[0] = 7;
    f.loadBytes(Frames.CHUNK_SIZE - 4096, buf, 0, buf.length);
    assertThat(buf).containsOnly(0);
    f.zeroPage(100);
    f.fill(0, 4 * MIB, (byte) 0);
    assertThat(f.materializedChunks()).isZero();
    assertThat(f.isTouched(0)).isFalse();
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 4, 8})
  void everyWidthIsLittleEndianAndZeroExtended(int width) {
    Frames f = new Frames(4 * MIB, new FramePool(4));
    long pa = 0x1000 + 3; // unaligned
    long value = 0x8877665544332211L;
    f.store(pa, width, value);
    long mask = width == 8 ? -1L : (1L << (8 * width)) - 1;
    assertThat(f.load(pa, width)).isEqualTo(value & mask);
    for (int i = 0; i < width; i++) {
      assertThat(f.load8(pa + i)).as("byte %d", i).isEqualTo((int) ((value >>> (8 * i)) & 0xFF));
    }
    assertThat(f.load8(pa + width)).isZero();
    assertThat(f.load8(pa - 1)).isZero();
  }

  @Test
  void typedAccessorsAgreeWithTheGenericOnes() {
    Frames f = new Frames(4 * MIB, new FramePool(4));
    f.store8(10, 0x1FF);
    f.store16(20, 0xABCDEF);
    f.store32(30, 0x1_8000_0001L);
    f.store64(40, -2L);
    assertThat(f.load8(10)).isEqualTo(0xFF);
    assertThat(f.load16(20)).isEqualTo(0xCDEF);
    assertThat(f.load32(30)).isEqualTo(0x8000_0001L);
    assertThat(f.load64(40)).isEqualTo(-2L);
  }

  @ParameterizedTest
  @ValueSource(ints = {2, 4, 8})
  void anAccessCrossingAChunkBoundaryIsSplitAndRoundTrips(int width) {
    Frames f = new Frames(8 * MIB, new FramePool(4));
    long pa = Frames.CHUNK_SIZE - width / 2;
    long value = 0x0102030405060708L;
    long mask = width == 8 ? -1L : (1L << (8 * width)) - 1;
    f.store(pa, width, value);
    assertThat(f.load(pa, width)).isEqualTo(value & mask);
    assertThat(f.materializedChunks()).isEqualTo(2);
    assertThat(f.isTouched((Frames.CHUNK_SIZE >>> 12) - 1)).isTrue();
    assertThat(f.isTouched(Frames.CHUNK_SIZE >>> 12)).isTrue();
  }

  @Test
  void aStoreCrossingAFrameBoundaryTouchesBothFrames() {
    Frames f = new Frames(4 * MIB, new FramePool(4));
    f.store64(2 * 4096 - 2, -1L);
    assertThat(f.isTouched(1)).isTrue();
    assertThat(f.isTouched(2)).isTrue();
    assertThat(f.isTouched(3)).isFalse();
    assertThat(f.touchedFrames()).isEqualTo(2);
  }

  @Test
  void byteRangesCrossChunksBothWays() {
    Frames f = new Frames(8 * MIB, new FramePool(4));
    byte[] src = new byte[3 * 4096 + 17];
    for (int i = 0; i < src.length; i++) {
      src[i] = (byte) (i * 31 + 7);
    }
    long pa = Frames.CHUNK_SIZE - 5000;
    f.storeBytes(pa, src, 0, src.length);
    byte[] back = new byte[src.length];
    f.loadBytes(pa, back, 0, back.length);
    assertThat(back).isEqualTo(src);
    assertThat(f.load8(pa - 1)).isZero();
    assertThat(f.load8(pa + src.length)).isZero();
  }

  @Test
  void fillZeroPageAndCopyPage() {
    Frames f = new Frames(4 * MIB, new FramePool(4));
    f.fill(4096, 4096, (byte) 0x5A);
    assertThat(f.load64(4096 + 4088)).isEqualTo(0x5A5A5A5A5A5A5A5AL);
    f.copyPage(7, 1);
    assertThat(f.load8(7 * 4096 + 100)).isEqualTo(0x5A);
    f.zeroPage(1);
    assertThat(f.load64(4096)).isZero();
    assertThat(f.isTouched(1)).as("zeroing does not untouch").isTrue();
    f.copyPage(7, 3); // an untouched source: the destination becomes zero
    assertThat(f.load64(7 * 4096 + 96)).isZero();
  }

  @Test
  void lineMasksRecordTheLinesWrittenAndZeroPageClearsExactlyThose() {
    Frames f = new Frames(4 * MIB, new FramePool(4));
    f.store8(5 * 4096 + 100, 0x11); // line 1
    f.store64(5 * 4096 + 60, -1L); // lines 0 and 1
    f.store64(5 * 4096 + 4092, -1L); // line 63 of frame 5, line 0 of frame 6
    assertThat(f.lineMask(5)).isEqualTo(0b11L | 1L << 63);
    assertThat(f.lineMask(6)).isEqualTo(1L);
    f.storeBytes(7 * 4096 + 200, new byte[300], 0, 300); // bytes 200..499: lines 3..7
    assertThat(f.lineMask(7)).isEqualTo(0b1111_1000L);
    f.fill(8 * 4096, 2 * 4096, (byte) 1);
    assertThat(f.lineMask(8)).isEqualTo(-1L);
    assertThat(f.lineMask(9)).isEqualTo(-1L);
    f.fill(9 * 4096, 4096, (byte) 0); // a zero fill marks nothing and clears nothing
    assertThat(f.lineMask(9)).isEqualTo(-1L);
    assertThat(f.findUnmarkedLine()).isEqualTo(-1);

    f.zeroPage(5);
    assertThat(f.lineMask(5)).isZero();
    for (int off = 0; off < 4096; off += 8) {
      assertThat(f.load64(5 * 4096 + off)).as("offset %d", off).isZero();
    }
    assertThat(f.load8(6 * 4096)).as("the next frame is not cleared").isEqualTo(0xFF);
    f.zeroPage(8);
    assertThat(f.load64(8 * 4096 + 4088)).isZero();
    assertThat(f.findUnmarkedLine()).isEqualTo(-1);
  }

  @Test
  void copyPageGivesTheDestinationTheSourcesMask() {
    Frames f = new Frames(4 * MIB, new FramePool(4));
    f.fill(2 * 4096, 4096, (byte) 7); // the destination's old contents: every line
    f.store8(1 * 4096 + 130, 9); // the source: line 2
    f.copyPage(2, 1);
    assertThat(f.lineMask(2)).isEqualTo(0b100L);
    assertThat(f.load8(2 * 4096 + 130)).isEqualTo(9);
    assertThat(f.load8(2 * 4096 + 4000)).isZero();
    assertThat(f.findUnmarkedLine()).isEqualTo(-1);
    f.zeroPage(2);
    assertThat(f.load8(2 * 4096 + 130)).isZero();
  }

  @Test
  void theConsistencyCheckFindsANonzeroLineThatIsNotMarked() {
    Frames f = new Frames(4 * MIB, new FramePool(4));
    f.store8(3 * 4096 + 64 * 9 + 5, 1);
    f.zeroPage(3);
    assertThat(f.findUnmarkedLine()).isEqualTo(-1);
    // A direct store that skips markLines (what a store through a stale translation can do).
    var seg = f.chunkSegment(3 * 4096, true);
    seg.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 3 * 4096 + 64 * 9 + 5, (byte) 1);
    assertThat(f.findUnmarkedLine()).isEqualTo(3L << 6 | 9);
  }

  /** Random stores, fills, copies and clears on a few frames against a byte array; prints its seed. */
  @Test
  void randomStoresAndClearsAgreeWithAByteArray() {
    long seed = Long.decode(System.getProperty("mmlab.framesSeed", "0x5eed11e5"));
    System.out.println("FramesTest seed=0x" + Long.toHexString(seed) + " (rerun: -Dmmlab.framesSeed=0x"
        + Long.toHexString(seed) + ")");
    java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed);
    int frames = 6;
    Frames f = new Frames(4 * MIB, new FramePool(4));
    byte[] ref = new byte[frames * 4096];
    long zeroedLines = 0;
    for (int op = 0; op < 20_000; op++) {
      int kind = rnd.nextInt(10);
      if (kind < 5) {
        int width = 1 << rnd.nextInt(4);
        int pa = rnd.nextInt(ref.length - width + 1);
        long v = rnd.nextLong();
        f.store(pa, width, v);
        for (int i = 0; i < width; i++) {
          ref[pa + i] = (byte) (v >>> (8 * i));
        }
      } else if (kind < 7) {
        int pa = rnd.nextInt(ref.length);
        int len = rnd.nextInt(Math.min(600, ref.length - pa) + 1);
        byte b = rnd.nextInt(4) == 0 ? 0 : (byte) rnd.nextInt(256);
        f.fill(pa, len, b);
        java.util.Arrays.fill(ref, pa, pa + len, b);
      } else if (kind < 9) {
        int pfn = rnd.nextInt(frames);
        zeroedLines += Long.bitCount(f.lineMask(pfn));
        f.zeroPage(pfn);
        java.util.Arrays.fill(ref, pfn * 4096, pfn * 4096 + 4096, (byte) 0);
      } else {
        int src = rnd.nextInt(frames);
        int dst = rnd.nextInt(frames);
        if (src != dst) {
          f.copyPage(dst, src);
          System.arraycopy(ref, src * 4096, ref, dst * 4096, 4096);
        }
      }
      if (op % 500 == 0 || op == 19_999) {
        byte[] got = new byte[ref.length];
        f.loadBytes(0, got, 0, got.length);
        assertThat(got).as("contents after op %d (seed 0x%x)", op, seed).isEqualTo(ref);
        assertThat(f.findUnmarkedLine()).as("seed 0x%x", seed).isEqualTo(-1);
      }
    }
    assertThat(zeroedLines).as("clears that had lines to zero").isPositive();
  }

  @Test
  void recycledChunksReadZeroInTheNextKernel() {
    FramePool pool = new FramePool(4);
    Frames first = new Frames(4 * MIB, pool);
    first.store64(0x1234, 42);
    first.store64(Frames.CHUNK_SIZE + 0x10, 43);
    assertThat(first.materializedChunks()).isEqualTo(2);
    long created = pool.created();
    first.release();
    assertThat(pool.pooled()).isEqualTo(2);
    Frames second = new Frames(4 * MIB, pool);
    second.store8(0x8000, 1); // takes a pooled chunk
    assertThat(pool.created()).isEqualTo(created);
    assertThat(second.load64(0x1234)).isZero();
    assertThat(second.load64(0x10)).isZero();
    assertThat(second.isTouched(1)).isFalse();
    assertThat(second.lineMask(1)).as("line masks are cleaned too").isZero();
    assertThatThrownBy(() -> first.store8(0, 1)).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void accessesOutsideRamAreRejected() {
    Frames f = new Frames(4 * MIB, new FramePool(4));
    assertThatThrownBy(() -> f.load64(4 * MIB - 4)).isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> f.store8(-1, 0)).isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> f.load(0, 3)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Frames(4097)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void twoThreadsMaterializingTheSameChunksAgreeOnOne() throws InterruptedException {
    FramePool pool = new FramePool(64);
    for (int round = 0; round < 20; round++) {
      Frames f = new Frames(32 * MIB, pool);
      List<Thread> threads = new ArrayList<>();
      for (int t = 0; t < 2; t++) {
        int id = t;
        threads.add(Thread.ofPlatform().start(() -> {
          for (long c = 0; c < 16; c++) {
            f.store64(c * Frames.CHUNK_SIZE + id * 8, c * 10 + id + 1);
          }
        }));
      }
      for (Thread t : threads) {
        t.join();
      }
      for (long c = 0; c < 16; c++) {
        assertThat(f.load64(c * Frames.CHUNK_SIZE)).isEqualTo(c * 10 + 1);
        assertThat(f.load64(c * Frames.CHUNK_SIZE + 8)).isEqualTo(c * 10 + 2);
      }
      assertThat(f.materializedChunks()).isEqualTo(16);
      f.release();
    }
  }
}
