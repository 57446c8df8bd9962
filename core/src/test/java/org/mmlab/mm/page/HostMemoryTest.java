package org.mmlab.mm.page;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

class HostMemoryTest {
  @Test
  void aChunkIsAZeroedHugePageAlignedMappingOnLinux() {
    assumeTrue(System.getProperty("os.name", "").startsWith("Linux") && "amd64".equals(System.getProperty("os.arch")));
    long len = FrameChunk.SIZE + 8L * FrameChunk.LINE_WORDS;
    MemorySegment s = HostMemory.allocate(len, FrameChunk.SIZE);
    assertThat(s).isNotNull();
    assertThat(s.byteSize()).isEqualTo(len);
    assertThat(s.address() % HostMemory.HUGE_PAGE).isZero();
    // zero until written, every byte writable up to the end (the line masks after the contents)
    assertThat(s.get(ValueLayout.JAVA_LONG, 0)).isZero();
    assertThat(s.get(ValueLayout.JAVA_LONG, len - 8)).isZero();
    s.set(ValueLayout.JAVA_LONG, len - 8, -1L);
    s.set(ValueLayout.JAVA_LONG, FrameChunk.SIZE / 2, 42L);
    assertThat(s.get(ValueLayout.JAVA_LONG, len - 8)).isEqualTo(-1L);
    assertThat(s.get(ValueLayout.JAVA_LONG, FrameChunk.SIZE / 2)).isEqualTo(42L);
  }
}
