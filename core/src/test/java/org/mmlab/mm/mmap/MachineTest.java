package org.mmlab.mm.mmap;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.mmlab.explore.NativeSched;
import org.mmlab.mm.memory.FaultLocking;

/**
 * A native machine per test, and after each test the mm-wide check: the accounting walk, then
 * everything unmapped and every frame back ({@link Machine#unmapAllAndCheck}).
 */
abstract class MachineTest {
  static final long PAGE = Machine.PAGE;
  static final int RW = Machine.RW;
  static final int ANON = Machine.ANON;
  static final int FIXED = Machine.FIXED;
  /** A 2 MiB-aligned address well inside the user range, for fixed mappings. */
  static final long X = 0x4000_0000L;

  Machine m;

  @BeforeEach
  void boot() {
    m = new Machine(new NativeSched(), FaultLocking.PER_VMA);
  }

  @AfterEach
  void everythingComesBack() {
    m.unmapAllAndCheck();
  }
}
