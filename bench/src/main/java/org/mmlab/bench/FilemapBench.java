package org.mmlab.bench;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.mmlab.explore.NativeSched;
import org.mmlab.kernel.Kernel;
import org.mmlab.kernel.KernelConfig;
import org.mmlab.kernel.Uapi;
import org.mmlab.mm.filemap.AddressSpace;
import org.mmlab.mm.filemap.Filemap;
import org.mmlab.mm.page.Folio;
import org.mmlab.mm.shmem.OpenFile;
import org.mmlab.mm.shmem.Shmem;
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
 * Page-cache lookups on a natively booted model kernel ({@link NativeSched}, no lockdep): a
 * 16 MiB tmpfs file (4,096 pages, all cached: written once through {@link Shmem#write}), and
 * {@link Filemap#getEntry} ({@code filemap_get_entry}: {@code rcu_read_lock}, {@code xas_load},
 * {@code folio_try_get}, the {@code xas_reload} re-check, {@code rcu_read_unlock}) of a random
 * page followed by {@code folio_put} — what every page-cache lookup of {@code filemap_fault},
 * {@code filemap_read} or {@code shmem_get_folio} starts with. Operations per microsecond:
 * <ul>
 *   <li>{@code lookup1}: one thread;</li>
 *   <li>{@code lookup2}: two threads on the same file. Unlike an XArray load alone
 *       ({@link XArrayBench}), each lookup increments and decrements the folio's reference
 *       count, so two threads hitting the same pages share those cache lines, as in the kernel.</li>
 * </ul>
 * Indices come from a pre-computed seeded table.
 *
 * <p>Run: {@code ./mmlab bench FilemapBench -wi 2 -w 1s -i 3 -r 1s -f 1}. Kernel counterparts:
 * {@code filemap_get_entry}, {@code folio_put}.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "-Xmn64m")
public class FilemapBench {
  static final int PAGES = 4096;
  static final int TABLE = 1 << 14;
  static final long SEED = 0x66696c65L;

  /** The kernel and the file, shared by the benchmark's threads. */
  @State(Scope.Benchmark)
  public static class Shared {
    NativeSched sched;
    Kernel kernel;
    OpenFile file;
    AddressSpace mapping;
    final long[] indices = new long[TABLE];

    @Setup(Level.Trial)
    public void setUp() {
      BenchEnv.print();
      sched = new NativeSched();
      kernel = new Kernel(sched, KernelConfig.DEFAULT.withMemory(64L << 20));
      sched.attach("bench-setup");
      Object f = kernel.tmpfs().open("/dev/shm/bench", Uapi.O_RDWR | Uapi.O_CREAT | Uapi.O_EXCL, 0600);
      if (!(f instanceof OpenFile of)) {
        throw new IllegalStateException("open: " + f);
      }
      file = of;
      byte[] chunk = new byte[1 << 20];
      for (long off = 0; off < (long) PAGES * Uapi.PAGE_SIZE; off += chunk.length) {
        if (Shmem.write(file.inode(), off, chunk) != chunk.length) {
          throw new IllegalStateException("write at " + off);
        }
      }
      sched.detach();
      mapping = file.inode().mapping();
      SplittableRandom rnd = new SplittableRandom(SEED);
      for (int i = 0; i < TABLE; i++) {
        indices[i] = rnd.nextLong(PAGES);
      }
      System.out.println("[bench] a tmpfs file of " + kernel.tmpfs().peekCachedPages() + " cached pages");
    }
  }

  /** One thread: a model CPU and its own cursor into the index table. */
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

  private static Object lookup(Shared s, Reader r) {
    Object e = Filemap.getEntry(s.mapping, s.indices[r.next++ & (TABLE - 1)]);
    if (e instanceof Folio folio) {
      folio.folioPut();
      return folio;
    }
    throw new IllegalStateException("page not cached: " + e);
  }

  @Benchmark
  @Threads(1)
  public Object lookup1(Shared s, Reader r) {
    return lookup(s, r);
  }

  @Benchmark
  @Threads(2)
  public Object lookup2(Shared s, Reader r) {
    return lookup(s, r);
  }
}
