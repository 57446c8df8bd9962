package org.mmlab.shell;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class NumbersTest {
  @Test
  void decimalHexAndSuffixes() {
    assertThat(Numbers.parse("4096")).isEqualTo(4096);
    assertThat(Numbers.parse("0x7f00")).isEqualTo(0x7f00);
    assertThat(Numbers.parse("0X7F00")).isEqualTo(0x7f00);
    assertThat(Numbers.parse("4K")).isEqualTo(4096);
    assertThat(Numbers.parse("2m")).isEqualTo(2L << 20);
    assertThat(Numbers.parse("1G")).isEqualTo(1L << 30);
    assertThat(Numbers.parse("0x10K")).isEqualTo(16L << 10);
    assertThat(Numbers.parse("-1")).isEqualTo(-1);
  }

  @Test
  void sixtyFourBitTwosComplement() {
    assertThat(Numbers.parse("0xffffffffffffffff")).isEqualTo(-1);
    assertThat(Numbers.parse("0x8000000000000000")).isEqualTo(Long.MIN_VALUE);
    assertThat(Numbers.hex(-1)).isEqualTo("0xffffffffffffffff");
    assertThat(Numbers.hex(0x7f3a2000L)).isEqualTo("0x7f3a2000");
  }

  @Test
  void badNumbersAreRejected() {
    for (String bad : new String[] {"", "0x", "12z", "0x1ffffffffffffffff", "9223372036854775808", "8G0", "0xg"}) {
      assertThatThrownBy(() -> Numbers.parse(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
    }
    assertThatThrownBy(() -> Numbers.parse("0x7fffffffffffffffG")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void runLengthOfBytes() {
    byte[] b = new byte[4096];
    assertThat(Numbers.runLength(b, 4096)).isEqualTo("0x00*4096");
    for (int i = 0; i < 10; i++) {
      b[i] = 'a';
    }
    assertThat(Numbers.runLength(b, 4096)).isEqualTo("0x61*10 0x00*4086");
    assertThat(Numbers.runLength(b, 0)).isEmpty();
    b[0] = (byte) 0xff;
    assertThat(Numbers.runLength(b, 2)).isEqualTo("0xff*1 0x61*1");
  }
}
