package org.mmlab.shell;

import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * The shell's grammar: one constant per command, with its usage, what it prints on success,
 * and what it does. This table is the single source of truth; {@code docs/SHELL.md} carries the
 * same table ({@link #markdownTable}) and a test checks that the two agree.
 *
 * <p>Argument forms: ADDR, LEN, OFF, NEWADDR, BYTE, PID are numbers ({@link Numbers#parse});
 * PROT is {@code none} or letters of {@code rwx}, or a number; FLAGS is a {@code |}-joined list
 * of names or numbers; ADVICE a name or a number.
 */
public enum Command {
  MMAP("mmap ADDR LEN PROT FLAGS [FD OFF]", "= ADDR",
      "mmap(2). FLAGS: private shared anon fixed noreplace populate norsv (private and shared together pass MAP_SHARED_VALIDATE). FD -1 and OFF 0 if left out"),
  MUNMAP("munmap ADDR LEN", "= 0", "munmap(2)"),
  MPROTECT("mprotect ADDR LEN PROT", "= 0", "mprotect(2)"),
  MREMAP("mremap OLD OLDLEN NEWLEN [FLAGS [NEWADDR]]", "= ADDR",
      "mremap(2). FLAGS: maymove fixed dontunmap; 0 if left out; NEWADDR is given exactly when FLAGS has fixed"),
  MADVISE("madvise ADDR LEN ADVICE", "= 0",
      "madvise(2). ADVICE: the MADV_ name in lower case without MADV_ (dontneed, populate_write, ...) or its number"),
  MINCORE("mincore ADDR LEN", "= 0 DIGITS", "mincore(2): one digit per page, 1 resident, 0 not; no digits for LEN 0"),
  PAGEMAP("pagemap ADDR PAGES", "= ENTRY ...",
      "/proc/PID/pagemap of the current process for PAGES pages from ADDR's page (at most 4096): one 64-bit entry per page in 0x-hex, bit 63 present, bit 56 mapped by this PTE only, bits 0-54 the pfn; 0x0 not present"),
  WRITE("write ADDR LEN BYTE", "= 0",
      "stores BYTE into LEN bytes from ADDR upward, faulting pages in as a user store would"),
  READ("read ADDR LEN", "= 0xBB*N ...",
      "loads LEN bytes from ADDR upward and prints them run-length encoded (= alone for LEN 0)"),
  MAPS("maps", "= 0xSTART-0xEND PERMS ...",
      "every VMA of the current process in address order, PERMS as in /proc/PID/maps (= alone if none)"),
  SPAWN("spawn", "= PID", "creates a process with an empty address space; the current process stays current"),
  USE("use PID", "= 0", "makes PID the current process (= -1 ESRCH if there is none)"),
  CAT("cat PATH", "file, then = 0",
      "prints a /proc file: meminfo, vmstat, PID/maps, PID/smaps (with or without /proc/; = -1 ENOENT if none)"),
  OPEN("open PATH FLAGS [MODE]", "= FD",
      "open(2) on tmpfs (/dev/shm/NAME). FLAGS: rdonly wronly rdwr creat excl trunc append cloexec, |-joined, or a number; MODE 0644 if left out"),
  MEMFD("memfd NAME [FLAGS]", "= FD", "memfd_create(2). FLAGS: cloexec allow_sealing, |-joined, or a number; 0 if left out"),
  CLOSE("close FD", "= 0", "close(2)"),
  FTRUNCATE("ftruncate FD LEN", "= 0", "ftruncate(2)"),
  PWRITE("pwrite FD OFF LEN BYTE", "= N", "pwrite(2) of LEN bytes of value BYTE at OFF: the count written"),
  PREAD("pread FD OFF LEN", "= 0xBB*N ...",
      "pread(2) of up to LEN bytes at OFF, run-length encoded as read prints them (= alone when nothing was read)"),
  FALLOCATE("fallocate FD MODE OFF LEN", "= 0",
      "fallocate(2). MODE: 0, or keep_size punch_hole |-joined, or a number"),
  LSEEK("lseek FD OFF WHENCE", "= OFF", "lseek(2). WHENCE: set cur end data hole, or a number"),
  FSTAT("fstat FD", "= size=N blocks=N", "fstat(2): st_size and st_blocks (512-byte units)"),
  ADD_SEALS("add_seals FD SEALS", "= 0",
      "fcntl(F_ADD_SEALS). SEALS: seal shrink grow write future_write exec, |-joined, or a number"),
  GET_SEALS("get_seals FD", "= SEALS", "fcntl(F_GET_SEALS): names in bit order, |-joined (= 0 for none)"),
  UNLINK("unlink PATH", "= 0", "unlink(2)");

  private final String usage;
  private final String result;
  private final String description;

  Command(String usage, String result, String description) {
    this.usage = usage;
    this.result = result;
    this.description = description;
  }

  /** The command's name as typed: {@code mmap}. */
  public String word() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** {@code mmap ADDR LEN PROT FLAGS [FD OFF]}. */
  public String usage() {
    return usage;
  }

  /** What a successful run prints. */
  public String result() {
    return result;
  }

  public String description() {
    return description;
  }

  /** The command named {@code word}, or null. */
  public static @Nullable Command of(String word) {
    for (Command c : values()) {
      if (c.word().equals(word)) {
        return c;
      }
    }
    return null;
  }

  /** The grammar as the Markdown table in {@code docs/SHELL.md}. */
  public static String markdownTable() {
    StringBuilder sb = new StringBuilder("| command | prints on success | what |\n|---|---|---|\n");
    for (Command c : values()) {
      sb.append("| `").append(c.usage).append("` | `").append(c.result).append("` | ").append(c.description)
          .append(" |\n");
    }
    return sb.toString();
  }
}
