package org.mmlab.mm.mmu;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.KObject;
import org.mmlab.explore.Cpu;
import org.mmlab.explore.Sched;
import org.mmlab.mm.page.Frames;
import org.mmlab.mm.page.PhysMem;
import org.mmlab.mm.pgtable.MmuGather;
import org.mmlab.mm.pgtable.PageTables;

/**
 * The MMU of one machine: every user access goes through it. It translates with each CPU's
 * {@link Tlb}, walks the page tables on a miss ({@link Walk}), checks x86 permissions, moves
 * the bytes, and keeps TLBs coherent with the page tables by shootdowns.
 *
 * <h2>Contents</h2>
 * <ol>
 *   <li>Design notes: overview, the shootdown protocol, memory ordering, verdicts</li>
 *   <li>Per-CPU state and contexts ({@link #tlb}, {@link #newContext})</li>
 *   <li>CPU modes ({@link #enterUser}, {@link #enterKernel}, {@link #idle})</li>
 *   <li>Accesses: {@link #load}, {@link #store}, {@link #loadBytes}, {@link #storeBytes},
 *       {@link #fill}, {@link #access}, {@link #walk}</li>
 *   <li>Shootdown ({@link #flushTlbRange}, {@link #flushTlbMm}, {@link #flusher})</li>
 *   <li>The consistency walk ({@link #check})</li>
 * </ol>
 * The access paths behind the public accesses (widths, pages crossed, byte ranges, translation
 * and the stale check) are in {@link UserAccess}, the flusher's side of the shootdown and the
 * consistency walk in {@link Shootdown}: package-private static helpers taking the MMU, which
 * read its package-private fields below.
 *
 * <h2>Overview</h2>
 * An access first passes the instruction boundary (it services this CPU's pending flush
 * request), then looks its page up in the TLB; a miss (or a hit whose cached rights do not
 * allow the access: x86 would fault and the fault would refresh the entry) walks the page
 * tables and fills the entry; a walk that finds no present leaf, or rights that forbid the
 * access, ends the access with a {@link Fault} which the caller handles. Then the access is a
 * scheduling point on the page's descriptor ({@code "user load"}/{@code "user store"}), the
 * page is checked to be in use, and the bytes move. Accesses of 2, 4 and 8 bytes that cross a
 * page translate both pages before moving anything (x86 faults are precise); byte ranges go
 * page by page upward and stop at the first page that faults.
 *
 * <h2>The TLB-hit path</h2>
 * It is what user programs pay per access, so natively it is a prefix that either completes the
 * access or leaves no trace and hands it to the general path: the CPU runs the mm in user mode
 * ({@link Tlb}'s {@code fastMm}, null while exploring), the pending-request poll, one
 * {@link TlbEntry} whose tag for this kind of access equals the page number (the rights, the
 * frame's chunk and, for stores, the frame's touched mark are folded into that tag), for a
 * store the line already marked written, and the page in use; then the bytes move at the
 * frame's cached address. Anything else (a miss, missing rights, a frame never written, a
 * line not yet marked, a page not in use, an access crossing a page, explore mode) takes the
 * general path, which checks each condition on its own and reports. The page's scheduling point
 * is skipped natively: in native mode a point only checks the lifetime of the object's owner
 * (for a page descriptor, its memory section), and the in-use check subsumes it (a page of an
 * offlined section has no count). An MMU must not be used after its memory is released: the
 * cached chunks go back to the pool.
 *
 * <h2>The shootdown protocol (DESIGN §8)</h2>
 * The guarantee: after {@link #flushTlbRange} returns, no CPU completes an access through a
 * translation of that range cached before the flush began. The flusher
 * ({@code flush_tlb_mm_range}):
 * <ol>
 *   <li>bumps the mm's TLB generation (a fully ordered increment);</li>
 *   <li>flushes the range from its own TLB;</li>
 *   <li>raises a flush request on every other CPU whose user translations of that mm are in
 *       use ({@code userSeq} odd: user mode, or a kernel access to user memory), as
 *       {@code native_flush_tlb_multi} sends IPIs to the CPUs in {@code mm_cpumask};</li>
 *   <li>waits (spinning: {@code await} with sleeps=false) until each acknowledged, or left the
 *       user-mode stretch it was in.</li>
 * </ol>
 * A CPU in user mode services its request at its next access, before the TLB lookup (never in
 * the middle of a walk and its access): it flushes its whole TLB and acknowledges. CPUs in the
 * kernel or idle are not waited for; when they return to user mode (or make a kernel access to
 * user memory) they compare the mm's generation with the one their TLB is current with, and
 * flush if they are behind. Pages and tables are freed (by {@code MmuGather}) only after the
 * flush returns.
 *
 * <p>Why it holds. A CPU can use a stale translation only between the flusher's page-table
 * change and the flush. If the CPU is in user mode when the flusher looks, the flusher waits
 * for its acknowledgement, which the CPU gives only at an instruction boundary after its
 * current access completed, or for it to leave user mode, which it does only between
 * accesses. If the CPU is not in user mode when the flusher looks, it enters later, and reads
 * the generation after announcing itself; the two sides form a Dekker pair:
 * <pre>
 * CPU0 (returns to user mode)             CPU1 (flush_tlb_mm_range)
 * userSeq = odd       (volatile store)    tlb_gen++              (fully ordered)
 * full fence
 * gen = tlb_gen       (volatile load)     seq = userSeq          (volatile load)
 * if gen != local: flush                  if odd: request, wait for ack or seq change
 * </pre>
 * Volatile accesses are sequentially consistent, so at least one side sees the other: either
 * CPU1 waits for CPU0, or CPU0 flushes before its first access.
 *
 * <h2>Memory ordering (native mode)</h2>
 * <ul>
 *   <li>The request is read with an acquire load at each access (a plain load on x86): a CPU
 *       that sees it also sees the page-table stores the flusher made before raising it, so its
 *       walks after the flush find the new entries.</li>
 *   <li>The acknowledgement is a release store after the flush and after every earlier access;
 *       the flusher reads it with acquire. So the CPU's last access through the old
 *       translation happens-before the flusher's return, and before the free and any reuse of
 *       the page: it cannot read the next owner's data or write into it.</li>
 *   <li>Leaving user mode is a release store of {@code userSeq}: the flusher that sees the
 *       change (acquire, as part of its volatile load) is ordered after the CPU's accesses.</li>
 *   <li>The walker's entry loads are plain; an acquire fence after each stands for the
 *       hardware's address dependency (see {@link Walk}).</li>
 *   <li>Frame contents themselves are raced on as real RAM is ({@code Frames}).</li>
 * </ul>
 *
 * <h2>Explore mode</h2>
 * The same code; ordering is moot (one CPU runs at a time) and the interleavings are the
 * points: the walk's entry loads, the access to the page, the mode transitions, the generation
 * bump, each request and each wait. A request raised while a CPU is between two points is
 * seen at its next access, so, as DESIGN §4 says, an IPI is acknowledged at the target's next
 * scheduling point that is an instruction boundary.
 *
 * <h2>Verdicts</h2>
 * A user access that reaches a page that is free in the buddy allocator (count zero), or that
 * was reused as a page table or slab, is a use-after-free: "user access through a stale
 * translation to freed pfn 0x...". A walker that reads a freed table is one too (reported by
 * the table's lifetime). A page-table entry that points outside RAM or at a frame that was
 * never allocated is an invariant violation. Simplified: a mapped page must be an order-0 page
 * or part of a compound folio (the inner pages of a non-compound block have no count of their
 * own and would read as free).
 *
 * <h2>Kernel counterpart</h2>
 * The hardware MMU and TLB; {@code arch/x86/mm/tlb.c} ({@code flush_tlb_mm_range},
 * {@code native_flush_tlb_multi}, {@code flush_tlb_func}, {@code switch_mm_irqs_off},
 * {@code cpu_tlbstate}); {@code arch/x86/lib/usercopy} for kernel accesses to user memory.
 * Simplified: no interrupts (a request is polled at accesses), remote flushes drop the whole
 * TLB, lazy-TLB CPUs are simply idle.
 */
