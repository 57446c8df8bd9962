package org.mmlab.sync;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.KObject;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.BugException;
import org.mmlab.explore.Cpu;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.Sched;
import org.mmlab.explore.SyncObject;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;

/**
 * A reference count that can be frozen: the page and folio reference count
 * ({@code include/linux/page_ref.h}, {@code include/linux/mm.h}): {@code folio_get},
 * {@code folio_try_get} ({@code get_page_unless_zero}, {@code refcount_inc_not_zero}),
 * {@code folio_put_testzero}, {@code folio_ref_add}, {@code folio_ref_sub_and_test},
 * {@code folio_ref_count}, {@code set_page_count}, {@code folio_ref_freeze} and
 * {@code folio_ref_unfreeze}.
 *
 * <h2>Overview</h2>
 * Freezing replaces an exact expected count with zero in one cmpxchg, so that speculative
 * lookups ({@code folio_try_get}) fail until the freezer unfreezes it with a new count: this is
 * how migration, THP split and {@code collapse_file} make a folio unreachable while they
 * replace it. A lookup that fails on a frozen count typically retries (a named retry point at
 * the caller). That spin is a wait the kernel's lockdep cannot see (seed 004: a CPU spinning on
 * a frozen refcount under the PTL while the freezer waits for that PTL); here the frozen state
 * is a pseudo-lock:
 * <ul>
 *   <li>a successful {@link #freeze} makes the current CPU hold it ({@code acquired}, no
 *       {@code acquiring}: a cmpxchg cannot block), so {@link #holders()} is the freezer and a
 *       CPU that finishes with it frozen is reported;</li>
 *   <li>{@link #tryGet} failing on a frozen count reports {@code acquiring} before it returns:
 *       the caller is about to spin "waiting for" the pseudo-lock, which gives lockdep the edge
 *       from every lock it holds to the frozen class;</li>
 *   <li>{@link #unfreeze} releases it from whichever CPU holds it (a refcount may be frozen by
 *       one CPU and unfrozen by another).</li>
 * </ul>
 *
 * <h2>Misuse (refcount-misuse verdicts)</h2>
 * An increment from zero or of a frozen count ({@code folio_get} must only be called with a
 * reference already held), a put that underflows or hits a frozen count, unfreezing a count that
 * is not frozen or to zero, and {@code set} on a frozen count. The kernel's
 * {@code VM_BUG_ON_FOLIO}s and {@code refcount_t} warnings.
 *
 * <h2>Implementation notes</h2>
 * The frozen state is encoded in the word itself as {@link #FROZEN} (reads report it as 0), so
 * "frozen" and "really zero" are told apart exactly in both modes and with one atomic. Natively
 * every operation is one CAS loop (not an atomic add: a blind add would corrupt the frozen
 * marker transiently); explore steps write plainly.
 */
public final class Refcount extends SyncObject {
  private static final VarHandle COUNT;

