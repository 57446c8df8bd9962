package org.mmlab.mm.vma;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.KObject;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.Sched;
import org.mmlab.explore.SyncObject;
import org.mmlab.sync.Atomic;
import org.mmlab.sync.RwSem;

/**
 * A virtual memory area: {@code struct vm_area_struct} ({@code include/linux/mm_types.h}), with
 * the per-VMA lock of the 6.4 design ({@code vm_lock}, {@code vm_lock_seq}, {@code detached}).
 *
 * <h2>Fields and what protects them</h2>
 * <ul>
 *   <li>{@code vm_mm}: immutable.</li>
 *   <li>{@code vm_file}: immutable (the model never swaps a VMA's file, as {@code mmap_region}
 *       may for a driver); null for anonymous memory. The VMA holds a reference on it.</li>
 *   <li>{@code vm_start}, {@code vm_end}, {@code vm_pgoff}, {@code vm_flags}: written with the
 *       mmap lock held for write and the VMA write-locked ({@code vma_start_write}); read under
 *       the mmap lock, under the VMA read lock, or racily under RCU and re-checked after
 *       locking ({@code lock_vma_under_rcu}). Each access is a scheduling point on
 *       {@link #fields()}, so a split that moves {@code vm_end} races a lockless reader.</li>
 *   <li>{@code vm_lock}: an rwsem of this VMA ({@code struct vma_lock}); readers trylock it,
 *       {@code vma_start_write} takes it for write to wait for them.</li>
 *   <li>{@code vm_lock_seq}: written under {@code vm_lock} held for write; equal to the mm's
 *       {@code mm_lock_seq} means "write-locked" until the mmap write lock is dropped.</li>
 *   <li>{@code detached}: written with the VMA write-locked (it is being removed from the tree);
 *       read by {@code lock_vma_under_rcu} after locking.</li>
 * </ul>
 *
 * <h2>Lifetime</h2>
 * Allocated by mmap and splits, freed after it left the tree and a grace period passed
 * ({@code vm_area_free} through {@code call_rcu} in 6.4): a reader that found it under RCU may
 * still trylock its {@code vm_lock}. Freeing it earlier makes that trylock a use-after-free.
 */
public final class Vma extends KObject {
  /** {@code vma->vm_lock->lock}. */
  public static final LockClass VM_LOCK = LockClass.of("vma->vm_lock");

  /** The mutable range and flags as one scheduling object (see the class notes). */
  public static final class Fields extends SyncObject {
    private static final VarHandle START;
    private static final VarHandle END;
    private static final VarHandle PGOFF;
    private static final VarHandle FLAGS;

