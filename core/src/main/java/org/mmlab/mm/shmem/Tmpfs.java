package org.mmlab.mm.shmem;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.BugException;
import org.mmlab.explore.Sched;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;
import org.mmlab.kernel.Errno;
import org.mmlab.kernel.Uapi;
import org.mmlab.mm.filemap.AddressSpace;
import org.mmlab.mm.memory.Faults;
import org.mmlab.mm.mmap.MmapFile;
import org.mmlab.mm.mmap.SharedAnon;
import org.mmlab.mm.page.Folio;
import org.mmlab.mm.page.Page;
import org.mmlab.mm.page.PhysMem;
import org.mmlab.mm.vma.MmStruct;
import org.mmlab.mm.vma.VmFile;
import org.mmlab.mm.vma.Vma;
import org.mmlab.mm.vma.VmaTree;
import org.mmlab.sync.Atomic;
import org.mmlab.sync.Mutex;
import org.mmlab.sync.Spinlock;

/**
 * The tmpfs mounts of a kernel: a namespace of regular files under each mount point (by
 * default {@code /dev/shm}), memfds ({@code memfd_create}) and the unlinked files behind shared
 * anonymous mappings ({@code shmem_zero_setup}). One superblock for all of them.
 *
 * <h2>Paths</h2>
 * A path is absolute; it names a file directly inside a mount point ({@code /dev/shm/name}).
 * Simplified: no subdirectories (a path with more components under a mount is ENOENT, as a
 * missing directory is), no other file systems (a path outside every mount is ENOENT), the
 * mount point itself is a directory that cannot be opened here (EISDIR), permissions are not
 * checked (the process is privileged) and the mode is only remembered.
 *
 * <h2>Fields and what protects them</h2>
 * <ul>
 *   <li>{@code dir}: names to inodes. Protected by {@code dirLock} (the directory's
 *       {@code i_rwsem}, taken for write by create and unlink).</li>
 *   <li>{@code inodes}: every live inode by number (the superblock's inode list), for the
 *       consistency walk and accounting. Protected by {@code s_inode_list_lock}.</li>
 *   <li>{@code lastIno}: the last inode number handed out; under {@code s_inode_list_lock}.</li>
 * </ul>
 */
public final class Tmpfs implements SharedAnon {
  /** The directory lock of a tmpfs directory ({@code dir->i_rwsem}). */
  public static final LockClass DIR_RWSEM = LockClass.of("tmpfs dir->i_rwsem");
  /** {@code sb->s_inode_list_lock}. */
  public static final LockClass INODE_LIST = LockClass.of("sb->s_inode_list_lock");
  /** {@code NAME_MAX}. */
  public static final int NAME_MAX = 255;
  /** {@code MFD_NAME_MAX_LEN}: a memfd name's limit. */
  public static final int MFD_NAME_MAX = 249;

  private final Sched sched;
  private final PhysMem mem;
  private final Faults faults;
  private final List<String> mounts;
  private final Mutex dirLock;
  private final TreeMap<String, ShmemInode> dir = new TreeMap<>();
  private final Spinlock inodeListLock;
  private final TreeMap<Long, ShmemInode> inodes = new TreeMap<>();
  /**
   * Faults that slept in {@code shmem_falloc_wait}: a statistic of the model (Linux counts none),
   * for tests and reports. Incremented under the inode's {@code i_lock}; atomic.
   */
  private final Atomic fallocWaits;
  private long lastIno = 1;

  public Tmpfs(Sched sched, PhysMem mem, Faults faults, List<String> mounts) {
    this.sched = sched;
    this.mem = mem;
    this.faults = faults;
    this.mounts = List.copyOf(mounts);
    this.dirLock = new Mutex(sched, "tmpfs dir", DIR_RWSEM);
    this.inodeListLock = new Spinlock(sched, "tmpfs s_inode_list_lock", INODE_LIST);
    this.fallocWaits = new Atomic(sched, "tmpfs shmem_falloc waits", 0);
  }

  /** Counts a fault about to sleep in {@code shmem_falloc_wait}. */
  void countFallocWait() {
    fallocWaits.addAndGet(1);
  }

  /** For tests and reports: faults that slept in {@code shmem_falloc_wait} so far. */
  public long peekFallocWaits() {
    return fallocWaits.peek();
  }

  public Sched sched() {
    return sched;
  }

  public PhysMem mem() {
    return mem;
  }

  public Faults faults() {
    return faults;
  }

  public List<String> mounts() {
    return mounts;
  }

  // ------------------------------------------------------------ namespace

  /** 0 if {@code path} names a file directly inside a mount (the directory key is the path), or a negative errno. */
  private long checkPath(String path) {
    if (path.isEmpty()) {
      return Errno.ENOENT.ret();
    }
    for (String comp : path.split("/")) {
      if (comp.length() > NAME_MAX) {
        return Errno.ENAMETOOLONG.ret();
      }
    }
    for (String mnt : mounts) {
      if (path.equals(mnt) || path.equals(mnt + "/")) {
        return Errno.EISDIR.ret();
      }
      if (path.startsWith(mnt + "/")) {
        String name = path.substring(mnt.length() + 1);
        if (name.isEmpty() || name.contains("/") || name.equals(".") || name.equals("..")) {
          return Errno.ENOENT.ret(); // no subdirectories are modelled
        }
        return 0;
      }
    }
    return Errno.ENOENT.ret();
  }

