package org.mmlab.explore;

import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * The portable fallback: one platform thread per CPU, handed off with park/unpark so that
 * exactly one of the driver and the CPUs runs. About 25 times slower than continuations; it
 * needs no JVM flag.
 */
final class PlatformThreadBackend implements CpuBackend {
  private static final class State {
    @Nullable Thread thread;
    volatile @Nullable Thread driver;
    volatile boolean cpuTurn;
    volatile boolean discard;
    boolean started;
  }

  @Override
  public String name() {
    return "platform";
  }

  @Override
  public void create(Cpu cpu, Runnable body) {
    State s = new State();
    cpu.handle = s;
    s.thread = Thread.ofPlatform().daemon().name("cpu" + cpu.id).unstarted(() -> {
      waitTurn(s);
      if (!s.discard) {
        body.run();
      }
      s.cpuTurn = false;
      LockSupport.unpark(s.driver);
    });
  }

  private static void waitTurn(State s) {
    while (!s.cpuTurn) {
      LockSupport.park();
    }
  }

  @Override
  public void resume(Cpu cpu) {
    State s = (State) cpu.handle;
    s.driver = Thread.currentThread();
    s.cpuTurn = true;
    if (!s.started) {
      s.started = true;
      s.thread.start();
    } else {
      LockSupport.unpark(s.thread);
    }
    while (s.cpuTurn) {
      LockSupport.park(this);
    }
  }

  @Override
  public void yieldToDriver(Cpu cpu) {
    State s = (State) cpu.handle;
    s.cpuTurn = false;
    LockSupport.unpark(s.driver);
    waitTurn(s);
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
