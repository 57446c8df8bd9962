package org.mmlab.explore;

import static java.lang.invoke.MethodType.methodType;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;

/**
 * CPUs as {@code jdk.internal.vm.Continuation}s run by the driver thread. The internal API is
 * reached through method handles so that the sources compile with {@code --release 25}; the
 * JVM must run with {@code --add-exports java.base/jdk.internal.vm=ALL-UNNAMED} (the launcher,
 * the runnable jar's manifest and surefire pass it).
 *
 * <p>A yield fails when the continuation is pinned (a native frame, a class initializer): that
 * would silently lose a scheduling point, so it is an error here.
 */
final class ContinuationBackend implements CpuBackend {
  private static final Object SCOPE;
  private static final MethodHandle NEW;
  private static final MethodHandle RUN;
  private static final MethodHandle YIELD;
  private static final boolean AVAILABLE;

  static {
    Object scope = null;
    MethodHandle nw = null;
    MethodHandle run = null;
    MethodHandle yld = null;
    boolean ok;
    try {
      Class<?> cont = Class.forName("jdk.internal.vm.Continuation");
      Class<?> sc = Class.forName("jdk.internal.vm.ContinuationScope");
      MethodHandles.Lookup l = MethodHandles.lookup();
      scope = l.findConstructor(sc, methodType(void.class, String.class)).invoke("mmlab");
      nw = l.findConstructor(cont, methodType(void.class, sc, Runnable.class))
          .asType(methodType(Object.class, Object.class, Runnable.class));
      run = l.findVirtual(cont, "run", methodType(void.class)).asType(methodType(void.class, Object.class));
      yld = l.findStatic(cont, "yield", methodType(boolean.class, sc)).asType(methodType(boolean.class, Object.class));
      ok = true;
    } catch (Throwable t) {
      ok = false;
    }
    SCOPE = scope;
    NEW = nw;
    RUN = run;
    YIELD = yld;
    AVAILABLE = ok;
  }

  static boolean available() {
    return AVAILABLE;
  }

  @Override
  public String name() {
    return "continuation";
  }

  @Override
  public void create(Cpu cpu, Runnable body) {
    try {
      cpu.handle = (Object) NEW.invokeExact(SCOPE, body);
    } catch (Throwable t) {
      throw new IllegalStateException("cannot create a continuation", t);
    }
  }

  @Override
  public void resume(Cpu cpu) {
    try {
      RUN.invokeExact(cpu.handle);
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  @Override
  public void yieldToDriver(Cpu cpu) {
    boolean yielded;
    try {
      yielded = (boolean) YIELD.invokeExact(SCOPE);
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
    if (!yielded) {
      throw new IllegalStateException("scheduling point in a pinned frame (class initializer or native code) on "
          + cpu.label() + ": initialize model classes before exploring");
    }
  }

  @Override
  public void discard(Cpu cpu) {
    cpu.handle = null;
  }
}
