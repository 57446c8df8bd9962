package org.mmlab.debug;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.mmlab.explore.BugException;
import org.mmlab.explore.Sched;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;

/**
 * A model object with a lifetime: allocated, then freed once, never reused (KASAN's
 * quarantine: ids are never handed out again, so a stale reference always finds the poisoned
 * object, not a new one). Every primitive of the sync layer may name a {@code KObject} as its
 * owner; an operation on a primitive whose owner is freed is a use-after-free, reported with
 * where the object was allocated, freed and used.
 *
 * <p>Type-stable memory (page descriptors, {@code SLAB_TYPESAFE_BY_RCU} caches) is modelled by
 * giving each <em>use</em> of the memory its own {@code KObject}: a table page's split lock is
 * a new object each time the page becomes a table, so a lock taken through a stale pointer to
 * the previous table is caught.
 *
 * <h2>RCU</h2>
 * {@code RcuPointer} counts how many pointers publish this object. Freeing an object that is
 * still published, or that was unpublished after the last grace period that started, is RCU
 * misuse: readers may still hold it. {@link #free()} checks both.
 *
 * <h2>Concurrency</h2>
 * {@code freed} is written once with release and read with acquire (native mode); the sites
 * and RCU counters are written by the freeing/publishing CPU under the protocol of the caller
 * (the explorer runs one CPU at a time).
 *
 * <p>Kernel counterpart: KASAN's shadow state and quarantine; {@code kfree_rcu} checks.
 */
public class KObject {
  private static final VarHandle FREED;

  static {
    try {
      FREED = MethodHandles.lookup().findVarHandle(KObject.class, "freed", boolean.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final Sched sched;
  private final int id;
  private final String kind;
  /** The name, or null if {@link #lazyName()} makes it. Immutable. */
  private final @Nullable String name;
  private final Site allocSite;
  private @Nullable Site freeSite;
  @SuppressWarnings("unused")
  private volatile boolean freed;

  /** Pointers currently publishing this object; protected by the publishers' update-side lock. */
  int rcuPublished;
  boolean rcuEverPublished;
  /** Grace periods started when it was last unpublished. */
  long rcuUnpublishedAtGp;

  public KObject(Sched sched, String kind, String name) {
    this(sched, kind, name, false);
  }

  /**
   * With {@code lazy}, {@code name} is null and the subclass makes the name in
   * {@link #lazyName()} when a report needs it (page tables are created on the fault path and
   * build no string).
   */
  protected KObject(Sched sched, String kind, @Nullable String name, boolean lazy) {
    if (lazy != (name == null)) {
      throw new IllegalArgumentException("a lazily named object has no name given, and only it");
    }
    this.sched = sched;
    this.id = sched.newObjectId();
    this.kind = kind;
    this.name = name;
    this.allocSite = sched.site();
  }

  public final int objectId() {
    return id;
  }

  public final String kind() {
    return kind;
  }

  public final String objectName() {
    String n = name;
    return n != null ? n : lazyName();
  }

  /** The name of an object created without one; only such subclasses override it. */
  protected String lazyName() {
    throw new IllegalStateException("no name");
  }

  /** {@code "pte table #7"}. */
  public final String describeObject() {
    return kind + " " + objectName();
  }

  public final Site allocSite() {
    return allocSite;
  }

  public final @Nullable Site freeSite() {
    return freeSite;
  }

  public final boolean isFreed() {
    return (boolean) FREED.getAcquire(this);
  }

  /**
   * Frees the object: poisons it so every later primitive operation on it is reported.
   * A double free is reported as a use-after-free; freeing an object that RCU readers may
   * still reach is RCU misuse.
   */
  public final void free() {
    Site here = sched.site();
    if (isFreed()) {
      throw new BugException(useAfterFree("double free", here));
    }
    if (rcuPublished > 0) {
      throw new BugException(Verdict.of(VerdictKind.RCU_MISUSE,
          "freed " + describeObject() + " while it is still RCU-published",
          List.of("allocated: " + allocSite, "freed: " + here,
              "it is still reachable through " + rcuPublished + " RCU pointer(s); unpublish it and wait for a grace period first"),
          List.of(id)));
    }
    if (rcuEverPublished && !sched.graceElapsedSince(rcuUnpublishedAtGp)) {
      throw new BugException(Verdict.of(VerdictKind.RCU_MISUSE,
          "freed " + describeObject() + " without a grace period after unpublishing it",
          List.of("allocated: " + allocSite, "freed: " + here,
              "readers that found it before it was unpublished may still be using it (use synchronize_rcu or call_rcu)"),
          List.of(id)));
    }
    freeSite = here;
    FREED.setRelease(this, true);
    onFree();
  }

  /** Hook for subclasses (tear down embedded state). Called after the object is poisoned. */
  protected void onFree() {}

  /** Reports a use-after-free if the object is freed; {@code use} names the operation. */
  public final void checkAlive(String use) {
    if (isFreed()) {
      throw new BugException(useAfterFree(use, sched.site()));
    }
  }

  /** Builds the use-after-free verdict for a use at {@code here}. */
  public final Verdict useAfterFree(String use, Site here) {
    return Verdict.of(VerdictKind.USE_AFTER_FREE,
        use + " on freed " + describeObject(),
        List.of("allocated: " + allocSite, "freed:     " + freeSite, "used:      " + here + " (" + use + ")"),
        List.of(id));
  }

  // --- RCU publication bookkeeping, called by RcuPointer ---

  /** Called when an RCU pointer starts publishing this object. */
  public final void rcuPublish() {
    rcuPublished++;
    rcuEverPublished = true;
  }

  /** Called when an RCU pointer stops publishing this object. */
  public final void rcuUnpublish() {
    rcuPublished--;
    rcuUnpublishedAtGp = sched.gracePeriodsStarted();
  }

  @Override
  public String toString() {
    return describeObject();
  }
}