public final class Mmu {
  private static final int SLOT = Cpu.newLocalSlot();
  static final VarHandle TLBS;
  private static final VarHandle NEXT_ID;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      TLBS = l.findVarHandle(Mmu.class, "tlbs", Tlb[].class);
      NEXT_ID = l.findVarHandle(Mmu.class, "nextContextId", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  static final int PAGE_MASK = Frames.PAGE_SIZE - 1;

  /** The scheduler of the machine. Immutable. */
  final Sched sched;
  /** {@code sched.exploring}. Immutable. */
  final boolean exploring;
  /** The machine's memory. Immutable. */
  final PhysMem mem;
  final Frames frames;
  /** Every CPU's TLB, in the order they first used this MMU. Copy-on-write, published by CAS. */
  @SuppressWarnings("unused")
  private volatile Tlb[] tlbs = new Tlb[0];
  /** The next context id. Atomic increment. */
  @SuppressWarnings("unused")
  private volatile int nextContextId = 1;

  /** The MMU of the machine whose memory is {@code mem}; registers its consistency walk. */
  public Mmu(PhysMem mem) {
    this.sched = mem.sched();
    this.exploring = sched.exploring;
    this.mem = mem;
    this.frames = mem.frames();
    sched.registerWalk(this::check);
  }

  public PhysMem mem() {
    return mem;
  }

  // ------------------------------------------------------------ per-CPU state and contexts

  /**
   * {@code this_cpu_ptr(&cpu_tlbstate)}: {@code cpu}'s MMU state, created the first time the
   * CPU uses this MMU. Only the CPU itself (or, under the explorer, set-up and end checks while
   * no CPU runs) may call it. Callers on a hot path may keep the result.
   */
  public Tlb tlb(Cpu cpu) {
    if (cpu.local(SLOT) instanceof Tlb t && t.mmu == this) {
      return t;
    }
    return attach(cpu);
  }

  /** {@code cpu}'s state if it ever used this MMU, else null. */
  public @Nullable Tlb peekTlb(Cpu cpu) {
    return cpu.local(SLOT) instanceof Tlb t && t.mmu == this ? t : null;
  }

  private Tlb attach(Cpu cpu) {
    if (cpu.local(SLOT) instanceof Tlb old && old.mode() == Tlb.Mode.USER) {
      throw new IllegalStateException(cpu.label() + " is in user mode on another MMU");
    }
    Tlb t = new Tlb(this, cpu);
    while (true) {
      Tlb[] cur = (Tlb[]) TLBS.getAcquire(this);
      Tlb[] next = Arrays.copyOf(cur, cur.length + 1);
      next[cur.length] = t;
      if (TLBS.compareAndSet(this, cur, next)) {
        break;
      }
    }
    cpu.setLocal(SLOT, t);
    return t;
  }

  /** Every CPU's TLB, in the order they first used this MMU. */
  public List<Tlb> tlbs() {
    return List.of((Tlb[]) TLBS.getAcquire(this));
  }

  /** A context for an mm whose page tables are {@code pt}: what its TLB entries are tagged with, and its generation. */
  public MmuContext newContext(PageTables pt, String name) {
    return newContext(pt, name, null);
  }

  /**
   * A context owned by {@code owner} (the mm): once the owner is freed, a TLB operation on the
   * context is a use-after-free. Ids are never reused: at most 2^31 contexts per MMU.
   */
  public MmuContext newContext(PageTables pt, String name, @Nullable KObject owner) {
    if (pt.mem() != mem) {
      throw new IllegalArgumentException("page tables of another machine's memory");
    }
    int id = (int) NEXT_ID.getAndAdd(this, 1);
    if (id < 0) {
      throw new IllegalStateException("out of MMU context ids");
    }
    return new MmuContext(this, sched, id, pt, name, owner);
  }

  // ------------------------------------------------------------ CPU modes

  /**
   * Return to user mode running {@code mm} (from a syscall or fault, or first scheduling of a
   * task: {@code switch_mm_irqs_off} then the exit to user mode). If the mm's TLB generation
   * moved on while this CPU was away, its TLB entries of the mm are dropped first.
   */
  public void enterUser(Cpu cpu, MmuContext mm) {
    checkOwn(mm);
    tlb(cpu).enterUser(mm);
  }

  /** Syscall, fault or interrupt entry: the CPU runs its mm in the kernel; flushers skip it. */
  public void enterKernel(Cpu cpu) {
    Tlb t = peekTlb(cpu);
    if (t != null) {
      t.enterKernel();
    }
  }

  /** The CPU goes idle or runs a kernel thread ({@code enter_lazy_tlb}): no mm is loaded. */
  public void idle(Cpu cpu) {
    Tlb t = peekTlb(cpu);
    if (t != null) {
      t.idle();
    }
  }

  private void checkOwn(MmuContext mm) {
    if (mm.mmu != this) {
      throw new IllegalArgumentException(mm.name() + " belongs to another MMU");
    }
  }

  // ------------------------------------------------------------ accesses

  /**
   * A user load of {@code width} (1, 2, 4 or 8) bytes at {@code addr}, little-endian,
   * zero-extended, by {@code cpu} in {@code mm}, which must be the mm the CPU runs (in user
   * mode, or in the kernel: {@code get_user}). Returns the value, or 0 if the access faulted;
   * {@link #lastFault} tells which.
   */
  public long load(Cpu cpu, MmuContext mm, long addr, int width) {
    return load(tlb(cpu), mm, addr, width);
  }

  /** {@link #load} with the CPU's state ({@link #tlb}) at hand: the fast path, no per-CPU lookup. */
  public long load(Tlb t, MmuContext mm, long addr, int width) {
    if (t.fastMm != mm) {
      return UserAccess.load(this, t, mm, addr, width);
    }
    t.pollFlushRequest();
    return UserAccess.loadFast(this, t, mm, addr, width);
  }

  /** An 8-byte user load ({@code movq} from user memory). */
  public long load64(Tlb t, MmuContext mm, long addr) {
    return load(t, mm, addr, 8);
  }

  /**
   * A user store of the low {@code width} (1, 2, 4 or 8) bytes of {@code value}, little-endian.
   * Returns null, or the fault (nothing was stored).
   */
  public @Nullable Fault store(Cpu cpu, MmuContext mm, long addr, int width, long value) {
    return store(tlb(cpu), mm, addr, width, value);
  }

  /** {@link #store} with the CPU's state at hand. */
  public @Nullable Fault store(Tlb t, MmuContext mm, long addr, int width, long value) {
    return tryStore(t, mm, addr, width, value) ? null : t.fault();
  }

  /**
   * {@link #store} returning true if stored, false if it faulted; the fault is then in
   * {@code t} ({@link Tlb#faultAddress}, {@link Tlb#faultWrite}), and no {@link Fault} object is
   * made: the kernel's user-access loop uses this, so that a fault allocates nothing.
   */
  public boolean tryStore(Tlb t, MmuContext mm, long addr, int width, long value) {
    if (t.fastMm != mm) {
      return UserAccess.store(this, t, mm, addr, width, value);
    }
    t.pollFlushRequest();
    return UserAccess.storeFast(this, t, mm, addr, width, value);
  }

  /** An 8-byte user store. */
  public @Nullable Fault store64(Tlb t, MmuContext mm, long addr, long value) {
    return store(t, mm, addr, 8, value);
  }

  /**
   * Copies {@code len} bytes of user memory at {@code addr} into {@code dst[off..]}
   * ({@code copy_from_user}), page by page upward. Returns null, or the fault of the first page
   * that could not be read (the bytes before it were copied).
   */
  public @Nullable Fault loadBytes(Cpu cpu, MmuContext mm, long addr, byte[] dst, int off, int len) {
    UserAccess.checkBounds(dst.length, off, len);
    return UserAccess.range(this, tlb(cpu), mm, addr, len, false, (pa, done, n) -> frames.loadBytes(pa, dst, off + (int) done, n));
  }

  /**
   * Copies {@code src[off..off+len)} to user memory at {@code addr} ({@code copy_to_user}),
   * page by page upward. Returns null, or the fault of the first page that could not be
   * written (the bytes before it stay stored).
   */
  public @Nullable Fault storeBytes(Cpu cpu, MmuContext mm, long addr, byte[] src, int off, int len) {
    UserAccess.checkBounds(src.length, off, len);
    return UserAccess.range(this, tlb(cpu), mm, addr, len, true, (pa, done, n) -> frames.storeBytes(pa, src, off + (int) done, n));
  }

  /** Fills {@code len} bytes of user memory at {@code addr} with {@code value} ({@code clear_user}, {@code memset}). */
  public @Nullable Fault fill(Cpu cpu, MmuContext mm, long addr, long len, byte value) {
    if (len < 0) {
      throw new IllegalArgumentException("negative length " + len);
    }
    return UserAccess.range(this, tlb(cpu), mm, addr, len, true, (pa, done, n) -> frames.fill(pa, n, value));
  }

  /**
   * The translation and permission check of an access, without moving data or a point on the
   * page: fills the TLB like an access. Returns null or the fault the access would raise.
   */
  public @Nullable Fault access(Cpu cpu, MmuContext mm, long addr, boolean write) {
    Tlb t = tlb(cpu);
    boolean kernel = UserAccess.boundary(t, mm);
    try {
      if (UserAccess.translate(this, t, mm, addr, write) == null) {
        return t.fault();
      }
      t.ok();
      return null;
    } finally {
      if (kernel) {
        t.endKernelAccess();
      }
    }
  }

  /** The fault of {@code cpu}'s last access, or null if it completed. */
  public @Nullable Fault lastFault(Cpu cpu) {
    return tlb(cpu).fault();
  }

  /**
   * The hardware walk of {@code mm}'s tables for {@code addr}, without the TLB: one point per
   * level. Returns the translation of the 4 KiB page holding {@code addr} with its effective
   * rights, or null if no present leaf maps it.
   */
  public @Nullable Translation walk(MmuContext mm, long addr) {
    return Walk.decode(Walk.walk(sched, mm.pageTables(), addr));
  }

  // ------------------------------------------------------------ shootdown

  /**
   * {@code flush_tlb_mm_range}: on return, no CPU completes an access through a translation of
   * [start, end) in {@code mm} that was cached before the call. Called by the CPU that changed
   * the page tables, in the kernel; it may hold spinlocks (it spins, never sleeps), but no lock
   * a CPU in user mode could need. See the class notes for the protocol.
   */
  public void flushTlbRange(MmuContext mm, long start, long end) {
    checkOwn(mm);
    Shootdown.flushTlbRange(this, mm, start, end);
  }

  /** {@code flush_tlb_mm}: every translation of {@code mm}. */
  public void flushTlbMm(MmuContext mm) {
    flushTlbRange(mm, 0, Walk.USER_TOP);
  }

  /** The flusher a {@code MmuGather} of {@code mm} uses: {@code new MmuGather(pt, mmu.flusher(mm))}. */
  public MmuGather.Flusher flusher(MmuContext mm) {
    checkOwn(mm);
    return (start, end) -> flushTlbRange(mm, start, end);
  }

  // ------------------------------------------------------------ consistency walk

  /**
   * The MMU's part of the consistency walk (registered with the scheduler; runs when no CPU
   * does): a TLB that counts as current for its mm (no unserviced request, generation equal to
   * the mm's) may hold only translations the page tables still give, with at most the rights
   * they give. A stale entry there means page tables were changed without a flush.
   */
  public void check() {
    Shootdown.check(this);
  }

  @Override
  public String toString() {
    return "mmu of " + mem;
  }
}
