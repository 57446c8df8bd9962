package org.mmlab.mm.filemap;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Map;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.KObject;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.Sched;
import org.mmlab.explore.SyncObject;
import org.mmlab.sync.Spinlock;

/**
 * TEMPORARY stand-in for the RCU-safe XArray (being written on another branch): a copy-on-write
 * sorted map published with release ordering. Same API.
 */
public final class XArray extends SyncObject {
  private static final VarHandle MAP;

  static {
    try {
      MAP = MethodHandles.lookup().findVarHandle(XArray.class, "map", TreeMap.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** {@code XA_RETRY_ENTRY}. */
  public static final Object RETRY_ENTRY = new Object() {
    @Override
    public String toString() {
      return "XA_RETRY_ENTRY";
    }
  };

  private record Value(long v) {}

  public record Found(long index, int order, Object entry) {}

  /** Visitor for {@link #forEachPeek}. */
  public interface PeekVisitor {
    void visit(long index, int order, Object entry);
  }

  private final Spinlock lock;
  @SuppressWarnings("unused")
  private volatile TreeMap<Long, Found> map = new TreeMap<>();

  public XArray(Sched sched, String name, LockClass lockClass, @Nullable KObject owner) {
    super(sched, name, null, owner);
    this.lock = new Spinlock(sched, name + ".xa_lock", lockClass, owner);
  }

  @Override
  public String kind() {
    return "xarray";
  }

  public Spinlock lock() {
    return lock;
  }

  public static Object mkValue(long v) {
    return new Value(v);
  }

  public static boolean isValue(@Nullable Object e) {
    return e instanceof Value;
  }

  public static long toValue(Object e) {
    return ((Value) e).v();
  }

  public static boolean isRetry(@Nullable Object e) {
    return e == RETRY_ENTRY;
  }

  @SuppressWarnings("unchecked")
  private TreeMap<Long, Found> current() {
    return (TreeMap<Long, Found>) MAP.getAcquire(this);
  }

  public @Nullable Object load(long index) {
    sched.point(OpKind.READ, this, "xas_load");
    Map.Entry<Long, Found> e = current().floorEntry(index);
    if (e == null) {
      return null;
    }
    Found f = e.getValue();
    return index < f.index() + (1L << f.order()) ? f.entry() : null;
  }

  public @Nullable Found find(long start, long max) {
    sched.point(OpKind.READ, this, "xa_find");
    return findIn(current(), start, max);
  }

  private static @Nullable Found findIn(TreeMap<Long, Found> m, long start, long max) {
    Map.Entry<Long, Found> e = m.floorEntry(start);
    if (e != null && start < e.getValue().index() + (1L << e.getValue().order())) {
      return e.getValue();
    }
    Map.Entry<Long, Found> n = m.higherEntry(start);
    return n != null && n.getKey() <= max ? n.getValue() : null;
  }

  public @Nullable Found findMarked(long start, long max, int mark) {
    throw new UnsupportedOperationException("marks: in the real XArray");
  }

  public @Nullable Object store(long index, int order, @Nullable Object entry) {
    lock.assertHeld();
    sched.point(OpKind.WRITE, this, "xas_store");
    long first = index & -(1L << order);
    long last = first + (1L << order) - 1;
    TreeMap<Long, Found> m = new TreeMap<>(current());
    Object old = null;
    for (Found f = findIn(m, first, last); f != null; f = findIn(m, first, last)) {
      if (f.index() <= index && index < f.index() + (1L << f.order())) {
        old = f.entry();
      }
      m.remove(f.index());
    }
    if (entry != null) {
      m.put(first, new Found(first, order, entry));
    }
    MAP.setRelease(this, m);
    return old;
  }

  public void forEachPeek(PeekVisitor v) {
    for (Found f : current().values()) {
      v.visit(f.index(), f.order(), f.entry());
    }
  }

  public long peekCount() {
    return current().size();
  }

  public void check() {}
}
