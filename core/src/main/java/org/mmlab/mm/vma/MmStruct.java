package org.mmlab.mm.vma;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.KObject;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.Sched;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;
import org.mmlab.mm.pgtable.PageTables;
import org.mmlab.sync.Atomic;
import org.mmlab.sync.PerCpuCounter;
import org.mmlab.sync.Rcu;
import org.mmlab.sync.RwSem;

/**
 * An address space: {@code struct mm_struct}, with its VMA tree, the mmap lock and the per-VMA
 * locking protocol of Linux 6.4 ({@code mm/mmap_lock.c}, {@code include/linux/mmap_lock.h},
 * {@code mm/memory.c}'s {@code lock_vma_under_rcu}). reference/upstream.md §2 has the protocol
 * and the races it closes.
 *
 * <h2>The protocol</h2>
 * <ul>
 *   <li>A VMA is write-locked when its {@code vm_lock_seq} equals the mm's {@code mm_lock_seq}.
 *       {@link #vmaStartWrite} (mmap lock held for write) takes the VMA's rwsem for write, which
 *       waits for its readers, stores the sequence, and drops the rwsem again.</li>
 *   <li>{@link #mmapWriteUnlock} and {@link #mmapWriteDowngrade} advance {@code mm_lock_seq},
 *       which ends every VMA write lock of the mm at once.</li>
 *   <li>A reader ({@link #vmaStartRead}) checks that the sequences differ, trylocks the rwsem
 *       for read, and checks again: a writer that locked in between is seen.</li>
 *   <li>{@link #lockVmaUnderRcu} finds the VMA in the tree under RCU alone, read-locks it, and
 *       then checks that the address is still inside it and that it is still attached; any
 *       failure falls back to the mmap lock (it returns null).</li>
 * </ul>
 *
 * <h2>Fields and what protects them</h2>
 * <ul>
 *   <li>{@code mmap_lock}: the rwsem itself.</li>
 *   <li>{@code mm_lock_seq}: written with the mmap lock held for write; read locklessly by VMA
 *       readers (an acquire load).</li>
 *   <li>the VMA tree: written with the mmap lock held for write, read under it or under RCU.</li>
 *   <li>{@code map_count}: written with the mmap lock held for write.</li>
 * </ul>
 *
 * <h2>Experiment switches</h2>
 * {@link Checks} turns off the re-checks {@code lock_vma_under_rcu} makes after locking, for the
 * experiments that show why they exist (seed 001, reference §2 P3/P4): real code paths, each
 * naming the check it skips; off by default.
 */
public final class MmStruct extends KObject {
  /** {@code mm->mmap_lock}. */
  public static final LockClass MMAP_LOCK = LockClass.of("mmap_lock");

  /**
   * Which re-checks {@link #lockVmaUnderRcu} makes after locking a VMA found under RCU.
   *
   * @param seqRecheck re-check {@code vm_lock_seq} after the trylock (a writer that locked
   *     between the pre-check and the trylock)
   * @param rangeCheck check that the address is still inside the VMA (it may have been split)
   * @param detachedCheck check that the VMA is still in the tree (reference §2 P4: a downgrade
   *     ends the write lock of a VMA that was detached)
   */
  public record Checks(boolean seqRecheck, boolean rangeCheck, boolean detachedCheck) {
    /** The 6.4 protocol, every check made. */
    public static final Checks ALL = new Checks(true, true, true);
  }

  private final Sched sched;
  private final Rcu rcu;
  private final RwSem mmapLock;
  private final Atomic mmLockSeq;
  /** See {@link #mmapSeqBegin}. Written with the mmap lock held for write. */
  private final Atomic mmapSeq;
  private final VmaTree<Vma> tree;
  private final PageTables pageTables;
  private final Atomic mapCount;
  private final Checks checks;
  /**
   * {@code VMA_LOCK_SUCCESS}, {@code VMA_LOCK_ABORT}, {@code VMA_LOCK_MISS}: in the kernel vm
   * events (per-CPU, kernel-wide, {@code CONFIG_PER_VMA_LOCK_STATS}); here per-CPU and per mm, so
   * that tests can read one mm's. Per-CPU as in the kernel: they are counted on every fault, and
   * an atomic of the mm was a locked add (and, under the explorer, a scheduling point that the
   * kernel does not have) on every one.
   */
  private final PerCpuCounter lockSuccess;
  private final PerCpuCounter lockAbort;
  private final PerCpuCounter lockMiss;
  /**
   * {@code MM_ANONPAGES}: anonymous pages mapped; changed under the PTE locks, read racily. The
   * kernel's {@code mm->rss_stat} is a {@code percpu_counter} since 6.2: a CPU adds to its own
   * cell; here a reader sums the cells ({@code percpu_counter_sum}; the fold of a cell into the
   * central count at the batch size is not modelled, it changes nothing a reader of the sum sees).
   */
  private final PerCpuCounter anonRss;
  /** {@code MM_SHMEMPAGES}: shmem pages mapped; as {@link #anonRss}. */
  private final PerCpuCounter shmemRss;
  /** How this mm's translations are flushed from every CPU (set by the kernel; none before). */
  private volatile org.mmlab.mm.pgtable.MmuGather.Flusher flusher = (a, b) -> {};

