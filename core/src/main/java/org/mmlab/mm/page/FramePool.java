package org.mmlab.mm.page;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.jspecify.annotations.Nullable;

/**
 * Recycles the 2 MiB off-heap chunks of {@link Frames} across kernels: the explorer boots a
 * fresh kernel per execution, thousands per second, and creating and freeing an arena for each
 * would dominate. A released chunk goes onto this pool as it is; the next kernel that needs a
 * chunk takes it and zeroes only the frames that were written ({@code FrameChunk.clean}), so
 * that recycled memory reads as fresh RAM.
 *
 * <p>The pool keeps at most {@link #capacity()} chunks; beyond that a released chunk is left to
 * the garbage collector (each chunk has its own automatic arena).
 *
 * <h2>Concurrency</h2>
 * Infrastructure, not model state: kernels on different threads (several explorations side by
 * side, native workloads) share the default pool. It is a Treiber stack with a fresh node per
 * push (so no ABA), one CAS per operation, never waiting: safe under the explorer, where it runs
 * on the driver thread and no scheduling point is involved. The size counter is approximate
 * (updated after the CAS) and only bounds the pool.
 */
public final class FramePool {
  private static final VarHandle TOP;
  private static final VarHandle SIZE;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      TOP = l.findVarHandle(FramePool.class, "top", Node.class);
      SIZE = l.findVarHandle(FramePool.class, "size", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** The default capacity: 64 chunks, 128 MiB of idle off-heap memory at most. */
  public static final int DEFAULT_CAPACITY = 64;

  private static final FramePool SHARED = new FramePool(DEFAULT_CAPACITY);

  private record Node(FrameChunk chunk, @Nullable Node next) {}

  private final int capacity;
  /** Stack top. CAS. */
  @SuppressWarnings("unused")
  private volatile @Nullable Node top;
  /** Approximate number of pooled chunks. Atomic add. */
  @SuppressWarnings("unused")
  private volatile int size;
  /** Chunks created because the pool was empty (statistics; racy). */
  private volatile long created;

  /** @param capacity the most chunks kept idle */
  public FramePool(int capacity) {
    if (capacity < 0) {
      throw new IllegalArgumentException("negative capacity " + capacity);
    }
    this.capacity = capacity;
  }

  /** The pool shared by every {@link Frames} created without one. */
  public static FramePool shared() {
    return SHARED;
  }

  public int capacity() {
    return capacity;
  }

  /** Chunks currently pooled (approximate under concurrency). */
  public int pooled() {
    return (int) SIZE.getOpaque(this);
  }

  /** Chunks this pool had to create (statistics). */
  public long created() {
    return created;
  }

  /** A clean chunk: a pooled one, zeroed where it was written, or a new one. */
  FrameChunk take() {
    while (true) {
      Node t = (Node) TOP.getAcquire(this);
      if (t == null) {
        created++; // racy statistics
        return new FrameChunk();
      }
      if (TOP.compareAndSet(this, t, t.next())) {
        SIZE.getAndAdd(this, -1);
        t.chunk().clean();
        return t.chunk();
      }
    }
  }

  /** Returns a chunk no kernel uses any more. */
  void give(FrameChunk c) {
    if ((int) SIZE.getOpaque(this) >= capacity) {
      return;
    }
    SIZE.getAndAdd(this, 1);
    while (true) {
      Node t = (Node) TOP.getAcquire(this);
      if (TOP.compareAndSet(this, t, new Node(c, t))) {
        return;
      }
    }
  }
}
