package org.mmlab.lab;

import java.util.List;
import java.util.Optional;
import org.mmlab.lab.classic.AbbaDeadlock;
import org.mmlab.lab.classic.FrozenRefcountSpin;
import org.mmlab.lab.classic.LockdepOnlyAbba;
import org.mmlab.lab.classic.LostUpdate;
import org.mmlab.lab.classic.LostWakeup;
import org.mmlab.lab.classic.RcuReaderFreed;
import org.mmlab.lab.seed.VmaLockVsMunmap;

/** Every built-in scenario, in the order {@code mmlab scenarios} lists them. */
public final class Catalog {
  private static final List<Scenario> ALL = List.of(
      new AbbaDeadlock(),
      new LostUpdate(),
      new RcuReaderFreed(),
      new FrozenRefcountSpin(),
      new LostWakeup(),
      new LockdepOnlyAbba(),
      new VmaLockVsMunmap());

  private Catalog() {}

  public static List<Scenario> all() {
    return ALL;
  }

  public static Optional<Scenario> byName(String name) {
    return ALL.stream().filter(s -> s.name().equals(name)).findFirst();
  }
}
