package org.mmlab.kernel;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.Sched;
import org.mmlab.mm.shmem.OpenFile;
import org.mmlab.sync.Spinlock;

/**
 * A process's file descriptors: the kernel's {@code files_struct} / {@code fdtable}
 * ({@code fs/file.c}). A new descriptor is the lowest free number ({@code alloc_fd}); a process
 * starts with 0, 1 and 2 open on its terminal ({@link #TERMINAL}), which the model can close but
 * not read, write, seek or map (ESPIPE, ENODEV, EINVAL as a tty gives).
 *
 * <p>The table ({@code fd} → file, with the close-on-exec bit) is protected by
 * {@code files->file_lock}; descriptors up to {@code RLIMIT_NOFILE} (1024) − 1 (EMFILE beyond).
 */
public final class FdTable {
  /** {@code files->file_lock}. */
  public static final LockClass FILE_LOCK = LockClass.of("files->file_lock");
  /** {@code RLIMIT_NOFILE}'s usual soft limit. */
  public static final int NOFILE = 1024;
  /** What descriptors 0, 1 and 2 refer to at start: the process's terminal. */
  public static final Object TERMINAL = new Object() {
    @Override
    public String toString() {
      return "/dev/pts/0";
    }
  };

  private record Slot(Object file, boolean cloexec) {}

  private final Spinlock lock;
  /** Protected by {@link #lock}. */
  private final TreeMap<Integer, Slot> fds = new TreeMap<>();

  FdTable(Sched sched, String name) {
    this.lock = new Spinlock(sched, name + ".file_lock", FILE_LOCK);
    for (int fd = 0; fd < 3; fd++) {
      fds.put(fd, new Slot(TERMINAL, false));
    }
  }

  /** {@code fd_install} at the lowest free number: the descriptor, or EMFILE (the file is not taken). */
  long install(Object file, boolean cloexec) {
    lock.lock();
    try {
      int fd = 0;
      for (Integer used : fds.keySet()) {
        if (used != fd) {
          break;
        }
        fd++;
      }
      if (fd >= NOFILE) {
        return Errno.EMFILE.ret();
      }
      fds.put(fd, new Slot(file, cloexec));
      return fd;
    } finally {
      lock.unlock();
    }
  }

  /** {@code fget}: the file behind {@code fd} (an {@link OpenFile} gets a reference), or null. */
  @Nullable Object get(int fd) {
    lock.lock();
    try {
      Slot s = fds.get(fd);
      if (s == null) {
        return null;
      }
      if (s.file() instanceof OpenFile f) {
        f.get();
      }
      return s.file();
    } finally {
      lock.unlock();
    }
  }

  /** {@code close_fd}: removes {@code fd}; returns what it referred to (its reference now the caller's) or null. */
  @Nullable Object remove(int fd) {
    lock.lock();
    try {
      Slot s = fds.remove(fd);
      return s == null ? null : s.file();
    } finally {
      lock.unlock();
    }
  }

  /** Every open descriptor, removed ({@code exit_files}). */
  List<Object> removeAll() {
    lock.lock();
    try {
      List<Object> all = new ArrayList<>();
      for (Slot s : fds.values()) {
        all.add(s.file());
      }
      fds.clear();
      return all;
    } finally {
      lock.unlock();
    }
  }

  /** The close-on-exec bit of {@code fd}, without a lock (reports). */
  public boolean peekCloexec(int fd) {
    Slot s = fds.get(fd);
    return s != null && s.cloexec();
  }

  /** The open descriptors in order, without a lock (reports and {@code /proc}). */
  public List<Integer> peekFds() {
    return new ArrayList<>(fds.keySet());
  }
}
