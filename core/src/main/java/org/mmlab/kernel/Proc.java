package org.mmlab.kernel;

import java.util.Locale;
import org.jspecify.annotations.Nullable;
import org.mmlab.mm.page.Page;
import org.mmlab.mm.page.PhysMem;
import org.mmlab.mm.pgtable.Entry;
import org.mmlab.mm.pgtable.Level;
import org.mmlab.mm.pgtable.PageTables;
import org.mmlab.mm.vma.MmStruct;
import org.mmlab.mm.vma.Vma;
import org.mmlab.mm.vma.VmFile;
import org.mmlab.mm.vma.VmFlags;
import org.mmlab.mm.vma.VmaTree;

/**
 * The {@code /proc} views of a kernel, as text in Linux's formats ({@code fs/proc/meminfo.c},
 * {@code mm/vmstat.c}, {@code fs/proc/task_mmu.c}). Counters are read racily and without
 * scheduling points, as statistics are: a view taken while CPUs run is a snapshot of no single
 * moment, exactly as in Linux; the page-table reads are peeks of a walk with no locks.
 *
 * <p>What the model cannot compute yet prints 0 (swap, page cache, huge pages); the lines
 * printed are a subset of Linux's, in Linux's order.
 */
public final class Proc {
  /** {@code pagemap} bit 63: page present. */
  public static final long PM_PRESENT = 1L << 63;
  /** {@code pagemap} bit 56: page exclusively mapped (mapped by this one PTE only). */
  public static final long PM_MMAP_EXCLUSIVE = 1L << 56;
  /** {@code pagemap} bits 0-54: the page frame number (shown as to a privileged reader). */
  public static final long PM_PFRAME_MASK = (1L << 55) - 1;

  private final Kernel kernel;

  Proc(Kernel kernel) {
    this.kernel = kernel;
  }

  /**
   * The file at {@code path} ({@code meminfo}, {@code vmstat}, {@code PID/maps},
   * {@code PID/smaps}, each also with a {@code /proc/} prefix), or null if there is none.
   */
  public @Nullable String read(String path) {
    String p = path.startsWith("/proc/") ? path.substring(6) : path;
    switch (p) {
      case "meminfo":
        return meminfo();
      case "vmstat":
        return vmstat();
      default:
        break;
    }
    int slash = p.indexOf('/');
    if (slash <= 0) {
      return null;
    }
    Process proc = processOf(p.substring(0, slash));
    if (proc == null) {
      return null;
    }
    return switch (p.substring(slash + 1)) {
      case "maps" -> maps(proc);
      case "smaps" -> smaps(proc);
      default -> null;
    };
  }

  private @Nullable Process processOf(String pid) {
    try {
      return kernel.process(Integer.parseInt(pid));
    } catch (NumberFormatException e) {
      return null;
    }
  }

  // ------------------------------------------------------------ meminfo, vmstat

  /**
   * {@code /proc/meminfo}: {@code "MemTotal:          65536 kB"} lines. MemFree (and vmstat's
   * {@code nr_free_pages}) count the pages on per-CPU lists as free, which the kernel does not
   * (see {@code mm.page.Zone}): so MemFree after a process exits equals MemFree before it ran.
   */
  public String meminfo() {
    PhysMem mem = kernel.mem();
    long free = mem.peekNrFreePages();
    StringBuilder sb = new StringBuilder();
    kb(sb, "MemTotal", mem.totalPages() * 4);
    kb(sb, "MemFree", free * 4);
    kb(sb, "MemAvailable", free * 4);
    kb(sb, "Buffers", 0);
    kb(sb, "Cached", kernel.tmpfs().peekCachedPages() * 4);
    kb(sb, "SwapCached", 0);
    kb(sb, "SwapTotal", 0);
    kb(sb, "SwapFree", 0);
    kb(sb, "AnonPages", anonPages() * 4);
    kb(sb, "Mapped", shmemMapped() * 4);
    kb(sb, "Shmem", kernel.tmpfs().peekCachedPages() * 4);
    kb(sb, "PageTables", pageTables() * 4);
    kb(sb, "AnonHugePages", 0);
    return sb.toString();
  }

  /** {@code /proc/vmstat}: {@code "name value"} lines. */
  public String vmstat() {
    PhysMem mem = kernel.mem();
    StringBuilder sb = new StringBuilder();
    sb.append("nr_free_pages ").append(mem.peekNrFreePages()).append('\n');
    sb.append("nr_anon_pages ").append(anonPages()).append('\n');
    sb.append("nr_mapped ").append(shmemMapped()).append('\n');
    sb.append("nr_shmem ").append(kernel.tmpfs().peekCachedPages()).append('\n');
    sb.append("nr_page_table_pages ").append(pageTables()).append('\n');
    sb.append("pgalloc_normal ").append(mem.pgalloc()).append('\n');
    sb.append("pgfree ").append(mem.pgfree()).append('\n');
    sb.append("pgfault ").append(kernel.pgfault()).append('\n');
    sb.append("pgmajfault 0\n");
    return sb.toString();
  }

