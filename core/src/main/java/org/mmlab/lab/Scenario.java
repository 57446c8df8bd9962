package org.mmlab.lab;

import java.util.List;
import org.jspecify.annotations.Nullable;
import org.mmlab.explore.Explorer;
import org.mmlab.explore.VerdictKind;

/**
 * An experiment: a program with design variants. Each variant either has a bug the explorer
 * must find (a verdict of {@link #expected}'s kind) or must survive exploration with no verdict.
 * The program is model code: its CPUs call the primitives and the model's functions, never
 * scripted steps.
 */
public interface Scenario {
  /** The name on the command line, e.g. {@code abba-deadlock}. */
  String name();

  /** Where it comes from: {@code classic} or a seed file name. */
  String origin();

  /** What it proves, in one or two sentences. */
  String summary();

  /** Its design knobs. */
  List<VariantAxis> axes();

  /** The verdict kind the variant must give, or null if it must stay clean. */
  @Nullable VerdictKind expected(Variant variant);

  /** The program for one variant. */
  Explorer.Program program(Variant variant);

  /** The step bound of one execution. */
  default long maxSteps() {
    return 20_000;
  }
}
