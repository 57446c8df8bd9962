package org.mmlab.mm.mmap;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.mmlab.explore.Sched;
import org.mmlab.kernel.Uapi;
import org.mmlab.mm.memory.FaultLocking;
import org.mmlab.mm.memory.FaultResult;
import org.mmlab.mm.memory.Faults;
import org.mmlab.mm.memory.MmWalk;
import org.mmlab.mm.page.Gfp;
import org.mmlab.mm.page.Page;
import org.mmlab.mm.page.PageFlag;
import org.mmlab.mm.page.PhysMem;
import org.mmlab.mm.pgtable.Entry;
import org.mmlab.mm.pgtable.Level;
import org.mmlab.mm.pgtable.PageTables;
import org.mmlab.mm.vma.MmStruct;
import org.mmlab.mm.vma.Snapshot;
import org.mmlab.mm.vma.Vma;
import org.mmlab.mm.vma.VmFlags;
import org.mmlab.mm.vma.VmaTree;
import org.mmlab.sync.PerCpuCounter;

/**
 * A test machine for the address-space calls: physical memory, the zero page, the fault path,
 * one mm and the syscalls, booted as {@code FaultsTest.Box} boots one. Helpers read and write
 * user memory through the page tables (a software walk and the frames, as the MMU would after a
 * fault), list the VMAs as {@code /proc/pid/maps} would, and check the mm-wide accounting.
 */
final class Machine {
  static final long PAGE = Uapi.PAGE_SIZE;
  static final int RW = Uapi.PROT_READ | Uapi.PROT_WRITE;
  static final int ANON = Uapi.MAP_PRIVATE | Uapi.MAP_ANONYMOUS;
  static final int FIXED = ANON | Uapi.MAP_FIXED;

  final Sched sched;
  final PhysMem mem;
  final Faults faults;
  final MmStruct mm;
  final MmSyscalls sys;
  /** Free pages before the zero page and the PGD were allocated. */
  final long freeAtBoot;

  Machine(Sched sched, FaultLocking locking, MmapLimits limits, long bytes) {
    this.sched = sched;
    this.mem = new PhysMem(sched, bytes);
    this.freeAtBoot = mem.nrFreePages();
    Page zero = mem.allocPages(Gfp.KERNEL | Gfp.ZERO, 0, "zero page");
    zero.setFlag(PageFlag.RESERVED);
    this.faults = new Faults(sched, mem, zero, locking, new PerCpuCounter(sched, "pgfault"));
    this.mm = new MmStruct(sched, "mm", PageTables.create(sched, mem, "mm"), MmStruct.Checks.ALL);
    this.sys = new MmSyscalls(faults, limits);
  }

  Machine(Sched sched, FaultLocking locking) {
    this(sched, locking, MmapLimits.DEFAULT, 32L << 20);
  }

  PageTables pt() {
    return mm.pageTables();
  }

  // ------------------------------------------------------------ calls that must succeed

  /** {@code mmap(MAP_FIXED)} of {@code pages} pages at {@code addr} with {@code prot}. */
  long mapFixed(long addr, long pages, int prot) {
    long r = sys.mmap(mm, addr, pages * PAGE, prot, FIXED, -1, 0);
    assertThat(r).as("mmap fixed at 0x%x", addr).isEqualTo(addr);
    return r;
  }

  /**
   * A user store of {@code value} at {@code addr}: write faults until the PTE is writable (a
   * handled fault only means "retry the access": another CPU may have mapped the zero page in
   * between), then the frame written.
   */
  void write(long addr, long value) {
    long e = pte(addr);
    for (int tries = 0; !(Entry.isPresent(e) && Entry.isWrite(e) && Entry.isUser(e)); tries++) {
      assertThat(tries).as("write faults at 0x%x", addr).isLessThan(100);
      assertThat(faults.userFault(mm, addr, true)).as("write fault at 0x%x", addr).isEqualTo(FaultResult.HANDLED);
      e = pte(addr);
    }
    mem.frames().store64(Entry.pfn(e) * PAGE + (addr & (PAGE - 1)), value);
  }

  /** A user load at {@code addr}: read faults until the PTE is present, then the frame read. */
  long read(long addr) {
    long e = pte(addr);
    for (int tries = 0; !(Entry.isPresent(e) && Entry.isUser(e)); tries++) {
      assertThat(tries).as("read faults at 0x%x", addr).isLessThan(100);
      assertThat(faults.userFault(mm, addr, false)).as("read fault at 0x%x", addr).isEqualTo(FaultResult.HANDLED);
      e = pte(addr);
    }
    return mem.frames().load64(Entry.pfn(e) * PAGE + (addr & (PAGE - 1)));
  }

  /** The PTE mapping {@code addr}, or 0; a walk with scheduling points (the caller runs on a CPU). */
  long pte(long addr) {
    PageTables.Slot s = pt().walk(addr, Level.PTE);
    return s == null ? 0 : pt().load(s);
  }

  /** The PTE mapping {@code addr}, or 0, by a walk without scheduling points (end checks). */
  long peekPte(long addr) {
    PageTables pt = pt();
    PageTables.Slot s = pt.pgdOffset(addr);
    while (s.level() != Level.PTE) {
      long e = pt.peek(s);
      if (!Entry.isPresent(e)) {
        return 0;
      }
      s = pt.lower(s, e, addr);
    }
    return pt.peek(s);
  }

