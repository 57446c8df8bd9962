package org.mmlab.shell;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The shell's file commands, line by line, as scripts see them (docs/SHELL.md). */
class ShellFilesTest {
  static String run(String script) {
    return new Shell().runScript(script);
  }

  @Test
  void descriptorsStartAtThreeAndReuseTheLowest() {
    assertThat(run("""
        open /dev/shm/a rdwr|creat
        memfd m
        close 3
        open /dev/shm/b creat|rdwr 0600
        close 3
        close 3
        """)).isEqualTo("= 3\n= 4\n= 0\n= 3\n= 0\n= -1 EBADF\n");
  }

  @Test
  void pwritePreadFstatAndEmptyRead() {
    assertThat(run("""
        open /dev/shm/f rdwr|creat
        pwrite 3 4K 10 0x61
        fstat 3
        pread 3 4K 16
        pread 3 0 2
        pread 3 1M 16
        """)).isEqualTo("= 3\n= 10\n= size=4106 blocks=8\n= 0x61*10\n= 0x00*2\n=\n");
  }

  @Test
  void seekDataHoleAndFallocatedHoles() {
    assertThat(run("""
        memfd x
        ftruncate 3 16K
        fallocate 3 keep_size 0 4K
        pwrite 3 8K 1 1
        lseek 3 0 data
        lseek 3 0 hole
        lseek 3 8K hole
        lseek 3 12K data
        lseek 3 16K hole
        fstat 3
        """)).isEqualTo("= 3\n= 0\n= 0\n= 1\n= 8192\n= 0\n= 12288\n= -1 ENXIO\n= -1 ENXIO\n= size=16384 blocks=16\n");
  }

  @Test
  void sealsByName() {
    assertThat(run("""
        memfd s allow_sealing
        get_seals 3
        add_seals 3 shrink|grow
        get_seals 3
        add_seals 3 seal
        add_seals 3 write
        get_seals 3
        memfd t
        get_seals 4
        ftruncate 3 4K
        ftruncate 3 0
        """)).isEqualTo("= 3\n= 0\n= 0\n= shrink|grow\n= 0\n= -1 EPERM\n= seal|shrink|grow\n= 4\n= seal\n= -1 EPERM\n= 0\n");
  }

  @Test
  void sharedMappingSeesPwriteAndSigbusPastEof() {
    String out = run("""
        open /dev/shm/m rdwr|creat
        ftruncate 3 4K
        mmap 0x100000 8K rw shared|fixed 3 0
        pwrite 3 0 3 0x41
        read 0x100000 4
        write 0x100000 1 0x42
        pread 3 0 2
        read 0x101000 1
        add_seals 3 write
        unlink /dev/shm/m
        unlink /dev/shm/m
        """);
    assertThat(out).isEqualTo("= 3\n= 0\n= 0x100000\n= 3\n= 0x41*3 0x00*1\n= 0\n= 0x42*1 0x41*1\n"
        + "= SIGBUS BUS_ADRERR 0x101000\n= -1 EPERM\n= 0\n= -1 ENOENT\n");
  }

  @Test
  void punchHoleThroughAMapping() {
    assertThat(run("""
        memfd p
        ftruncate 3 8K
        mmap 0x200000 8K rw shared|fixed 3 0
        write 0x200000 8K 0x55
        mincore 0x200000 8K
        fallocate 3 punch_hole|keep_size 4K 4K
        mincore 0x200000 8K
        read 0x201000 2
        fallocate 3 punch_hole 0 4K
        """)).isEqualTo("= 3\n= 0\n= 0x200000\n= 0\n= 0 11\n= 0\n= 0 10\n= 0x00*2\n= -1 EOPNOTSUPP\n");
  }

  @Test
  void malformedFileLines() {
    assertThat(run("""
        open /dev/shm/x bogus
        pread 3 0
        lseek 3 0 nowhere
        """)).startsWith("= ERROR unknown flag bogus").contains("= ERROR usage: pread FD OFF LEN")
        .contains("= ERROR unknown whence nowhere");
  }

  @Test
  void pagemapShowsPresenceAndWhetherThePteIsTheOnlyMapping() {
    String[] lines = run("""
        open /dev/shm/s rdwr|creat
        ftruncate 3 8K
        mmap 0x200000 8K rw shared 3 0
        write 0x200000 1 0x61
        pagemap 0x200000 2
        spawn
        use 2
        open /dev/shm/s rdwr
        mmap 0x300000 4K r shared 3 0
        read 0x300000 1
        pagemap 0x300000 1
        use 1
        pagemap 0x200000 1
        pagemap 0x200000 0
        pagemap 0x200000 4097
        """).split("\n");
    // Mapped by one PTE: present (bit 63) and exclusive (bit 56); the next page is not present.
    String[] first = lines[4].split(" ");
    assertThat(top(first[1])).isEqualTo(0x81);
    assertThat(first[2]).isEqualTo("0x0");
    assertThat(lines[9]).isEqualTo("= 0x61*1");
    // Mapped by both processes now: present, not exclusive, the same frame in both.
    assertThat(top(lines[10].substring(2))).isEqualTo(0x80);
    assertThat(lines[12]).isEqualTo(lines[10]);
    assertThat(pfn(lines[12].substring(2))).isEqualTo(pfn(first[1]));
    assertThat(lines[13]).isEqualTo("=");
    assertThat(lines[14]).startsWith("= ERROR pagemap PAGES must be between 0 and 4096");
  }

  private static long top(String hex) {
    return Long.parseUnsignedLong(hex.substring(2), 16) >>> 56;
  }

  private static long pfn(String hex) {
    return Long.parseUnsignedLong(hex.substring(2), 16) & ((1L << 55) - 1);
  }
}
