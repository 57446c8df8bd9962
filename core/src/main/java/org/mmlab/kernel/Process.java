package org.mmlab.kernel;

import org.jspecify.annotations.Nullable;
import org.mmlab.explore.Cpu;
import org.mmlab.explore.Sched;
import org.mmlab.mm.memory.FaultResult;
import org.mmlab.mm.mmap.MmSyscalls;
import org.mmlab.mm.mmap.MmapFile;
import org.mmlab.mm.shmem.OpenFile;
import org.mmlab.mm.mmu.Fault;
import org.mmlab.mm.mmu.Mmu;
import org.mmlab.mm.mmu.Tlb;
import org.mmlab.mm.mmu.MmuContext;
import org.mmlab.mm.pgtable.PageTables;
import org.mmlab.mm.vma.MmStruct;

/**
 * A process: a pid, its address space ({@link MmStruct} with page tables and the MMU context
 * its TLB entries are tagged with), the mm system calls, and user memory access by its task.
 *
 * <h2>Calls and modes</h2>
 * Every method runs on the calling CPU ({@code sched.cpu()}), as the process's one task.
 * <ul>
 *   <li>A system call enters the kernel ({@link Mmu#enterKernel}) and returns what the syscall
 *       returns: a value, or {@code -errno} ({@link Errno#isError}, {@link #errno}).</li>
 *   <li>A user access returns to user mode running this mm ({@link Mmu#enterUser}: a
 *       {@code switch_mm} if the CPU ran another process), goes through the MMU, and on a page
 *       fault enters the kernel, handles it ({@code Faults.userFault}) and retries from the byte
 *       that faulted; a fault the kernel cannot handle ends the access with a {@link Signal}
 *       naming the first byte not accessed. When the access is over the CPU re-enters the
 *       kernel: between the model's calls a task counts as being in the kernel, so a shootdown
 *       never waits for a CPU that is busy in the caller's Java code.</li>
 * </ul>
 * Simplified: one task per process (no threads sharing an mm yet), no signal handlers (the
 * signal is reported to the caller, the process lives on, as if a handler skipped the access).
 *
 * <h2>Exit ({@code exit_mm}, {@code exit_mmap}, {@code mmdrop})</h2>
 * Unmaps the whole user address space (zapping every page and freeing every page table below
 * the PGD, through the TLB gather and the shootdown), frees the PGD, and leaves the kernel's
 * process table. Simplified: the unmap is {@code munmap} of [0, {@code TASK_SIZE}), which takes
 * the same locks and frees in the same order as {@code exit_mmap} for anonymous memory.
 */
public final class Process {
  /** The kernel. Immutable. */
  private final Kernel kernel;
  /** The process id. Immutable. */
  private final int pid;
  /** The address space. Immutable reference. */
  private final MmStruct mm;
  /** The MMU's view of the mm: TLB tag and generation. Immutable reference. */
  private final MmuContext context;
  /** The descriptors. Immutable reference. */
  private final FdTable files;
  /** Set by {@link #exit}; checked by every call. Written and read by the process's own task. */
  private boolean exited;

  private Process(Kernel kernel, int pid, MmStruct mm, MmuContext context) {
    this.kernel = kernel;
    this.pid = pid;
    this.mm = mm;
    this.context = context;
    this.files = new FdTable(kernel.sched(), "pid" + pid);
  }

  /** {@code mm_alloc} and {@code mm_init}: a new process, or null without memory for the PGD. */
  static @Nullable Process create(Kernel kernel, int pid) {
    Sched sched = kernel.sched();
    String name = "mm" + pid;
    PageTables pt = PageTables.create(sched, kernel.mem(), name);
    if (pt == null) {
      return null;
    }
    MmStruct mm = new MmStruct(sched, name, pt, kernel.config().vmaChecks());
    MmuContext ctx = kernel.mmu().newContext(pt, name, mm);
    mm.setFlusher(kernel.mmu().flusher(ctx));
    return new Process(kernel, pid, mm, ctx);
  }

