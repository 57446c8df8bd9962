package org.mmlab.lab;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A choice of value for every axis of a scenario, in the scenario's axis order.
 *
 * @param values key → value
 */
public record Variant(Map<String, String> values) {
  public Variant {
    values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
  }

  public String get(String key) {
    String v = values.get(key);
    if (v == null) {
      throw new IllegalArgumentException("variant has no " + key);
    }
    return v;
  }

  /** {@code key=value,key=value}. */
  @Override
  public String toString() {
    List<String> parts = new ArrayList<>();
    values.forEach((k, v) -> parts.add(k + "=" + v));
    return String.join(",", parts);
  }

  /**
   * The variant of {@code scenario} given by {@code key=value} settings, defaults for the rest.
   *
   * @throws IllegalArgumentException on an unknown key, an unknown value or a malformed setting
   */
  public static Variant parse(Scenario scenario, List<String> settings) {
    Map<String, String> chosen = new LinkedHashMap<>();
    for (String s : settings) {
      int eq = s.indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException("--variant takes key=value, not " + s);
      }
      String key = s.substring(0, eq);
      String value = s.substring(eq + 1);
      VariantAxis axis = scenario.axes().stream().filter(a -> a.key().equals(key)).findFirst()
          .orElseThrow(() -> new IllegalArgumentException("scenario " + scenario.name() + " has no variant key " + key
              + " (keys: " + scenario.axes().stream().map(VariantAxis::key).toList() + ")"));
      if (!axis.values().contains(value)) {
        throw new IllegalArgumentException(key + "=" + value + " is not a variant of " + scenario.name()
            + " (values: " + axis.values() + ")");
      }
      chosen.put(key, value);
    }
    Map<String, String> all = new LinkedHashMap<>();
    for (VariantAxis a : scenario.axes()) {
      all.put(a.key(), chosen.getOrDefault(a.key(), a.defaultValue()));
    }
    return new Variant(all);
  }

  /** Every combination of the scenario's axes, first axis slowest. */
  public static List<Variant> all(Scenario scenario) {
    List<Map<String, String>> acc = new ArrayList<>();
    acc.add(new LinkedHashMap<>());
    for (VariantAxis a : scenario.axes()) {
      List<Map<String, String>> next = new ArrayList<>();
      for (Map<String, String> m : acc) {
        for (String v : a.values()) {
          Map<String, String> n = new LinkedHashMap<>(m);
          n.put(a.key(), v);
          next.add(n);
        }
      }
      acc = next;
    }
    return acc.stream().map(Variant::new).toList();
  }
}
