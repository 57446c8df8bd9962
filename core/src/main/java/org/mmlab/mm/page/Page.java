package org.mmlab.mm.page;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.BugException;
import org.mmlab.explore.Cpu;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.SyncObject;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;
import org.mmlab.sync.HashedWaitTable;
import org.mmlab.sync.Spinlock;
import org.mmlab.sync.WaitQueue;
import org.mmlab.sync.MightSleep;

/**
 * A page descriptor: the kernel's {@code struct page} ({@code include/linux/mm_types.h}), one
 * per 4 KiB frame, type-stable: created once (lazily, see {@link Section}), never freed, reused
 * by the allocator for whatever the frame becomes next. A head page (or an order-0 page) is
 * also a {@link Folio}; the folio accessors are there.
 *
 * <h2>Contents</h2>
 * <ol>
 *   <li>Fields and their protection (below), the size budget</li>
 *   <li>Flags: {@link #testFlag}, {@link #setFlag}, {@link #clearFlag}, ...</li>
 *   <li>Reference count of this page ({@code page_ref_*}); the folio-level ones are in {@link Folio}</li>
 *   <li>Mapcount ({@code _mapcount})</li>
 *   <li>{@code mapping}, {@code index}, {@code private}</li>
 *   <li>Page-table role ({@link #pagetableCtor}, {@link #pagetableDtor}, {@link #ptlock})</li>
 *   <li>Compound pages ({@link #folio}, {@link #isTail}); internals used by {@link Folio} and the allocator</li>
 * </ol>
 *
 * <h2>Fields</h2>
 * <ul>
 *   <li>{@code flags}: {@link PageFlag} bits 0..23, the compound (or free block) order in bits
 *       24..28. Atomic bit operations; each is a scheduling point.</li>
 *   <li>{@code refcount}: {@code _refcount}, or {@link #FROZEN} while frozen
 *       ({@code page_ref_freeze}). CAS; each operation is a point.</li>
 *   <li>{@code mapcount}: {@code _mapcount}, −1 when unmapped. Atomic; each operation is a point.</li>
 *   <li>{@code mapping}, {@code index}: as in the kernel, protected by the folio lock for
 *       page-cache folios and by the anon_vma rules for anonymous ones; read locklessly
 *       ({@code READ_ONCE}) by speculative paths, so every access is a point.</li>
 *   <li>{@code priv}: {@code private}; for a page-table page the {@link PtDesc} of its current
 *       (or last) use as a table, as {@code ptdesc->ptl} overlays {@code page->private}.</li>
 *   <li>{@code link}: for a tail page its head ({@code compound_head}); otherwise the
 *       {@link PageLocks} created the first time the page is locked or frozen, or null. Written
 *       only while the page is unreachable except through pfn walkers (compound set-up at
 *       allocation, tear-down at free) or, for the locks, by a CAS from null.</li>
 * </ul>
 *
 * <h2>Size</h2>
 * The goal is at most 80 heap bytes per resident page. With compressed oops and the default
 * 12-byte object header, {@link SyncObject} costs 32 bytes (header, sched, id, name, lock
 * class, owner) and the fields here 36 (four ints, three references, one long): 68, aligned to
 * 72 bytes, plus a 4-byte slot in the section's descriptor array: 76 bytes per resident page
 * ({@code PageHeapTest} measures it). That is why the flags word is an int, why a page does not
 * embed a {@code FlagWord} and a {@code Refcount} (48 and 40 bytes more) but implements their
 * semantics on its own fields with the page itself as the scheduling object, why the
 * pseudo-lock objects of the page lock and the frozen count live in a side object created on
 * first use, and why the descriptor reaches its {@link PhysMem} through its owner, the
 * {@link Section}, instead of a field. Being a {@link SyncObject} itself (rather than deriving
 * a scheduling identity from the pfn) keeps ids deterministic under the explorer for free: a
 * descriptor is created in step order.
 *
 * <h2>Scheduling points</h2>
 * Every flag, reference-count and mapcount operation, and every access to {@code mapping},
 * {@code index} and {@code private}, is one point on this page. A lock attempt and a flag test
 * of the same page are therefore seen as racing. Debug checks at allocation and free
 * ({@code check_new_page}, {@code free_pages_prepare}) read without points, as the
 * consistency walk does.
 */
