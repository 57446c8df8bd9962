package org.mmlab.mm.mmu;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.mmlab.explore.Cpu;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.SyncObject;
import org.mmlab.mm.page.Frames;

/**
 * One CPU's MMU state: its TLB, the mode it runs in, and its side of the shootdown protocol
 * (the kernel's {@code cpu_tlbstate} and the TLB itself). Kept in a per-CPU slot
 * ({@link Mmu#tlb}); only its own CPU uses it, except for the four fields flushers read or
 * write, which are VarHandle fields with the memory order named at each access.
 *
 * <h2>The TLB</h2>
 * Entries of up to {@value #NR_CONTEXTS} mms coexist (x86's PCIDs), each mm with the
 * generation its entries are current with; an mm evicted from that list has its entries dropped
 * (see {@link Mmu}'s notes for the generations). Each listed mm has {@value #ENTRIES}
 * {@link TlbEntry entries} of its own, direct-mapped by the low bits of the virtual page number
 * and tagged with the page number: a translation of one 4 KiB page to its frame, with the
 * effective write and user rights (a huge leaf is cached 4 KiB at a time). The page number of
 * an invalid entry is -1, which no address has. Simplified: x86's TLB is one set of entries
 * shared by its PCIDs, each tagged with one; here the context picks the set, so a hit compares
 * the page number only ({@link #current}: the set of the mm the CPU runs).
 *
 * <h2>Fields and their protection</h2>
 * <ul>
 *   <li>{@code entries}, {@code current}, {@code running}, {@code userMm}, {@code fastMm}, {@code ctxs}, {@code ctxGen},
 *       {@code serviced}, {@code fault}, {@code faulted} and the counters: owned by this CPU
 *       (plain).</li>
 *   <li>{@code userSeq}: odd while user translations are in use (user mode, or a kernel access
 *       to user memory). Written by this CPU (a volatile store then a full fence when it
 *       becomes odd, a release store when it becomes even); read by flushers (volatile).</li>
 *   <li>{@code publishedMm}: the mm whose translations are in use while {@code userSeq} is
 *       odd. Written by this CPU before {@code userSeq} becomes odd (release); read by
 *       flushers after {@code userSeq} (acquire).</li>
 *   <li>{@code flushReq}: flush requests raised ({@code native_flush_tlb_multi}'s IPI).
 *       Incremented by flushers (fully ordered); read by this CPU at every user access
 *       (acquire).</li>
 *   <li>{@code flushAck}: the last request this CPU serviced. Written by this CPU (release,
 *       after the flush and after every access before it); read by flushers (acquire).</li>
 * </ul>
 */
public final class Tlb extends SyncObject {
  /** Entries per mm in the TLB. */
  public static final int ENTRIES = 64;
  /** MMs whose entries may coexist in one TLB, as x86 keeps six dynamic ASIDs ({@code TLB_NR_DYN_ASIDS}). */
  public static final int NR_CONTEXTS = 6;

