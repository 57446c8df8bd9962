package org.mmlab.shell;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.mmlab.explore.NativeSched;
import org.mmlab.kernel.Kernel;
import org.mmlab.kernel.KernelConfig;

/** Transcripts: a script in, the exact lines out. */
class ShellTest {
  static Shell shell() {
    return new Shell(new Kernel(new NativeSched(), KernelConfig.DEFAULT.withMemory(16L << 20)));
  }

  /** Pairs of (command, expected line) written as {@code command => line}. */
  static void transcript(Shell sh, String script) {
    for (String pair : script.strip().split("\n")) {
      int arrow = pair.indexOf("=>");
      String cmd = pair.substring(0, arrow).strip();
      String want = pair.substring(arrow + 2).strip();
      assertThat(sh.execute(cmd)).as(cmd).isEqualTo(want + "\n");
    }
  }

  @Test
  void blankAndCommentLinesPrintNothing() {
    Shell sh = shell();
    assertThat(sh.execute("")).isNull();
    assertThat(sh.execute("   # only a comment")).isNull();
    assertThat(sh.execute("maps # trailing comment")).isEqualTo("=\n");
  }

  @Test
  void mmapForms() {
    transcript(shell(), """
        mmap 0 8K rw private|anon => = 0x7ffff7ffd000
        mmap 0x100000 4K rw private|anon|fixed => = 0x100000
        mmap 0x100000 4K rw private|anon|noreplace => = -1 EEXIST
        mmap 0x200000 4K r private|anon|fixed|populate|norsv -1 0 => = 0x200000
        mmap 0 0 rw private|anon => = -1 EINVAL
        mmap 0x300001 4K rw private|anon|fixed => = -1 EINVAL
        mmap 0 4K rw anon => = -1 EINVAL
        mmap 0 4K rw private => = -1 EBADF
        mmap 0 4K 0x8 private|anon => = 0x7ffff7ffc000
        mmap 0 4K none 0x22 => = 0x7ffff7ffb000
        mmap 0x1000 4K rw private|anon|fixed => = -1 EPERM
        mmap 0 0xffffffffffffffff rw private|anon => = -1 ENOMEM
        mmap 0 4K rw private|anon -1 1 => = -1 EINVAL
        maps => = 0x100000-0x101000 rw-p 0x200000-0x201000 r--p 0x7ffff7ffb000-0x7ffff7ffd000 ---p 0x7ffff7ffd000-0x7ffff7fff000 rw-p
        mincore 0x200000 4K => = 0 1
        """);
  }

  @Test
  void accessesAndSignals() {
    transcript(shell(), """
        mmap 0x100000 8K rw private|anon|fixed => = 0x100000
        read 0x100000 8K => = 0x00*8192
        write 0x100000 10 0x61 => = 0
        read 0x100000 16 => = 0x61*10 0x00*6
        read 0x100000 0 => =
        write 0x100000 0 1 => = 0
        mincore 0x100000 8K => = 0 11
        mincore 0x100000 0 => = 0
        mprotect 0x101000 4K r => = 0
        maps => = 0x100000-0x101000 rw-p 0x101000-0x102000 r--p
        write 0x100ffe 4 0x62 => = SIGSEGV SEGV_ACCERR 0x101000
        read 0x100ffc 4 => = 0x00*2 0x62*2
        read 0x101ffe 4 => = SIGSEGV SEGV_MAPERR 0x102000
        write 0x300000 1 1 => = SIGSEGV SEGV_MAPERR 0x300000
        mprotect 0x100000 4K none => = 0
        read 0x100000 1 => = SIGSEGV SEGV_ACCERR 0x100000
        write 0xffffffffffffff00 1 1 => = SIGSEGV SEGV_MAPERR 0xffffffffffffff00
        write 0x100000 -1 1 => = ERROR negative length -1
        read 0x100000 2G => = ERROR read LEN must be between 0 and 1073741824: 2G
        """);
  }

