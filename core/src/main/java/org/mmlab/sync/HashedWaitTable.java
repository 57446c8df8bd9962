package org.mmlab.sync;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.jspecify.annotations.Nullable;
import org.mmlab.explore.Rng;
import org.mmlab.explore.Sched;
import org.mmlab.explore.SyncObject;

/**
 * A fixed table of wait queues shared by many words: {@code bit_wait_table}
 * ({@code kernel/sched/wait_bit.c}, {@code bit_waitqueue}) and {@code folio_wait_table}
 * ({@code mm/filemap.c}, {@code folio_waitqueue}). Waiting on a bit of a {@link FlagWord} (a page
 * lock, {@code PG_writeback}) queues a keyed entry on the queue this table assigns to
 * (word, bit); several words share a queue, and keyed wake-ups skip the others' entries, as
 * in the kernel.
 *
 * <h2>Implementation notes</h2>
 * The index is a fixed mix of the word's deterministic object id and the bit (never an
 * identity hash), so collisions, and therefore wake-up walks, are the same in every replay.
 * Queues are created on first use (a kernel boots thousands of times under the explorer; most
 * queues are never touched): under the explorer in step order, natively by a CAS on the array
 * slot, the loser's queue being dropped unused.
 */
public final class HashedWaitTable {
  /** The kernel's table size (256 queues for both tables on most configurations). */
  public static final int DEFAULT_SIZE = 256;

  private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(WaitQueue[].class);

  private final Sched sched;
  private final String name;
  private final int mask;
  /** The queues, created on first use. Native: CAS-published; explore: written in step order. */
  private final @Nullable WaitQueue[] queues;

  public HashedWaitTable(Sched sched, String name) {
    this(sched, name, DEFAULT_SIZE);
  }

  /** @param size number of queues, a power of two */
  public HashedWaitTable(Sched sched, String name, int size) {
    if (size <= 0 || Integer.bitCount(size) != 1) {
      throw new IllegalArgumentException("table size must be a power of two: " + size);
    }
    this.sched = sched;
    this.name = name;
    this.mask = size - 1;
    this.queues = new WaitQueue[size];
  }

  /** The slot of (word, bit): deterministic, from the word's object id. */
  public int indexOf(SyncObject word, int bit) {
    return (int) (Rng.mix(((long) word.id() << 6) | (bit & 63)) & mask);
  }

  /** {@code bit_waitqueue} / {@code folio_waitqueue}: the queue that waiters on (word, bit) use. */
  public WaitQueue queueFor(SyncObject word, int bit) {
    int i = indexOf(word, bit);
    WaitQueue q = (WaitQueue) SLOT.getAcquire(queues, i);
    if (q != null) {
      return q;
    }
    WaitQueue fresh = new WaitQueue(sched, name + "[" + i + "]");
    if (sched.exploring) {
      queues[i] = fresh;
      return fresh;
    }
    WaitQueue witness = (WaitQueue) SLOT.compareAndExchange(queues, i, (WaitQueue) null, fresh);
    return witness == null ? fresh : witness;
  }

  public int size() {
    return mask + 1;
  }

  public String name() {
    return name;
  }
}
