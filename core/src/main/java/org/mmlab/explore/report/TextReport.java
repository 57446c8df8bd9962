package org.mmlab.explore.report;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.mmlab.explore.Found;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.StepRecord;
import org.mmlab.explore.Verdict;

/**
 * The schedule of a found bug as CPU columns, the way races are drawn in mails (DESIGN.md §6):
 * one column per CPU, one row per step, each row {@code function(): operation object}. Unless
 * {@code full} is asked for, long schedules show only the steps that touch the objects of the
 * verdict (or on objects owned by them: the lock and the entries of a freed table), each CPU's
 * start, and the last steps before the verdict.
 */
public final class TextReport {
  private static final int WIDTH = 40;
  private static final int SHOW_ALL_UP_TO = 60;
  private static final int TAIL = 8;

  private TextReport() {}

  /** The columns and the verdict's details. */
  public static String render(Found found, boolean full) {
    List<StepRecord> steps = found.steps();
    List<String> cpus = found.cpuNames();
    Verdict v = found.verdict();
    Set<Integer> racing = new HashSet<>(v.objects());
    boolean all = full || steps.size() <= SHOW_ALL_UP_TO || racing.isEmpty();
    StringBuilder sb = new StringBuilder();
    List<String> header = new ArrayList<>();
    for (int i = 0; i < cpus.size(); i++) {
      header.add("CPU" + i + " (" + cpus.get(i) + ")");
    }
    sb.append(row(header)).append('\n');
    long hidden = 0;
    long verdictStep = v.step();
    for (StepRecord s : steps) {
      boolean show = all || s.kind() == OpKind.START || racing.contains(s.objectId()) || racing.contains(s.ownerId())
          || s.step() >= steps.size() - TAIL || s.step() == verdictStep;
      if (!show) {
        hidden++;
        continue;
      }
      if (hidden > 0) {
        sb.append(row(List.of("  ... " + hidden + " step" + (hidden == 1 ? "" : "s")
            + " on other objects"))).append('\n');
        hidden = 0;
      }
      String text = cell(s);
      if (s.step() == verdictStep) {
        text += "   <- " + v.kind().id();
      }
      List<String> cols = new ArrayList<>();
      for (int i = 0; i < s.cpu(); i++) {
        cols.add("");
      }
      cols.add(text);
      sb.append(row(cols)).append('\n');
    }
    if (hidden > 0) {
      sb.append("  ... ").append(hidden).append(" more steps on other objects\n");
    }
    for (StepRecord p : found.pending()) {
      List<String> cols = new ArrayList<>();
      for (int i = 0; i < p.cpu(); i++) {
        cols.add("");
      }
      cols.add(cell(p) + "   (blocked)");
      sb.append(row(cols)).append('\n');
    }
    if (!all) {
      sb.append("(steps on the racing objects only; --full shows all ").append(steps.size()).append(")\n");
    }
    sb.append('\n').append(v.kind().id()).append(": ").append(v.headline()).append('\n');
    for (String d : v.details()) {
      sb.append("  ").append(d).append('\n');
    }
    return sb.toString();
  }

  /** {@code rounds(): spin_lock A}. */
  public static String cell(StepRecord s) {
    String fn = function(s.where());
    String obj = s.kind() == OpKind.START ? "" : " " + s.object();
    String op = s.kind() == OpKind.START ? "start" : s.what();
    return (fn == null ? "" : fn + "(): ") + op + obj + (s.preemption() ? " *" : "");
  }

  /** The method name of {@code "Class.method:line"}, or null. */
  static @Nullable String function(@Nullable String where) {
    if (where == null || where.equals("?")) {
      return null;
    }
    int colon = where.lastIndexOf(':');
    String s = colon < 0 ? where : where.substring(0, colon);
    int dot = s.lastIndexOf('.');
    String m = dot < 0 ? s : s.substring(dot + 1);
    if (m.startsWith("lambda$")) {
      String[] parts = m.split("\\$");
      m = parts.length > 1 ? parts[1] : m;
    }
    return m;
  }

  private static String row(List<String> cols) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < cols.size(); i++) {
      String c = cols.get(i);
      if (i < cols.size() - 1) {
        sb.append(pad(c));
      } else {
        sb.append(c);
      }
    }
    return sb.toString().stripTrailing();
  }

  private static String pad(String c) {
    if (c.length() >= WIDTH) {
      return c.substring(0, WIDTH - 2) + "… ";
    }
    return c + " ".repeat(WIDTH - c.length());
  }
}
