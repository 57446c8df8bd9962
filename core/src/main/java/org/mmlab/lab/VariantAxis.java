package org.mmlab.lab;

import java.util.List;
import java.util.Map;

/**
 * One design knob of a scenario: {@code --variant key=value}.
 *
 * @param key the knob's name, e.g. {@code fault-locking}
 * @param values the values, in the order listed
 * @param defaultValue the value used when the knob is not given
 * @param meaning one line per value: what it models (a kernel version, a patch, a bug)
 */
public record VariantAxis(String key, List<String> values, String defaultValue, Map<String, String> meaning) {
  public VariantAxis {
    values = List.copyOf(values);
    meaning = Map.copyOf(meaning);
    if (!values.contains(defaultValue)) {
      throw new IllegalArgumentException("default " + defaultValue + " is not a value of " + key);
    }
  }
}