public final class Page extends SyncObject implements Folio {
  private static final VarHandle FLAGS;
  private static final VarHandle REF;
  private static final VarHandle MAP;
  private static final VarHandle MAPPING;
  private static final VarHandle PRIV;
  private static final VarHandle LINK;
  private static final VarHandle INDEX;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      FLAGS = l.findVarHandle(Page.class, "flags", int.class);
      REF = l.findVarHandle(Page.class, "refcount", int.class);
      MAP = l.findVarHandle(Page.class, "mapcount", int.class);
      MAPPING = l.findVarHandle(Page.class, "mapping", Object.class);
      PRIV = l.findVarHandle(Page.class, "priv", Object.class);
      LINK = l.findVarHandle(Page.class, "link", Object.class);
      INDEX = l.findVarHandle(Page.class, "index", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** The first bit of the order field of the flags word. */
  public static final int ORDER_SHIFT = 24;
  /** The order field: 5 bits. */
  public static final int ORDER_MASK = 0x1F << ORDER_SHIFT;
  /** The value of {@code refcount} while frozen: distinct from every real count. */
  static final int FROZEN = Integer.MIN_VALUE;
  /** Name passed to {@link SyncObject}: the real one is computed ({@link #name()}). */
  private static final String NAME = "page";

  // --- the descriptor (see the class notes for protection) ---
  /** The frame number, unsigned. Immutable. */
  private final int pfn;
  private int flags;
  private int refcount;
  private int mapcount;
  private @Nullable Object mapping;
  private @Nullable Object priv;
  private @Nullable Object link;
  private long index;

  Page(Section section, long pfn, int initialFlags) {
    super(section.mem.sched(), NAME, null, section);
    this.pfn = (int) pfn;
    this.flags = initialFlags;
    this.mapcount = -1;
  }

  /** {@code page_to_pfn}. Immutable. */
  public long pfn() {
    return Integer.toUnsignedLong(pfn);
  }

  /** {@code page_to_phys}: the physical address of the frame. */
  public long phys() {
    return pfn() << Frames.PAGE_SHIFT;
  }

  /** The memory this descriptor belongs to. */
  public PhysMem mem() {
    return section().mem;
  }

  Section section() {
    return (Section) owner();
  }

  @Override
  public String name() {
    return "pfn 0x" + Long.toHexString(pfn());
  }

  @Override
  public String kind() {
    return "page";
  }

  // ------------------------------------------------------------ flags

  /** {@code test_bit(PG_x, &page->flags)} ({@code PageX}), with acquire ordering. */
  public boolean testFlag(PageFlag f) {
    sched.point(OpKind.READ, this, "test_bit");
    return ((int) FLAGS.getAcquire(this) & f.mask()) != 0;
  }

  /** {@code set_bit} ({@code SetPageX}). */
  public void setFlag(PageFlag f) {
    sched.point(OpKind.RMW, this, "set_bit");
    FLAGS.getAndBitwiseOr(this, f.mask());
  }

  /** {@code clear_bit} ({@code ClearPageX}). */
  public void clearFlag(PageFlag f) {
    sched.point(OpKind.RMW, this, "clear_bit");
    FLAGS.getAndBitwiseAnd(this, ~f.mask());
  }

  /** {@code test_and_set_bit} ({@code TestSetPageX}): true if it was set before. */
  public boolean testAndSetFlag(PageFlag f) {
    sched.point(OpKind.RMW, this, "test_and_set_bit");
    return ((int) FLAGS.getAndBitwiseOr(this, f.mask()) & f.mask()) != 0;
  }

  /** {@code test_and_clear_bit} ({@code TestClearPageX}): true if it was set before. */
  public boolean testAndClearFlag(PageFlag f) {
    sched.point(OpKind.RMW, this, "test_and_clear_bit");
    return ((int) FLAGS.getAndBitwiseAnd(this, ~f.mask()) & f.mask()) != 0;
  }

  /** {@code READ_ONCE(page->flags)}: the whole word (flags and order), with acquire ordering. */
  public int flags() {
    sched.point(OpKind.READ, this, "READ_ONCE(page->flags)");
    return (int) FLAGS.getAcquire(this);
  }

  /** The flags word without a scheduling point: end checks, walks and reports only. */
  public int peekFlags() {
    return (int) FLAGS.getAcquire(this);
  }

  /** Flag test without a scheduling point: end checks, walks and reports only. */
  public boolean peekFlag(PageFlag f) {
    return (peekFlags() & f.mask()) != 0;
  }

  // ------------------------------------------------------------ this page's reference count

  /** {@code page_ref_count}: this page's own count (0 while frozen; 0 for tails). */
  public int pageRefCount() {
    sched.point(OpKind.READ, this, "page_ref_count");
    int c = (int) REF.getAcquire(this);
    return c == FROZEN ? 0 : c;
  }

  /**
   * {@code get_page_unless_zero}: takes a reference on this page's own count unless it is zero
   * or frozen. On a tail page it fails (tails have no count of their own): speculative
   * lookups then retry with {@code page_folio}.
   */
  public boolean getPageUnlessZero() {
    return refTryGet("get_page_unless_zero");
  }

  /** {@code get_page}: a reference on the folio this page belongs to. */
  public void getPage() {
    folio().folioGet();
  }

  /** {@code put_page}: drops a reference on the folio this page belongs to, freeing it at zero. */
  public void putPage() {
    folio().folioPut();
  }

  /** This page's own count without a scheduling point (0 while frozen): checks and reports only. */
  public int peekRefCount() {
    int c = (int) REF.getAcquire(this);
    return c == FROZEN ? 0 : c;
  }

  /** True if the count is frozen, without a scheduling point: checks and reports only. */
  public boolean peekFrozen() {
    return (int) REF.getAcquire(this) == FROZEN;
  }

  // The primitives below implement Folio's accessors; each is one scheduling point.

  int refRead(String what) {
    sched.point(OpKind.READ, this, what);
    int c = (int) REF.getAcquire(this);
    return c == FROZEN ? 0 : c;
  }

  boolean refIsFrozen() {
    sched.point(OpKind.READ, this, "folio_ref_frozen");
    return (int) REF.getAcquire(this) == FROZEN;
  }

  /** Adds {@code n} to a count the caller already holds a reference on. */
  void refAdd(int n, String what) {
    sched.point(OpKind.RMW, this, what);
    int c = (int) REF.getVolatile(this);
    while (true) {
      if (c == FROZEN) {
        throw misuse(what + " on a frozen refcount");
      }
      if (c <= 0) {
        throw misuse(what + " increments a refcount of " + c + " (no reference was held)");
      }
      int witness = (int) REF.compareAndExchange(this, c, c + n);
      if (witness == c) {
        return;
      }
      c = witness;
    }
  }

  boolean refTryGet(String what) {
    sched.point(OpKind.RMW, this, what);
    int c = (int) REF.getVolatile(this);
    while (c != 0 && c != FROZEN) {
      int witness = (int) REF.compareAndExchange(this, c, c + 1);
      if (witness == c) {
        return true;
      }
      c = witness;
    }
    sched.unchanged();
    if (c == FROZEN) {
      // The caller will spin (retry) waiting for the freezer: a wait lockdep should see.
      sched.acquiring(locks().frozen);
    }
    return false;
  }

  /** Drops {@code n} references; true when the count reached zero. Misuse on underflow or frozen. */
  boolean refSub(int n, String what) {
    sched.point(OpKind.RMW, this, what);
    int c = (int) REF.getVolatile(this);
    while (true) {
      if (c == FROZEN) {
        throw misuse(what + " on a frozen refcount");
      }
      if (c < n) {
        throw misuse(what + " underflows a refcount of " + c + " (by " + n + ")");
      }
      int witness = (int) REF.compareAndExchange(this, c, c - n);
      if (witness == c) {
        return c == n;
      }
      c = witness;
    }
  }

  /** {@code set_page_count} on a descriptor nobody else holds a reference to. */
  void refSet(int v, String what) {
    sched.point(OpKind.WRITE, this, what);
    int c = (int) REF.getVolatile(this);
    while (true) {
      if (c == FROZEN) {
        throw misuse(what + " on a frozen refcount");
      }
      int witness = (int) REF.compareAndExchange(this, c, v);
      if (witness == c) {
        return;
      }
      c = witness;
    }
  }

  boolean refFreeze(int expected) {
    sched.point(OpKind.RMW, this, "folio_ref_freeze");
    if (expected <= 0) {
      throw new IllegalArgumentException("folio_ref_freeze expects a positive count: " + expected);
    }
    if (!REF.compareAndSet(this, expected, FROZEN)) {
      sched.unchanged();
      return false;
    }
    PageLocks.Pseudo frozen = locks().frozen;
    frozen.holder = sched.cpu();
    sched.acquired(frozen);
    return true;
  }

  void refUnfreeze(int n) {
    sched.point(OpKind.WRITE, this, "folio_ref_unfreeze");
    if (n <= 0) {
      throw misuse("folio_ref_unfreeze to " + n);
    }
    int c = (int) REF.getVolatile(this);
    if (c != FROZEN) {
      throw misuse("folio_ref_unfreeze of a refcount that is not frozen (count " + c + ")");
    }
    releaseFrozen();
    if (!REF.compareAndSet(this, FROZEN, n)) {
      throw misuse("folio_ref_unfreeze raced with another unfreeze");
    }
  }

  /** Bookkeeping of the frozen pseudo-lock, before the count is published again. */
  private void releaseFrozen() {
    PageLocks l = locksIfAny();
    if (l != null) {
      l.frozen.holder = null;
      sched.releasedByAnyone(l.frozen);
    }
  }

  // ------------------------------------------------------------ mapcount

  /** {@code page_mapcount}: how many page-table entries map this page ({@code _mapcount + 1}). */
  public int pageMapcount() {
    sched.point(OpKind.READ, this, "page_mapcount");
    return (int) MAP.getAcquire(this) + 1;
  }

  /**
   * One more page-table entry maps this page ({@code atomic_inc_and_test(&page->_mapcount)} in
   * {@code folio_add_*_rmap_pte}): true if it is the first.
   */
  public boolean mapcountInc() {
    sched.point(OpKind.RMW, this, "atomic_inc_and_test(_mapcount)");
    return (int) MAP.getAndAdd(this, 1) == -1;
  }

  /**
   * One page-table entry less ({@code atomic_add_negative(-1, &page->_mapcount)} in
   * {@code folio_remove_rmap_pte}): true if it was the last. Below −1 is an invariant verdict
   * (the kernel's "Bad page map").
   */
  public boolean mapcountDec() {
    sched.point(OpKind.RMW, this, "atomic_add_negative(_mapcount)");
    int before = (int) MAP.getAndAdd(this, -1);
    if (before <= -1) {
      MAP.getAndAdd(this, 1);
      throw invariant("mapcount underflow: unmapping a page that is not mapped (_mapcount was " + before + ")");
    }
    return before == 0;
  }

  /** {@code _mapcount} (−1 when unmapped) without a scheduling point: checks and reports only. */
  public int peekMapcount() {
    return (int) MAP.getAcquire(this);
  }

  // ------------------------------------------------------------ mapping, index, private

  /** {@code READ_ONCE(folio->mapping)}: the address space or anon_vma, or null. */
  public @Nullable Object mapping() {
    sched.point(OpKind.READ, this, "READ_ONCE(mapping)");
    return MAPPING.getAcquire(this);
  }

  /**
   * {@code WRITE_ONCE(folio->mapping, m)} with release ordering: a file mapping (an address
   * space), or null. Anonymous folios use {@link #setAnonMapping}.
   */
  public void setMapping(@Nullable Object m) {
    sched.point(OpKind.WRITE, this, "WRITE_ONCE(mapping)");
    FLAGS.getAndBitwiseAnd(this, ~PageFlag.ANON.mask());
    MAPPING.setRelease(this, m);
  }

  /**
   * {@code __folio_set_anon}: points {@code mapping} at an anon_vma and marks it anonymous
   * ({@link PageFlag#ANON}; the kernel tags the pointer with {@code PAGE_MAPPING_ANON}). The
   * flag is set before the pointer is published, so a reader that sees the anon_vma sees the
   * flag. Anonymous mappings are dropped by the allocator at free; file mappings must be
   * removed before the free ("Bad page state" otherwise).
   */
  public void setAnonMapping(Object anonVma) {
    sched.point(OpKind.WRITE, this, "__folio_set_anon");
    FLAGS.getAndBitwiseOr(this, PageFlag.ANON.mask());
    MAPPING.setRelease(this, anonVma);
  }

  /** {@code mapping} without a scheduling point: checks and reports only. */
  public @Nullable Object peekMapping() {
    return MAPPING.getAcquire(this);
  }

  /** {@code index} without a scheduling point: checks and reports only. */
  public long peekIndex() {
    return (long) INDEX.getAcquire(this);
  }

  /** {@code folio_test_anon}. */
  public boolean isAnon() {
    return testFlag(PageFlag.ANON);
  }

  /** {@code folio->index}: the page offset in its file, or the linear index for anonymous pages. */
  public long index() {
    sched.point(OpKind.READ, this, "READ_ONCE(index)");
    return (long) INDEX.getAcquire(this);
  }

  public void setIndex(long i) {
    sched.point(OpKind.WRITE, this, "WRITE_ONCE(index)");
    INDEX.setRelease(this, i);
  }

  /** {@code page_private} / {@code folio_get_private}. */
  public @Nullable Object getPrivate() {
    sched.point(OpKind.READ, this, "page_private");
    return PRIV.getAcquire(this);
  }

  /** {@code set_page_private} / {@code folio_change_private}. */
  public void setPrivate(@Nullable Object p) {
    sched.point(OpKind.WRITE, this, "set_page_private");
    PRIV.setRelease(this, p);
  }

  // ------------------------------------------------------------ page-table role

  /**
   * {@code pagetable_ctor}: this freshly allocated page becomes a page table of kind
   * {@code kind} ({@code "pte table"}, {@code "pmd table"}): sets {@link PageFlag#TABLE} and
   * creates the {@link PtDesc} (a new {@code KObject}) with its split page-table lock of class
   * {@code ptlClass}. Invariant verdict if the page already is a table.
   */
  public PtDesc pagetableCtor(String kind, LockClass ptlClass) {
    sched.point(OpKind.RMW, this, "pagetable_ctor");
    if (((int) FLAGS.getAndBitwiseOr(this, PageFlag.TABLE.mask()) & PageFlag.TABLE.mask()) != 0) {
      throw invariant("pagetable_ctor on a page that already is a page table");
    }
    PtDesc d = new PtDesc(this, kind, ptlClass);
    PRIV.setRelease(this, d);
    return d;
  }

  /**
   * {@code pagetable_dtor}: the page stops being a table. Frees its {@link PtDesc}, poisoning
   * the split lock: any later operation on it is a use-after-free. The stale {@code PtDesc}
   * stays reachable through {@link #ptlock} until the page is allocated again, so a CPU that
   * looks up the lock of a freed table is caught too.
   */
  public void pagetableDtor() {
    sched.point(OpKind.RMW, this, "pagetable_dtor");
    Object p = PRIV.getAcquire(this);
    if (((int) FLAGS.getAndBitwiseAnd(this, ~PageFlag.TABLE.mask()) & PageFlag.TABLE.mask()) == 0
        || !(p instanceof PtDesc d)) {
      throw invariant("pagetable_dtor on a page that is not a page table");
    }
    d.free();
  }

  /**
   * {@code ptlock_ptr(page_ptdesc(page))}: the split page-table lock of this table page. On a
   * page whose table use ended the lock is returned poisoned (locking it is a use-after-free);
   * on a page that is not (or no longer) a table at all, an invariant verdict.
   */
  public Spinlock ptlock() {
    sched.point(OpKind.READ, this, "ptlock_ptr");
    if (PRIV.getAcquire(this) instanceof PtDesc d) {
      return d.ptl();
    }
    throw invariant("ptlock_ptr of a page that is not a page table (freed and reused?)");
  }

  /** The current or last {@link PtDesc} of this page, without a scheduling point, or null. */
  public @Nullable PtDesc peekPtDesc() {
    return PRIV.getAcquire(this) instanceof PtDesc d ? d : null;
  }

  // ------------------------------------------------------------ compound pages

  /**
   * {@code page_folio} / {@code compound_head}: the folio this page belongs to (its head, or
   * itself). No scheduling point: the head link is written only while the compound page is
   * unreachable except through pfn walkers (allocation and free); a later issue's folio split
   * makes it a point.
   */
  public Folio folio() {
    return LINK.getAcquire(this) instanceof Page head ? head : this;
  }

  /** {@code PageTail}. No scheduling point (see {@link #folio()}). */
  public boolean isTail() {
    return LINK.getAcquire(this) instanceof Page;
  }

  /** {@code PageHead}: the first page of a compound page. A flag test (a point). */
  public boolean isHead() {
    return testFlag(PageFlag.HEAD);
  }

  /** The compound order recorded in the flags word, without a point. */
  int peekOrder() {
    return (peekFlags() & ORDER_MASK) >>> ORDER_SHIFT;
  }

  // ------------------------------------------------------------ the page lock (used by Folio)

  /** The pseudo-lock objects, created on first use (a CAS natively; in step order when exploring). */
  PageLocks locks() {
    Object l = LINK.getAcquire(this);
    if (l instanceof PageLocks pl) {
      return pl;
    }
    if (l instanceof Page) {
      throw invariant("a lock or frozen count of a tail page (use its folio)");
    }
    PageLocks fresh = new PageLocks(this);
    Object witness = LINK.compareAndExchange(this, (Object) null, fresh);
    if (witness == null) {
      return fresh;
    }
    if (witness instanceof PageLocks pl) {
      return pl;
    }
    throw invariant("a lock or frozen count of a page that just became a tail");
  }

  private @Nullable PageLocks locksIfAny() {
    return LINK.getAcquire(this) instanceof PageLocks pl ? pl : null;
  }

  /** {@code folio_lock}: see {@link Folio#folioLock}. */
  void lockNow() {
    MightSleep.check(sched, "folio_lock");
    PageLocks.Pseudo bl = locks().locked;
    sched.acquiring(bl);
    if (!tryTakeLocked("folio_lock")) {
      lockSlow(bl);
    }
    bl.holder = sched.cpu();
    sched.acquired(bl);
  }

  /** The sleeping part: the kernel's {@code folio_wait_bit_common} with an exclusive entry. */
  private void lockSlow(PageLocks.Pseudo bl) {
    WaitQueue q = waitTable().queueFor(this, PageFlag.LOCKED.bit);
    WaitQueue.Entry e = WaitQueue.Entry.keyed(sched.cpu(), this, PageFlag.LOCKED.bit, bl);
    while (true) {
      q.prepareToWait(e, true);
      if (tryTakeLocked("test_and_set_bit_lock")) {
        break;
      }
      q.schedule(e);
      if (tryTakeLocked("test_and_set_bit_lock")) {
        break;
      }
    }
    q.finishWait(e);
  }

  boolean trylockNow() {
    PageLocks.Pseudo bl = locks().locked;
    if (!tryTakeLocked("folio_trylock")) {
      return false;
    }
    bl.holder = sched.cpu();
    sched.acquired(bl);
    return true;
  }

  /**
   * {@code folio_unlock}: clears {@code PG_locked} with release ordering and wakes one
   * exclusive waiter. Any CPU may unlock (I/O completion does); unlocking an unlocked folio is
   * an invariant verdict.
   */
  void unlockNow() {
    sched.point(OpKind.UNLOCK, this, "folio_unlock");
    int m = PageFlag.LOCKED.mask();
    if (((int) FLAGS.getOpaque(this) & m) == 0) {
      throw invariant("folio_unlock of a folio that is not locked");
    }
    PageLocks l = locksIfAny();
    if (l != null) {
      // Bookkeeping before the release: once the bit is clear another CPU may take it.
      l.locked.holder = null;
      sched.releasedByAnyone(l.locked);
    }
    FLAGS.getAndBitwiseAndRelease(this, ~m);
    wakeLocked();
  }

  /** {@code folio_wait_locked}: sleeps until the folio is unlocked, without taking the lock. */
  void waitLockedNow() {
    MightSleep.check(sched, "folio_wait_locked");
    if (!testLockedForWait("folio_wait_locked")) {
      return;
    }
    PageLocks.Pseudo bl = locks().locked;
    WaitQueue q = waitTable().queueFor(this, PageFlag.LOCKED.bit);
    WaitQueue.Entry e = WaitQueue.Entry.keyed(sched.cpu(), this, PageFlag.LOCKED.bit, bl);
    while (true) {
      q.prepareToWait(e, false);
      if (!testLockedForWait("test_bit_acquire")) {
        break;
      }
      q.schedule(e);
      if (!testLockedForWait("test_bit_acquire")) {
        break;
      }
    }
    q.finishWait(e);
  }

  /**
   * {@code folio_wake_bit}: a full barrier (the clear before the lockless test for sleepers,
   * pairing with the sleeper queueing before it tests the bit; see {@code FlagWord}'s notes),
   * then a keyed wake-up of one exclusive waiter and every non-exclusive one.
   */
  private void wakeLocked() {
    if (!sched.exploring) {
      VarHandle.fullFence();
    }
    WaitQueue q = waitTable().queueFor(this, PageFlag.LOCKED.bit);
    if (q.active()) {
      q.wakeUpKey(this, PageFlag.LOCKED.bit, 1);
    }
  }

  /** One step: takes {@code PG_locked} if clear (test-and-test-and-set, acquire ordering). */
  private boolean tryTakeLocked(String what) {
    sched.point(OpKind.LOCK, this, what);
    int m = PageFlag.LOCKED.mask();
    if (((int) FLAGS.getVolatile(this) & m) != 0) {
      sched.unchanged();
      return false;
    }
    return ((int) FLAGS.getAndBitwiseOrAcquire(this, m) & m) == 0;
  }

  private boolean testLockedForWait(String what) {
    sched.point(OpKind.READ, this, what);
    return ((int) FLAGS.getVolatile(this) & PageFlag.LOCKED.mask()) != 0;
  }

  private HashedWaitTable waitTable() {
    return mem().folioWaitTable();
  }

  // ------------------------------------------------------------ allocator internals

  /** {@code folio_mark_uptodate}: sets {@code PG_uptodate} with release ordering (the contents before the flag). */
  void markUptodateRelease() {
    sched.point(OpKind.RMW, this, "folio_mark_uptodate");
    FLAGS.getAndBitwiseOrRelease(this, PageFlag.UPTODATE.mask());
  }

  /**
   * {@code __SetPageBuddy} + {@code set_buddy_order}, or {@code __ClearPageBuddy}: called by
   * the allocator under {@code zone->lock} on the first page of a block entering or leaving a
   * free list. One point.
   */
  void setBuddy(boolean free, int order) {
    sched.point(OpKind.RMW, this, free ? "__SetPageBuddy" : "__ClearPageBuddy");
    int clear = PageFlag.BUDDY.mask() | ORDER_MASK;
    int set = free ? PageFlag.BUDDY.mask() | (order << ORDER_SHIFT) : 0;
    int f = (int) FLAGS.getVolatile(this);
    while (true) {
      int witness = (int) FLAGS.compareAndExchange(this, f, (f & ~clear) | set);
      if (witness == f) {
        return;
      }
      f = witness;
    }
  }

  /**
   * {@code prep_new_page} for the head (or only) page of a block just taken from the free
   * lists: checks the state a free page must be in ({@code check_new_page}), resets
   * {@code private}, {@code index} and {@code mapping}, makes it a compound head of
   * {@code order} if asked, and sets the count to 1 ({@code set_page_refcounted}, a point:
   * a speculative {@code folio_try_get} through a stale pointer may race with it).
   */
  void prepNew(int order, boolean compound) {
    checkFree("check_new_page", false);
    PRIV.setRelease(this, null);
    INDEX.setRelease(this, 0L);
    MAPPING.setRelease(this, null);
    if (compound && order > 0) {
      sched.point(OpKind.RMW, this, "prep_compound_head");
      int f = (int) FLAGS.getVolatile(this);
      while (true) {
        int next = (f & ~ORDER_MASK) | PageFlag.HEAD.mask() | (order << ORDER_SHIFT);
        int witness = (int) FLAGS.compareAndExchange(this, f, next);
        if (witness == f) {
          break;
        }
        f = witness;
      }
    }
    refSet(1, "set_page_refcounted");
  }

  /** {@code prep_compound_tail}: this page becomes a tail of {@code head}. No scheduling point (see {@link #folio()}). */
  void prepTail(Page head) {
    checkFree("check_new_page", false);
    PRIV.setRelease(this, null);
    MAPPING.setRelease(this, null);
    INDEX.setRelease(this, 0L);
    LINK.setRelease(this, head);
  }

  /**
   * {@code free_pages_prepare} for the head (or only) page: the state checks of
   * {@code free_page_is_bad} (a verdict if the page is still mapped, locked, on the LRU, a
   * table ...), then the flags that do not survive a free are cleared (one point) and an
   * anonymous mapping dropped.
   */
  void prepareFree(String what) {
    checkFree(what, true);
    sched.point(OpKind.RMW, this, "free_pages_prepare");
    int f = (int) FLAGS.getVolatile(this);
    while (true) {
      int witness = (int) FLAGS.compareAndExchange(this, f, f & ~(PageFlag.CLEAR_AT_FREE | ORDER_MASK));
      if (witness == f) {
        break;
      }
      f = witness;
    }
    if ((f & PageFlag.ANON.mask()) != 0) {
      MAPPING.setRelease(this, null);
    }
  }

  /** {@code free_tail_page_prepare}: checks a tail of {@code head} and makes it a plain page again. */
  void prepareFreeTail(Page head, String what) {
    Object l = LINK.getAcquire(this);
    if (l != head) {
      throw badPage(what, "tail page of pfn 0x" + Long.toHexString(head.pfn()) + " has a wrong compound_head");
    }
    checkFree(what, false);
    LINK.setRelease(this, null);
  }

  /** {@code free_pages_prepare} for a non-head page of a non-compound block: checks only. */
  void checkFreePart(String what) {
    checkFree(what, false);
  }

  /** {@code check_new_pages} for a non-head page of a non-compound block: checks only. */
  void checkNewPart(String what) {
    checkFree(what, false);
  }

  /**
   * {@code free_frozen_pages}' precondition: the count is zero. A frozen count is the caller's
   * (it froze it to free the folio): its pseudo-lock is released and the count becomes 0. A
   * nonzero count is misuse. One point.
   */
  void refDropFrozen() {
    sched.point(OpKind.WRITE, this, "free_frozen_pages");
    int c = (int) REF.getVolatile(this);
    if (c == FROZEN) {
      releaseFrozen();
      if (!REF.compareAndSet(this, FROZEN, 0)) {
        throw misuse("free_frozen_pages raced with an unfreeze");
      }
    } else if (c != 0) {
      throw misuse("free_frozen_pages of a page with a nonzero refcount (" + c + ")");
    }
  }

  /**
   * The checks of a page entering or leaving the allocator: count zero, not mapped, no
   * mapping (except an anonymous one at free), no flag of {@link PageFlag#CHECK_AT_FREE}.
   * Reads without scheduling points ({@code free_page_is_bad}, {@code check_new_page}).
   */
  private void checkFree(String what, boolean atFree) {
    int c = (int) REF.getAcquire(this);
    int flagsNow = (int) FLAGS.getAcquire(this);
    if (c != 0) {
      throw sched.bug(Verdict.of(VerdictKind.REFCOUNT_MISUSE,
          sched.cpu().label() + ": " + what + ": " + name() + " has a nonzero refcount ("
              + (c == FROZEN ? "frozen" : c) + ")",
          List.of("Bad page state: a page is freed or reused while a reference to it is held", "state: " + state()),
          List.of(id())));
    }
    int m = (int) MAP.getAcquire(this);
    if (m != -1) {
      throw badPage(what, "nonzero mapcount (" + (m + 1) + "): freed while mapped");
    }
    Object mp = MAPPING.getAcquire(this);
    if (mp != null && !(atFree && (flagsNow & PageFlag.ANON.mask()) != 0)) {
      throw badPage(what, "non-NULL mapping (still in a page cache?)");
    }
    int bad = flagsNow & PageFlag.CHECK_AT_FREE;
    if (atFree) {
      bad &= ~PageFlag.BUDDY.mask();
    }
    if (bad != 0) {
      throw badPage(what, "flags set that must be clear: " + describeFlags(bad));
    }
  }

  // ------------------------------------------------------------ verdicts, reports

  private BugException misuse(String what) {
    return sched.bug(Verdict.of(VerdictKind.REFCOUNT_MISUSE,
        sched.cpu().label() + ": " + what + " (" + describe() + ")", List.of("state: " + state()), List.of(id())));
  }

  BugException invariant(String what) {
    return sched.bug(Verdict.of(VerdictKind.INVARIANT,
        sched.cpu().label() + ": " + what + " (" + describe() + ")", List.of("state: " + state()), List.of(id())));
  }

  private BugException badPage(String what, String reason) {
    return sched.bug(Verdict.of(VerdictKind.INVARIANT,
        sched.cpu().label() + ": Bad page state in " + what + ": " + name() + ": " + reason,
        List.of("state: " + state()), List.of(id())));
  }

  /** {@code "locked|uptodate"} for a flags value. */
  public static String describeFlags(int f) {
    StringBuilder sb = new StringBuilder();
    for (PageFlag pf : PageFlag.values()) {
      if ((f & pf.mask()) != 0) {
        if (!sb.isEmpty()) {
          sb.append('|');
        }
        sb.append(pf.name().toLowerCase(java.util.Locale.ROOT));
      }
    }
    int order = (f & ORDER_MASK) >>> ORDER_SHIFT;
    if (order != 0) {
      sb.append(sb.isEmpty() ? "" : "|").append("order=").append(order);
    }
    return sb.isEmpty() ? "0" : sb.toString();
  }

  /** The CPU that froze the count, if it is frozen: who a CPU retrying on this page waits for. */
  @Override
  public List<Cpu> holders() {
    PageLocks l = locksIfAny();
    if (l == null || !peekFrozen()) {
      return List.of();
    }
    return l.frozen.holders();
  }

  @Override
  public String state() {
    int c = (int) REF.getAcquire(this);
    Object l = LINK.getAcquire(this);
    return "flags=" + describeFlags(peekFlags()) + " count=" + (c == FROZEN ? "0 (frozen)" : c)
        + " mapcount=" + (peekMapcount() + 1)
        + (l instanceof Page h ? " tail of pfn 0x" + Long.toHexString(h.pfn()) : "");
  }
}
