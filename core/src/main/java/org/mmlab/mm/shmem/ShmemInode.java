package org.mmlab.mm.shmem;

import org.jspecify.annotations.Nullable;
import org.mmlab.debug.KObject;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.Sched;
import org.mmlab.kernel.Uapi;
import org.mmlab.mm.filemap.AddressSpace;
import org.mmlab.sync.Atomic;
import org.mmlab.sync.Ref;
import org.mmlab.sync.RwSem;
import org.mmlab.sync.Spinlock;

/**
 * A tmpfs inode: the kernel's {@code struct inode} with its {@code shmem_inode_info}
 * ({@code include/linux/shmem_fs.h}).
 *
 * <h2>Fields and what protects them</h2>
 * <ul>
 *   <li>{@code i_ino}, the name it was created with: immutable.</li>
 *   <li>{@code i_mapping}: the page cache and {@code i_mmap} ({@link AddressSpace}).</li>
 *   <li>{@code i_size}: written under {@code i_rwsem} held for write (write, truncate,
 *       fallocate); read locklessly ({@code i_size_read}) by faults, reads and seeks.</li>
 *   <li>{@code seals}: {@code info->seals}; written under {@code i_rwsem} ({@code F_ADD_SEALS}),
 *       read locklessly by the paths they forbid, which hold {@code i_rwsem} where the kernel
 *       does (write, truncate, fallocate).</li>
 *   <li>{@code i_nlink}: 1 while a name in the tmpfs directory refers to it, then 0; written
 *       under the directory's lock.</li>
 *   <li>{@code i_count}: open files ({@link OpenFile}) referring to it; VMAs hold their file, so
 *       a mapped inode is referenced. Atomic.</li>
 *   <li>{@code i_private}: the {@link ShmemFalloc} of a hole punch in progress, or null; written
 *       under {@code i_lock} by the punch, read once without it by faults (the unlikely check)
 *       and then under it ({@code shmem_falloc_wait}).</li>
 * </ul>
 *
 * <h2>Lifetime ({@code iput_final}, {@code shmem_evict_inode})</h2>
 * When the last file is released and the inode has no name, its pages are truncated and it is
 * forgotten by its {@link Tmpfs}.
 */
public final class ShmemInode extends KObject {
  /** {@code inode->i_rwsem}. */
  public static final LockClass I_RWSEM = LockClass.of("inode->i_rwsem");
  /** {@code inode->i_lock}. */
  public static final LockClass I_LOCK = LockClass.of("inode->i_lock");

  private final Tmpfs fs;
  private final long ino;
  private final String name;
  private final AddressSpace mapping;
  private final RwSem iRwsem;
  private final Atomic size;
  private final Atomic seals;
  private final Atomic nlink;
  private final Atomic count;
  private final Spinlock iLock;
  private final Ref<ShmemFalloc> iPrivate;

  ShmemInode(Tmpfs fs, long ino, String name, int seals, boolean linked) {
    super(fs.sched(), "inode", "shmem:" + ino);
    Sched s = fs.sched();
    this.fs = fs;
    this.ino = ino;
    this.name = name;
    this.mapping = new AddressSpace(s, "mapping:" + ino, this);
    this.iRwsem = new RwSem(s, "i_rwsem:" + ino, I_RWSEM, this);
    this.size = new Atomic(s, "i_size:" + ino, 0, this);
    this.seals = new Atomic(s, "seals:" + ino, seals, this);
    this.nlink = new Atomic(s, "i_nlink:" + ino, linked ? 1 : 0, this);
    this.count = new Atomic(s, "i_count:" + ino, 0, this);
    this.iLock = new Spinlock(s, "i_lock:" + ino, I_LOCK, this);
    this.iPrivate = new Ref<>(s, "i_private:" + ino, null, this);
  }

  public Tmpfs fs() {
    return fs;
  }

  /** {@code inode->i_ino}. Immutable. */
  public long ino() {
    return ino;
  }

  /** The name it was created with (a path, or {@code memfd:NAME}). Immutable. */
  public String name() {
    return name;
  }

  /** {@code inode->i_mapping}. */
  public AddressSpace mapping() {
    return mapping;
  }

  /** {@code inode->i_rwsem} ({@code inode_lock}). */
  public RwSem iRwsem() {
    return iRwsem;
  }

  /** {@code inode->i_lock}. */
  Spinlock iLock() {
    return iLock;
  }

  /** {@code inode->i_private}: the hole punch in progress ({@code READ_ONCE} or under {@code i_lock}). */
  @Nullable ShmemFalloc falloc() {
    return iPrivate.read();
  }

  /** Publishes or clears the hole punch in progress; {@code i_lock} is held. */
  void setFalloc(@Nullable ShmemFalloc f) {
    iLock.assertHeld();
    iPrivate.write(f);
  }

  /** {@code i_size_read}: a scheduling point. */
  public long size() {
    return size.read();
  }

  /** {@code i_size_write}; {@code i_rwsem} is held for write. */
  void setSize(long s) {
    iRwsem.assertWriteLocked();
    size.write(s);
  }

  /** {@code info->seals}: a scheduling point. */
  public int seals() {
    return (int) seals.read();
  }

  /** Adds seals; {@code i_rwsem} is held for write. */
  void addSeals(int s) {
    iRwsem.assertWriteLocked();
    seals.write(seals.read() | s);
  }

  /** True while a name refers to the inode. */
  public boolean linked() {
    return nlink.read() != 0;
  }

  void setUnlinked() {
    nlink.write(0);
  }

  /** {@code ihold}: an open file refers to the inode. */
  void iget() {
    count.addAndGet(1);
  }

  /**
   * {@code iput}: an open file released it. At zero, an inode without a name is evicted: its
   * pages are truncated and the file system forgets it.
   */
  void iput() {
    if (count.addAndGet(-1) == 0 && !linked()) {
      fs.evict(this);
    }
  }

  /** True if neither a name nor an open file refers to the inode: it must be evicted. */
  boolean unused() {
    return count.read() == 0 && !linked();
  }

  // --- peeks for walks and /proc ---

  public long peekSize() {
    return size.peek();
  }

  public int peekSeals() {
    return (int) seals.peek();
  }

  public long peekCount() {
    return count.peek();
  }

  public boolean peekLinked() {
    return nlink.peek() != 0;
  }

  /** {@code st_blocks}: 512-byte blocks allocated, every cached page counting 8. A scheduling point. */
  public long blocks() {
    return mapping.nrpages() * (Uapi.PAGE_SIZE / 512);
  }

  @Override
  public String toString() {
    return "inode " + ino + " (" + name + ", " + size.peek() + " bytes)";
  }
}
