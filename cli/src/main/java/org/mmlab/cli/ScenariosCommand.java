package org.mmlab.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.mmlab.explore.VerdictKind;
import org.mmlab.explore.report.Json;
import org.mmlab.lab.Catalog;
import org.mmlab.lab.Scenario;
import org.mmlab.lab.VariantAxis;
import org.mmlab.lab.Variant;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code mmlab scenarios}: the catalog, with variants and what each proves. */
@Command(name = "scenarios", description = "List the scenarios, their variants and what each proves.")
final class ScenariosCommand implements Callable<Integer> {
  @Option(names = "--json", description = "print a JSON array")
  boolean json;

  @Override
  public Integer call() {
    if (json) {
      List<Object> out = new ArrayList<>();
      for (Scenario s : Catalog.all()) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", s.name());
        m.put("origin", s.origin());
        m.put("summary", s.summary());
        List<Object> axes = new ArrayList<>();
        for (VariantAxis a : s.axes()) {
          Map<String, Object> am = new LinkedHashMap<>();
          am.put("key", a.key());
          am.put("default", a.defaultValue());
          List<Object> values = new ArrayList<>();
          for (String v : a.values()) {
            Map<String, Object> vm = new LinkedHashMap<>();
            vm.put("value", v);
            vm.put("meaning", a.meaning().getOrDefault(v, ""));
            vm.put("expected", expectedOf(s, a, v));
            values.add(vm);
          }
          am.put("values", values);
          axes.add(am);
        }
        m.put("variants", axes);
        out.add(m);
      }
      System.out.println(Json.pretty(out));
      return 0;
    }
    for (Scenario s : Catalog.all()) {
      System.out.println(s.name() + "  [" + s.origin() + "]");
      System.out.println("  " + s.summary());
      for (VariantAxis a : s.axes()) {
        for (String v : a.values()) {
          String exp = expectedOf(s, a, v);
          System.out.printf("    --variant %s=%-22s %-24s %s%n", a.key(), v,
              "expected: " + exp, a.meaning().getOrDefault(v, ""));
        }
      }
      System.out.println();
    }
    return 0;
  }

  /** What the explorer must give for this value with every other axis at its default. */
  private static String expectedOf(Scenario s, VariantAxis a, String value) {
    VerdictKind k = s.expected(Variant.parse(s, List.of(a.key() + "=" + value)));
    return k == null ? "clean" : k.id();
  }
}