  /**
   * {@code open(path, flags, mode)} on tmpfs ({@code do_sys_open} → {@code shmem_create} /
   * {@code do_truncate}): a new open file with one reference, or a negative errno (ENOENT,
   * EEXIST for {@code O_CREAT|O_EXCL} on an existing name, EISDIR, ENAMETOOLONG, EPERM when
   * {@code O_TRUNC} meets {@code F_SEAL_SHRINK}, ENOMEM).
   */
  public Object open(String path, int flags, int mode) {
    long r = checkPath(path);
    if (r < 0) {
      return r;
    }
    ShmemInode inode;
    dirLock.lock();
    try {
      inode = dir.get(path);
      if (inode == null) {
        if ((flags & Uapi.O_CREAT) == 0) {
          return Errno.ENOENT.ret();
        }
        inode = newInode(path, Uapi.F_SEAL_SEAL, true);
        dir.put(path, inode);
      } else if ((flags & (Uapi.O_CREAT | Uapi.O_EXCL)) == (Uapi.O_CREAT | Uapi.O_EXCL)) {
        return Errno.EEXIST.ret();
      }
    } finally {
      dirLock.unlock();
    }
    OpenFile f = new OpenFile(inode, flags, path);
    int acc = flags & Uapi.O_ACCMODE;
    if ((flags & Uapi.O_TRUNC) != 0 && (acc == Uapi.O_WRONLY || acc == Uapi.O_RDWR)) {
      inode.iRwsem().downWrite();
      long t;
      try {
        t = Shmem.setSize(inode, 0);
      } finally {
        inode.iRwsem().upWrite();
      }
      if (t < 0) {
        f.put();
        return t;
      }
    }
    return f;
  }

  /** {@code unlink(path)}: ENOENT, EISDIR for a mount point. The data lives while open or mapped. */
  public long unlink(String path) {
    long r = checkPath(path);
    if (r < 0) {
      return r;
    }
    ShmemInode inode;
    dirLock.lock();
    try {
      inode = dir.remove(path);
      if (inode == null) {
        return Errno.ENOENT.ret();
      }
      inode.setUnlinked();
    } finally {
      dirLock.unlock();
    }
    if (inode.unused()) {
      evict(inode);
    }
    return 0;
  }

  /**
   * {@code memfd_create(name, flags)}: a new unlinked file opened read-write, named
   * {@code memfd:NAME} in {@code /proc/<pid>/maps}; without {@code MFD_ALLOW_SEALING} it starts
   * sealed with {@code F_SEAL_SEAL}. EINVAL for unknown flags or a name longer than 249 bytes;
   * {@code MFD_HUGETLB} is valid in Linux and not modelled here: ENODEV.
   */
  public Object memfdCreate(String name, int flags) {
    int known = Uapi.MFD_CLOEXEC | Uapi.MFD_ALLOW_SEALING | Uapi.MFD_HUGETLB | Uapi.MFD_NOEXEC_SEAL | Uapi.MFD_EXEC;
    if ((flags & ~known) != 0 && (flags & Uapi.MFD_HUGETLB) == 0) {
      return Errno.EINVAL.ret();
    }
    if (name.length() > MFD_NAME_MAX) {
      return Errno.EINVAL.ret();
    }
    if ((flags & (Uapi.MFD_EXEC | Uapi.MFD_NOEXEC_SEAL)) == (Uapi.MFD_EXEC | Uapi.MFD_NOEXEC_SEAL)) {
      return Errno.EINVAL.ret();
    }
    if ((flags & Uapi.MFD_HUGETLB) != 0) {
      return Errno.ENODEV.ret(); // hugetlbfs: not modelled
    }
    int seals = (flags & Uapi.MFD_ALLOW_SEALING) != 0 ? 0 : Uapi.F_SEAL_SEAL;
    if ((flags & Uapi.MFD_NOEXEC_SEAL) != 0) {
      seals |= Uapi.F_SEAL_EXEC; // MFD_NOEXEC_SEAL implies sealing allowed, exec sealed
      seals &= ~Uapi.F_SEAL_SEAL;
    }
    ShmemInode inode = newInode("memfd:" + name, seals, false);
    return new OpenFile(inode, Uapi.O_RDWR | Uapi.O_LARGEFILE, "/memfd:" + name);
  }

  /** {@code shmem_zero_setup}: the file behind a shared anonymous mapping of {@code size} bytes. */
  @Override
  public @Nullable MmapFile create(long size) {
    ShmemInode inode = newInode("dev/zero", 0, false);
    inode.iRwsem().downWrite();
    try {
      inode.setSize(size);
    } finally {
      inode.iRwsem().upWrite();
    }
    return new OpenFile(inode, Uapi.O_RDWR, "/dev/zero");
  }

