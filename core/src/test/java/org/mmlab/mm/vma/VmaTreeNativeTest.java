package org.mmlab.mm.vma;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.mmlab.debug.KObject;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.NativeSched;
import org.mmlab.sync.Atomic;
import org.mmlab.sync.Rcu;
import org.mmlab.sync.Spinlock;

/**
 * Native mode, real threads: one writer splitting and merging the ranges that tile a region,
 * one reader checking, lock-free under RCU, that every version it sees still tiles it exactly
 * (a torn version would show a hole or an overlap) and that no VMA it finds was freed.
 */
@Timeout(120)
class VmaTreeNativeTest {
  static final LockClass MMAP_LOCK = LockClass.of("test-vma-native:mmap_lock");
  static final long PAGE = 4096;
  static final long PAGES = 4_096;
  static final int WRITES = 60_000;
  static final long SEED = 0x6e617469L;

  /** A VMA stand-in whose range never changes; the reader touches {@code flags}. */
  static final class Vma extends KObject {
    final long start;
    final long end;
    final Atomic flags;

    Vma(NativeSched sched, long start, long end) {
      super(sched, "vma", "vma");
      this.start = start;
      this.end = end;
      this.flags = new Atomic(sched, "vm_flags", 0, this);
    }

    VmaTree.Entry<Vma> entry() {
      return new VmaTree.Entry<>(start, end, this);
    }
  }

  @Test
  void aLockFreeReaderNeverSeesATornVersionWhileAWriterSplitsAndMerges() throws InterruptedException {
    NativeSched sched = new NativeSched();
    Rcu rcu = new Rcu(sched);
    Spinlock lock = new Spinlock(sched, "mmap_lock", MMAP_LOCK);
    VmaTree<Vma> tree = new VmaTree<>(sched, "mm_mt", () -> sched.cpu().holds(lock));
    lock.lock();
    for (long p = 0; p < PAGES; p += 4) {
      tree.insert(p * PAGE, (p + 4) * PAGE, new Vma(sched, p * PAGE, (p + 4) * PAGE));
    }
    lock.unlock();

    AtomicBoolean done = new AtomicBoolean();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicLong reads = new AtomicLong();
    AtomicLong generationsSeen = new AtomicLong();
    Thread writer = Thread.ofPlatform().name("writer").start(() -> {
      try {
        write(sched, rcu, lock, tree);
      } catch (Throwable t) {
        failure.compareAndSet(null, t);
      } finally {
        done.set(true);
      }
    });
    Thread reader = Thread.ofPlatform().name("reader").start(() -> {
      try {
        SplittableRandom rnd = new SplittableRandom(SEED + 1);
        long lastGeneration = -1;
        while (!done.get()) {
          rcu.readLock();
          try {
            Snapshot<Vma> s = tree.snapshot();
            if (s.generation() < lastGeneration) {
              throw new AssertionError("generation went back from " + lastGeneration + " to " + s.generation());
            }
            if (s.generation() != lastGeneration) {
              generationsSeen.incrementAndGet();
            }
            lastGeneration = s.generation();
            checkTiling(s);
            long addr = rnd.nextLong(PAGES * PAGE);
            VmaTree.Entry<Vma> e = tree.lookup(addr); // a second dereference: maybe a newer version
            if (e == null || !e.contains(addr) || e.value().start != e.start() || e.value().end != e.end()) {
              throw new AssertionError("lookup(" + Long.toHexString(addr) + ") = " + e);
            }
            e.value().flags.read(); // a use-after-free verdict if it was freed under us
          } finally {
            rcu.readUnlock();
          }
          reads.incrementAndGet();
        }
      } catch (Throwable t) {
        failure.compareAndSet(null, t);
      }
    });
    writer.join();
    reader.join();
    if (failure.get() != null) {
      throw new AssertionError("after " + reads.get() + " reads", failure.get());
    }
    System.out.println("VmaTreeNativeTest: " + WRITES + " writes, " + reads.get() + " read sections, "
        + generationsSeen.get() + " distinct versions seen by the reader");
    assertThat(reads.get()).isPositive();
    assertThat(generationsSeen.get()).as("the reader saw the tree change under it").isGreaterThan(1);
    tree.check();
  }

  /** Splits a random range at a random page, or merges it with its successor; frees what left. */
  private static void write(NativeSched sched, Rcu rcu, Spinlock lock, VmaTree<Vma> tree) {
    SplittableRandom rnd = new SplittableRandom(SEED);
    List<Vma> removed = new ArrayList<>();
    for (int i = 0; i < WRITES; i++) {
      lock.lock();
      try {
        VmaTree.Entry<Vma> e = tree.findFrom(rnd.nextLong(PAGES * PAGE));
        long pages = (e.end() - e.start()) / PAGE;
        List<VmaTree.Entry<Vma>> gone;
        if (pages > 1 && (rnd.nextBoolean() || tree.findFrom(e.end()) == null)) {
          long at = e.start() + (1 + rnd.nextLong(pages - 1)) * PAGE;
          gone = tree.replaceRange(e.start(), e.end(),
              List.of(new Vma(sched, e.start(), at).entry(), new Vma(sched, at, e.end()).entry()));
        } else {
          VmaTree.Entry<Vma> next = tree.findFrom(e.end());
          if (next == null) {
            continue;
          }
          gone = tree.replaceRange(e.start(), next.end(), List.of(new Vma(sched, e.start(), next.end()).entry()));
        }
        gone.forEach(g -> removed.add(g.value()));
      } finally {
        lock.unlock();
      }
      if (removed.size() >= 64) {
        rcu.synchronize();
        removed.forEach(KObject::free);
        removed.clear();
      }
    }
    rcu.synchronize();
    removed.forEach(KObject::free);
  }

  /** The snapshot's ranges cover [0, PAGES) pages exactly: no hole, no overlap, size agrees. */
  private static void checkTiling(Snapshot<Vma> s) {
    long at = 0;
    int n = 0;
    for (VmaTree.Entry<Vma> e : s.all()) {
      if (e.start() != at) {
        throw new AssertionError("version " + s.generation() + ": expected a range at " + Long.toHexString(at) + ", found "
            + e.range());
      }
      at = e.end();
      n++;
    }
    if (at != PAGES * PAGE || n != s.size()) {
      throw new AssertionError("version " + s.generation() + " covers up to " + Long.toHexString(at) + " with " + n
          + " ranges, size " + s.size());
    }
    if (s.gapAtLeast(1, 0, PAGES * PAGE, false) != null) {
      throw new AssertionError("version " + s.generation() + " has a hole");
    }
  }
}
