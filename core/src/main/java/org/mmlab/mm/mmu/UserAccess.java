package org.mmlab.mm.mmu;

import static org.mmlab.mm.mmu.Mmu.PAGE_MASK;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;
import org.mmlab.mm.page.Frames;
import org.mmlab.mm.page.Page;
import org.mmlab.mm.page.PageFlag;
import org.mmlab.mm.pgtable.Entry;

/**
 * The access paths of an {@link Mmu}: how a user load or store of 1, 2, 4 or 8 bytes, or of a
 * byte range, is translated, made a scheduling point on the page, checked against a stale
 * translation and carried out on the frame. Static helpers taking the MMU, so that the TLB-hit
 * path reads the same fields as before they moved here (see {@link Mmu}'s notes on that path);
 * the public entry points ({@link Mmu#load}, {@link Mmu#store}, {@link Mmu#loadBytes}, ...)
 * and the protocol notes stay in {@link Mmu}.
 *
 * <p>Order: the native hit path ({@link #loadFast}, {@link #storeFast}); the general path:
 * accesses within a page (load, store), accesses that cross into the next page, kernel accesses
 * to user memory, byte ranges and the instruction boundary; then translation (TLB lookup, the
 * walk on a miss, the descriptor of the frame); then the stale-translation check and its
 * verdict; the width and bounds checks last.
 */
