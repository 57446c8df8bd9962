package org.mmlab.kernel;

import java.util.function.LongSupplier;
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
    return install(files, kernel.tmpfs().open(path, flags, mode), (flags & Uapi.O_CLOEXEC) != 0);
  }

  static long memfdCreate(Kernel kernel, FdTable files, String name, int flags) {
    return install(files, kernel.tmpfs().memfdCreate(name, flags), (flags & Uapi.MFD_CLOEXEC) != 0);
  }

  /**
   * {@code fd_install} of what {@code open} or {@code memfd_create} returned: a negative errno
   * as it is, or an open file, whose reference goes to the new descriptor (or is dropped if the
   * table is full).
   */
  private static long install(FdTable files, Object opened, boolean cloexec) {
    if (opened instanceof Long err) {
      return err;
    }
    OpenFile f = (OpenFile) opened;
    long fd = files.install(f, cloexec);
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

  /** What a call does with an open shmem file while it holds the file's reference. */
  @FunctionalInterface
  private interface FileBody {
    long apply(OpenFile f);
  }

  /**
   * The prologue and epilogue that most calls here share ({@code fdget}, {@code fdput}):
   * {@code fget} the descriptor; EBADF if it is not open; {@code onTerminal} if it is the
   * terminal (which has no reference to drop); else {@code body} with the file, whose reference
   * is put when the body returns.
   */
  private static long withFile(FdTable files, int fd, LongSupplier onTerminal, FileBody body) {
    Object o = fget(files, fd);
    if (o == null) {
      return Errno.EBADF.ret();
    }
    if (!(o instanceof OpenFile f)) {
      return onTerminal.getAsLong();
    }
    try {
      return body.apply(f);
    } finally {
      f.put();
    }
  }

  /** {@link #withFile(FdTable, int, LongSupplier, FileBody)} where the terminal answers {@code notFile}. */
  private static long withFile(FdTable files, int fd, Errno notFile, FileBody body) {
    return withFile(files, fd, notFile::ret, body);
  }

  static long ftruncate(FdTable files, int fd, long length) {
    if (length < 0) {
      return Errno.EINVAL.ret();
    }
    return withFile(files, fd, Errno.EINVAL, f -> {
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
    });
  }

  static long fstat(FdTable files, int fd, long[] st) {
    return withFile(files, fd, () -> {
      st[0] = 0;
      st[1] = 0;
      st[2] = 3;
      st[3] = 1;
      return 0;
    }, f -> {
      ShmemInode inode = f.inode();
      st[0] = inode.size();
      st[1] = inode.blocks();
      st[2] = inode.ino();
      st[3] = inode.linked() ? 1 : 0;
      return 0;
    });
  }

  /**
   * {@code ksys_fallocate} → {@code vfs_fallocate}: the checks in the kernel's order, then shmem.
   * The checks of the arguments come before the one of the file, so the terminal answers them
   * too before ENODEV.
   */
  static long fallocate(FdTable files, int fd, int mode, long offset, long len) {
    return withFile(files, fd, () -> {
      long bad = fallocateArgs(mode, offset, len);
      return bad != 0 ? bad : Errno.ENODEV.ret(); // not a regular file
    }, f -> {
      long bad = fallocateArgs(mode, offset, len);
      if (bad != 0) {
        return bad;
      }
      if (!f.writable()) {
        return Errno.EBADF.ret();
      }
      if (offset + len < 0) {
        return Errno.EFBIG.ret(); // beyond s_maxbytes (MAX_LFS_FILESIZE)
      }
      // shmem_fallocate knows KEEP_SIZE and PUNCH_HOLE only.
      if ((mode & ~(Uapi.FALLOC_FL_KEEP_SIZE | Uapi.FALLOC_FL_PUNCH_HOLE)) != 0) {
        return Errno.EOPNOTSUPP.ret();
      }
      return Shmem.fallocate(f.inode(), mode, offset, len);
    });
  }

  /** The checks of {@code vfs_fallocate} on its arguments alone, in its order: an errno, or 0. */
  private static long fallocateArgs(int mode, long offset, long len) {
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
    return 0;
  }

  static long pread(FdTable files, int fd, byte[] buf, long offset) {
    return withFile(files, fd, Errno.ESPIPE, f -> {
      if (!f.readable()) {
        return Errno.EBADF.ret();
      }
      if (offset < 0) {
        return Errno.EINVAL.ret();
      }
      int n = (int) Math.min(buf.length, MAX_RW_COUNT);
      return Shmem.read(f.inode(), offset, buf, n);
    });
  }

  static long pwrite(FdTable files, int fd, byte[] data, long offset) {
    return withFile(files, fd, Errno.ESPIPE, f -> {
      if (!f.writable()) {
        return Errno.EBADF.ret();
      }
      if (offset < 0) {
        return Errno.EINVAL.ret();
      }
      // Linux appends under O_APPEND even for pwrite (a documented bug in pwrite(2)).
      long pos = (f.flags() & Uapi.O_APPEND) != 0 ? f.inode().size() : offset;
      return Shmem.write(f.inode(), pos, data);
    });
  }

  /** {@code shmem_file_llseek} / {@code generic_file_llseek_size}. */
  static long lseek(FdTable files, int fd, long offset, int whence) {
    return withFile(files, fd, Errno.ESPIPE, f -> {
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
    });
  }

  /** {@code fcntl}: {@code F_GET_SEALS} and {@code F_ADD_SEALS} ({@code memfd_fcntl}); EINVAL otherwise. */
  static long fcntl(FdTable files, int fd, int cmd, long arg) {
    return withFile(files, fd, Errno.EINVAL, f -> switch (cmd) {
      case Uapi.F_GET_SEALS -> f.inode().seals();
      case Uapi.F_ADD_SEALS -> arg != (int) arg ? Errno.EINVAL.ret() : Shmem.addSeals(f, (int) arg);
      default -> Errno.EINVAL.ret();
    });
  }
}
