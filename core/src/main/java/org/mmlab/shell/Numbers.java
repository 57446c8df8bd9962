package org.mmlab.shell;

import java.util.Locale;

/**
 * How the shell reads and prints numbers. Input: decimal ({@code 4096}, {@code -1}) or 0x-hex
 * ({@code 0x7f00}), with an optional K, M or G suffix (2^10, 2^20, 2^30); values are 64-bit
 * two's complement, so {@code 0xffffffffffffffff} is −1. Output: addresses in lower-case hex
 * without padding ({@code 0x7f3a2000}), counts in decimal.
 */
public final class Numbers {
  private Numbers() {}

  /** Parses a shell number; IllegalArgumentException with a message naming the text. */
  public static long parse(String text) {
    String t = text.trim();
    if (t.isEmpty()) {
      throw new IllegalArgumentException("missing number");
    }
    long scale = 1;
    char last = Character.toUpperCase(t.charAt(t.length() - 1));
    boolean hex = t.startsWith("0x") || t.startsWith("0X") || t.startsWith("-0x") || t.startsWith("-0X");
    if (last == 'K' || last == 'M' || last == 'G') {
      scale = last == 'K' ? 1L << 10 : last == 'M' ? 1L << 20 : 1L << 30;
      t = t.substring(0, t.length() - 1);
    }
    try {
      long v;
      if (hex) {
        boolean neg = t.startsWith("-");
        String digits = t.substring(neg ? 3 : 2);
        if (digits.isEmpty() || digits.length() > 16) {
          throw new NumberFormatException();
        }
        v = Long.parseUnsignedLong(digits, 16);
        v = neg ? -v : v;
      } else {
        v = Long.parseLong(t);
      }
      return Math.multiplyExact(v, scale);
    } catch (NumberFormatException | ArithmeticException e) {
      throw new IllegalArgumentException("bad number " + text);
    }
  }

  /** {@code 0x7f3a2000}: lower-case hex, no padding; negative values as their 64-bit pattern. */
  public static String hex(long v) {
    return "0x" + Long.toHexString(v);
  }

  /** Decimal. */
  public static String dec(long v) {
    return Long.toString(v);
  }

  /**
   * Run-length form of bytes: {@code 0x61*10 0x00*4086}; empty for no bytes. Byte values are
   * two lower-case hex digits.
   */
  public static String runLength(byte[] data, int len) {
    StringBuilder sb = new StringBuilder();
    int i = 0;
    while (i < len) {
      int j = i;
      while (j < len && data[j] == data[i]) {
        j++;
      }
      if (!sb.isEmpty()) {
        sb.append(' ');
      }
      sb.append(String.format(Locale.ROOT, "0x%02x*%d", data[i] & 0xff, j - i));
      i = j;
    }
    return sb.toString();
  }
}
