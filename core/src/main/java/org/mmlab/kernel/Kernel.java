package org.mmlab.kernel;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.Lockdep;
import org.mmlab.explore.BugException;
import org.mmlab.explore.NativeSched;
import org.mmlab.explore.Sched;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;
import org.mmlab.mm.memory.Faults;
import org.mmlab.mm.memory.MmWalk;
import org.mmlab.mm.mmap.MmSyscalls;
import org.mmlab.mm.mmu.Mmu;
import org.mmlab.mm.page.Gfp;
import org.mmlab.mm.page.Page;
import org.mmlab.mm.page.PageFlag;
import org.mmlab.mm.page.PhysMem;
import org.mmlab.mm.shmem.Tmpfs;
import org.mmlab.mm.vma.MmStruct;
import org.mmlab.sync.PerCpuCounter;

/**
 * A booted kernel: physical memory, the shared zero page, the MMU, the fault path, the
 * address-space system calls, the vmstat event counters, and the processes. Many kernels may
 * live in one JVM; the explorer boots one per execution, so boot costs only the objects below
 * (memory sections and page descriptors come to life lazily, frames when first written).
 *
 * <h2>Boot ({@code start_kernel}, reduced)</h2>
 * <ol>
 *   <li>{@link PhysMem}: the nodes, zones and buddy free lists ({@code mem_init}).</li>
 *   <li>The zero page, reserved and never freed ({@code ZERO_PAGE}).</li>
 *   <li>The {@link Mmu} (registers its TLB walk), {@link Faults}, {@link MmSyscalls}.</li>
 *   <li>The kernel's consistency walk ({@link #check}): {@link MmWalk} over every live mm, then
 *       the frame accounting (every frame in use is the zero page, a page table of a live
 *       process, or an anonymous page one maps).</li>
 * </ol>
 *
 * <h2>Processes</h2>
 * {@link #spawn} creates a process with an empty address space; {@link Process#exit} tears it
 * down and forgets it. Pids count up from 1 and are not reused. The process table is a
 * copy-on-write map: spawn and exit replace it (the model calls them from set-up or from one
 * CPU at a time: the shell, a scenario's set-up); readers (the walk, {@code /proc}) read the
 * current one. Simplified: a process has one task and no parent; there is no fork yet.
 *
 * <h2>Kernel counterparts</h2>
 * {@code init/main.c} ({@code start_kernel}), {@code kernel/fork.c} ({@code mm_alloc},
 * {@code mm_init}), {@code kernel/exit.c} ({@code exit_mm}) and {@code mm/mmap.c}
 * ({@code exit_mmap}), {@code mm/vmstat.c} (the event counters).
 */
public final class Kernel {
  /** The configuration booted. Immutable. */
  private final KernelConfig config;
  /** The scheduler every CPU of this kernel runs under. Immutable. */
  private final Sched sched;
  /** The RAM. Immutable reference. */
  private final PhysMem mem;
  /** {@code ZERO_PAGE(0)}: reserved, never freed. Immutable. */
  private final Page zeroPage;
  /** The MMU. Immutable reference. */
  private final Mmu mmu;
  /** The fault path. Immutable. */
  private final Faults faults;
  /** The address-space calls. Immutable. */
  private final MmSyscalls syscalls;
  /** The tmpfs mounts, memfds and shared anonymous memory. Immutable reference. */
  private final Tmpfs tmpfs;
  /** {@code PGFAULT}: every user fault entry. A per-CPU vm event counter ({@code count_vm_event}), summed on read. */
  private final PerCpuCounter pgfault;
  /** Free pages right after boot, before the zero page: what the accounting walk starts from. Immutable. */
  private final long freeAtBoot;
  /** Live processes by pid. Copy-on-write: replaced whole by spawn and exit; volatile read. */
  private volatile TreeMap<Integer, Process> processes = new TreeMap<>();
  /** The last pid handed out. Changed by spawn only (one CPU at a time, see the class notes). */
  private int lastPid;

  /** Boots a kernel configured by {@code config} on {@code sched}. */
  public Kernel(Sched sched, KernelConfig config) {
    this.config = config;
    this.sched = sched;
    this.mem = new PhysMem(sched, config.memoryBytes(), config.nodes());
    this.freeAtBoot = mem.peekNrFreePages();
    Page zero = mem.allocPages(Gfp.KERNEL | Gfp.ZERO, 0, "zero page");
    if (zero == null) {
      throw new IllegalStateException("no memory for the zero page");
    }
    zero.setFlag(PageFlag.RESERVED);
    this.zeroPage = zero;
    this.mmu = new Mmu(mem);
    this.pgfault = new PerCpuCounter(sched, "pgfault");
    this.faults = new Faults(sched, mem, zeroPage, config.faultLocking(), pgfault);
    this.syscalls = new MmSyscalls(faults, config.limits());
    this.tmpfs = new Tmpfs(sched, mem, faults, List.of("/dev/shm"));
    syscalls.setSharedAnon(tmpfs);
    sched.registerWalk(this::check);
  }