  /**
   * A new mm over {@code pageTables}.
   *
   * @param name for reports, e.g. {@code "mm1"}
   */
  public MmStruct(Sched sched, String name, PageTables pageTables, Checks checks) {
    super(sched, "mm", name);
    this.sched = sched;
    this.rcu = new Rcu(sched);
    this.pageTables = pageTables;
    this.checks = checks;
    this.mmapLock = new RwSem(sched, name + "->mmap_lock", MMAP_LOCK, this);
    this.mmLockSeq = new Atomic(sched, name + "->mm_lock_seq", 0, this);
    this.mmapSeq = new Atomic(sched, name + "->mmap_seq", 0, this);
    this.tree = new VmaTree<>(sched, name + "->mm_mt", mmapLock::heldByCurrent, mmapLock::writeHeldByCurrent, this);
    this.mapCount = new Atomic(sched, name + "->map_count", 0, this);
    this.lockSuccess = new PerCpuCounter(sched, name + ":vma_lock_success");
    this.lockAbort = new PerCpuCounter(sched, name + ":vma_lock_abort");
    this.lockMiss = new PerCpuCounter(sched, name + ":vma_lock_miss");
    this.anonRss = new PerCpuCounter(sched, name + ":MM_ANONPAGES");
    this.shmemRss = new PerCpuCounter(sched, name + ":MM_SHMEMPAGES");
  }

  /** {@code add_mm_counter(mm, MM_SHMEMPAGES, n)}. */
  public void addShmemRss(long n) {
    shmemRss.add(n);
  }

  /** {@code get_mm_counter(mm, MM_SHMEMPAGES)}, without a scheduling point (statistics). */
  public long shmemRss() {
    return shmemRss.peek();
  }

  /** {@code add_mm_counter(mm, MM_ANONPAGES, n)}. */
  public void addAnonRss(long n) {
    anonRss.add(n);
  }

  /** {@code get_mm_counter(mm, MM_ANONPAGES)}, without a scheduling point (statistics). */
  public long anonRss() {
    return anonRss.peek();
  }

  /** Sets how this mm's TLB entries are flushed (the MMU's shootdown). Set-up only. */
  public void setFlusher(org.mmlab.mm.pgtable.MmuGather.Flusher f) {
    this.flusher = f;
  }

  /** {@code flush_tlb_mm_range}: flushes [start, end) of this mm from every CPU. */
  public org.mmlab.mm.pgtable.MmuGather.Flusher flusher() {
    return flusher;
  }

  public Sched sched() {
    return sched;
  }

  public Rcu rcu() {
    return rcu;
  }

  public PageTables pageTables() {
    return pageTables;
  }

  public VmaTree<Vma> tree() {
    return tree;
  }

  public RwSem mmapLock() {
    return mmapLock;
  }

  // ------------------------------------------------------------ the mmap lock

  /** {@code mmap_read_lock}. */
  public void mmapReadLock() {
    mmapLock.downRead();
  }

  /** {@code mmap_read_trylock}. */
  public boolean mmapReadTrylock() {
    return mmapLock.downReadTrylock();
  }

  /** {@code mmap_read_unlock}. */
  public void mmapReadUnlock() {
    mmapLock.upRead();
  }

  /** {@code mmap_write_lock}. */
  public void mmapWriteLock() {
    mmapLock.downWrite();
    mmapSeq.write(mmapSeq.read() + 1);
  }

  /**
   * The speculative-fault patches' {@code mmap_seq} (Lespinasse, 2020–2022; never merged):
   * odd while the mmap lock is held for write. A speculative fault reads it (even) before it
   * starts and checks it again under the PTE lock before it installs a PTE, and gives up if a
   * writer came by. Used only by {@code FaultLocking.RCU_ONLY}; the thread's point is that
   * this check comes too late for the page tables the fault allocated on its way.
   */
  public long mmapSeqBegin() {
    return mmapSeq.read();
  }

