package org.mmlab.bench;

import java.lang.management.ManagementFactory;
import java.util.List;
import org.mmlab.explore.CpuBackend;

/** Prints, once per JVM, what the benchmark JVM really runs with (JMH forks inherit flags or not). */
final class BenchEnv {
  private static boolean printed;

  private BenchEnv() {}

  static synchronized void print() {
    if (printed) {
      return;
    }
    printed = true;
    List<String> args = ManagementFactory.getRuntimeMXBean().getInputArguments();
    System.out.println("[bench-env] java " + Runtime.version() + ", " + Runtime.getRuntime().availableProcessors()
        + " CPUs, backends available: " + CpuBackend.availableNames());
    System.out.println("[bench-env] JVM arguments: " + args);
  }
}