  static {
    try {
      COUNT = MethodHandles.lookup().findVarHandle(Refcount.class, "count", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** The value of {@link #count} while frozen: distinct from every real count. */
  private static final int FROZEN = Integer.MIN_VALUE;

  /** The name of the default pseudo-lock class of a frozen refcount. */
  public static final String DEFAULT_FROZEN_CLASS = "refcount frozen";

  /** Interned once (model code under the explorer must not touch {@link LockClass}'s concurrent map). */
  private static final LockClass DEFAULT_CLASS = LockClass.pseudo(DEFAULT_FROZEN_CLASS);

  /** The count, or {@link #FROZEN}. Native: CAS; explore: plain writes in steps. */
  @SuppressWarnings("unused")
  private volatile int count;

  /**
   * The CPU that froze it, while frozen. Written by the freezer after its cmpxchg succeeded and
   * cleared by the unfreezer before the count is published again: protected by the frozen
   * state (read racily for reports).
   */
  private @Nullable Cpu freezer;

  /** A refcount whose frozen state has the default pseudo-lock class {@value #DEFAULT_FROZEN_CLASS}. */
  public Refcount(Sched sched, String name, int initial) {
    this(sched, name, initial, DEFAULT_CLASS, null);
  }

  /**
   * @param frozenClass the pseudo-lock class of the frozen state, e.g.
   *     {@code LockClass.pseudo("folio refcount frozen")}
   * @param owner the object the count lives in (operations after it is freed are use-after-free)
   */
  public Refcount(Sched sched, String name, int initial, LockClass frozenClass, @Nullable KObject owner) {
    super(sched, name, frozenClass, owner);
    if (!frozenClass.isPseudo()) {
      throw new IllegalArgumentException(
          "the frozen state of a refcount is a pseudo-lock: use LockClass.pseudo, not " + frozenClass);
    }
    if (initial < 0) {
      throw new IllegalArgumentException("negative initial count " + initial);
    }
    COUNT.setRelease(this, initial);
  }

  @Override
  public String kind() {
    return "refcount";
  }

  // ------------------------------------------------------------ references

  /** {@code folio_get}: takes a reference; the caller must already hold one (misuse from 0 or frozen). */
  public void get() {
    sched.point(OpKind.RMW, this, "folio_get");
    addNow(1, "folio_get");
  }

  /** {@code folio_ref_add}: adds {@code n} references; the caller must already hold one. */
  public void add(int n) {
    sched.point(OpKind.RMW, this, "folio_ref_add");
    checkPositive(n);
    addNow(n, "folio_ref_add");
  }

  private void addNow(int n, String what) {
    int c = sched.exploring ? count : (int) COUNT.getVolatile(this);
    while (true) {
      if (c == FROZEN) {
        throw misuse(what + " on a frozen refcount");
      }
      if (c == 0) {
        throw misuse(what + " increments a refcount of 0 (no reference was held)");
      }
      if (sched.exploring) {
        count = c + n;
        return;
      }
      int witness = (int) COUNT.compareAndExchange(this, c, c + n);
      if (witness == c) {
        return;
      }
      c = witness;
    }
  }

  /**
   * {@code folio_try_get} / {@code get_page_unless_zero}: takes a reference unless the count is
   * zero or frozen. On a frozen count it reports that the caller is about to wait for the
   * frozen pseudo-lock (see the class notes) before returning false.
   */
  public boolean tryGet() {
    sched.point(OpKind.RMW, this, "folio_try_get");
    if (sched.exploring) {
      int c = count;
      if (c == 0 || c == FROZEN) {
        return failedTryGet(c);
      }
      count = c + 1;
      return true;
    }
    int c = (int) COUNT.getVolatile(this);
    while (c != 0 && c != FROZEN) {
      int witness = (int) COUNT.compareAndExchange(this, c, c + 1);
      if (witness == c) {
        return true;
      }
      c = witness;
    }
    return failedTryGet(c);
  }

  private boolean failedTryGet(int c) {
    sched.unchanged();
    if (c == FROZEN) {
      sched.acquiring(this);
    }
    return false;
  }

  /** {@code folio_put_testzero}: drops a reference; true when it was the last one. Misuse on underflow. */
  public boolean put() {
    sched.point(OpKind.RMW, this, "folio_put_testzero");
    return subNow(1, "folio_put");
  }

  /** {@code folio_ref_sub_and_test}: drops {@code n} references; true when the count reached 0. */
  public boolean subAndTest(int n) {
    sched.point(OpKind.RMW, this, "folio_ref_sub_and_test");
    checkPositive(n);
    return subNow(n, "folio_ref_sub_and_test");
  }

  private boolean subNow(int n, String what) {
    int c = sched.exploring ? count : (int) COUNT.getVolatile(this);
    while (true) {
      if (c == FROZEN) {
        throw misuse(what + " on a frozen refcount");
      }
      if (c < n) {
        throw misuse(what + " underflows a refcount of " + c + " (by " + n + ")");
      }
      if (sched.exploring) {
        count = c - n;
        return c == n;
      }
      int witness = (int) COUNT.compareAndExchange(this, c, c - n);
      if (witness == c) {
        return c == n;
      }
      c = witness;
    }
  }

  /** {@code folio_ref_count}: the count (0 while frozen). */
  public int read() {
    sched.point(OpKind.READ, this, "folio_ref_count");
    int c = (int) COUNT.getAcquire(this);
    return c == FROZEN ? 0 : c;
  }

  /** {@code set_page_count}: sets the count of a folio nobody else can reach yet. Misuse while frozen. */
  public void set(int v) {
    sched.point(OpKind.WRITE, this, "set_page_count");
    if (v < 0) {
      throw misuse("set_page_count to " + v);
    }
    int c = sched.exploring ? count : (int) COUNT.getVolatile(this);
    while (true) {
      if (c == FROZEN) {
        throw misuse("set_page_count on a frozen refcount (use folio_ref_unfreeze)");
      }
      if (sched.exploring) {
        count = v;
        return;
      }
      int witness = (int) COUNT.compareAndExchange(this, c, v);
      if (witness == c) {
        return;
      }
      c = witness;
    }
  }

  // ------------------------------------------------------------ freezing

  /**
   * {@code folio_ref_freeze}: if the count is exactly {@code expected}, freezes it (speculative
   * gets fail from now on) and returns true; the current CPU then holds the frozen pseudo-lock
   * until {@link #unfreeze}.
   */
  public boolean freeze(int expected) {
    sched.point(OpKind.RMW, this, "folio_ref_freeze");
    checkPositive(expected);
    if (sched.exploring) {
      if (count != expected) {
        sched.unchanged();
        return false;
      }
      count = FROZEN;
    } else if (!COUNT.compareAndSet(this, expected, FROZEN)) {
      return false;
    }
    freezer = sched.cpu();
    sched.acquired(this);
    return true;
  }

  /**
   * {@code folio_ref_unfreeze}: publishes {@code n} (at least 1) as the new count of a frozen
   * refcount, with release ordering (the new contents of the folio before its count). Any CPU
   * may unfreeze; misuse if it is not frozen.
   */
  public void unfreeze(int n) {
    sched.point(OpKind.WRITE, this, "folio_ref_unfreeze");
    if (n <= 0) {
      throw misuse("folio_ref_unfreeze to " + n);
    }
    int c = sched.exploring ? count : (int) COUNT.getVolatile(this);
    if (c != FROZEN) {
      throw misuse("folio_ref_unfreeze of a refcount that is not frozen (count " + c + ")");
    }
    // Bookkeeping before publication: once the count is visible another CPU may freeze it again.
    freezer = null;
    sched.releasedByAnyone(this);
    if (sched.exploring) {
      count = n;
    } else if (!COUNT.compareAndSet(this, FROZEN, n)) {
      throw misuse("folio_ref_unfreeze raced with another unfreeze");
    }
  }

  /** True if the count is frozen (a lookup would see 0). */
  public boolean isFrozen() {
    sched.point(OpKind.READ, this, "folio_ref_frozen");
    return (int) COUNT.getAcquire(this) == FROZEN;
  }

  /** Reads without a scheduling point: only for end checks and reports (0 while frozen). */
  public int peek() {
    int c = (int) COUNT.getAcquire(this);
    return c == FROZEN ? 0 : c;
  }

  // ------------------------------------------------------------ internals

  private void checkPositive(int n) {
    if (n <= 0) {
      throw new IllegalArgumentException("count argument must be positive: " + n);
    }
  }

  private BugException misuse(String what) {
    KObject o = owner();
    String headline = sched.cpu().label() + ": " + what + " (" + describe() + ")";
    return sched.bug(Verdict.of(VerdictKind.REFCOUNT_MISUSE, headline,
        o == null ? List.of("state: " + state()) : List.of("state: " + state(), "of " + o.describeObject()),
        List.of(id())));
  }

  @Override
  public List<Cpu> holders() {
    Cpu f = freezer;
    return f == null ? List.of() : List.of(f);
  }

  @Override
  public String state() {
    int c = (int) COUNT.getAcquire(this);
    if (c != FROZEN) {
      return "count=" + c;
    }
    Cpu f = freezer;
    return "count=0 (frozen" + (f == null ? ")" : " by " + f.label() + ")");
  }
}