  /** True if no mmap writer started or ended since {@link #mmapSeqBegin} returned {@code seq}. */
  public boolean mmapSeqValid(long seq) {
    return (seq & 1) == 0 && mmapSeq.read() == seq;
  }

  /** {@code mmap_write_unlock}: ends every VMA write lock ({@code vma_end_write_all}), then unlocks. */
  public void mmapWriteUnlock() {
    vmaEndWriteAll();
    mmapSeq.write(mmapSeq.read() + 1);
    mmapLock.upWrite();
  }

  /** {@code mmap_write_downgrade}: ends every VMA write lock, then keeps the mmap lock for read. */
  public void mmapWriteDowngrade() {
    vmaEndWriteAll();
    mmapSeq.write(mmapSeq.read() + 1);
    mmapLock.downgradeWrite();
  }

  /** {@code vma_end_write_all}: advancing {@code mm_lock_seq} unlocks every write-locked VMA. */
  private void vmaEndWriteAll() {
    mmapLock.assertWriteLocked();
    mmLockSeq.write(mmLockSeq.read() + 1);
  }

  // ------------------------------------------------------------ per-VMA locks

  /**
   * {@code vma_start_write}: write-locks {@code vma} until the mmap write lock is dropped. Waits
   * for its current readers by taking its rwsem for write. Called with the mmap lock held for
   * write.
   */
  public void vmaStartWrite(Vma vma) {
    mmapLock.assertWriteLocked();
    long seq = mmLockSeq.read();
    if (vma.vmLockSeq().read() == seq) {
      return;
    }
    vma.vmLock().downWrite();
    vma.vmLockSeq().write(seq);
    vma.vmLock().upWrite();
  }

  /** {@code vma_assert_write_locked}: the VMA is write-locked (and so the mmap lock held for write). */
  public void vmaAssertWriteLocked(Vma vma) {
    if (vma.detachedFlag().peek() != 0 && vma.vmLockSeq().peek() == -1) {
      return; // a VMA being built (never linked): nobody else can reach it
    }
    if (vma.vmLockSeq().peek() != mmLockSeq.peek() || !mmapLock.writeHeldByCurrent()) {
      throw sched.bug(Verdict.of(VerdictKind.INVARIANT, "vma_assert_write_locked: " + vma + " is not write-locked",
          List.of("vm_lock_seq " + vma.vmLockSeq().peek() + ", mm_lock_seq " + mmLockSeq.peek()
              + (mmapLock.writeHeldByCurrent() ? "" : ", and the mmap lock is not held for write")),
          List.of(vma.fields().id())));
    }
  }

  /**
   * {@code vma_start_read}: read-locks {@code vma} unless it is write-locked; never waits.
   * Returns false if it is (or becomes, between the checks) write-locked.
   */
  public boolean vmaStartRead(Vma vma) {
    if (vma.vmLockSeq().read() == mmLockSeq.read()) {
      return false;
    }
    if (!vma.vmLock().downReadTrylock()) {
      return false;
    }
    if (checks.seqRecheck() && vma.vmLockSeq().read() == mmLockSeq.read()) {
      vma.vmLock().upRead();
      return false;
    }
    return true;
  }

  /**
   * {@code vma_end_read}: drops the read lock, inside an RCU read section so that the rwsem it
   * releases cannot be freed under the release (a writer may free the VMA right after).
   */
  public void vmaEndRead(Vma vma) {
    rcu.readLock();
    vma.vmLock().upRead();
    rcu.readUnlock();
  }

  /**
   * {@code lock_vma_under_rcu}: the VMA containing {@code addr}, read-locked, found without the
   * mmap lock; or null, and the caller falls back to {@code mmap_read_lock}.
   */
  public @Nullable Vma lockVmaUnderRcu(long addr) {
    while (true) {
      rcu.readLock();
      VmaTree.Entry<Vma> e = tree.lookup(addr);
      Vma vma = e == null ? null : e.value();
      if (vma == null || !vmaStartRead(vma)) {
        rcu.readUnlock();
        lockAbort.add(1);
        return null;
      }
      if (checks.rangeCheck() && (vma.start() > addr || addr >= vma.end())) {
        vmaEndRead(vma);
        rcu.readUnlock();
        lockAbort.add(1);
        return null;
      }
      if (checks.detachedCheck() && vma.isDetached()) {
        // Found in an old version of the tree, removed since: look again.
        vmaEndRead(vma);
        rcu.readUnlock();
        lockMiss.add(1);
        sched.retry("lock_vma_under_rcu: detached", vma.fields());
        continue;
      }
      rcu.readUnlock();
      lockSuccess.add(1);
      return vma;
    }
  }

