package org.mmlab.cli;

import java.time.Duration;
import org.mmlab.lab.ReplayFile;

/** Parsing of option values shared by the commands. */
final class Options {
  private Options() {}

  /** {@code 30s}, {@code 500ms}, {@code 2m}, {@code 1h}, or a number of seconds. */
  static Duration duration(String s) {
    String t = s.trim().toLowerCase(java.util.Locale.ROOT);
    try {
      if (t.endsWith("ms")) {
        return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
      }
      if (t.endsWith("s")) {
        return Duration.ofMillis((long) (Double.parseDouble(t.substring(0, t.length() - 1)) * 1000));
      }
      if (t.endsWith("m")) {
        return Duration.ofSeconds(Long.parseLong(t.substring(0, t.length() - 1)) * 60);
      }
      if (t.endsWith("h")) {
        return Duration.ofHours(Long.parseLong(t.substring(0, t.length() - 1)));
      }
      return Duration.ofMillis((long) (Double.parseDouble(t) * 1000));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("bad duration " + s + " (e.g. 30s, 500ms, 2m)");
    }
  }

  /** Decimal or 0x-hex. */
  static long seed(String s) {
    try {
      return ReplayFile.parseHex(s);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("bad seed " + s + " (decimal or 0x-hex)");
    }
  }

  static String millis(long ms) {
    return ms < 10_000 ? ms + " ms" : String.format(java.util.Locale.ROOT, "%.1f s", ms / 1000.0);
  }
}
