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

  /**
   * Accessors that are the model's plumbing rather than kernel functions: a step is named after
   * the function that called them ({@code free_pmd_range} rather than the entry load it made).
   */
  private static final java.util.Set<String> PLUMBING = java.util.Set.of(
      "org.mmlab.mm.pgtable.PageTables.load", "org.mmlab.mm.pgtable.PageTables.store",
      "org.mmlab.mm.pgtable.PageTables.getAndClear", "org.mmlab.mm.pgtable.PageTables.hwLoad",
      "org.mmlab.mm.pgtable.PageTables.checkLinked", "org.mmlab.mm.pgtable.PageTables.lower",
      "org.mmlab.mm.vma.Vma.start", "org.mmlab.mm.vma.Vma.end", "org.mmlab.mm.vma.Vma.flags",
      "org.mmlab.mm.vma.Vma.pgoff", "org.mmlab.mm.vma.Vma.isDetached");

  static boolean isModelFrame(StackWalker.StackFrame f) {
    String c = f.getClassName();
    return !(c.startsWith("org.mmlab.explore.")
        || c.startsWith("org.mmlab.sync.")
        || c.startsWith("org.mmlab.debug.")
        || c.startsWith("java.")
        || c.startsWith("jdk.")
        || PLUMBING.contains(c + "." + f.getMethodName()));
  }

  private static String simpleName(String cls) {
    int dot = cls.lastIndexOf('.');
    String s = dot < 0 ? cls : cls.substring(dot + 1);
    return s;
  }
}