  private ShmemInode newInode(String name, int seals, boolean linked) {
    inodeListLock.lock();
    try {
      long ino = ++lastIno;
      ShmemInode inode = new ShmemInode(this, ino, name, seals, linked);
      inodes.put(ino, inode);
      return inode;
    } finally {
      inodeListLock.unlock();
    }
  }

  /**
   * {@code evict} → {@code shmem_evict_inode}: truncates every page of an inode nobody refers to
   * any more and forgets it. Runs where the last reference was dropped; takes no inode lock
   * (nobody else can reach the inode).
   */
  void evict(ShmemInode inode) {
    Shmem.truncateRange(inode, 0, -1);
    inodeListLock.lock();
    try {
      inodes.remove(inode.ino());
    } finally {
      inodeListLock.unlock();
    }
    // destroy_inode: the mapping (and so its XArray's walk) is gone; a later use is a use-after-free.
    inode.mapping().free();
    inode.free();
  }

  // ------------------------------------------------------------ walks and statistics

  /** The live inodes (for {@code /proc} and walks), without scheduling points. */
  public List<ShmemInode> peekInodes() {
    return new ArrayList<>(inodes.values());
  }

  /** Pages in the page caches of every live inode ({@code Shmem} in meminfo). */
  public long peekCachedPages() {
    long n = 0;
    for (ShmemInode i : inodes.values()) {
      n += i.mapping().peekNrpages();
    }
    return n;
  }

  /**
   * The page-cache part of the consistency walk, where no CPU runs: each inode's XArray is
   * valid; every entry is a folio of this mapping at its index, in use, with at least one
   * reference per page for the cache; {@code nrpages} equals the pages present; {@code i_mmap}
   * is a well-formed interval tree with every VMA at the file pages it maps now
   * ({@link AddressSpace#checkIMmap}); every VMA in it maps this file and is not freed; a live
   * inode is named or referenced.
   */
  public void check() {
    for (ShmemInode inode : inodes.values()) {
      AddressSpace m = inode.mapping();
      m.iPages().check();
      m.checkIMmap();
      long[] pages = {0};
      m.iPages().forEachPeek((index, order, entry) -> {
        if (!(entry instanceof Folio f)) {
          throw fail(inode + ": unexpected entry " + entry + " at index " + index);
        }
        Page head = f.headPage();
        if (head.peekFlag(org.mmlab.mm.page.PageFlag.BUDDY) || head.peekRefCount() < (1 << order)) {
          throw fail(inode + ": folio pfn 0x" + Long.toHexString(head.pfn()) + " at index " + index
              + " is free or lacks the page cache's reference (count " + head.peekRefCount() + ")");
        }
        if (head.peekMapping() != m || head.peekIndex() != index) {
          throw fail(inode + ": folio pfn 0x" + Long.toHexString(head.pfn()) + " at index " + index
              + " says mapping " + head.peekMapping() + " index " + head.peekIndex());
        }
        if (head.peekFlag(org.mmlab.mm.page.PageFlag.LOCKED)) {
          throw fail(inode + ": folio at index " + index + " is still locked");
        }
        pages[0] += 1L << order;
      });
      if (pages[0] != m.peekNrpages()) {
        throw fail(inode + ": nrpages is " + m.peekNrpages() + " but " + pages[0] + " pages are cached");
      }
      for (Vma v : m.peekIMmap()) {
        if (v.isFreed() || v.file() == null || v.file().mapping() != m) {
          throw fail(inode + ": i_mmap holds " + v + ", which is freed or maps another file");
        }
      }
      if (inode.peekCount() == 0 && !inode.peekLinked()) {
        throw fail(inode + ": neither named nor open, but not evicted");
      }
    }
  }

  /**
   * The other half of the {@code i_mmap} check, from the mms' side, where no CPU runs: every
   * file VMA in the VMA tree of each of {@code mms} is linked exactly once in the
   * {@code i_mmap} of its file, and that file's inode is live.
   */
  public void checkFileVmas(List<MmStruct> mms) {
    for (MmStruct mm : mms) {
      for (VmaTree.Entry<Vma> e : mm.tree().peek().ranges(0, Long.MAX_VALUE)) {
        Vma v = e.value();
        VmFile f = v.file();
        if (f == null) {
          continue;
        }
        if (!(f.mapping() instanceof AddressSpace m) || !(f instanceof OpenFile of) || !inodes.containsValue(of.inode())) {
          throw fail(mm.objectName() + ": " + v + " maps " + f + ", which is no live tmpfs file");
        }
        int links = m.peekLinkCount(v);
        if (links != 1) {
          throw fail(mm.objectName() + ": " + v + " is linked " + links + " times in i_mmap of " + of.inode()
              + " (exactly once expected)");
        }
      }
    }
  }

  private static BugException fail(String what) {
    return new BugException(Verdict.of(VerdictKind.INVARIANT, what, List.of("page cache consistency walk"), List.of()));
  }
}