  /** The 8 bytes at {@code addr} as a user load would see them (0 if nothing is mapped), without points. */
  long peekRead(long addr) {
    long e = peekPte(addr);
    return Entry.isPresent(e) ? mem.frames().load64(Entry.pfn(e) * PAGE + (addr & (PAGE - 1))) : 0;
  }

  // ------------------------------------------------------------ views

  /** Every VMA in address order as {@code "0x400000-0x402000 rw-p"}, and its pgoff when asked. */
  List<String> maps() {
    List<String> out = new ArrayList<>();
    for (VmaTree.Entry<Vma> e : mm.tree().peek().all()) {
      out.add("0x" + Long.toHexString(e.start()) + "-0x" + Long.toHexString(e.end()) + " "
          + VmFlags.perms(e.value().peekFlags()));
    }
    return out;
  }

  /** The VMA containing {@code addr}, or null, without scheduling points. */
  Vma vmaAt(long addr) {
    VmaTree.Entry<Vma> e = mm.tree().peek().lookup(addr);
    return e == null ? null : e.value();
  }

  /** What "unchanged" compares: the VMAs with flags and pgoff, RSS, map count, free pages. */
  String state() {
    StringBuilder sb = new StringBuilder();
    Snapshot<Vma> s = mm.tree().peek();
    for (VmaTree.Entry<Vma> e : s.all()) {
      Vma v = e.value();
      sb.append(Long.toHexString(e.start())).append('-').append(Long.toHexString(e.end())).append(' ')
          .append(Long.toHexString(v.peekFlags())).append(" pgoff ").append(Long.toHexString(v.peekPgoff()))
          .append('\n');
    }
    sb.append("rss ").append(mm.anonRss()).append(" map_count ").append(s.size()).append(" free ")
        .append(mem.peekNrFreePages()).append(" tables ").append(pt().peekNrTables());
    return sb.toString();
  }

  /**
   * The mm-wide consistency walk, without scheduling points: {@link MmWalk} (tables sound, PTEs
   * inside VMAs, VMAs attached and agreeing with the tree, mapcounts, RSS), then what the
   * address-space calls add: every present PTE agrees with its VMA's protection (no write
   * without VM_WRITE, no user access without any access bit), every frame is accounted for
   * (free, the zero page, a table, or a mapped anonymous page), and map_count is the tree's size.
   */
  void checkConsistency() {
    MmWalk.check(mem, List.of(mm));
    long present = peekPresentAnon(true);
    assertThat(mm.anonRss()).as("MM_ANONPAGES").isEqualTo(present);
    long used = freeAtBoot - mem.peekNrFreePages();
    assertThat(used).as("frames in use: zero page + tables + anonymous pages").isEqualTo(
        1 + pt().peekNrTables() + present);
    assertThat(pt().check()).isEqualTo(pt().peekNrTables());
    assertThat(mm.mapCount()).as("map_count").isEqualTo(mm.tree().peek().size());
  }

  /** Counts present anonymous (non-special) PTEs by a walk without points, checking them if asked. */
  long peekPresentAnon(boolean check) {
    long n = 0;
    PageTables pt = pt();
    for (int i = 0; i < Level.ENTRIES; i++) {
      PageTables.Slot pgd = new PageTables.Slot(pt.pgd(), i, Level.PGD);
      n += peekBelow(pt, pgd, (long) i << Level.PGD.shift(), check);
    }
    return n;
  }

  private long peekBelow(PageTables pt, PageTables.Slot upper, long base, boolean check) {
    long e = pt.peek(upper);
    if (!Entry.isPresent(e)) {
      return 0;
    }
    long n = 0;
    Level level = upper.level().lower();
    for (int i = 0; i < Level.ENTRIES; i++) {
      long addr = base + ((long) i << level.shift());
      PageTables.Slot s = pt.lower(upper, e, addr);
      if (level != Level.PTE) {
        n += peekBelow(pt, s, addr, check);
        continue;
      }
      long pte = pt.peek(s);
      if (!Entry.isPresent(pte)) {
        continue;
      }
      if (check) {
        Vma v = vmaAt(addr);
        assertThat(v).as("a present PTE at 0x%x outside every VMA: %s", addr, Entry.describe(pte)).isNotNull();
        long f = v.peekFlags();
        if ((f & VmFlags.WRITE) == 0) {
          assertThat(Entry.isWrite(pte)).as("writable PTE in a read-only VMA at 0x%x", addr).isFalse();
        }
        if ((f & VmFlags.ACCESS) == 0) {
          assertThat(Entry.isUser(pte)).as("user-accessible PTE in a PROT_NONE VMA at 0x%x", addr).isFalse();
        }
      }
      if (!Entry.isSpecial(pte)) {
        Page p = mem.peekPage(Entry.pfn(pte));
        if (check) {
          assertThat(p.peekMapcount()).as("mapcount of the page at 0x%x", addr).isZero();
        }
        n++;
      }
    }
    return n;
  }

  /**
   * Unmaps the whole user address space and checks that every frame came back: all but the
   * zero page and the PGD free, one table left, RSS and map count 0.
   */
  void unmapAllAndCheck() {
    checkConsistency();
    assertThat(sys.munmap(mm, 0, Uapi.TASK_SIZE)).isZero();
    assertThat(mm.tree().peek().size()).isZero();
    assertThat(mm.anonRss()).isZero();
    assertThat(pt().check()).as("only the PGD is left").isEqualTo(1);
    assertThat(mem.peekNrFreePages()).as("every frame back but the zero page and the PGD").isEqualTo(freeAtBoot - 2);
  }
}
