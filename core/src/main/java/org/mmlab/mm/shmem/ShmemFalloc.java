package org.mmlab.mm.shmem;

import org.mmlab.explore.Sched;
import org.mmlab.sync.WaitQueue;

/**
 * {@code struct shmem_falloc} of a hole punch in progress, published in {@code inode->i_private}
 * under {@code inode->i_lock} for the duration of the punch: faults on pages in
 * [{@code start}, {@code next}) sleep on {@code waitq} until the punch is over
 * ({@code shmem_falloc_wait}), so they cannot keep refilling the hole it is emptying.
 *
 * <p>In the kernel the structure and its wait queue live on the punching task's stack; a woken
 * fault's {@code finish_wait} does not touch the queue again because the wake-up already took
 * its entry off. Here the object simply stays reachable. Immutable but for the queue.
 */
final class ShmemFalloc {
  /** First page index of the range being punched. */
  final long start;
  /** One past the last page index. */
  final long next;
  /** {@code shmem_falloc_waitq}. */
  final WaitQueue waitq;

  ShmemFalloc(Sched sched, long ino, long start, long next) {
    this.start = start;
    this.next = next;
    this.waitq = new WaitQueue(sched, "shmem_falloc_waitq:" + ino);
  }

  @Override
  public String toString() {
    return "shmem_falloc [" + start + ", " + next + ")";
  }
}