  public int pid() {
    return pid;
  }

  public MmStruct mm() {
    return mm;
  }

  public MmuContext mmuContext() {
    return context;
  }

  public Kernel kernel() {
    return kernel;
  }

  /** The descriptor table. */
  public FdTable files() {
    return files;
  }

  public boolean exited() {
    return exited;
  }

  /** The errno of a syscall's return value, or null if it did not fail. */
  public static @Nullable Errno errno(long ret) {
    return Errno.isError(ret) ? Errno.of((int) -ret).orElse(null) : null;
  }

  // ------------------------------------------------------------ system calls

  /** {@code mmap(2)}; see {@link MmSyscalls#mmap}. */
  public long mmap(long addr, long len, int prot, int flags, int fd, long off) {
    enterSyscall();
    if ((off & (Uapi.PAGE_SIZE - 1)) != 0) {
      return Errno.EINVAL.ret();
    }
    if ((flags & Uapi.MAP_ANONYMOUS) != 0) {
      return sys().mmap(mm, addr, len, prot, flags, (MmapFile) null, off);
    }
    Object f = files.get(fd);
    if (f == null) {
      return Errno.EBADF.ret();
    }
    if (!(f instanceof OpenFile file)) {
      return Errno.ENODEV.ret(); // the terminal cannot be mapped
    }
    try {
      return sys().mmap(mm, addr, len, prot, flags, file, off);
    } finally {
      file.put();
    }
  }

  /** {@code munmap(2)}. */
  public long munmap(long addr, long len) {
    enterSyscall();
    return sys().munmap(mm, addr, len);
  }

  /** {@code mprotect(2)}. */
  public long mprotect(long addr, long len, int prot) {
    enterSyscall();
    return sys().mprotect(mm, addr, len, prot);
  }

  /** {@code mremap(2)}; {@code newAddr} is used only with {@code MREMAP_FIXED}. */
  public long mremap(long oldAddr, long oldLen, long newLen, int flags, long newAddr) {
    enterSyscall();
    return sys().mremap(mm, oldAddr, oldLen, newLen, flags, newAddr);
  }

  /** {@code madvise(2)}. */
  public long madvise(long addr, long len, int advice) {
    enterSyscall();
    return sys().madvise(mm, addr, len, advice);
  }

  /** {@code mincore(2)} into {@code vec}, one byte per page (1: resident). */
  public long mincore(long addr, long len, byte[] vec) {
    enterSyscall();
    return sys().mincore(mm, addr, len, vec);
  }

  // ------------------------------------------------------------ files (FileCalls)

  /** {@code open(2)} on tmpfs: the new descriptor, or a negative errno. See {@link FileCalls#open}. */
  public long open(String path, int flags, int mode) {
    enterSyscall();
    return FileCalls.open(kernel, files, path, flags, mode);
  }

  /** {@code memfd_create(2)}. */
  public long memfdCreate(String name, int flags) {
    enterSyscall();
    return FileCalls.memfdCreate(kernel, files, name, flags);
  }

  /** {@code close(2)}: 0, or EBADF. */
  public long close(int fd) {
    enterSyscall();
    return FileCalls.close(files, fd);
  }

  /** {@code unlink(2)}. */
  public long unlink(String path) {
    enterSyscall();
    return kernel.tmpfs().unlink(path);
  }

  /** {@code ftruncate(2)}. */
  public long ftruncate(int fd, long length) {
    enterSyscall();
    return FileCalls.ftruncate(files, fd, length);
  }

  /** {@code fstat(2)}: fills {@code st} with st_size, st_blocks (512-byte units), st_ino, st_nlink. */
  public long fstat(int fd, long[] st) {
    enterSyscall();
    return FileCalls.fstat(files, fd, st);
  }

  /** {@code fallocate(2)}. */
  public long fallocate(int fd, int mode, long offset, long len) {
    enterSyscall();
    return FileCalls.fallocate(files, fd, mode, offset, len);
  }