  @Test
  void munmapMprotectMremapMadviseMincoreErrors() {
    transcript(shell(), """
        mmap 0x100000 16K rw private|anon|fixed => = 0x100000
        write 0x100000 16K 0x11 => = 0
        munmap 0x100001 4K => = -1 EINVAL
        munmap 0x100000 0 => = -1 EINVAL
        munmap 0x101000 4K => = 0
        maps => = 0x100000-0x101000 rw-p 0x102000-0x104000 rw-p
        mprotect 0x100000 8K r => = -1 ENOMEM
        mprotect 0x100000 4K 0x10 => = -1 EINVAL
        mremap 0x100000 4K 8K => = 0x100000
        maps => = 0x100000-0x104000 rw-p
        read 0x100000 16K => = 0x11*4096 0x00*4096 0x11*8192
        mremap 0x100000 16K 32K maymove|fixed 0x200000 => = 0x200000
        read 0x200000 32K => = 0x11*4096 0x00*4096 0x11*8192 0x00*16384
        mremap 0x100000 4K 8K => = -1 EFAULT
        mremap 0x200000 4K 8K fixed 0x400000 => = -1 EINVAL
        mremap 0x200000 4K 8K 0x100 => = -1 EINVAL
        madvise 0x200000 4K dontneed => = 0
        read 0x200000 2 => = 0x00*2
        madvise 0x200000 4K 4 => = 0
        madvise 0x200000 4K 999 => = -1 EINVAL
        madvise 0x200000 64K willneed => = -1 ENOMEM
        madvise 0x200000 4K populate_write => = 0
        mincore 0x200000 12K => = 0 111
        madvise 0x201000 4K dontneed => = 0
        mincore 0x200000 12K => = 0 101
        mincore 0x200001 4K => = -1 EINVAL
        mincore 0x900000 4K => = -1 ENOMEM
        """);
  }

  @Test
  void processesAndProcFiles() {
    Shell sh = shell();
    transcript(sh, """
        mmap 0x100000 4K rw private|anon|fixed => = 0x100000
        spawn => = 2
        use 2 => = 0
        maps => =
        mmap 0x100000 4K r private|anon|fixed => = 0x100000
        maps => = 0x100000-0x101000 r--p
        use 3 => = -1 ESRCH
        use 1 => = 0
        maps => = 0x100000-0x101000 rw-p
        cat nothing => = -1 ENOENT
        cat 9/maps => = -1 ENOENT
        """);
    assertThat(sh.execute("cat /proc/2/maps")).isEqualTo("00100000-00101000 r--p 00000000 00:00 0 \n= 0\n");
    assertThat(sh.execute("cat meminfo")).startsWith("MemTotal:          16384 kB\n").endsWith("\n= 0\n");
    assertThat(sh.execute("cat vmstat")).contains("pgfault ").endsWith("\n= 0\n");
    assertThat(sh.execute("cat 1/smaps")).contains("Size:                  4 kB\n").endsWith("\n= 0\n");
  }

  @Test
  void malformedLinesPrintError() {
    transcript(shell(), """
        frob => = ERROR unknown command frob
        mmap 1 2 => = ERROR usage: mmap ADDR LEN PROT FLAGS [FD OFF]
        mmap 0 4K rw private|anon -1 => = ERROR usage: mmap ADDR LEN PROT FLAGS [FD OFF]
        mmap 0 4K rwz private|anon => = ERROR bad PROT rwz: none, or letters of rwx
        mmap 0 4K rr private|anon => = ERROR bad PROT rr: a letter twice
        mmap 0 4K rw private|bogus => = ERROR unknown flag bogus; one of private shared anon fixed noreplace populate norsv or a number
        mmap zz 4K rw private|anon => = ERROR bad number zz; usage: mmap ADDR LEN PROT FLAGS [FD OFF]
        mremap 0 4K 8K maymove|fixed => = ERROR mremap with fixed needs NEWADDR
        mremap 0 4K 8K maymove 0x1000 => = ERROR NEWADDR is given only with fixed
        madvise 0 4K MADV_DONTNEED => = ERROR unknown advice MADV_DONTNEED; one of normal random sequential willneed dontneed free remove dontfork dofork mergeable unmergeable hugepage nohugepage dontdump dodump wipeonfork keeponfork cold pageout populate_read populate_write dontneed_locked collapse or a number
        maps 1 => = ERROR usage: maps
        use => = ERROR usage: use PID
        """);
  }

  @Test
  void runScriptPrintsOneLinePerCommand() {
    String out = shell().runScript("""
        # set up
        mmap 0x100000 4K rw private|anon|fixed
        write 0x100000 4K 0xff   # fill

        read 0x100000 4K
        """);
    assertThat(out).isEqualTo("= 0x100000\n= 0\n= 0xff*4096\n");
  }

  @Test
  void docAndGrammarTableAgree() throws IOException {
    Path doc = Path.of("").toAbsolutePath().getParent().resolve("docs/SHELL.md");
    String text = Files.readString(doc);
    int begin = text.indexOf("<!-- grammar:begin -->\n");
    int end = text.indexOf("<!-- grammar:end -->");
    assertThat(begin).as("grammar markers in docs/SHELL.md").isNotNegative();
    assertThat(text.substring(begin + "<!-- grammar:begin -->\n".length(), end)).isEqualTo(Command.markdownTable());
  }
}