    static {
      try {
        MethodHandles.Lookup l = MethodHandles.lookup();
        START = l.findVarHandle(Fields.class, "start", long.class);
        END = l.findVarHandle(Fields.class, "end", long.class);
        PGOFF = l.findVarHandle(Fields.class, "pgoff", long.class);
        FLAGS = l.findVarHandle(Fields.class, "flags", long.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    @SuppressWarnings("unused")
    private volatile long start;
    @SuppressWarnings("unused")
    private volatile long end;
    @SuppressWarnings("unused")
    private volatile long pgoff;
    @SuppressWarnings("unused")
    private volatile long flags;

    Fields(Sched sched, Vma owner, long start, long end, long pgoff, long flags) {
      super(sched, owner.objectName(), null, owner);
      START.setRelease(this, start);
      END.setRelease(this, end);
      PGOFF.setRelease(this, pgoff);
      FLAGS.setRelease(this, flags);
    }

    @Override
    public String kind() {
      return "vma";
    }

    @Override
    public String state() {
      return "[0x" + Long.toHexString((long) START.getAcquire(this)) + ", 0x"
          + Long.toHexString((long) END.getAcquire(this)) + ") " + VmFlags.perms((long) FLAGS.getAcquire(this));
    }
  }

  private final MmStruct mm;
  /** {@code vm_file}, or null for anonymous memory. Immutable. */
  private final @Nullable VmFile file;
  private final Fields fields;
  private final RwSem vmLock;
  private final Atomic vmLockSeq;
  private final Atomic detached;

  /**
   * {@code vm_area_alloc} plus the fields mmap sets: a new, detached VMA of {@code mm}
   * ({@code vm_lock_seq} starts at -1: not write-locked).
   */
  public Vma(MmStruct mm, long start, long end, long pgoff, long flags) {
    this(mm, start, end, pgoff, flags, null);
  }

  /**
   * A new, detached VMA mapping {@code file} (null: anonymous) from page {@code pgoff}. The
   * caller has taken the VMA's reference on the file ({@link VmFile#get}).
   */
  public Vma(MmStruct mm, long start, long end, long pgoff, long flags, @Nullable VmFile file) {
    super(mm.sched(), "vma", mm.objectName() + ":" + Long.toHexString(start));
    Sched s = mm.sched();
    this.mm = mm;
    this.file = file;
    this.fields = new Fields(s, this, start, end, pgoff, flags);
    this.vmLock = new RwSem(s, "vm_lock@" + objectName(), VM_LOCK, this);
    this.vmLockSeq = new Atomic(s, "vm_lock_seq@" + objectName(), -1, this);
    this.detached = new Atomic(s, "detached@" + objectName(), 1, this);
  }

  /** {@code vma->vm_mm}. Immutable. */
  public MmStruct mm() {
    return mm;
  }

  /** {@code vma->vm_file}: null for anonymous memory. Immutable. */
  public @Nullable VmFile file() {
    return file;
  }

  /** {@code vma_is_anonymous}, as the model has no special mappings: no file. */
  public boolean isAnonymous() {
    return file == null;
  }

  /**
   * {@code vma_is_shmem} or shared anonymous memory: a VMA whose pages are shmem folios in a page
   * cache.
   */
  public boolean isShmem() {
    return file != null && file.isShmem();
  }

  public Fields fields() {
    return fields;
  }

  /** {@code vma->vm_lock->lock}. */
  public RwSem vmLock() {
    return vmLock;
  }

  /** {@code vma->vm_lock_seq}. */
  Atomic vmLockSeq() {
    return vmLockSeq;
  }

  Atomic detachedFlag() {
    return detached;
  }

  private Sched sched() {
    return mm.sched();
  }

  /** {@code vma->vm_start}. */
  public long start() {
    sched().point(OpKind.READ, fields, "vma->vm_start");
    return (long) Fields.START.getAcquire(fields);
  }

  /** {@code vma->vm_end}. */
  public long end() {
    sched().point(OpKind.READ, fields, "vma->vm_end");
    return (long) Fields.END.getAcquire(fields);
  }

  /** {@code vma->vm_pgoff}. */
  public long pgoff() {
    sched().point(OpKind.READ, fields, "vma->vm_pgoff");
    return (long) Fields.PGOFF.getAcquire(fields);
  }

  /** {@code vma->vm_flags}. */
  public long flags() {
    sched().point(OpKind.READ, fields, "vma->vm_flags");
    return (long) Fields.FLAGS.getAcquire(fields);
  }

  /** Sets {@code vm_start} (and {@code vm_pgoff}); the caller has the VMA write-locked. */
  public void setStart(long start, long pgoff) {
    mm.vmaAssertWriteLocked(this);
    sched().point(OpKind.WRITE, fields, "vma_set_range");
    Fields.START.setRelease(fields, start);
    Fields.PGOFF.setRelease(fields, pgoff);
  }

  /** Sets {@code vm_end}; the caller has the VMA write-locked. */
  public void setEnd(long end) {
    mm.vmaAssertWriteLocked(this);
    sched().point(OpKind.WRITE, fields, "vma_set_range");
    Fields.END.setRelease(fields, end);
  }

  /** {@code vm_flags_reset}; the caller has the VMA write-locked. */
  public void setFlags(long flags) {
    mm.vmaAssertWriteLocked(this);
    sched().point(OpKind.WRITE, fields, "vm_flags_reset");
    Fields.FLAGS.setRelease(fields, flags);
  }

  /** True if the VMA is not in its mm's tree ({@code vma->detached}). A scheduling point. */
  public boolean isDetached() {
    return detached.read() != 0;
  }

  /** Without scheduling points: for consistency walks, {@code /proc} and reports. */
  public long peekStart() {
    return (long) Fields.START.getAcquire(fields);
  }

  public long peekEnd() {
    return (long) Fields.END.getAcquire(fields);
  }

  public long peekFlags() {
    return (long) Fields.FLAGS.getAcquire(fields);
  }

  public long peekPgoff() {
    return (long) Fields.PGOFF.getAcquire(fields);
  }

  public boolean peekDetached() {
    return detached.peek() != 0;
  }

  @Override
  public String toString() {
    return "vma " + fields.state();
  }
}