  /** {@code pread(2)} of {@code buf.length} bytes: the count read (0 at the end), or a negative errno. */
  public long pread(int fd, byte[] buf, long offset) {
    enterSyscall();
    return FileCalls.pread(files, fd, buf, offset);
  }

  /** {@code pwrite(2)}: the count written, or a negative errno. */
  public long pwrite(int fd, byte[] data, long offset) {
    enterSyscall();
    return FileCalls.pwrite(files, fd, data, offset);
  }

  /** {@code lseek(2)}: the new offset, or a negative errno. */
  public long lseek(int fd, long offset, int whence) {
    enterSyscall();
    return FileCalls.lseek(files, fd, offset, whence);
  }

  /** {@code fcntl(2)} with {@code F_ADD_SEALS} or {@code F_GET_SEALS}; other commands: EINVAL. */
  public long fcntl(int fd, int cmd, long arg) {
    enterSyscall();
    return FileCalls.fcntl(files, fd, cmd, arg);
  }

  private MmSyscalls sys() {
    return kernel.syscalls();
  }

  private void enterSyscall() {
    if (exited) {
      throw new IllegalStateException("process " + pid + " has exited");
    }
    kernel.mmu().enterKernel(kernel.sched().cpu());
  }

  // ------------------------------------------------------------ user memory

  /** A load's outcome: the value, or the signal that ended it (value 0). */
  public record Loaded(long value, @Nullable Signal signal) {}

  /** A byte-range read's outcome: {@code data[0..count)} was read, then {@code signal} if any. */
  public record Read(byte[] data, int count, @Nullable Signal signal) {}

  /** A user load of {@code width} (1, 2, 4 or 8) bytes, little-endian, zero-extended. */
  public Loaded load(long addr, int width) {
    Cpu cpu = enterUser();
    Mmu mmu = kernel.mmu();
    try {
      Tlb t = mmu.tlb(cpu);
      while (true) {
        long v = mmu.load(t, context, addr, width);
        if (!t.faulted()) {
          return new Loaded(v, null);
        }
        Signal s = handle(cpu, t.faultAddress(), t.faultWrite());
        if (s != null) {
          return new Loaded(0, s);
        }
      }
    } finally {
      mmu.enterKernel(cpu);
    }
  }

  /** A user store of the low {@code width} (1, 2, 4 or 8) bytes of {@code value}; null or the signal. */
  public @Nullable Signal store(long addr, int width, long value) {
    return storeStrided(addr, 1, 0, width, value);
  }

  /**
   * Reads {@code len} bytes at {@code addr} upward. On a fault that cannot be handled, the
   * bytes before the first faulting byte are returned with the signal.
   */
  public Read read(long addr, int len) {
    byte[] data = new byte[len];
    Cpu cpu = enterUser();
    Mmu mmu = kernel.mmu();
    try {
      int done = 0;
      while (true) {
        Fault f = mmu.loadBytes(cpu, context, addr + done, data, done, len - done);
        if (f == null) {
          return new Read(data, len, null);
        }
        done = (int) (f.address() - addr);
        Signal s = handle(cpu, f);
        if (s != null) {
          return new Read(data, done, s);
        }
      }
    } finally {
      mmu.enterKernel(cpu);
    }
  }

  /** Writes {@code src} at {@code addr} upward; null, or the signal (bytes before it stay written). */
  public @Nullable Signal write(long addr, byte[] src) {
    Cpu cpu = enterUser();
    Mmu mmu = kernel.mmu();
    try {
      int done = 0;
      while (true) {
        Fault f = mmu.storeBytes(cpu, context, addr + done, src, done, src.length - done);
        if (f == null) {
          return null;
        }
        done = (int) (f.address() - addr);
        Signal s = handle(cpu, f);
        if (s != null) {
          return s;
        }
      }
    } finally {
      mmu.enterKernel(cpu);
    }
  }

