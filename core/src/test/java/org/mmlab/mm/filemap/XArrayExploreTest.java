package org.mmlab.mm.filemap;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.mmlab.explore.ExploreResult;
import org.mmlab.explore.Explorer;
import org.mmlab.explore.Sched;
import org.mmlab.sync.Rcu;

/**
 * The XArray under the explorer: a reader looking entries up and finding them while a writer,
 * under the {@code xa_lock}, erases (shrinking the tree and deleting nodes), stores again
 * (growing it), replaces small entries by a multi-index one (freeing a subtree) and briefly
 * stores a retry entry. Inside RCU read sections the reader only ever sees entries that were
 * there; without them it meets a node freed by RCU, a use-after-free.
 */
@Timeout(300)
class XArrayExploreTest {
  static final int EXECUTIONS = 2_000;

  static final String A = "A@1";
  static final String B = "B@5000";
  static final String B2 = "B2@5000";
  static final String X = "X@512/9";
  static final String Y = "Y@0/12";

  /** What each index may hold at some point of the writer's run (null always allowed). */
  static final Set<Object> AT_1 = Set.of(A, Y);
  static final Set<Object> AT_600 = Set.of(X, Y);
  static final Set<Object> AT_5000 = Set.of(B, B2);

  /**
   * Set-up: A at 1, the order-9 X at 512, B at 5000 (a root of shift 12 over two subtrees).
   * The writer, each step under the lock then {@code rcu_barrier} (so freed nodes really go
   * while the reader may still run): erases B (the root shrinks to the shift-6 node); stores B2
   * at 5000 (it grows again); stores a retry entry at 7 and erases it; erases A (a leaf node is
   * deleted); stores the order-12 Y at 0 over A and X (the subtree under it freed); erases B2
   * (shrinks again).
   */
  static Explorer.Program program(boolean readerUsesRcu) {
    return ex -> {
      Rcu rcu = new Rcu(ex);
      XArray xa = new XArray(ex, "i_pages", XArrayTest.XA_LOCK, null).setProveRcu(readerUsesRcu);
      xa.lock().lock();
      xa.store(1, 0, A);
      xa.store(512, 9, X);
      xa.store(5000, 0, B);
      xa.lock().unlock();
      ex.addCpu("writer", () -> {
        write(xa, rcu, 5000, 0, null);
        write(xa, rcu, 5000, 0, B2);
        write(xa, rcu, 7, 0, XArray.RETRY_ENTRY);
        write(xa, rcu, 7, 0, null);
        write(xa, rcu, 1, 0, null);
        write(xa, rcu, 0, 12, Y);
        write(xa, rcu, 5000, 0, null);
      });
      ex.addCpu("reader", () -> {
        for (int round = 0; round < 2; round++) {
          if (readerUsesRcu) {
            rcu.readLock();
          }
          seen("load(1)", AT_1, loadRetrying(ex, xa, 1));
          seen("load(600)", AT_600, loadRetrying(ex, xa, 600));
          seen("load(5000)", AT_5000, loadRetrying(ex, xa, 5000));
          XArray.Found f = xa.find(2, Long.MAX_VALUE);
          if (f != null && !XArray.isRetry(f.entry())) {
            boolean ok = f.index() == 512 && f.order() == 9 && f.entry().equals(X)
                || f.index() == 0 && f.order() == 12 && f.entry().equals(Y)
                || f.index() == 5000 && f.order() == 0 && AT_5000.contains(f.entry());
            if (!ok) {
              throw new AssertionError("find(2) returned " + f);
            }
          }
          if (readerUsesRcu) {
            rcu.readUnlock();
          }
        }
      });
      return () -> {
        xa.check();
        if (xa.peekCount() != 1) {
          throw new AssertionError("at the end the array should hold Y only: " + xa);
        }
      };
    };
  }

  private static void write(XArray xa, Rcu rcu, long index, int order, @Nullable Object e) {
    xa.lock().lock();
    xa.store(index, order, e);
    xa.lock().unlock();
    rcu.barrier();
  }

  /** As {@code filemap_get_entry}: a stored retry entry makes the caller retry, at a named retry point. */
  private static @Nullable Object loadRetrying(Sched ex, XArray xa, long index) {
    for (;;) {
      Object e = xa.load(index);
      if (!XArray.isRetry(e)) {
        return e;
      }
      ex.retry("filemap_get_entry", null);
    }
  }

  private static void seen(String what, Set<Object> allowed, @Nullable Object e) {
    if (e != null && !allowed.contains(e)) {
      throw new AssertionError(what + " returned " + e + ", never stored there");
    }
  }

  private static ExploreResult explore(Explorer.Program p, long executions) {
    return new Explorer(p, Explorer.Config.defaults().withExecutions(executions)
        .withTimeLimit(java.time.Duration.ofMinutes(10))).explore(null);
  }

  @Test
  void anRcuReaderAgainstAShrinkingAndGrowingWriterSeesOnlyStoredEntries() {
    ExploreResult r = explore(program(true), EXECUTIONS);
    assertThat(r.verdictId()).as(String.valueOf(r.verdict())).isEqualTo("none");
    assertThat(r.executions()).isEqualTo(EXECUTIONS);
  }

  @Test
  void theSameReaderWithoutRcuReadLockIsFoundUsingAFreedNode() {
    ExploreResult r = explore(program(false), EXECUTIONS);
    assertThat(r.verdictId()).as(String.valueOf(r.verdict())).isEqualTo("use-after-free");
    assertThat(r.verdict().headline()).contains("xa_node");
    System.out.println("XArrayExploreTest: without rcu_read_lock, found after " + r.executions() + " executions: "
        + r.verdict().headline() + " " + List.copyOf(r.verdict().details()));
  }

  @Test
  void withProveRcuTheReaderWithoutRcuReadLockIsRcuMisuseAtOnce() {
    ExploreResult r = explore(ex -> {
      XArray xa = new XArray(ex, "i_pages", XArrayTest.XA_LOCK, null);
      ex.addCpu("sloppy reader", () -> xa.load(0));
      return () -> {};
    }, 10);
    assertThat(r.verdictId()).isEqualTo("rcu-misuse");
  }
}
