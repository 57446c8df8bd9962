package org.mmlab.bench;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.NativeSched;
import org.mmlab.mm.filemap.XArray;
import org.mmlab.sync.Rcu;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The page cache's XArray ({@link XArray}, {@code i_pages}) in native mode ({@link NativeSched},
 * no lockdep): {@code load} ({@code xas_load} as {@code filemap_get_entry} does it, inside
 * {@code rcu_read_lock}/{@code rcu_read_unlock}) of a random present index of a 4,096-entry
 * array (indices 0..4095, a file of 16 MiB in 4 KiB pages: a root of shift 6 over 64 full
 * leaves, two levels), in operations per microsecond:
 * <ul>
 *   <li>{@code load1}: one thread;</li>
 *   <li>{@code load2}: two threads on the same array (readers share nothing but the nodes, so
 *       on two free cores the total should be about twice {@code load1}).</li>
 * </ul>
 * Each thread is attached as a model CPU (its read sections cost a nesting counter). Indices
 * come from a pre-computed seeded table.
 *
 * <p>Run (about 1 minute; the lead records figures in {@code docs/BENCHMARKS.md}):
 * <pre>
 * ./mmlab bench XArrayBench -wi 2 -w 1s -i 3 -r 1s -f 1
 * </pre>
 * Kernel counterparts: {@code xas_load}, {@code filemap_get_entry}.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "-Xmn64m")
public class XArrayBench {
  static final int ENTRIES = 4096;
  static final int TABLE = 1 << 14;
  static final long SEED = 0x78617272L;
  static final LockClass LOCK = LockClass.of("bench:i_pages lock");

  /** The array, shared by the benchmark's threads. */
  @State(Scope.Benchmark)
  public static class Shared {
    NativeSched sched;
    Rcu rcu;
    XArray xa;
    final long[] indices = new long[TABLE];

    @Setup(Level.Trial)
    public void setUp() {
      BenchEnv.print();
      sched = new NativeSched();
      rcu = new Rcu(sched);
      xa = new XArray(sched, "i_pages", LOCK, null);
      xa.lock().lock();
      for (int i = 0; i < ENTRIES; i++) {
        xa.store(i, 0, new Object());
      }
      xa.lock().unlock();
      xa.check();
      SplittableRandom rnd = new SplittableRandom(SEED);
      for (int i = 0; i < TABLE; i++) {
        indices[i] = rnd.nextLong(ENTRIES);
      }
      System.out.println("[bench] XArray of " + xa.peekCount() + " entries");
    }
  }

  /** One reader thread: a model CPU and its own cursor into the index table. */
  @State(Scope.Thread)
  public static class Reader {
    NativeSched sched;
    int next;

    @Setup(Level.Trial)
    public void attach(Shared s) {
      sched = s.sched;
      sched.attach("bench-" + Thread.currentThread().getName());
      next = (int) (Thread.currentThread().threadId() * 7919) & (TABLE - 1);
    }

    @TearDown(Level.Trial)
    public void detach() {
      sched.detach();
    }
  }

  private static Object load(Shared s, Reader r) {
    long index = s.indices[r.next++ & (TABLE - 1)];
    s.rcu.readLock();
    try {
      return s.xa.load(index);
    } finally {
      s.rcu.readUnlock();
    }
  }

  @Benchmark
  @Threads(1)
  public Object load1(Shared s, Reader r) {
    return load(s, r);
  }

  @Benchmark
  @Threads(2)
  public Object load2(Shared s, Reader r) {
    return load(s, r);
  }
}
