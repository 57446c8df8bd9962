package org.mmlab.explore;

import java.lang.reflect.Constructor;
import java.util.concurrent.Executor;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * CPUs as virtual threads whose scheduler is the driver: the executor given to the (internal)
 * {@code VirtualThreadBuilder(Executor)} constructor only records the continuation task, and
 * {@link #resume} runs it on the driver thread until the virtual thread parks. No carrier pool
 * is involved, so the driver is never parked. Needs
 * {@code --add-opens java.base/java.lang=ALL-UNNAMED}.
 */
final class VirtualThreadBackend implements CpuBackend {
  private static final @Nullable Constructor<?> BUILDER;

  static {
    Constructor<?> c = null;
    try {
      Class<?> cls = Class.forName("java.lang.ThreadBuilders$VirtualThreadBuilder");
      c = cls.getDeclaredConstructor(Executor.class);
      c.setAccessible(true);
    } catch (Throwable t) {
      c = null;
    }
    BUILDER = c;
  }

  private static final class State {
    @Nullable Runnable task;
    @Nullable Thread thread;
    boolean started;
    volatile boolean go;
    volatile boolean discard;
  }

  static boolean available() {
    return BUILDER != null;
  }

  @Override
  public String name() {
    return "virtual";
  }

  @Override
  public void create(Cpu cpu, Runnable body) {
    State s = new State();
    Executor driverRuns = task -> s.task = task;
    try {
      Thread.Builder b = (Thread.Builder) BUILDER.newInstance(driverRuns);
      s.thread = b.name("cpu" + cpu.id).unstarted(body);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("cannot create a virtual thread on the driver", e);
    }
    cpu.handle = s;
  }

  @Override
  public void resume(Cpu cpu) {
    State s = (State) cpu.handle;
    if (!s.started) {
      s.started = true;
      s.thread.start();
    } else {
      s.go = true;
      LockSupport.unpark(s.thread);
    }
    Runnable t = s.task;
    while (t != null) {
      s.task = null;
      t.run();
      t = s.task;
    }
  }

  @Override
  public void yieldToDriver(Cpu cpu) {
    State s = (State) cpu.handle;
    s.go = false;
    while (!s.go) {
      LockSupport.park(this);
    }
    if (s.discard) {
      throw CpuBackend.Discarded.INSTANCE;
    }
  }

  @Override
  public void discard(Cpu cpu) {
    State s = (State) cpu.handle;
    if (s != null && s.started && !cpu.done) {
      s.discard = true;
      resume(cpu);
    }
    cpu.handle = null;
  }
}
