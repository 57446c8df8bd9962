package org.mmlab.explore.report;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.mmlab.explore.Found;
import org.mmlab.explore.StepRecord;

/**
 * A found bug as Chrome trace-event JSON (the JSON Object Format that Perfetto and
 * {@code chrome://tracing} open): one thread per CPU, one complete event ({@code "ph":"X"}) per
 * step, on a logical clock of one microsecond per step, with the kernel function, operation,
 * object, state and preemption as arguments; an instant event marks the verdict.
 */
public final class TraceReport {
  private TraceReport() {}

  public static String render(Found found) {
    List<Object> events = new ArrayList<>();
    List<String> cpus = found.cpuNames();
    events.add(meta("process_name", 0, Map.of("name", "mmlab: " + found.verdict().kind().id())));
    for (int i = 0; i < cpus.size(); i++) {
      events.add(meta("thread_name", i, Map.of("name", "CPU" + i + " (" + cpus.get(i) + ")")));
    }
    for (StepRecord s : found.steps()) {
      Map<String, Object> e = new LinkedHashMap<>();
      e.put("name", s.what() + (s.object().isEmpty() ? "" : " " + s.object()));
      e.put("cat", s.kind().name().toLowerCase(java.util.Locale.ROOT));
      e.put("ph", "X");
      e.put("ts", s.step());
      e.put("dur", 1);
      e.put("pid", 0);
      e.put("tid", s.cpu());
      Map<String, Object> args = new LinkedHashMap<>();
      args.put("step", s.step());
      args.put("function", s.where() == null ? "" : s.where());
      args.put("state before", s.state());
      args.put("preemption", s.preemption());
      e.put("args", args);
      events.add(e);
    }
    Map<String, Object> bug = new LinkedHashMap<>();
    bug.put("name", found.verdict().kind().id() + ": " + found.verdict().headline());
    bug.put("ph", "i");
    bug.put("s", "g");
    bug.put("ts", Math.max(0, found.verdict().step()));
    bug.put("pid", 0);
    bug.put("tid", 0);
    events.add(bug);
    Map<String, Object> root = new LinkedHashMap<>();
    root.put("traceEvents", events);
    root.put("displayTimeUnit", "ns");
    return Json.write(root);
  }

  private static Map<String, Object> meta(String name, int tid, Map<String, Object> args) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", name);
    m.put("ph", "M");
    m.put("pid", 0);
    m.put("tid", tid);
    m.put("args", new LinkedHashMap<>(args));
    return m;
  }
}