  /** Fills {@code len} bytes at {@code addr} upward with {@code value}; null, or the signal. */
  public @Nullable Signal fill(long addr, long len, byte value) {
    Cpu cpu = enterUser();
    Mmu mmu = kernel.mmu();
    try {
      long done = 0;
      while (true) {
        Fault f = mmu.fill(cpu, context, addr + done, len - done, value);
        if (f == null) {
          return null;
        }
        done = f.address() - addr;
        Signal s = handle(cpu, f);
        if (s != null) {
          return s;
        }
      }
    } finally {
      mmu.enterKernel(cpu);
    }
  }

  private Cpu enterUser() {
    if (exited) {
      throw new IllegalStateException("process " + pid + " has exited");
    }
    Cpu cpu = kernel.sched().cpu();
    kernel.mmu().enterUser(cpu, context);
    return cpu;
  }

  /**
   * A user loop of {@code count} stores of the low {@code width} bytes of {@code value} at
   * {@code addr}, {@code addr + stride}, ... upward: the CPU stays in user mode from one store to
   * the next and leaves it only for the faults they raise, as a program's own loop does
   * (will-it-scale's page_fault loops; {@link #store} enters and leaves user mode around every
   * store). Null, or the signal that ended the loop (the stores before the faulting one were made).
   */
  public @Nullable Signal storeStrided(long addr, long count, long stride, int width, long value) {
    if (count < 0) {
      throw new IllegalArgumentException("negative count " + count);
    }
    Cpu cpu = enterUser();
    Mmu mmu = kernel.mmu();
    try {
      Tlb t = mmu.tlb(cpu);
      for (long i = 0; i < count; i++) {
        long a = addr + i * stride;
        while (!mmu.tryStore(t, context, a, width, value)) {
          Signal s = handle(cpu, t.faultAddress(), t.faultWrite()); // no Fault object on this path
          if (s != null) {
            return s;
          }
        }
      }
      return null;
    } finally {
      mmu.enterKernel(cpu);
    }
  }

  /**
   * The page-fault entry ({@code exc_page_fault}): into the kernel, {@code do_user_addr_fault},
   * and back to user mode to retry; or the signal if the fault could not be handled (the CPU
   * stays in the kernel).
   */
  private @Nullable Signal handle(Cpu cpu, Fault f) {
    return handle(cpu, f.address(), f.write());
  }

  private @Nullable Signal handle(Cpu cpu, long address, boolean write) {
    Mmu mmu = kernel.mmu();
    mmu.enterKernel(cpu);
    FaultResult r = kernel.faults().userFault(mm, address, write);
    if (r != FaultResult.HANDLED) {
      return Signal.of(r, address);
    }
    // Keyed by address and kind: the next access faulting elsewhere is progress, not a spin.
    kernel.sched().retry("user access after a handled fault", (address << 1) | (write ? 1 : 0), null);
    mmu.enterUser(cpu, context);
    return null;
  }

  // ------------------------------------------------------------ exit

  /**
   * {@code do_exit} for the mm: unmaps everything, frees the page tables and the PGD (every
   * frame the process held goes back to the allocator), and leaves the process table. The CPU
   * that runs it stops running the mm ({@code enter_lazy_tlb}).
   */
  public void exit() {
    enterSyscall();
    Cpu cpu = kernel.sched().cpu();
    kernel.mmu().idle(cpu);
    long r = sys().munmap(mm, 0, kernel.config().limits().taskSize());
    if (r != 0) {
      throw new IllegalStateException("exit_mmap: unmapping everything failed with " + r);
    }
    mm.pageTables().destroy();
    for (Object f : files.removeAll()) { // exit_files, after exit_mm as in do_exit
      if (f instanceof OpenFile file) {
        file.put();
      }
    }
    exited = true;
    kernel.forget(this);
  }

  @Override
  public String toString() {
    return "process " + pid;
  }
}
