package org.mmlab.mm.mmap;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.mmlab.kernel.Errno;
import org.mmlab.kernel.Uapi;

/** mincore vectors: untouched, zero page, written, zapped, unmapped; batches; errors. */
class MincoreTest extends MachineTest {
  @Test
  void residentMeansAPresentPteTheZeroPageIncluded() {
    m.mapFixed(X, 5, RW);
    m.read(X + PAGE); // zero page
    m.write(X + 2 * PAGE, 1);
    m.write(X + 3 * PAGE, 1);
    assertThat(m.sys.madvise(m.mm, X + 3 * PAGE, PAGE, Uapi.MADV_DONTNEED)).isZero();
    byte[] vec = new byte[5];
    assertThat(m.sys.mincore(m.mm, X, 5 * PAGE, vec)).isZero();
    assertThat(vec).containsExactly(0, 1, 1, 0, 0);
  }

  @Test
  void aVectorSpansVmasAndAPartialLastPageCounts() {
    m.mapFixed(X, 2, RW);
    m.mapFixed(X + 2 * PAGE, 2, Uapi.PROT_READ);
    m.write(X + PAGE, 1);
    m.read(X + 2 * PAGE);
    byte[] vec = new byte[4];
    assertThat(m.sys.mincore(m.mm, X, 3 * PAGE + 1, vec)).isZero();
    assertThat(vec).containsExactly(0, 1, 1, 0);
  }

  @Test
  void anUnmappedPageEndsTheCallWithEnomemAfterFillingTheVectorUpToIt() {
    m.mapFixed(X, 2, RW);
    m.write(X, 1);
    m.write(X + PAGE, 1);
    byte[] vec = new byte[4];
    Arrays.fill(vec, (byte) 7);
    assertThat(m.sys.mincore(m.mm, X, 4 * PAGE, vec)).isEqualTo(Errno.ENOMEM.ret());
    assertThat(vec).containsExactly(1, 1, 7, 7);
    assertThat(m.sys.mincore(m.mm, X - PAGE, 2 * PAGE, vec)).isEqualTo(Errno.ENOMEM.ret());
  }

  @Test
  void moreThanOneBatchOfPages() {
    int pages = 4096 + 100;
    m.mapFixed(X, pages, Uapi.PROT_READ);
    m.read(X + 4096 * PAGE + 5 * PAGE);
    m.read(X + 7 * PAGE);
    byte[] vec = new byte[pages];
    assertThat(m.sys.mincore(m.mm, X, (long) pages * PAGE, vec)).isZero();
    for (int i = 0; i < pages; i++) {
      assertThat(vec[i]).as("page %d", i).isEqualTo((byte) (i == 7 || i == 4101 ? 1 : 0));
    }
  }

  @Test
  void errors() {
    m.mapFixed(X, 1, RW);
    byte[] vec = new byte[1];
    assertThat(m.sys.mincore(m.mm, X + 1, PAGE, vec)).isEqualTo(Errno.EINVAL.ret());
    assertThat(m.sys.mincore(m.mm, X, 2 * PAGE, vec)).as("vector too short").isEqualTo(Errno.EFAULT.ret());
    assertThat(m.sys.mincore(m.mm, Uapi.TASK_SIZE - PAGE, 2 * PAGE, new byte[2])).as("beyond TASK_SIZE")
        .isEqualTo(Errno.ENOMEM.ret());
    assertThat(m.sys.mincore(m.mm, X, -PAGE, vec)).as("wrapping").isEqualTo(Errno.ENOMEM.ret());
    assertThat(m.sys.mincore(m.mm, X + 8 * PAGE, 0, new byte[0])).as("length 0, even unmapped").isZero();
  }
}
