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
import org.mmlab.sync.Spinlock;

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
 *   <li>Compound pages ({@link #folio}, {@link #isTail})</li>
 *   <li>Verdicts and reports</li>
 * </ol>
 * The rest of {@code struct page}'s operations live in package-private static helpers that take
 * the page, so that a descriptor carries no extra object and no call adds an indirection:
 * {@link PageRef} (the reference-count primitives behind {@link Folio}'s {@code folio_ref_*}),
 * {@link PageLockBit} ({@code PG_locked} as a sleeping lock, and the {@link PageLocks} side
 * object), {@link PagePrep} (what the allocator does to a descriptor at allocation and free),
 * and {@link PtDesc}'s {@code pagetable_ctor}/{@code _dtor} bodies. They reach the fields
 * through the package-private {@link VarHandle}s below; every point they make is on the page.
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
  // Package-private for the helpers (PageRef, PageLockBit, PagePrep, PtDesc); nothing else uses them.
  static final VarHandle FLAGS;
  static final VarHandle REF;
  static final VarHandle MAP;
  static final VarHandle MAPPING;
  static final VarHandle PRIV;
  static final VarHandle LINK;
  static final VarHandle INDEX;

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

  /** {@code folio_mark_uptodate}: sets {@code PG_uptodate} with release ordering (the contents before the flag). */
  void markUptodateRelease() {
    sched.point(OpKind.RMW, this, "folio_mark_uptodate");
    FLAGS.getAndBitwiseOrRelease(this, PageFlag.UPTODATE.mask());
  }

  /**
   * {@code __folio_mark_uptodate}: sets {@code PG_uptodate} with a plain read-modify-write behind
   * a release store (the kernel's {@code smp_wmb} then the non-atomic {@code __set_bit}): the
   * contents written before are visible to whoever sees the flag. Only for a folio no other CPU
   * writes the flags of yet (a new anonymous or copy-on-write folio before its PTE is set). On
   * x86 a plain store, where the atomic OR of {@link #markUptodateRelease} would first wait for
   * the zeroing stores before it to reach the cache.
   */
  void markUptodateNonAtomic() {
    sched.point(OpKind.WRITE, this, "__folio_mark_uptodate");
    FLAGS.setRelease(this, (int) FLAGS.getOpaque(this) | PageFlag.UPTODATE.mask());
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
    return PageRef.tryGet(this, "get_page_unless_zero");
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

  /**
   * The count word as stored, without a scheduling point: negative while frozen, so one test
   * {@code > 0} tells a page with references. The TLB-hit path's in-use check.
   */
  public int peekRefRaw() {
    return (int) REF.getAcquire(this);
  }

  /** True if the count is frozen, without a scheduling point: checks and reports only. */
  public boolean peekFrozen() {
    return (int) REF.getAcquire(this) == FROZEN;
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
    return PtDesc.pagetableCtor(this, kind, ptlClass);
  }

  /**
   * {@code pagetable_dtor}: the page stops being a table. Frees its {@link PtDesc}, poisoning
   * the split lock: any later operation on it is a use-after-free. The stale {@code PtDesc}
   * stays reachable through {@link #ptlock} until the page is allocated again, so a CPU that
   * looks up the lock of a freed table is caught too.
   */
  public void pagetableDtor() {
    PtDesc.pagetableDtor(this);
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

  // ------------------------------------------------------------ verdicts, reports

  BugException invariant(String what) {
    return sched.bug(Verdict.of(VerdictKind.INVARIANT,
        sched.cpu().label() + ": " + what + " (" + describe() + ")", List.of("state: " + state()), List.of(id())));
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
    PageLocks l = PageLockBit.locksIfAny(this);
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
