package org.mmlab.lab;

import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.mmlab.explore.VerdictKind;

/**
 * A scenario with one knob: one buggy value (which must give {@code expected}) and one or more
 * fixed values (which must give nothing). The buggy value is the default, so that
 * {@code mmlab explore NAME} shows the bug.
 */
public abstract class TwoVariantScenario implements Scenario {
  private final String name;
  private final String summary;
  private final VariantAxis axis;
  private final String buggy;
  private final VerdictKind expected;

  /**
   * @param meaning value → what it models; the first entry is the buggy value
   */
  protected TwoVariantScenario(String name, String summary, String key, Map<String, String> meaning,
      List<String> values, VerdictKind expected) {
    this.name = name;
    this.summary = summary;
    this.buggy = values.getFirst();
    this.axis = new VariantAxis(key, values, buggy, meaning);
    this.expected = expected;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public String origin() {
    return "classic";
  }

  @Override
  public String summary() {
    return summary;
  }

  @Override
  public List<VariantAxis> axes() {
    return List.of(axis);
  }

  @Override
  public @Nullable VerdictKind expected(Variant variant) {
    return variant.get(axis.key()).equals(buggy) ? expected : null;
  }

  /** True if {@code variant} is the buggy one. */
  protected final boolean isBuggy(Variant variant) {
    return variant.get(axis.key()).equals(buggy);
  }
}