final class UserAccess {
  private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  /**
   * All of the address space as one segment: the hit path accesses a frame at its absolute
   * address ({@link TlbEntry#base}) through this constant, which the JIT folds, instead of
   * through the chunk's segment, whose bounds and liveness checks are loads on the hit path.
   * A restricted method ({@code reinterpret}): the JVM runs with {@code --enable-native-access}.
   */
  private static final MemorySegment RAM = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);
  /** The rights a user load needs in a walk result. */
  static final long NEED_READ = Entry.USER;
  /** The rights a user store needs. */
  static final long NEED_WRITE = Entry.USER | Entry.WRITE;
  /** Page types a user mapping never points to: a page with one of them was freed and reused. */
  private static final int NOT_USER = PageFlag.BUDDY.mask() | PageFlag.TABLE.mask() | PageFlag.SLAB.mask();

  private UserAccess() {}

  // --- the native hit path (Mmu's notes): small, so that the JIT inlines it into each caller ---

  /**
   * A load by a CPU natively in user mode in {@code mm}, after the instruction boundary: the
   * TLB hit completes it; anything else goes to the general path ({@link #loadNow}), this
   * prefix having changed nothing.
   */
  static long loadFast(Mmu mmu, Tlb t, MmuContext mm, long addr, int width) {
    long off = addr & PAGE_MASK;
    long vpn = addr >>> Frames.PAGE_SHIFT;
    TlbEntry e = t.entry(vpn);
    if (e.loadTag == vpn && off <= Frames.PAGE_SIZE - width && validWidth(width) && inUse(e.page)) {
      t.ok();
      return read(e.base + off, width);
    }
    return loadNow(mmu, t, mm, addr, width);
  }

  /** {@link #loadFast} for a store: the hit needs the line already marked written as well. */
  static boolean storeFast(Mmu mmu, Tlb t, MmuContext mm, long addr, int width, long value) {
    long off = addr & PAGE_MASK;
    long vpn = addr >>> Frames.PAGE_SHIFT;
    TlbEntry e = t.entry(vpn);
    if (e.storeTag == vpn && off <= Frames.PAGE_SIZE - width && validWidth(width)) {
      long lines = Frames.lineBits(off, width);
      if ((e.lines & lines) == lines && inUse(e.page)) {
        write(e.base + off, width, value);
        t.ok();
        return true;
      }
    }
    return storeNow(mmu, t, mm, addr, width, value);
  }

  /**
   * The first test of the in-use check ({@link #checkInUse}): an order-0 or head page with
   * references, of no type a user mapping never points to. The page of a valid entry is never
   * null (the hit path passes it unchecked, so that the JIT's null check is the implicit one).
   */
  private static boolean inUse(Page page) {
    return page.peekRefRaw() > 0 && (page.peekFlags() & NOT_USER) == 0;
  }

  /** {@code width} bytes at absolute address {@code at} of a frame's chunk, little-endian, zero-extended. */
  private static long read(long at, int width) {
    return switch (width) {
      case 8 -> RAM.get(LE64, at);
      case 4 -> RAM.get(LE32, at) & 0xFFFF_FFFFL;
      case 2 -> RAM.get(LE16, at) & 0xFFFFL;
      default -> RAM.get(ValueLayout.JAVA_BYTE, at) & 0xFFL;
    };
  }

  /** Stores the low {@code width} bytes of {@code value} at absolute address {@code at} of a frame's chunk. */
  private static void write(long at, int width, long value) {
    switch (width) {
      case 8 -> RAM.set(LE64, at, value);
      case 4 -> RAM.set(LE32, at, (int) value);
      case 2 -> RAM.set(LE16, at, (short) value);
      default -> RAM.set(ValueLayout.JAVA_BYTE, at, (byte) value);
    }
  }

  // --- the general path ---

  /** A load not on the native hit path: explore mode, or a kernel access to user memory. */
  static long load(Mmu mmu, Tlb t, MmuContext mm, long addr, int width) {
    if (t.userMm == mm) {
      t.pollFlushRequest();
      return loadNow(mmu, t, mm, addr, width);
    }
    return loadFromKernel(mmu, t, mm, addr, width);
  }

  /** A store not on the native hit path ({@link #load}). */
  static boolean store(Mmu mmu, Tlb t, MmuContext mm, long addr, int width, long value) {
    if (t.userMm == mm) {
      t.pollFlushRequest();
      return storeNow(mmu, t, mm, addr, width, value);
    }
    return storeFromKernel(mmu, t, mm, addr, width, value);
  }

  /** A load in the mm the CPU runs, after the instruction boundary. */
  static long loadNow(Mmu mmu, Tlb t, MmuContext mm, long addr, int width) {
    long off = addr & PAGE_MASK;
    if (off + width > Frames.PAGE_SIZE || !validWidth(width)) {
      return loadSplit(mmu, t, mm, addr, width);
    }
    TlbEntry e = translate(mmu, t, mm, addr, false);
    if (e == null) {
      return 0;
    }
    Page page = e.page;
    if (mmu.exploring) {
      mmu.sched.point(OpKind.READ, page, "user load");
    }
    checkInUse(mmu, t, e, page, mm, addr, false);
    t.ok();
    long base = e.base;
    if (base == 0) {
      return loadUntouched(mmu, e, e.frame() | off, width);
    }
    return read(base + off, width);
  }

  /** A load from a frame whose chunk was never written when the entry was filled: maybe it is now. */
  private static long loadUntouched(Mmu mmu, TlbEntry e, long pa, int width) {
    e.chunk(mmu.frames.chunkSegment(pa, false));
    return mmu.frames.load(pa, width);
  }

  /**
   * A store in the mm the CPU runs, after the instruction boundary: true if stored, false if it
   * faulted (the fault is recorded in {@code t}).
   */
  static boolean storeNow(Mmu mmu, Tlb t, MmuContext mm, long addr, int width, long value) {
    long off = addr & PAGE_MASK;
    if (off + width > Frames.PAGE_SIZE || !validWidth(width)) {
      return storeSplit(mmu, t, mm, addr, width, value);
    }
    TlbEntry e = translate(mmu, t, mm, addr, true);
    if (e == null) {
      return false;
    }
    // The entry's fields are read before the in-use check's acquire loads (only this CPU
    // changes them, so they are the same after the point).
    Page page = e.page;
    boolean touched = (e.data & TlbEntry.TOUCHED) != 0;
    if (mmu.exploring) {
      mmu.sched.point(OpKind.WRITE, page, "user store");
    }
    checkInUse(mmu, t, e, page, mm, addr, true);
    if (!touched) {
      e.touched(mmu.frames.chunkSegment(e.frame(), true));
    }
    long lines = Frames.lineBits(off, width);
    if ((e.lines & lines) != lines) {
      Frames.markLines(e.chunk, e.chunkOffset, lines);
      e.lines |= lines;
    }
    long base = e.base;
    if (base == 0) { // cannot happen (a touched entry has its chunk); never write through address 0
      throw new IllegalStateException("TLB entry without a frame address: " + e.describe());
    }
    write(base + off, width, value);
    t.ok();
    return true;
  }

  /** A load that crosses into the next page: both pages translated first, then one point each. */
  private static long loadSplit(Mmu mmu, Tlb t, MmuContext mm, long addr, int width) {
    checkWidth(width);
    long second = (addr | PAGE_MASK) + 1;
    int n = (int) (second - addr);
    TlbEntry a = translate(mmu, t, mm, addr, false);
    TlbEntry b = a == null ? null : translate(mmu, t, mm, second, false);
    if (b == null) {
      return 0;
    }
    long v = 0;
    mmu.sched.point(OpKind.READ, a.page, "user load");
    checkInUse(mmu, t, a, a.page, mm, addr, false);
    for (int k = 0; k < n; k++) {
      v |= (long) mmu.frames.load8(a.frame() | ((addr + k) & PAGE_MASK)) << (8 * k);
    }
    mmu.sched.point(OpKind.READ, b.page, "user load");
    checkInUse(mmu, t, b, b.page, mm, second, false);
    for (int k = n; k < width; k++) {
      v |= (long) mmu.frames.load8(b.frame() | (k - n)) << (8 * k);
    }
    t.ok();
    return v;
  }

  private static boolean storeSplit(Mmu mmu, Tlb t, MmuContext mm, long addr, int width, long value) {
    checkWidth(width);
    long second = (addr | PAGE_MASK) + 1;
    int n = (int) (second - addr);
    TlbEntry a = translate(mmu, t, mm, addr, true);
    TlbEntry b = a == null ? null : translate(mmu, t, mm, second, true);
    if (b == null) {
      return false;
    }
    mmu.sched.point(OpKind.WRITE, a.page, "user store");
    checkInUse(mmu, t, a, a.page, mm, addr, true);
    for (int k = 0; k < n; k++) {
      mmu.frames.store8(a.frame() | ((addr + k) & PAGE_MASK), (int) (value >>> (8 * k)));
    }
    mmu.sched.point(OpKind.WRITE, b.page, "user store");
    checkInUse(mmu, t, b, b.page, mm, second, true);
    for (int k = n; k < width; k++) {
      mmu.frames.store8(b.frame() | (k - n), (int) (value >>> (8 * k)));
    }
    t.ok();
    return true;
  }

  static long loadFromKernel(Mmu mmu, Tlb t, MmuContext mm, long addr, int width) {
    t.beginKernelAccess(mm);
    try {
      return loadNow(mmu, t, mm, addr, width);
    } finally {
      t.endKernelAccess();
    }
  }

  static boolean storeFromKernel(Mmu mmu, Tlb t, MmuContext mm, long addr, int width, long value) {
    t.beginKernelAccess(mm);
    try {
      return storeNow(mmu, t, mm, addr, width, value);
    } finally {
      t.endKernelAccess();
    }
  }

  /** Moves {@code n} bytes between physical {@code pa} and the caller's buffer at {@code done}. */
  @FunctionalInterface
  interface Chunk {
    void move(long pa, long done, int n);
  }

  /** A range access, page by page upward; each page is an access of its own (boundary, point). */
  static @Nullable Fault range(Mmu mmu, Tlb t, MmuContext mm, long addr, long len, boolean write, Chunk chunk) {
    long done = 0;
    while (done < len) {
      long a = addr + done;
      int n = (int) Math.min(len - done, Frames.PAGE_SIZE - (a & PAGE_MASK));
      boolean kernel = boundary(t, mm);
      try {
        TlbEntry e = translate(mmu, t, mm, a, write);
        if (e == null) {
          return t.fault();
        }
        Page page = e.page;
        mmu.sched.point(write ? OpKind.WRITE : OpKind.READ, page, write ? "user store" : "user load");
        checkInUse(mmu, t, e, page, mm, a, write);
        chunk.move(e.frame() | (a & PAGE_MASK), done, n);
      } finally {
        if (kernel) {
          t.endKernelAccess();
        }
      }
      done += n;
    }
    t.ok();
    return null;
  }

  /**
   * The instruction boundary: in user mode, service a pending flush request; from the kernel,
   * start a kernel access to user memory (true: the caller ends it).
   */
  static boolean boundary(Tlb t, MmuContext mm) {
    if (t.userMm == mm) {
      t.pollFlushRequest();
      return false;
    }
    t.beginKernelAccess(mm);
    return true;
  }

  // --- translation ---

  /**
   * The TLB entry translating {@code addr} for this access, filled by a walk on a miss; or null
   * with the fault recorded in {@code t}. A hit whose cached rights do not allow the access walks
   * again. {@code mm} is the mm the CPU runs, so its entries are {@code t}'s current set (every
   * caller passed the instruction boundary or started a kernel access, which check that).
   */
  static @Nullable TlbEntry translate(Mmu mmu, Tlb t, MmuContext mm, long addr, boolean write) {
    long vpn = addr >>> Frames.PAGE_SHIFT; // above the user range: no valid entry has it
    TlbEntry e = t.entry(vpn);
    long need = write ? NEED_WRITE : NEED_READ;
    if (e.vpn == vpn && (e.data & need) == need) {
      return e;
    }
    return miss(mmu, t, mm, addr, write, vpn, e, need);
  }

  private static @Nullable TlbEntry miss(Mmu mmu, Tlb t, MmuContext mm, long addr, boolean write, long vpn, TlbEntry e, long need) {
    if (t.running != mm) { // the fill would go to another mm's set
      throw new IllegalStateException(t.cpu.label() + " translates for " + mm.name() + " but runs "
          + (t.running == null ? "no mm" : t.running.name()));
    }
    e.invalidate();
    if (Long.compareUnsigned(addr, Walk.USER_TOP) >= 0) {
      t.setFault(addr, write, Fault.Kind.NOT_PRESENT);
      return null;
    }
    t.countWalk();
    long r = Walk.walk(mmu.sched, mm.pageTables(), addr);
    if (r == 0) {
      t.setFault(addr, write, Fault.Kind.NOT_PRESENT);
      return null;
    }
    if ((r & need) != need) {
      t.setFault(addr, write, Fault.Kind.PROTECTION);
      return null;
    }
    long pa = Walk.frame(r);
    Page page = pageOf(mmu, pa >>> Frames.PAGE_SHIFT, mm, addr);
    boolean touched = write || mmu.frames.isTouched(pa >>> Frames.PAGE_SHIFT);
    e.fill(vpn, r, page, mmu.frames.chunkSegment(pa, write), touched, mmu.sched.step());
    return e;
  }

  /** The descriptor of a frame a leaf entry maps; a frame outside RAM or never allocated is a corrupt table. */
  private static Page pageOf(Mmu mmu, long pfn, MmuContext mm, long addr) {
    Page p = mmu.mem.pfnValid(pfn) ? mmu.mem.peekPage(pfn) : null;
    if (p == null) {
      throw mmu.sched.bug(Verdict.of(VerdictKind.INVARIANT,
          mmu.sched.cpu().label() + ": the page tables of " + mm.name() + " map 0x" + Long.toHexString(addr) + " to pfn 0x"
              + Long.toHexString(pfn) + ", which " + (mmu.mem.pfnValid(pfn) ? "was never allocated" : "is not RAM"),
          List.of("a leaf entry must point at an allocated page"), List.of()));
    }
    return p;
  }

  // --- the stale-translation check ---

  /**
   * The page an access reaches must be in use: a count above zero (or frozen: it is being
   * migrated or collapsed) and not a free block, page table or slab page; a special mapping
   * (the zero page) is exempt. A peek: the access's own point came just before.
   */
  private static void checkInUse(Mmu mmu, Tlb t, TlbEntry e, Page page, MmuContext mm, long addr, boolean write) {
    // An order-0 or head page in use passes on its own two fields, loaded side by side. A tail
    // page's count is always zero (as in the kernel), so a tail, and anything suspect, takes
    // the second test through its head: the hit path does not load the link to the head.
    if (inUse(page)) {
      return;
    }
    Page head = (Page) page.folio();
    if (head != page && head.peekRefCount() != 0 && (head.peekFlags() & NOT_USER) == 0) {
      return;
    }
    staleAccess(mmu, t, e, page, head, mm, addr, write);
  }

  private static void staleAccess(Mmu mmu, Tlb t, TlbEntry e, Page page, Page head, MmuContext mm, long addr, boolean write) {
    int flags = head.peekFlags();
    if (Walk.special(e.data) || (head.peekFrozen() && (flags & NOT_USER) == 0)) {
      return; // a special mapping has no refcounted page; a frozen count is a page in use
    }
    String pfn = "0x" + Long.toHexString(page.pfn());
    long now = Walk.peekWalk(mmu.sched, mm.pageTables(), addr);
    boolean stillMapped = now != 0 && Walk.frame(now) == e.frame();
    String reuse = (flags & PageFlag.TABLE.mask()) != 0 ? " (reused as a page table)"
        : (flags & PageFlag.SLAB.mask()) != 0 ? " (reused as a slab page)" : "";
    String headline = stillMapped
        ? "user access through a page-table entry that still maps freed pfn " + pfn + reuse
        : "user access through a stale translation to freed pfn " + pfn + reuse;
    List<String> details = new ArrayList<>();
    details.add(t.cpu.label() + ": user " + (write ? "store" : "load") + " at 0x" + Long.toHexString(addr) + " in "
        + mm.name());
    details.add("translation used: " + e.describe());
    Translation current = Walk.decode(now);
    details.add("the page tables now map 0x" + Long.toHexString(addr) + " to "
        + (current == null ? "nothing" : "pfn 0x" + Long.toHexString(current.pfn())));
    details.add("page: " + head.describe() + " [" + head.state() + "]");
    details.add(stillMapped
        ? "the page was freed while a page-table entry still maps it"
        : "the page was freed before the TLB flush that removes this translation returned (free after the flush, as tlb_finish_mmu does)");
    throw mmu.sched.bug(Verdict.of(VerdictKind.USE_AFTER_FREE, headline, details, List.of(page.id())));
  }

  private static boolean validWidth(int width) {
    return width == 8 || width == 4 || width == 2 || width == 1;
  }

  private static void checkWidth(int width) {
    if (!validWidth(width)) {
      throw new IllegalArgumentException("access width must be 1, 2, 4 or 8: " + width);
    }
  }

  static void checkBounds(int length, int off, int len) {
    if (off < 0 || len < 0 || off > length - len) {
      throw new IndexOutOfBoundsException("[" + off + ", " + off + " + " + len + ") of " + length);
    }
  }
}
