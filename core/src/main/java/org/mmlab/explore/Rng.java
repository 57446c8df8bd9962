package org.mmlab.explore;

/**
 * SplitMix64: a small, fast, seedable generator whose sequence is fixed forever (unlike
 * {@code java.util.Random}'s contract or the JDK's algorithm choices), so that schedules replay
 * across JDK versions.
 */
public final class Rng {
  private long state;

  public Rng(long seed) {
    this.state = seed;
  }

  public long nextLong() {
    long z = (state += 0x9E3779B97F4A7C15L);
    return mix(z);
  }

  /** Uniform in [0, bound). */
  public int nextInt(int bound) {
    return (int) Long.remainderUnsigned(nextLong() >>> 1, bound);
  }

  /** Uniform in [0, bound) for long bounds. */
  public long nextLong(long bound) {
    return Long.remainderUnsigned(nextLong() >>> 1, bound);
  }

  public double nextDouble() {
    return (nextLong() >>> 11) * 0x1.0p-53;
  }

  /** The SplitMix64 finalizer: a bijective 64-bit mix. */
  public static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /** The seed of execution {@code index} of an exploration with {@code masterSeed}. */
  public static long executionSeed(long masterSeed, long index) {
    return mix(masterSeed ^ mix(index + 0x632BE59BD9B4E019L));
  }
}
