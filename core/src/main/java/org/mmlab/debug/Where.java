package org.mmlab.debug;

import java.util.Optional;

/**
 * Finds the model function that called into the sync layer: the first stack frame outside the
 * explorer, the primitives and the checkers. Costs a stack walk (microseconds): used only by
 * report replays and by rare events.
 */
public final class Where {
  private static final StackWalker WALKER = StackWalker.getInstance();

  private Where() {}

  /** {@code "SimpleName.method:line"} of the innermost model frame, or {@code "?"}. */
  public static String caller() {
    Optional<StackWalker.StackFrame> f = WALKER.walk(s -> s.filter(Where::isModelFrame).findFirst());
    return f.map(fr -> simpleName(fr.getClassName()) + "." + fr.getMethodName() + ":" + fr.getLineNumber()).orElse("?");
  }

  static boolean isModelFrame(StackWalker.StackFrame f) {
    String c = f.getClassName();
    return !(c.startsWith("org.mmlab.explore.")
        || c.startsWith("org.mmlab.sync.")
        || c.startsWith("org.mmlab.debug.")
        || c.startsWith("java.")
        || c.startsWith("jdk."));
  }

  private static String simpleName(String cls) {
    int dot = cls.lastIndexOf('.');
    String s = dot < 0 ? cls : cls.substring(dot + 1);
    return s;
  }
}
