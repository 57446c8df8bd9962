package org.mmlab.lab;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.mmlab.explore.ExploreResult;
import org.mmlab.explore.Explorer;
import org.mmlab.explore.Found;
import org.mmlab.explore.report.Json;

/**
 * A found bug on disk: the scenario, the variant, the seeds and the schedule(s) to replay it,
 * and the trace hash each replay must reproduce. {@code mmlab replay FILE} reads it.
 *
 * <p>Format (JSON, version 1): {@code mmlab}, {@code scenario}, {@code variant} (object),
 * {@code strategy}, {@code foundBy}, {@code masterSeed} and {@code executionSeed} (0x-hex
 * strings), {@code verdict}, {@code headline}, {@code maxSteps}, {@code backend},
 * {@code executions}: a list of {@code {index, seed, strategy, traceHash, steps, schedule}} where
 * {@code schedule} is the CPU of every step, run-length encoded as {@code "cpu*count ..."}; the
 * last execution is the one with the bug (earlier ones build a lock-order graph).
 */
public record ReplayFile(String scenario, Map<String, String> variant, String strategy, String foundBy,
    long masterSeed, String verdict, String headline, long maxSteps, List<Explorer.Recorded> executions) {

  /** The replay file of a found bug. */
  public static ReplayFile of(String scenario, Variant variant, ExploreResult r) {
    Found f = r.found();
    if (f == null) {
      throw new IllegalArgumentException("no bug to write");
    }
    long maxSteps = r.config().maxSteps() * (f.verdict().kind().id().equals("potential-livelock") ? 4 : 1);
    return new ReplayFile(scenario, variant.values(), r.config().strategy(), f.foundBy(), r.config().masterSeed(),
        f.verdict().kind().id(), f.verdict().headline(), maxSteps, f.replay());
  }

  public Map<String, Object> toJson() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("mmlab", 1L);
    m.put("scenario", scenario);
    m.put("variant", new LinkedHashMap<>(variant));
    m.put("strategy", strategy);
    m.put("foundBy", foundBy);
    m.put("masterSeed", hex(masterSeed));
    m.put("executionSeed", hex(executions.getLast().seed()));
    m.put("verdict", verdict);
    m.put("headline", headline);
    m.put("maxSteps", maxSteps);
    List<Object> execs = new ArrayList<>();
    for (Explorer.Recorded e : executions) {
      Map<String, Object> x = new LinkedHashMap<>();
      x.put("index", e.index());
      x.put("seed", hex(e.seed()));
      x.put("strategy", e.strategy());
      x.put("traceHash", hex(e.traceHash()));
      x.put("steps", (long) e.schedule().length);
      x.put("schedule", encode(e.schedule()));
      execs.add(x);
    }
    m.put("executions", execs);
    return m;
  }

  public void write(Path file) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    if (dir != null) {
      Files.createDirectories(dir);
    }
    Files.writeString(file, Json.pretty(toJson()) + "\n");
  }

  /** Reads a replay file; IllegalArgumentException if it is not one. */
  @SuppressWarnings("unchecked")
  public static ReplayFile read(Path file) throws IOException {
    Object parsed = Json.parse(Files.readString(file));
    if (!(parsed instanceof Map<?, ?> m) || !Long.valueOf(1).equals(m.get("mmlab"))) {
      throw new IllegalArgumentException(file + " is not an mmlab replay file (version 1)");
    }
    Map<String, Object> o = (Map<String, Object>) m;
    Map<String, String> variant = new LinkedHashMap<>();
    ((Map<String, Object>) o.get("variant")).forEach((k, v) -> variant.put(k, String.valueOf(v)));
    List<Explorer.Recorded> execs = new ArrayList<>();
    for (Object e : (List<Object>) o.get("executions")) {
      Map<String, Object> x = (Map<String, Object>) e;
      execs.add(new Explorer.Recorded((Long) x.get("index"), parseHex((String) x.get("seed")),
          (String) x.get("strategy"), decode((String) x.get("schedule")), parseHex((String) x.get("traceHash"))));
    }
    return new ReplayFile((String) o.get("scenario"), variant, (String) o.get("strategy"), (String) o.get("foundBy"),
        parseHex((String) o.get("masterSeed")), (String) o.get("verdict"), (String) o.get("headline"),
        (Long) o.get("maxSteps"), execs);
  }

  /** {@code "0*3 1*2"} for {@code [0,0,0,1,1]}. */
  public static String encode(byte[] schedule) {
    StringBuilder sb = new StringBuilder();
    int i = 0;
    while (i < schedule.length) {
      int j = i;
      while (j < schedule.length && schedule[j] == schedule[i]) {
        j++;
      }
      if (!sb.isEmpty()) {
        sb.append(' ');
      }
      sb.append(schedule[i]).append('*').append(j - i);
      i = j;
    }
    return sb.toString();
  }

  public static byte[] decode(String text) {
    List<Byte> out = new ArrayList<>();
    for (String part : text.trim().split("\\s+")) {
      if (part.isEmpty()) {
        continue;
      }
      int star = part.indexOf('*');
      byte cpu = Byte.parseByte(star < 0 ? part : part.substring(0, star));
      int n = star < 0 ? 1 : Integer.parseInt(part.substring(star + 1));
      for (int k = 0; k < n; k++) {
        out.add(cpu);
      }
    }
    byte[] b = new byte[out.size()];
    for (int i = 0; i < b.length; i++) {
      b[i] = out.get(i);
    }
    return b;
  }

  public static String hex(long v) {
    return "0x" + Long.toHexString(v);
  }

  /** Decimal, or 0x-hex (full 64-bit range). */
  public static long parseHex(String s) {
    String t = s.trim();
    if (t.startsWith("0x") || t.startsWith("0X")) {
      return Long.parseUnsignedLong(t.substring(2), 16);
    }
    return Long.parseLong(t);
  }
}
