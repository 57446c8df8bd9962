package org.mmlab.debug;

import java.util.concurrent.ConcurrentHashMap;

/**
 * A lockdep lock class: every lock (and every pseudo-lock, such as a frozen refcount or a page
 * lock bit) is created with one, and lockdep orders classes, not instances, exactly as the
 * kernel's lockdep keys locks by their static {@code lock_class_key}.
 *
 * <p>Classes are interned by name, so a scenario that builds fresh objects in every execution
 * still feeds one graph across executions. A <em>pseudo</em> class stands for a wait the kernel's
 * lockdep cannot see: spinning on a frozen refcount, sleeping on a page-lock bit.
 *
 * <p>Interning goes through a concurrent map: create classes once, in static fields, never from
 * inside an explored CPU's body.
 *
 * <p>Kernel counterpart: {@code struct lock_class} / {@code struct lock_class_key}
 * ({@code include/linux/lockdep_types.h}).
 */
public final class LockClass implements Comparable<LockClass> {
  private static final ConcurrentHashMap<String, LockClass> CLASSES = new ConcurrentHashMap<>();
  private static int nextIndex; // guarded by CLASSES' computeIfAbsent

  private final String name;
  private final boolean pseudo;
  private final int index;

  private LockClass(String name, boolean pseudo, int index) {
    this.name = name;
    this.pseudo = pseudo;
    this.index = index;
  }

  /** The class named {@code name}, created on first use. */
  public static LockClass of(String name) {
    return intern(name, false);
  }

  /** A pseudo-lock class: a wait lockdep in the kernel does not see (frozen refcount, bit lock). */
  public static LockClass pseudo(String name) {
    return intern(name, true);
  }

  private static LockClass intern(String name, boolean pseudo) {
    LockClass c = CLASSES.computeIfAbsent(name, n -> {
      synchronized (CLASSES) {
        return new LockClass(n, pseudo, nextIndex++);
      }
    });
    if (c.pseudo != pseudo) {
      throw new IllegalArgumentException("lock class " + name + " already exists with pseudo=" + c.pseudo);
    }
    return c;
  }

  public String name() {
    return name;
  }

  public boolean isPseudo() {
    return pseudo;
  }

  /** Dense index, stable for the life of the JVM (not across JVMs: never print or order by it). */
  public int index() {
    return index;
  }

  @Override
  public int compareTo(LockClass o) {
    return name.compareTo(o.name);
  }

  @Override
  public String toString() {
    return pseudo ? name + " (pseudo-lock)" : name;
  }
}
