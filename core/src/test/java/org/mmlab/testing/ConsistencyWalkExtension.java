package org.mmlab.testing;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.mmlab.explore.Sched;

/**
 * Runs the mm-wide consistency walk after every test, on every native scheduler the test
 * created (explored executions walk themselves after each execution). Registered for every
 * test class through {@code META-INF/services} and JUnit's extension autodetection.
 */
public final class ConsistencyWalkExtension implements BeforeEachCallback, AfterEachCallback {
  private final List<Sched> created = new ArrayList<>();

  @Override
  public void beforeEach(ExtensionContext context) {
    synchronized (created) {
      created.clear();
    }
    Sched.creationHook = s -> {
      synchronized (created) {
        created.add(s);
      }
    };
  }

  @Override
  public void afterEach(ExtensionContext context) {
    Sched.creationHook = null;
    List<Sched> walk;
    synchronized (created) {
      walk = List.copyOf(created);
      created.clear();
    }
    try {
      if (context.getExecutionException().isEmpty()) {
        for (Sched s : walk) {
          s.consistencyWalk();
        }
      }
    } finally {
      for (Sched s : walk) {
        s.releaseAll();
      }
    }
  }
}
