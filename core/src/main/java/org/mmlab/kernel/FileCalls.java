package org.mmlab.kernel;

import org.mmlab.mm.shmem.OpenFile;
import org.mmlab.mm.shmem.Shmem;
import org.mmlab.mm.shmem.ShmemInode;

/**
 * The file system calls of a process on its descriptors, with the VFS checks and their order
 * ({@code fs/open.c}, {@code fs/read_write.c}, {@code mm/memfd.c}, Linux 6.12) in front of the
 * shmem operations ({@link Shmem}). Every call returns what the syscall returns: a result or a
 * negative errno; none changes anything when it fails.
 *
 * <p>The terminal on descriptors 0–2 ({@link FdTable#TERMINAL}) answers as a tty does: ESPIPE
 * for positional I/O and seeks, EINVAL for {@code ftruncate} and seals, ENODEV for
 * {@code fallocate} and {@code mmap}.
 *
 * <p>Stateless.
 */
final class FileCalls {
  private FileCalls() {}

  /** {@code MAX_RW_COUNT}: the largest single read or write. */
  private static final long MAX_RW_COUNT = Integer.MAX_VALUE & -Uapi.PAGE_SIZE;

  static long open(Kernel kernel, FdTable files, String path, int flags, int mode) {
    Object r = kernel.tmpfs().open(path, flags, mode);
    if (r instanceof Long err) {
      return err;
    }
    OpenFile f = (OpenFile) r;
    long fd = files.install(f, (flags & Uapi.O_CLOEXEC) != 0);
    if (fd < 0) {
      f.put();
    }
    return fd;
  }

  static long memfdCreate(Kernel kernel, FdTable files, String name, int flags) {
    Object r = kernel.tmpfs().memfdCreate(name, flags);
    if (r instanceof Long err) {
      return err;
    }
    OpenFile f = (OpenFile) r;
    long fd = files.install(f, (flags & Uapi.MFD_CLOEXEC) != 0);
    if (fd < 0) {
      f.put();
    }
    return fd;
  }

  static long close(FdTable files, int fd) {
    Object f = files.remove(fd);
    if (f == null) {
      return Errno.EBADF.ret();
    }
    if (f instanceof OpenFile file) {
      file.put();
    }
    return 0;
  }

  /** {@code fget}: the file behind {@code fd} (an open file with a reference), or null (EBADF). */
  private static Object fget(FdTable files, int fd) {
    return files.get(fd);
  }

  static long ftruncate(FdTable files, int fd, long length) {
    if (length < 0) {
      return Errno.EINVAL.ret();
    }
    Object o = fget(files, fd);
    if (o == null) {
      return Errno.EBADF.ret();
    }
    if (!(o instanceof OpenFile f)) {
      return Errno.EINVAL.ret();
    }
    try {
      if (!f.writable()) {
        return Errno.EINVAL.ret(); // do_ftruncate: not open for writing
      }
      ShmemInode inode = f.inode();
      inode.iRwsem().downWrite();
      try {
        return Shmem.setSize(inode, length);
      } finally {
        inode.iRwsem().upWrite();
      }
    } finally {
      f.put();
    }
  }

  static long fstat(FdTable files, int fd, long[] st) {
    Object o = fget(files, fd);
    if (o == null) {
      return Errno.EBADF.ret();
    }
    if (!(o instanceof OpenFile f)) {
      st[0] = 0;
      st[1] = 0;
      st[2] = 3;
      st[3] = 1;
      return 0;
    }
    try {
      ShmemInode inode = f.inode();
      st[0] = inode.size();
      st[1] = inode.blocks();
      st[2] = inode.ino();
      st[3] = inode.linked() ? 1 : 0;
      return 0;
    } finally {
      f.put();
    }
  }