  /** Page-cache pages mapped by some PTE ({@code NR_FILE_MAPPED}). */
  private long shmemMapped() {
    long n = 0;
    for (org.mmlab.mm.shmem.ShmemInode i : kernel.tmpfs().peekInodes()) {
      long[] c = {0};
      i.mapping().iPages().forEachPeek((index, order, entry) -> {
        if (entry instanceof org.mmlab.mm.page.Page pg && pg.peekMapcount() >= 0) {
          c[0] += 1L << order;
        }
      });
      n += c[0];
    }
    return n;
  }

  private long anonPages() {
    long n = 0;
    for (Process p : kernel.processes()) {
      n += p.mm().anonRss();
    }
    return n;
  }

  private long pageTables() {
    long n = 0;
    for (Process p : kernel.processes()) {
      n += p.mm().pageTables().peekNrTables();
    }
    return n;
  }

  /** Linux's {@code show_val_kb}: the name and colon padded to 16 columns, the value to 8. */
  private static void kb(StringBuilder sb, String name, long kb) {
    sb.append(String.format(Locale.ROOT, "%-16s%8d kB%n", name + ":", kb).replace(System.lineSeparator(), "\n"));
  }

  // ------------------------------------------------------------ maps, smaps

  /** {@code /proc/PID/maps}: one line per VMA, {@code "7f0000000000-7f0000002000 rw-p 00000000 00:00 0 "}. */
  public String maps(Process p) {
    StringBuilder sb = new StringBuilder();
    for (VmaTree.Entry<Vma> e : p.mm().tree().peek().all()) {
      header(sb, e.start(), e.end(), e.value());
    }
    return sb.toString();
  }

  /**
   * {@code show_map_vma}: {@code show_vma_header_prefix} (an anonymous VMA has offset, device and
   * inode 0) then, for a file, the path padded to column 73 ({@code seq_pad}).
   */
  private static void header(StringBuilder sb, long start, long end, Vma vma) {
    long flags = vma.peekFlags();
    VmFile f = vma.file();
    int lineStart = sb.length();
    if (f == null) {
      sb.append(String.format(Locale.ROOT, "%08x-%08x %s %08x 00:00 0 ", start, end, VmFlags.perms(flags), 0));
    } else {
      sb.append(String.format(Locale.ROOT, "%08x-%08x %s %08x %s %d ", start, end, VmFlags.perms(flags),
          vma.peekPgoff() << 12, f.device(), f.inodeNumber()));
      while (sb.length() - lineStart < 73) {
        sb.append(' ');
      }
      sb.append(f.path());
    }
    sb.append('\n');
  }

  /**
   * {@code /proc/PID/smaps}: the maps line, then per VMA the counters Linux prints. Resident
   * pages are the present non-special PTEs (the zero page is not counted, as in Linux); every
   * private anonymous page is mapped once (no fork), so Pss equals Rss, and dirty (anonymous
   * memory has no clean copy anywhere: there is no swap).
   */
  public String smaps(Process p) {
    StringBuilder sb = new StringBuilder();
    MmStruct mm = p.mm();
    for (VmaTree.Entry<Vma> e : mm.tree().peek().all()) {
      long flags = e.value().peekFlags();
      header(sb, e.start(), e.end(), e.value());
      long[] rss = residency(kernel, mm.pageTables(), e.start(), e.end());
      long rssKb = rss[0] * 4;
      long refKb = rss[1] * 4;
      long anonKb = rss[2] * 4;
      long sharedKb = rss[3] * 4;
      kb(sb, "Size", (e.end() - e.start()) >> 10);
      kb(sb, "KernelPageSize", 4);
      kb(sb, "MMUPageSize", 4);
      kb(sb, "Rss", rssKb);
      kb(sb, "Pss", rssKb);
      kb(sb, "Pss_Dirty", rssKb);
      kb(sb, "Shared_Clean", 0);
      kb(sb, "Shared_Dirty", sharedKb);
      kb(sb, "Private_Clean", 0);
      kb(sb, "Private_Dirty", rssKb - sharedKb);
      kb(sb, "Referenced", refKb);
      kb(sb, "Anonymous", anonKb);
      kb(sb, "KSM", 0);
      kb(sb, "LazyFree", 0);
      kb(sb, "AnonHugePages", 0);
      kb(sb, "ShmemPmdMapped", 0);
      kb(sb, "FilePmdMapped", 0);
      kb(sb, "Shared_Hugetlb", 0);
      kb(sb, "Private_Hugetlb", 0);
      kb(sb, "Swap", 0);
      kb(sb, "SwapPss", 0);
      kb(sb, "Locked", (flags & VmFlags.LOCKED) != 0 ? rssKb : 0);
      sb.append(String.format(Locale.ROOT, "%-16s%8d%n", "THPeligible:", 0).replace(System.lineSeparator(), "\n"));
      sb.append("VmFlags: ").append(vmFlags(flags)).append('\n');
    }
    return sb.toString();
  }

