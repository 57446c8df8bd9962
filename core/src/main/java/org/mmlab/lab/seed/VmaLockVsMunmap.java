package org.mmlab.lab.seed;

import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.mmlab.explore.Cpu;
import org.mmlab.explore.Explorer;
import org.mmlab.explore.ExploreSched;
import org.mmlab.explore.Sched;
import org.mmlab.explore.VerdictKind;
import org.mmlab.kernel.Uapi;
import org.mmlab.lab.Checks;
import org.mmlab.lab.Scenario;
import org.mmlab.lab.Variant;
import org.mmlab.lab.VariantAxis;
import org.mmlab.mm.memory.FaultLocking;
import org.mmlab.mm.memory.FaultResult;
import org.mmlab.mm.memory.Faults;
import org.mmlab.mm.memory.MmWalk;
import org.mmlab.mm.mmap.MmSyscalls;
import org.mmlab.mm.mmap.MmapLimits;
import org.mmlab.mm.mmu.Fault;
import org.mmlab.mm.mmu.Mmu;
import org.mmlab.mm.mmu.MmuContext;
import org.mmlab.mm.page.Gfp;
import org.mmlab.mm.page.Page;
import org.mmlab.mm.page.PageFlag;
import org.mmlab.mm.page.PhysMem;
import org.mmlab.mm.pgtable.PageTables;
import org.mmlab.mm.vma.MmStruct;
import org.mmlab.sync.PerCpuCounter;

/**
 * Seed {@code 001_e8fa92ff57813522.txt} (Wilcox / Lespinasse, May 2022): a page fault that
 * allocates page tables races munmap tearing down the tables of the same range.
 *
 * <pre>
 * CPU0 (fault)                          CPU1 (munmap)
 * rcu_read_lock()
 * vma = vma_lookup(addr)
 * pud = pud_alloc(); pmd = pmd_alloc()
 *                                       mmap_write_lock()
 *                                       detach the VMA, zap it
 *                                       free_pgtables(): pmd table freed
 *                                       mmap_write_unlock()
 * pte_alloc(): stores into the freed pmd table   &lt;- use-after-free
 * </pre>
 *
 * Both CPUs run the model's code: CPU0 a user store through the MMU whose fault goes through
 * {@code Faults.userFault} under the variant's locking, CPU1 the {@code munmap} syscall. The
 * mapping is 4 MiB; its first page was touched at set-up, so the fault at +2 MiB needs a new
 * PTE table, stored into the PMD table that munmap frees.
 *
 * <p>Checked at the end of every execution: the mm consistency walk (tables reachable equal
 * tables accounted, mapcounts equal PTEs, RSS), then, after unmapping everything, that every
 * frame is back but the zero page and the PGD (no leaked table pages, page accounting balanced).
 */
public final class VmaLockVsMunmap implements Scenario {
  private static final long BASE = 0x4000_0000L;
  private static final long LEN = 4L << 20;
  private static final long FAULT_AT = BASE + (2L << 20) + 0x100;
  private static final VariantAxis LOCKING = new VariantAxis("fault-locking",
      List.of("rcu-only", "per-vma", "mmap-lock"), "rcu-only",
      Map.of("rcu-only", "the speculative design the thread rejected: VMA found and tables allocated under RCU alone",
          "per-vma", "Linux 6.4: lock_vma_under_rcu, falling back to mmap_read_lock",
          "mmap-lock", "the classic design: mmap_read_lock for every fault"));

  @Override
  public String name() {
    return "vma-lock-vs-munmap";
  }

  @Override
  public String origin() {
    return "seed 001_e8fa92ff57813522.txt";
  }

  @Override
  public String summary() {
    return "A fault allocating page tables races munmap freeing them: under RCU alone the new table is stored"
        + " into a freed one; the per-VMA lock (6.4) and the mmap lock keep them apart.";
  }

  @Override
  public List<VariantAxis> axes() {
    return List.of(LOCKING);
  }

  @Override
  public @Nullable VerdictKind expected(Variant variant) {
    return variant.get(LOCKING.key()).equals("rcu-only") ? VerdictKind.USE_AFTER_FREE : null;
  }

  @Override
  public Explorer.Program program(Variant variant) {
    FaultLocking locking = FaultLocking.byId(variant.get(LOCKING.key()));
    return ex -> {
      PhysMem mem = new PhysMem(ex, 16L << 20);
      long freeAtBoot = mem.nrFreePages();
      Page zero = mem.allocPages(Gfp.KERNEL | Gfp.ZERO, 0, "zero page");
      zero.setFlag(PageFlag.RESERVED);
      Faults faults = new Faults(ex, mem, zero, locking, new PerCpuCounter(ex, "pgfault"));
      MmSyscalls sys = new MmSyscalls(faults, MmapLimits.DEFAULT);
      Mmu mmu = new Mmu(mem);
      PageTables pt = PageTables.create(ex, mem, "mm");
      MmStruct mm = new MmStruct(ex, "mm", pt, MmStruct.Checks.ALL);
      MmuContext ctx = mmu.newContext(pt, "mm", mm);
      mm.setFlusher(mmu.flusher(ctx));
      long at = sys.mmap(mm, BASE, LEN, Uapi.PROT_READ | Uapi.PROT_WRITE,
          Uapi.MAP_PRIVATE | Uapi.MAP_ANONYMOUS | Uapi.MAP_FIXED, -1, 0);
      Checks.equal("mmap at set-up", BASE, at);
      faults.userFault(mm, BASE, true);
      ex.addCpu("fault", () -> userStore(ex, mmu, ctx, faults, mm, FAULT_AT, 0x61));
      ex.addCpu("munmap", () -> Checks.equal("munmap", 0L, sys.munmap(mm, BASE, LEN)));
      return () -> {
        MmWalk.check(mem, List.of(mm));
        Checks.equal("munmap of everything at the end", 0L, sys.munmap(mm, 0, Uapi.TASK_SIZE));
        MmWalk.check(mem, List.of(mm));
        Checks.equal("page tables left after unmapping everything (the PGD)", 1L, pt.peekNrTables());
        Checks.equal("free pages after unmapping everything (all but the zero page and the PGD)", freeAtBoot - 2,
            mem.nrFreePages());
      };
    };
  }

  /**
   * A user store of one byte: through the MMU in user mode; on a fault, into the kernel for
   * {@code do_user_addr_fault} and back to retry. A fault the kernel cannot handle ends it (the
   * task would get SIGSEGV: the VMA is gone, which is a legitimate outcome of the race).
   */
  static void userStore(Sched ex, Mmu mmu, MmuContext ctx, Faults faults, MmStruct mm, long addr, int value) {
    Cpu cpu = ex.cpu();
    for (int attempt = 0; ; attempt++) {
      mmu.enterUser(cpu, ctx);
      Fault f = mmu.store(cpu, ctx, addr, 1, value);
      mmu.enterKernel(cpu);
      if (f == null) {
        return;
      }
      FaultResult r = faults.userFault(mm, f.address(), f.write());
      if (r != FaultResult.HANDLED) {
        return;
      }
      ex.retry("user access after a handled fault", null);
    }
  }

  @Override
  public long maxSteps() {
    return 20_000;
  }
}