  /** {@code ksys_fallocate} → {@code vfs_fallocate}: the checks in the kernel's order, then shmem. */
  static long fallocate(FdTable files, int fd, int mode, long offset, long len) {
    Object o = fget(files, fd);
    if (o == null) {
      return Errno.EBADF.ret();
    }
    try {
      if (offset < 0 || len <= 0) {
        return Errno.EINVAL.ret();
      }
      if ((mode & ~Uapi.FALLOC_FL_SUPPORTED_MASK) != 0) {
        return Errno.EOPNOTSUPP.ret();
      }
      int modeOnly = mode & ~Uapi.FALLOC_FL_KEEP_SIZE;
      if ((mode & Uapi.FALLOC_FL_PUNCH_HOLE) != 0 && (mode & Uapi.FALLOC_FL_ZERO_RANGE) != 0) {
        return Errno.EINVAL.ret();
      }
      if ((mode & Uapi.FALLOC_FL_PUNCH_HOLE) != 0 && (mode & Uapi.FALLOC_FL_KEEP_SIZE) == 0) {
        return Errno.EOPNOTSUPP.ret();
      }
      if ((modeOnly == Uapi.FALLOC_FL_COLLAPSE_RANGE || modeOnly == Uapi.FALLOC_FL_INSERT_RANGE)
          && (mode & Uapi.FALLOC_FL_KEEP_SIZE) != 0) {
        return Errno.EINVAL.ret();
      }
      boolean terminal = !(o instanceof OpenFile);
      if (!terminal && !((OpenFile) o).writable()) {
        return Errno.EBADF.ret();
      }
      if (terminal) {
        return Errno.ENODEV.ret(); // not a regular file
      }
      if (offset + len < 0) {
        return Errno.EFBIG.ret(); // beyond s_maxbytes (MAX_LFS_FILESIZE)
      }
      // shmem_fallocate knows KEEP_SIZE and PUNCH_HOLE only.
      if ((mode & ~(Uapi.FALLOC_FL_KEEP_SIZE | Uapi.FALLOC_FL_PUNCH_HOLE)) != 0) {
        return Errno.EOPNOTSUPP.ret();
      }
      return Shmem.fallocate(((OpenFile) o).inode(), mode, offset, len);
    } finally {
      if (o instanceof OpenFile f) {
        f.put();
      }
    }
  }

  static long pread(FdTable files, int fd, byte[] buf, long offset) {
    Object o = fget(files, fd);
    if (o == null) {
      return Errno.EBADF.ret();
    }
    if (!(o instanceof OpenFile f)) {
      return Errno.ESPIPE.ret();
    }
    try {
      if (!f.readable()) {
        return Errno.EBADF.ret();
      }
      if (offset < 0) {
        return Errno.EINVAL.ret();
      }
      int n = (int) Math.min(buf.length, MAX_RW_COUNT);
      return Shmem.read(f.inode(), offset, buf, n);
    } finally {
      f.put();
    }
  }

  static long pwrite(FdTable files, int fd, byte[] data, long offset) {
    Object o = fget(files, fd);
    if (o == null) {
      return Errno.EBADF.ret();
    }
    if (!(o instanceof OpenFile f)) {
      return Errno.ESPIPE.ret();
    }
    try {
      if (!f.writable()) {
        return Errno.EBADF.ret();
      }
      if (offset < 0) {
        return Errno.EINVAL.ret();
      }
      // Linux appends under O_APPEND even for pwrite (a documented bug in pwrite(2)).
      long pos = (f.flags() & Uapi.O_APPEND) != 0 ? f.inode().size() : offset;
      return Shmem.write(f.inode(), pos, data);
    } finally {
      f.put();
    }
  }

  /** {@code shmem_file_llseek} / {@code generic_file_llseek_size}. */
  static long lseek(FdTable files, int fd, long offset, int whence) {
    Object o = fget(files, fd);
    if (o == null) {
      return Errno.EBADF.ret();
    }
    if (!(o instanceof OpenFile f)) {
      return Errno.ESPIPE.ret();
    }
    try {
      long pos;
      switch (whence) {
        case Uapi.SEEK_SET -> pos = offset;
        case Uapi.SEEK_CUR -> pos = f.pos() + offset;
        case Uapi.SEEK_END -> pos = f.inode().size() + offset;
        case Uapi.SEEK_DATA, Uapi.SEEK_HOLE -> {
          pos = Shmem.seekHoleData(f.inode(), offset, whence == Uapi.SEEK_DATA);
          if (pos < 0) {
            return pos;
          }
        }
        default -> {
          return Errno.EINVAL.ret();
        }
      }
      if (pos < 0) {
        return Errno.EINVAL.ret(); // vfs_setpos: negative, or wrapped past MAX_LFS_FILESIZE
      }
      f.setPos(pos);
      return pos;
    } finally {
      f.put();
    }
  }

  /** {@code fcntl}: {@code F_GET_SEALS} and {@code F_ADD_SEALS} ({@code memfd_fcntl}); EINVAL otherwise. */
  static long fcntl(FdTable files, int fd, int cmd, long arg) {
    Object o = fget(files, fd);
    if (o == null) {
      return Errno.EBADF.ret();
    }
    if (!(o instanceof OpenFile f)) {
      return Errno.EINVAL.ret();
    }
    try {
      return switch (cmd) {
        case Uapi.F_GET_SEALS -> f.inode().seals();
        case Uapi.F_ADD_SEALS -> arg != (int) arg ? Errno.EINVAL.ret() : Shmem.addSeals(f, (int) arg);
        default -> Errno.EINVAL.ret();
      };
    } finally {
      f.put();
    }
  }
}