  private static final VarHandle USER_SEQ;
  private static final VarHandle PUBLISHED_MM;
  private static final VarHandle FLUSH_REQ;
  private static final VarHandle FLUSH_ACK;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      USER_SEQ = l.findVarHandle(Tlb.class, "userSeq", long.class);
      PUBLISHED_MM = l.findVarHandle(Tlb.class, "publishedMm", MmuContext.class);
      FLUSH_REQ = l.findVarHandle(Tlb.class, "flushReq", long.class);
      FLUSH_ACK = l.findVarHandle(Tlb.class, "flushAck", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** What a CPU runs, for reports and tests. */
  public enum Mode {
    /** In user mode: it accesses memory through the TLB of its mm. */
    USER,
    /** In the kernel (syscall, fault) with its mm still loaded: it may access user memory. */
    KERNEL,
    /** Idle or a kernel thread: no mm loaded ({@code enter_lazy_tlb}, simplified). */
    IDLE
  }

  /**
   * Padding, declared before the other long fields: HotSpot lays a class's fields out by size,
   * the longs first and in declaration order, so these 56 bytes sit between this object's start
   * and its hot fields, and the object before it in memory (often another CPU's, after a
   * garbage collection copied them side by side) cannot share their cache line.
   */
  @SuppressWarnings("unused")
  private long pad0, pad1, pad2, pad3, pad4, pad5, pad6;

  /** The MMU this state belongs to. Immutable. */
  final Mmu mmu;
  /** The CPU. Immutable. */
  final Cpu cpu;

  // --- the TLB; owned by this CPU ---
  /**
   * The entries of the mm in each slot of {@link #ctxs}, direct-mapped by page number; a slot's
   * set is made on its first claim (null before: a slot that never held an mm has none).
   */
  private final TlbEntry[] @Nullable [] entries = new TlbEntry[NR_CONTEXTS][];
  /**
   * The entries of {@code running}'s slot (every access is to the mm the CPU runs); a slot's
   * entries, never null. Set when the CPU starts using user translations of an mm.
   */
  TlbEntry[] current;

  // --- mode; owned by this CPU ---
  /** The mm this CPU runs (in user or kernel mode), or null when idle. */
  @Nullable MmuContext running;
  /** {@code running} while in user mode, else null. */
  @Nullable MmuContext userMm;
  /**
   * {@code userMm} natively, always null while exploring: the one test of the access fast path
   * ({@link Mmu#load}), which has no scheduling point; an explored access takes the general path,
   * which makes its point.
   */
  @Nullable MmuContext fastMm;
  /**
   * The mms whose entries this TLB may hold ({@code cpu_tlbstate.ctxs[]}): entries of an mm
   * not listed here were dropped when it was evicted.
   */
  final @Nullable MmuContext[] ctxs = new MmuContext[NR_CONTEXTS];
  /** Per listed mm: every flush of it up to this generation is applied to this TLB. */
  final long[] ctxGen = new long[NR_CONTEXTS];
  /** The slot the next new mm takes (round robin). */
  private int nextVictim;
  /** The last flush request serviced. */
  long serviced;
  /**
   * The fault of the last access that faulted, in primitives: a miss records it without
   * allocating (a {@link Fault} is made only when asked for, by {@link #fault}).
   */
  private long faultAddress;
  private boolean faultWrite;
  private Fault.Kind faultKind = Fault.Kind.NOT_PRESENT;
  /** True if the last access faulted (a primitive: cleared on every access without a GC barrier). */
  private boolean faulted;
  private long walks;
  private long flushes;

  // --- shared with flushers (see the class notes) ---
  @SuppressWarnings("unused")
  private volatile long userSeq;
  @SuppressWarnings("unused")
  private volatile @Nullable MmuContext publishedMm;
  @SuppressWarnings("unused")
  private volatile long flushReq;
  @SuppressWarnings("unused")
  private volatile long flushAck;

  Tlb(Mmu mmu, Cpu cpu) {
    super(mmu.sched, "tlb@CPU" + cpu.id, null, null);
    this.mmu = mmu;
    this.cpu = cpu;
    current = newSet(0); // the others on their slot's first claim: explored executions boot many TLBs
  }

  /** The entries of slot {@code k}, made empty. */
  private TlbEntry[] newSet(int k) {
    TlbEntry[] es = new TlbEntry[ENTRIES];
    for (int i = 0; i < ENTRIES; i++) {
      es[i] = new TlbEntry();
    }
    entries[k] = es;
    return es;
  }

  // ------------------------------------------------------------ lookup and fill

  /**
   * The entry page {@code vpn} of the mm this CPU runs maps to (direct-mapped in
   * {@link #current}). Masked with the array's own length, so that the JIT sees the index is in
   * bounds.
   */
  TlbEntry entry(long vpn) {
    TlbEntry[] es = current;
    return es[(int) vpn & (es.length - 1)];
  }

  /** The entries of the mm in slot {@code slot} of {@link #ctxs}, which must hold one (checks). */
  TlbEntry[] entriesOf(int slot) {
    return java.util.Objects.requireNonNull(entries[slot], "a listed mm has its set of entries");
  }

  void countWalk() {
    walks++;
  }

  // ------------------------------------------------------------ local flushes

  /** {@code flush_tlb_local} for one mm's pages in [start, end) ({@code invlpg} per page). */
  public void flushRange(MmuContext mm, long start, long end) {
    flushes++;
    int k = contextSlot(mm);
    if (k < 0) {
      return; // an mm not listed has no entries: they were dropped when it was evicted
    }
    for (TlbEntry e : entriesOf(k)) {
      if (e.valid()) {
        long va = e.vaddr();
        if (Long.compareUnsigned(va, start) >= 0 && Long.compareUnsigned(va, end) < 0) {
          e.invalidate();
        }
      }
    }
  }

  /** Drops every entry of {@code mm} ({@code invpcid} of one context). */
  public void flushMm(MmuContext mm) {
    flushRange(mm, 0, -1L);
  }

  /** Drops every entry ({@code __flush_tlb_all}). */
  public void flushAll() {
    flushes++;
    for (TlbEntry[] es : entries) {
      if (es != null) {
        for (TlbEntry e : es) {
          e.invalidate();
        }
      }
    }
  }

  /**
   * The flusher's own TLB ({@code flush_tlb_func} called locally): drops the range, and if this
   * TLB was current up to the generation just before {@code gen}, it is now current up to
   * {@code gen} (the kernel's one-generation-behind rule).
   */
  void flushOwn(MmuContext mm, long start, long end, long gen) {
    flushRange(mm, start, end);
    int k = contextSlot(mm);
    if (k >= 0 && ctxGen[k] == gen - 1) {
      ctxGen[k] = gen;
    }
  }

  /** The slot of {@code mm} in {@link #ctxs}, or -1. */
  int contextSlot(MmuContext mm) {
    for (int k = 0; k < NR_CONTEXTS; k++) {
      if (ctxs[k] == mm) {
        return k;
      }
    }
    return -1;
  }

  /** {@code choose_new_asid}: the slot of {@code mm}, evicting (and flushing) another mm if needed. */
  private int claimContext(MmuContext mm) {
    int k = contextSlot(mm);
    if (k >= 0) {
      return k;
    }
    k = nextVictim;
    nextVictim = (k + 1) % NR_CONTEXTS;
    MmuContext old = ctxs[k];
    if (old != null) {
      flushMm(old);
    }
    ctxs[k] = mm;
    ctxGen[k] = -1; // unknown: the generation check below flushes whatever is left
    return k;
  }

  // ------------------------------------------------------------ the request side (this CPU)

  /**
   * The instruction boundary of a user-mode access: services a pending flush request. An
   * acquire load, so a CPU that sees a request also sees the page-table changes the flusher
   * made before raising it.
   */
  void pollFlushRequest() {
    long r = (long) FLUSH_REQ.getAcquire(this);
    if (r != serviced) {
      serviceFlushRequest(r);
    }
  }

  /**
   * {@code flush_tlb_func} on a remote request: flushes everything (the request does not say
   * which range), records the generation it is now current with, and acknowledges with a
   * release store, which orders every earlier access of this CPU before the flusher's free.
   */
  private void serviceFlushRequest(long r) {
    flushAll();
    for (int k = 0; k < NR_CONTEXTS; k++) {
      MmuContext mm = ctxs[k];
      if (mm != null) {
        ctxGen[k] = mm.tlbGenAcquire(); // an empty TLB is current with every generation so far
      }
    }
    serviced = r;
    FLUSH_ACK.setRelease(this, r);
  }

  /** True if a request was raised that this CPU has not serviced yet (checks). */
  boolean hasPendingRequest() {
    return (long) FLUSH_REQ.getAcquire(this) != serviced;
  }

  // ------------------------------------------------------------ the flusher side (other CPUs)

  /** A flusher reads whether user translations are in use here (volatile: see {@link Mmu}'s notes). */
  long userSeqVolatile() {
    return (long) USER_SEQ.getVolatile(this);
  }

  /** The mm whose translations are in use while {@link #userSeqVolatile} is odd. */
  @Nullable MmuContext publishedMmAcquire() {
    return (MmuContext) PUBLISHED_MM.getAcquire(this);
  }

  /** Raises a flush request (the IPI); returns the ticket to wait for. A point. */
  long raiseFlushRequest() {
    sched.point(OpKind.RMW, this, "native_flush_tlb_multi");
    return (long) FLUSH_REQ.getAndAdd(this, 1L) + 1;
  }

  /**
   * True once this CPU acknowledged {@code ticket}, or left the user-mode stretch {@code seq}
   * it was in when the request was raised (it will check the generation before using its TLB
   * again), or finished (explore mode).
   */
  boolean released(long ticket, long seq) {
    return (long) FLUSH_ACK.getAcquire(this) >= ticket || (long) USER_SEQ.getVolatile(this) != seq || cpu.isDone();
  }

  // ------------------------------------------------------------ modes (this CPU)

  /**
   * Return to user mode running {@code mm}: {@code switch_mm_irqs_off} if another mm was loaded,
   * then the exit to user mode. {@code userSeq} becomes odd (a volatile store and a full fence)
   * before the generation is read: either a concurrent flusher sees this CPU in user mode and
   * waits for it, or this CPU sees the flusher's generation and flushes.
   */
  void enterUser(MmuContext mm) {
    if (userMm == mm) {
      return;
    }
    if (userMm != null) {
      enterKernel();
    }
    sched.point(OpKind.WRITE, this, running == mm ? "exit to user mode" : "switch_mm");
    running = mm;
    beginUserTranslations(mm, "switch_mm: tlb_gen check");
    userMm = mm;
    fastMm = mmu.exploring ? null : mm;
  }

  /** Syscall or fault entry: the mm stays loaded; user translations are no longer in use. */
  void enterKernel() {
    if (userMm == null) {
      return;
    }
    sched.point(OpKind.WRITE, this, "entry to kernel mode");
    userMm = null;
    fastMm = null;
    endUserTranslations();
  }

  /** The CPU goes idle (or runs a kernel thread): no mm loaded. Its TLB keeps its entries. */
  void idle() {
    if (running == null) {
      return;
    }
    enterKernel();
    sched.point(OpKind.WRITE, this, "enter_lazy_tlb");
    running = null;
  }

  /**
   * A kernel access to user memory ({@code copy_to_user}) of {@code mm}, which must be the mm
   * this CPU runs: for its duration user translations are in use, with the same protocol as
   * user mode (no scheduling point of its own: the access's point follows).
   */
  void beginKernelAccess(MmuContext mm) {
    if (running != mm) {
      throw new IllegalStateException(cpu.label() + " accesses user memory of " + mm.name() + " but "
          + (running == null ? "runs no mm (idle)" : "runs " + running.name()));
    }
    beginUserTranslations(mm, null);
  }

  void endKernelAccess() {
    endUserTranslations();
  }

  private void beginUserTranslations(MmuContext mm, @Nullable String pointName) {
    int k = claimContext(mm);
    TlbEntry[] es = entries[k];
    current = es != null ? es : newSet(k);
    PUBLISHED_MM.setRelease(this, mm);
    USER_SEQ.setVolatile(this, (long) USER_SEQ.getOpaque(this) + 1);
    VarHandle.fullFence();
    long gen = pointName == null ? mm.tlbGenVolatile() : mm.readTlbGen(pointName);
    if (gen != ctxGen[k]) {
      flushMm(mm);
      ctxGen[k] = gen;
    }
  }

  private void endUserTranslations() {
    USER_SEQ.setRelease(this, (long) USER_SEQ.getOpaque(this) + 1);
  }

  // ------------------------------------------------------------ tests and reports

  /** The mode this CPU is in. */
  public Mode mode() {
    return userMm != null ? Mode.USER : running != null ? Mode.KERNEL : Mode.IDLE;
  }

  /** True if the TLB holds a translation of {@code addr} in {@code mm} (no point, no side effect). */
  public boolean isCached(MmuContext mm, long addr) {
    int k = contextSlot(mm);
    long vpn = addr >>> Frames.PAGE_SHIFT;
    return k >= 0 && entriesOf(k)[(int) vpn & (ENTRIES - 1)].vpn == vpn;
  }

  /** Valid entries. */
  public int size() {
    int n = 0;
    for (TlbEntry[] es : entries) {
      if (es != null) {
        for (TlbEntry e : es) {
          if (e.valid()) {
            n++;
          }
        }
      }
    }
    return n;
  }

  /** Page walks (TLB misses) so far. */
  public long walks() {
    return walks;
  }

  /** Local flushes so far (range, mm, all, and on request). */
  public long flushes() {
    return flushes;
  }

  /** The CPU this TLB belongs to. */
  public Cpu cpu() {
    return cpu;
  }

  /** The fault of the last access, or null if it completed. */
  public @Nullable Fault lastFault() {
    return fault();
  }

  @Nullable Fault fault() {
    return faulted ? new Fault(faultAddress, faultWrite, faultKind) : null;
  }

  /** True if the last access faulted; {@link #faultAddress} and {@link #faultWrite} tell where and how. */
  public boolean faulted() {
    return faulted;
  }

  /** The address of the last fault (meaningful while {@link #faulted}). */
  public long faultAddress() {
    return faultAddress;
  }

  /** Whether the last fault was a write (meaningful while {@link #faulted}). */
  public boolean faultWrite() {
    return faultWrite;
  }

  void setFault(long address, boolean write, Fault.Kind kind) {
    faultAddress = address;
    faultWrite = write;
    faultKind = kind;
    faulted = true;
  }

  /** The access completed. */
  void ok() {
    faulted = false;
  }

  /** A flusher waiting for this CPU waits for the CPU itself. */
  @Override
  public List<Cpu> holders() {
    return (userSeqVolatile() & 1) != 0 ? List.of(cpu) : List.of();
  }

  @Override
  public String kind() {
    return "tlb";
  }

  @Override
  public String state() {
    MmuContext r = running;
    return "mode=" + mode().name().toLowerCase(java.util.Locale.ROOT) + (r == null ? "" : " mm=" + r.name())
        + " req=" + (long) FLUSH_REQ.getAcquire(this) + " ack=" + (long) FLUSH_ACK.getAcquire(this)
        + " entries=" + size();
  }
}
