package org.mmlab.mm.mmu;

import static org.mmlab.mm.mmu.Mmu.TLBS;

import java.util.List;
import org.mmlab.explore.BugException;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;

/**
 * The flusher's side of an {@link Mmu}'s TLB shootdown ({@code flush_tlb_mm_range},
 * {@code native_flush_tlb_multi}) and the MMU's part of the consistency walk, which checks
 * what the shootdown guarantees. Static helpers taking the MMU; the protocol, its proof and
 * its memory ordering are drawn in {@link Mmu}'s notes, the target's side (polling and
 * acknowledging a request, the generation check on return to user mode) is in {@link Tlb}.
 *
 * <p>Order: the flush, then the consistency walk.
 */
final class Shootdown {
  private Shootdown() {}

  /**
   * The body of {@link Mmu#flushTlbRange} after its ownership check: bump the generation, flush
   * the own TLB, raise a request on every CPU running {@code mm} in user mode, wait for each.
   */
  static void flushTlbRange(Mmu mmu, MmuContext mm, long start, long end) {
    Tlb mine = mmu.peekTlb(mmu.sched.cpu());
    long gen = mm.incTlbGen();
    if (mine != null) {
      mine.flushOwn(mm, start, end, gen);
    }
    Tlb[] all = (Tlb[]) TLBS.getAcquire(mmu);
    Tlb[] targets = null;
    long[] waitFor = null;
    int n = 0;
    for (Tlb t : all) {
      if (t == mine) {
        continue;
      }
      long seq = t.userSeqVolatile();
      if ((seq & 1) == 0 || t.publishedMmAcquire() != mm) {
        continue; // in the kernel or idle, or running another mm: it checks the generation on return
      }
      if (targets == null) {
        targets = new Tlb[all.length];
        waitFor = new long[2 * all.length];
      }
      waitFor[2 * n] = t.raiseFlushRequest();
      waitFor[2 * n + 1] = seq;
      targets[n++] = t;
    }
    for (int k = 0; k < n; k++) {
      Tlb t = targets[k];
      long ticket = waitFor[2 * k];
      long seq = waitFor[2 * k + 1];
      mmu.sched.await(OpKind.WAIT, t, "flush_tlb_mm_range: wait for ack", () -> t.released(ticket, seq), false);
    }
  }

  /** The body of {@link Mmu#check}. */
  static void check(Mmu mmu) {
    for (Tlb t : (Tlb[]) TLBS.getAcquire(mmu)) {
      if (t.hasPendingRequest()) {
        continue;
      }
      for (int k = 0; k < Tlb.NR_CONTEXTS; k++) {
        MmuContext mm = t.ctxs[k];
        if (mm != null && t.ctxGen[k] == mm.peekTlbGen() && !mm.pageTables().pgd().isFreed()) {
          checkEntries(mmu, t, t.entriesOf(k), mm, t.ctxGen[k]);
        }
      }
    }
  }

  private static void checkEntries(Mmu mmu, Tlb t, TlbEntry[] entries, MmuContext mm, long gen) {
    for (TlbEntry e : entries) {
      if (!e.valid()) {
        continue;
      }
      long va = e.vaddr();
      long r = Walk.peekWalk(mmu.sched, mm.pageTables(), va);
      if (r == 0 || Walk.frame(r) != e.frame() || (Walk.perms(e.data) & ~Walk.perms(r)) != 0) {
        Translation now = Walk.decode(r);
        throw new BugException(Verdict.of(VerdictKind.INVARIANT,
            t.cpu.label() + "'s TLB holds a stale translation for 0x" + Long.toHexString(va) + " in " + mm.name(),
            List.of("cached: " + e.describe(),
                "page tables: " + (now == null ? "not present" : now.toString()),
                "the TLB counts as current for " + mm.name() + " (generation " + gen + ", no request pending):"
                    + " the page tables were changed without a TLB flush"),
            List.of(t.id())));
      }
    }
  }
}