  /** A kernel on {@link KernelConfig#DEFAULT}. */
  public Kernel(Sched sched) {
    this(sched, KernelConfig.DEFAULT);
  }

  /**
   * A kernel on a new native scheduler, with lockdep if {@link KernelConfig#lockdep} says so.
   * The caller owns the memory: {@code kernel.sched().releaseAll()} returns it when done.
   */
  public static Kernel bootNative(KernelConfig config) {
    return new Kernel(new NativeSched(config.lockdep() ? new Lockdep() : null), config);
  }

  public KernelConfig config() {
    return config;
  }

  public Sched sched() {
    return sched;
  }

  public PhysMem mem() {
    return mem;
  }

  public Mmu mmu() {
    return mmu;
  }

  public Faults faults() {
    return faults;
  }

  public MmSyscalls syscalls() {
    return syscalls;
  }

  /** The tmpfs mounts ({@code /dev/shm}), memfds and the files behind shared anonymous memory. */
  public Tmpfs tmpfs() {
    return tmpfs;
  }

  public Page zeroPage() {
    return zeroPage;
  }

  /** The {@code pgfault} event count so far (the sum over CPUs, no scheduling point). */
  public long pgfault() {
    return pgfault.peek();
  }

  /** The {@code /proc} views of this kernel. */
  public Proc proc() {
    return new Proc(this);
  }

  // ------------------------------------------------------------ processes

  /**
   * Creates a process with an empty address space ({@code mm_alloc}: the PGD, the mm, its MMU
   * context and flusher). Returns null if there is no memory for the PGD ({@code -ENOMEM} of
   * fork).
   */
  public @Nullable Process spawn() {
    int pid = lastPid + 1;
    Process p = Process.create(this, pid);
    if (p == null) {
      return null;
    }
    lastPid = pid;
    TreeMap<Integer, Process> next = new TreeMap<>(processes);
    next.put(pid, p);
    processes = next;
    return p;
  }

  /** The live process {@code pid}, or null. */
  public @Nullable Process process(int pid) {
    return processes.get(pid);
  }

  /** The live processes in pid order. */
  public List<Process> processes() {
    return Collections.unmodifiableList(new ArrayList<>(processes.values()));
  }

  /** Called by {@link Process#exit} once the process is torn down. */
  void forget(Process p) {
    TreeMap<Integer, Process> next = new TreeMap<>(processes);
    next.remove(p.pid());
    processes = next;
  }

  // ------------------------------------------------------------ the consistency walk

  /**
   * The kernel's part of the consistency walk, without scheduling points (it runs where no CPU
   * does): the mm walk over every live process, the page caches and {@code i_mmap} trees of
   * tmpfs (each file VMA of a live process linked exactly once in its file's tree), then the
   * frame accounting: frames in use are
   * exactly the zero page, the page tables of live processes (PGDs included) and the anonymous
   * pages they map (each private anonymous page is mapped once: there is no fork yet).
   */
  public void check() {
    List<Process> live = processes();
    List<MmStruct> mms = live.stream().map(Process::mm).toList();
    MmWalk.check(mem, mms);
    tmpfs.check();
    tmpfs.checkFileVmas(mms);
    long tables = 0;
    long anon = 0;
    for (Process p : live) {
      tables += p.mm().pageTables().peekNrTables();
      anon += p.mm().anonRss();
    }
    long cached = tmpfs.peekCachedPages();
    long used = freeAtBoot - mem.peekNrFreePages();
    if (used != 1 + tables + anon + cached) {
      throw new BugException(Verdict.of(VerdictKind.INVARIANT, used + " frames in use but the zero page, " + tables
          + " page tables, " + anon + " anonymous pages and " + cached + " page-cache pages account for "
          + (1 + tables + anon + cached),
          List.of("kernel consistency walk: frames leaked or double counted"), List.of()));
    }
  }

  @Override
  public String toString() {
    return "kernel(" + (config.memoryBytes() >> 20) + " MiB, " + processes.size() + " processes)";
  }
}