  // ------------------------------------------------------------ the tree, for mmap and munmap

  /**
   * {@code find_vma}: the first VMA ending after {@code addr}; mmap lock held (either mode) or
   * inside an RCU read section.
   */
  public @Nullable Vma findVma(long addr) {
    VmaTree.Entry<Vma> e = tree.findFrom(addr);
    return e == null ? null : e.value();
  }

  /** {@code vma_lookup}: the VMA containing {@code addr}, or null. */
  public @Nullable Vma vmaLookup(long addr) {
    VmaTree.Entry<Vma> e = tree.lookup(addr);
    return e == null ? null : e.value();
  }

  /**
   * {@code vma_link}: attaches a new VMA (mmap lock held for write); it is visible to RCU
   * readers from the moment the tree is published.
   */
  public void link(Vma vma) {
    mmapLock.assertWriteLocked();
    vmaStartWrite(vma);
    tree.insert(vma.peekStart(), vma.peekEnd(), vma);
    vma.detachedFlag().write(0);
    mapCount.addAndGet(1);
  }

  /**
   * Detaches a VMA: write-locks it (waiting for its readers), marks it detached
   * ({@code vma_mark_detached}) and removes it from the tree. The caller frees it after a grace
   * period ({@link #freeVma}).
   */
  public void unlink(Vma vma) {
    mmapLock.assertWriteLocked();
    vmaStartWrite(vma);
    vma.detachedFlag().write(1);
    tree.remove(vma.peekStart());
    mapCount.addAndGet(-1);
  }

  /**
   * {@code vma_complete} for a compound change (splits, merges, an unmap): in one publication of
   * the tree, every VMA intersecting [start, end) leaves it and {@code vmas} enter it, with the
   * ranges their fields give, so that RCU readers see the tree before or after, never between. A
   * VMA in both stays. Those that leave are write-locked and marked detached
   * ({@code vma_mark_detached}; the caller frees them after a grace period, {@link #freeVma});
   * new ones (never linked) are write-locked and attached; {@code map_count} follows.
   *
   * <p>Called with the mmap lock held for write, having write-locked every VMA whose fields it
   * changed ({@link Vma#setStart} and friends check that). The new ranges must not overlap each
   * other nor a VMA outside [start, end).
   *
   * @return the VMAs that left the tree, in address order
   */
  public List<Vma> replaceVmas(long start, long end, List<Vma> vmas) {
    mmapLock.assertWriteLocked();
    List<Vma> old = new ArrayList<>();
    for (VmaTree.Entry<Vma> e : tree.ranges(start, end)) {
      old.add(e.value());
    }
    // Membership only, never iterated: identity hashing cannot leak into the schedule.
    Set<Vma> staying = Collections.newSetFromMap(new IdentityHashMap<>());
    staying.addAll(vmas);
    List<Vma> gone = new ArrayList<>();
    for (Vma v : old) {
      if (!staying.contains(v)) {
        vmaStartWrite(v);
        v.detachedFlag().write(1);
        gone.add(v);
      }
    }
    List<VmaTree.Entry<Vma>> entries = new ArrayList<>(vmas.size());
    for (Vma v : vmas) {
      if (v.peekDetached()) {
        vmaStartWrite(v); // a new VMA: write-locked from before it is visible
      }
      entries.add(new VmaTree.Entry<>(v.peekStart(), v.peekEnd(), v));
    }
    tree.replaceRange(start, end, entries);
    for (Vma v : vmas) {
      if (v.peekDetached()) {
        v.detachedFlag().write(0);
      }
    }
    mapCount.addAndGet(vmas.size() - old.size());
    return gone;
  }

  /** {@code vm_area_free}: frees a detached VMA after a grace period ({@code call_rcu}). */
  public void freeVma(Vma vma) {
    rcu.freeAfterGracePeriod(vma);
  }

  /** {@code mm->map_count}. */
  public long mapCount() {
    return mapCount.read();
  }

  /** Lock statistics: success, abort (fell back to the mmap lock), miss (retried). */
  public long[] vmaLockEvents() {
    return new long[] {lockSuccess.peek(), lockAbort.peek(), lockMiss.peek()};
  }
}
