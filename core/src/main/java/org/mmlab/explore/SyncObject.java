package org.mmlab.explore;

import java.util.List;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.KObject;
import org.mmlab.debug.LockClass;

/**
 * Base of every primitive of {@code org.mmlab.sync}: the thing a scheduling point is about.
 *
 * <p>Each object has an id that is deterministic within one execution (handed out by its
 * {@link Sched} in creation order, never reused: the quarantine of the lifetime checker relies
 * on it), a human name for reports, an optional lock class (for lockdep; pseudo-locks such as a
 * frozen refcount have one too) and an optional owning {@link KObject}. Every operation on the
 * primitive first checks that its owner is alive: an operation on a primitive embedded in a
 * freed object is a use-after-free.
 */
public abstract class SyncObject {
  /** The scheduler this primitive belongs to. Immutable. */
  protected final Sched sched;

  private final int id;
  /** The name, or with {@link #nameAfterOwner} the prefix of one made from the owner's. Immutable. */
  private final String name;
  /** True if {@link #name()} is {@link #name} followed by the owner's name. Immutable. */
  private final boolean nameAfterOwner;
  private final @Nullable LockClass lockClass;
  private final @Nullable KObject owner;

  protected SyncObject(Sched sched, String name, @Nullable LockClass lockClass, @Nullable KObject owner) {
    this(sched, name, lockClass, owner, false);
  }

  /**
   * With {@code nameAfterOwner}, the name is {@code name} (a prefix, may be empty) followed by
   * {@code owner}'s {@link KObject#objectName()}, made only when a report asks for it: objects
   * created on hot paths (the split lock and entries of every new page table) then build no
   * string.
   */
  protected SyncObject(Sched sched, String name, @Nullable LockClass lockClass, @Nullable KObject owner,
      boolean nameAfterOwner) {
    if (nameAfterOwner && owner == null) {
      throw new IllegalArgumentException("named after a missing owner: " + name);
    }
    this.sched = sched;
    this.id = sched.newObjectId();
    this.name = name;
    this.nameAfterOwner = nameAfterOwner;
    this.lockClass = lockClass;
    this.owner = owner;
  }

  /** Deterministic id within its execution. */
  public final int id() {
    return id;
  }

  /** The name in reports. Subclasses with many instances (page descriptors) may compute it instead of storing one. */
  public String name() {
    KObject o = owner;
    return nameAfterOwner && o != null ? name + o.objectName() : name;
  }

  /** The lock class for lockdep, or null for objects that are not (pseudo-)locks. */
  public final @Nullable LockClass lockClass() {
    return lockClass;
  }

  /** The model object this primitive lives in, or null for free-standing primitives. */
  public final @Nullable KObject owner() {
    return owner;
  }

  /** The scheduler this primitive belongs to. */
  public final Sched sched() {
    return sched;
  }

  /**
   * The CPUs that currently hold this object, for wait-for chains (the owner of a lock, the
   * readers of an rwsem, the CPU that froze a refcount). Empty when nobody holds it.
   */
  public List<Cpu> holders() {
    return List.of();
  }

  /** A short description of the object's current state for reports (e.g. {@code "count=0 (frozen)"}). */
  public String state() {
    return "";
  }

  /** Kind of primitive for reports, e.g. {@code "spinlock"}. */
  public abstract String kind();

  /** {@code kind name}, e.g. {@code "spinlock ptl@pmd#3"}. */
  public final String describe() {
    return kind() + " " + name();
  }

  @Override
  public String toString() {
    return describe();
  }
}
