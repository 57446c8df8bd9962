package org.mmlab.mm.mmu;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.KObject;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.Sched;
import org.mmlab.explore.SyncObject;
import org.mmlab.mm.pgtable.PageTables;

/**
 * An address space as the MMU sees it: its page tables, its id (reports name it by it; a TLB
 * keeps its entries in a set per context, see {@link Tlb}), and its TLB generation. The kernel keeps these in {@code mm_struct}: {@code mm->pgd},
 * {@code mm->context.ctx_id} and {@code mm->context.tlb_gen}; later layers embed one of these
 * in theirs (and pass themselves as its owner, so that a TLB operation on the context of a
 * freed mm is a use-after-free).
 *
 * <h2>The TLB generation</h2>
 * Every shootdown of this mm first bumps {@code tlbGen} ({@code inc_mm_tlb_gen}); each CPU
 * remembers the generation its TLB entries for the mm are known to be consistent with. A CPU
 * that was skipped by a shootdown (it was in the kernel or idle) compares the two when it
 * returns to user mode and flushes if it is behind. See {@link Mmu}'s notes for the protocol.
 *
 * <p>Created by {@link Mmu#newContext}.
 */
public final class MmuContext extends SyncObject {
  private static final VarHandle TLB_GEN;

  static {
    try {
      TLB_GEN = MethodHandles.lookup().findVarHandle(MmuContext.class, "tlbGen", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** The MMU this context belongs to. Immutable. */
  final Mmu mmu;
  /** The context id ({@code ctx_id}), unique within its MMU. Immutable. */
  final int id;
  /** The page tables ({@code mm->pgd}). Immutable reference. */
  private final PageTables pageTables;

  /**
   * {@code mm->context.tlb_gen}: bumped by every shootdown with a fully ordered
   * read-modify-write, read by CPUs returning to user mode with a volatile load.
   */
  @SuppressWarnings("unused")
  private volatile long tlbGen = 1;

  MmuContext(Mmu mmu, Sched sched, int id, PageTables pageTables, String name, @Nullable KObject owner) {
    super(sched, name, null, owner);
    this.mmu = mmu;
    this.id = id;
    this.pageTables = pageTables;
  }

  /** The page tables the MMU walks for this mm. */
  public PageTables pageTables() {
    return pageTables;
  }

  /** The context id ({@code ctx_id}), unique within its MMU (TLB entries are tagged with the context itself). */
  public int contextId() {
    return id;
  }

  /** The MMU this context belongs to. */
  public Mmu mmu() {
    return mmu;
  }

  /** {@code inc_mm_tlb_gen}: a fully ordered increment; returns the new generation. A point. */
  long incTlbGen() {
    sched.point(OpKind.RMW, this, "inc_mm_tlb_gen");
    return (long) TLB_GEN.getAndAdd(this, 1L) + 1;
  }

  /** The generation, with a volatile load (the return-to-user check, after a full fence). A point. */
  long readTlbGen(String what) {
    sched.point(OpKind.READ, this, what);
    return (long) TLB_GEN.getVolatile(this);
  }

  /** The generation with a volatile load and no point (a kernel access to user memory, whose own point follows). */
  long tlbGenVolatile() {
    return (long) TLB_GEN.getVolatile(this);
  }

  /** The generation with an acquire load and no point (a CPU flushing on request; checks). */
  long tlbGenAcquire() {
    return (long) TLB_GEN.getAcquire(this);
  }

  /** {@code atomic64_read(&mm->context.tlb_gen)} without a scheduling point: tests and reports. */
  public long peekTlbGen() {
    return (long) TLB_GEN.getAcquire(this);
  }

  @Override
  public String kind() {
    return "mm context";
  }

  @Override
  public String state() {
    return "ctx_id=" + id + " tlb_gen=" + peekTlbGen();
  }
}
