package org.mmlab.bench;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.NativeSched;
import org.mmlab.sync.RwSem;
import org.mmlab.sync.Spinlock;
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
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The sync primitives in native mode ({@link NativeSched}: CPUs are real threads, no lockdep)
 * against their {@code java.util.concurrent} counterparts, in one JMH run so that the ratios
 * come from the same machine state. Every benchmark is one lock/unlock pair around a one-field
 * critical section ({@code counter++} for exclusive locks, a read of it for read locks), in
 * average time per pair.
 *
 * <ul>
 *   <li>uncontended, one thread, a lock of its own: {@link Spinlock} vs {@link ReentrantLock},
 *       {@link RwSem} read and write vs {@link ReentrantReadWriteLock} read and write;</li>
 *   <li>contended, {@code @Threads(2)} on one shared lock: spinlock vs ReentrantLock, and two
 *       readers on one rwsem vs two readers on one ReentrantReadWriteLock. On a 2-core machine
 *       the two threads really run in parallel, but the machine is shared: noisy.</li>
 * </ul>
 *
 * <p>Run (about 2.5 minutes; figures in {@code docs/BENCHMARKS.md}):
 * <pre>
 * ./mmlab bench PrimitivesBench -wi 3 -w 1s -i 5 -r 2s -f 1
 * </pre>
 * The contended scores are average time per lock/unlock pair as each of the two threads sees it
 * (aggregate throughput is 2 / score); on a shared 2-vCPU machine they vary several-fold between
 * runs, the uncontended ones do not.
 * Kernel counterparts: {@code spin_lock}/{@code spin_unlock}, {@code down_read}/{@code up_read},
 * {@code down_write}/{@code up_write}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class PrimitivesBench {
  static final LockClass SPIN = LockClass.of("bench:spinlock");
  static final LockClass RWSEM = LockClass.of("bench:rwsem");

  /** The locks, one set per thread: uncontended. */
  @State(Scope.Thread)
  public static class Own {
    NativeSched sched;
    Spinlock spin;
    RwSem rwsem;
    final ReentrantLock lock = new ReentrantLock();
    final ReentrantReadWriteLock rwlock = new ReentrantReadWriteLock();
    long counter;

    @Setup(Level.Trial)
    public void setUp() {
      sched = new NativeSched();
      spin = new Spinlock(sched, "spin", SPIN);
      rwsem = new RwSem(sched, "rwsem", RWSEM);
      BenchEnv.print();
    }
  }

  /** One set of locks shared by every benchmark thread: contended. */
  @State(Scope.Benchmark)
  public static class Shared {
    final NativeSched sched = new NativeSched();
    Spinlock spin;
    RwSem rwsem;
    final ReentrantLock lock = new ReentrantLock();
    final ReentrantReadWriteLock rwlock = new ReentrantReadWriteLock();
    long counter;

    @Setup(Level.Trial)
    public void setUp() {
      spin = new Spinlock(sched, "spin", SPIN);
      rwsem = new RwSem(sched, "rwsem", RWSEM);
      BenchEnv.print();
    }
  }

  // ------------------------------------------------------------ uncontended

  @Benchmark
  @Threads(1)
  public long spinlock(Own s) {
    s.spin.lock();
    long v = ++s.counter;
    s.spin.unlock();
    return v;
  }

  @Benchmark
  @Threads(1)
  public long reentrantLock(Own s) {
    s.lock.lock();
    try {
      return ++s.counter;
    } finally {
      s.lock.unlock();
    }
  }

  @Benchmark
  @Threads(1)
  public long rwsemRead(Own s) {
    s.rwsem.downRead();
    long v = s.counter;
    s.rwsem.upRead();
    return v;
  }

  @Benchmark
  @Threads(1)
  public long rwlockRead(Own s) {
    s.rwlock.readLock().lock();
    try {
      return s.counter;
    } finally {
      s.rwlock.readLock().unlock();
    }
  }

  @Benchmark
  @Threads(1)
  public long rwsemWrite(Own s) {
    s.rwsem.downWrite();
    long v = ++s.counter;
    s.rwsem.upWrite();
    return v;
  }

  @Benchmark
  @Threads(1)
  public long rwlockWrite(Own s) {
    s.rwlock.writeLock().lock();
    try {
      return ++s.counter;
    } finally {
      s.rwlock.writeLock().unlock();
    }
  }

  // ------------------------------------------------------------ contended: 2 threads, one lock

  @Benchmark
  @Threads(2)
  public long spinlockContended(Shared s) {
    s.spin.lock();
    long v = ++s.counter;
    s.spin.unlock();
    return v;
  }

  @Benchmark
  @Threads(2)
  public long reentrantLockContended(Shared s) {
    s.lock.lock();
    try {
      return ++s.counter;
    } finally {
      s.lock.unlock();
    }
  }

  @Benchmark
  @Threads(2)
  public long rwsemReadContended(Shared s) {
    s.rwsem.downRead();
    long v = s.counter;
    s.rwsem.upRead();
    return v;
  }

  @Benchmark
  @Threads(2)
  public long rwlockReadContended(Shared s) {
    s.rwlock.readLock().lock();
    try {
      return s.counter;
    } finally {
      s.rwlock.readLock().unlock();
    }
  }
}