  /** The two-letter {@code VmFlags} mnemonics of {@code show_smap_vma_flags}, by bit. */
  private static final String[] MNEMONICS = new String[64];

  static {
    String[][] m = {{"0", "rd"}, {"1", "wr"}, {"2", "ex"}, {"3", "sh"}, {"4", "mr"}, {"5", "mw"}, {"6", "me"},
        {"7", "ms"}, {"8", "gd"}, {"10", "pf"}, {"13", "lo"}, {"14", "io"}, {"15", "sr"}, {"16", "rr"}, {"17", "dc"},
        {"18", "de"}, {"20", "ac"}, {"21", "nr"}, {"22", "ht"}, {"25", "wf"}, {"26", "dd"}, {"29", "hg"},
        {"30", "nh"}, {"31", "mg"}};
    for (String[] e : m) {
      MNEMONICS[Integer.parseInt(e[0])] = e[1];
    }
  }

  /** {@code "rd wr mr mw me ac "}: every set flag's mnemonic followed by a space, in bit order. */
  static String vmFlags(long flags) {
    StringBuilder sb = new StringBuilder();
    for (int bit = 0; bit < 64; bit++) {
      if ((flags & (1L << bit)) != 0 && MNEMONICS[bit] != null) {
        sb.append(MNEMONICS[bit]).append(' ');
      }
    }
    return sb.toString();
  }

  /** {resident non-special pages, of them accessed} in [start, end), by a lockless peek walk. */
  private static long[] residency(Kernel kernel, PageTables pt, long start, long end) {
    long[] n = new long[4];
    long a = start;
    while (a < end && a >= start) {
      Peek p = peekEntry(pt, a);
      if (p.entry() == 0) {
        a = p.next();
        continue;
      }
      if (Entry.isPresent(p.entry()) && !Entry.isSpecial(p.entry())) {
        n[0]++;
        if (Entry.isAccessed(p.entry())) {
          n[1]++;
        }
        org.mmlab.mm.page.Page page = kernel.mem().peekPage(Entry.pfn(p.entry()));
        if (page != null && page.peekFlag(org.mmlab.mm.page.PageFlag.ANON)) {
          n[2]++;
        } else if (page != null && page.peekMapcount() >= 1) {
          n[3]++; // mapped by two PTEs or more: shared
        }
      }
      a = p.next();
    }
    return n;
  }

  /** A PTE read by a peek walk (0 if none), and the next address worth looking at. */
  private record Peek(long entry, long next) {}

  /** The PTE for {@code addr}; a missing table above it skips to the end of that table's span. */
  private static Peek peekEntry(PageTables pt, long addr) {
    PageTables.Slot s = pt.pgdOffset(addr);
    while (s.level() != Level.PTE) {
      long e = pt.peek(s);
      if (!Entry.isPresent(e)) {
        return new Peek(0, s.level().next(addr));
      }
      s = pt.lower(s, e, addr);
    }
    return new Peek(pt.peek(s), addr + Uapi.PAGE_SIZE);
  }

  // ------------------------------------------------------------ pagemap

  /**
   * {@code /proc/PID/pagemap} for {@code pages} pages from {@code addr} (page aligned): one
   * 64-bit entry per page, bit 63 present, bit 56 exclusively mapped (mapcount 1), bits 0-54 the pfn. Not
   * present pages are 0 (there is no swap). Simplified: soft-dirty (bit 55) is not tracked.
   */
  public long[] pagemap(Process p, long addr, int pages) {
    long[] out = new long[pages];
    PageTables pt = p.mm().pageTables();
    for (int i = 0; i < pages; i++) {
      long a = (addr & -Uapi.PAGE_SIZE) + (long) i * Uapi.PAGE_SIZE;
      long e = peekEntry(pt, a).entry();
      if (!Entry.isPresent(e)) {
        continue;
      }
      long v = PM_PRESENT | (Entry.pfn(e) & PM_PFRAME_MASK);
      // PM_MMAP_EXCLUSIVE: a normal page mapped by this one PTE (page_mapcount 1); not the
      // zero page, not a page cache page also mapped elsewhere.
      Page page = Entry.isSpecial(e) ? null : kernel.mem().peekPage(Entry.pfn(e));
      if (page != null && page.peekMapcount() == 0) { // _mapcount starts at -1
        v |= PM_MMAP_EXCLUSIVE;
      }
      out[i] = v;
    }
    return out;
  }
}
