package org.mmlab.mm.shmem;

import org.mmlab.debug.KObject;
import org.mmlab.kernel.Errno;
import org.mmlab.kernel.Uapi;
import org.mmlab.mm.mmap.MmapFile;
import org.mmlab.mm.vma.Vma;
import org.mmlab.mm.vma.VmFault;
import org.mmlab.mm.vma.VmFlags;
import org.mmlab.sync.Atomic;

/**
 * An open tmpfs file: the kernel's {@code struct file} ({@code include/linux/fs.h}) for a shmem
 * inode, and what a VMA mapping it holds ({@link MmapFile}).
 *
 * <h2>Fields and what protects them</h2>
 * <ul>
 *   <li>{@code f_inode}, {@code f_mode} (read/write), {@code f_flags}, the name shown in
 *       {@code /proc/<pid>/maps}: immutable.</li>
 *   <li>{@code f_count}: descriptors and VMAs referring to the file. Atomic; the last
 *       {@link #put} releases the file ({@code __fput}), which drops the inode.</li>
 *   <li>{@code f_pos}: the offset of {@code read}/{@code write}/{@code lseek}. The kernel guards
 *       it with {@code f_pos_lock} for shared descriptors; here an atomic word (the model's calls
 *       on one descriptor come from one task).</li>
 * </ul>
 */
public final class OpenFile extends KObject implements MmapFile {
  private final ShmemInode inode;
  private final boolean read;
  private final boolean write;
  private final int flags;
  private final String path;
  private final Atomic count;
  private final Atomic pos;

  OpenFile(ShmemInode inode, int flags, String path) {
    super(inode.fs().sched(), "file", "file:" + inode.ino());
    this.inode = inode;
    int acc = flags & Uapi.O_ACCMODE;
    this.read = acc == Uapi.O_RDONLY || acc == Uapi.O_RDWR;
    this.write = acc == Uapi.O_WRONLY || acc == Uapi.O_RDWR;
    this.flags = flags;
    this.path = path;
    this.count = new Atomic(inode.fs().sched(), "f_count:" + objectName(), 1, this);
    this.pos = new Atomic(inode.fs().sched(), "f_pos:" + objectName(), 0, this);
    inode.iget();
  }

  /** {@code file_inode}. Immutable. */
  public ShmemInode inode() {
    return inode;
  }

  /** {@code f_flags} as given to open. Immutable. */
  public int flags() {
    return flags;
  }

  /** {@code f_pos}: a scheduling point. */
  public long pos() {
    return pos.read();
  }

  /** {@code vfs_setpos}. */
  public void setPos(long p) {
    pos.write(p);
  }

  @Override
  public boolean readable() {
    return read;
  }

  @Override
  public boolean writable() {
    return write;
  }

  // ------------------------------------------------------------ references

  @Override
  public void get() {
    count.addAndGet(1);
  }

  @Override
  public void put() {
    long c = count.addAndGet(-1);
    if (c == 0) {
      inode.iput(); // __fput: release, then the inode reference
    } else if (c < 0) {
      throw new IllegalStateException("fput of a released file " + this);
    }
  }

  public long peekCount() {
    return count.peek();
  }

  // ------------------------------------------------------------ VmFile / MmapFile

  @Override
  public FaultedFolio fault(VmFault vmf, long pgoff) {
    return Shmem.fault(inode, vmf, pgoff);
  }

  @Override
  public boolean mincorePage(long pgoff) {
    return org.mmlab.mm.filemap.Filemap.incore(inode.mapping(), pgoff);
  }

  @Override
  public void linkVma(Vma vma) {
    inode.mapping().link(vma);
  }

  @Override
  public void unlinkVma(Vma vma) {
    inode.mapping().unlink(vma);
  }

  @Override
  public void iMmapLockWrite() {
    inode.mapping().iMmapLockWrite();
  }

  @Override
  public void iMmapUnlockWrite() {
    inode.mapping().iMmapUnlockWrite();
  }

  @Override
  public void iMmapRemove(Vma vma) {
    inode.mapping().vmaIntervalTreeRemove(vma);
  }

  @Override
  public void iMmapInsert(Vma vma) {
    inode.mapping().vmaIntervalTreeInsert(vma);
  }

  @Override
  public boolean isShmem() {
    return true;
  }

  @Override
  public String path() {
    return inode.peekLinked() ? path : path + " (deleted)";
  }

  @Override
  public long inodeNumber() {
    return inode.ino();
  }

  @Override
  public String device() {
    return "00:01";
  }

  @Override
  public Object mapping() {
    return inode.mapping();
  }

  @Override
  public long checkSealsMmap(long vmFlags) {
    int seals = inode.seals();
    if ((seals & (Uapi.F_SEAL_WRITE | Uapi.F_SEAL_FUTURE_WRITE)) != 0 && (vmFlags & VmFlags.SHARED) != 0) {
      if ((vmFlags & VmFlags.WRITE) != 0) {
        return Errno.EPERM.ret();
      }
      return vmFlags & ~VmFlags.MAYWRITE; // so mprotect cannot make it writable later
    }
    return vmFlags;
  }

  @Override
  public boolean mapWritable() {
    return inode.mapping().mapWritable();
  }

  @Override
  public void unmapWritable() {
    inode.mapping().unmapWritable();
  }

  @Override
  public String toString() {
    return "file " + path + " (inode " + inode.ino() + ")";
  }
}
