package org.mmlab.explore.report;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.mmlab.explore.Found;
import org.mmlab.explore.StepRecord;
import org.mmlab.explore.Verdict;

/**
 * A found bug as one self-contained HTML page: one lane (column) per CPU, one row per step,
 * every step of the shrunk schedule; hovering a step shows its kernel function, operation,
 * object, the object's state before the step and whether it preempted another CPU. Steps on
 * the racing objects are highlighted, the verdict's step is marked, and what the unfinished
 * CPUs were blocked in closes the table. No script, no external resource.
 */
public final class HtmlReport {
  private HtmlReport() {}

  /** The page; {@code title} is e.g. the command line that reproduces the run. */
  public static String render(Found found, String title) {
    Verdict v = found.verdict();
    Set<Integer> racing = new HashSet<>(v.objects());
    List<String> cpus = found.cpuNames();
    StringBuilder sb = new StringBuilder(64 * 1024);
    sb.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>mmlab: ")
        .append(esc(v.kind().id())).append("</title>\n<style>\n")
        .append("body{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;margin:16px;color:#222}\n")
        .append("h1{font-size:16px} .verdict{background:#fff3f3;border:1px solid #e99;padding:8px;white-space:pre-wrap}\n")
        .append("table{border-collapse:collapse;margin-top:12px} th{position:sticky;top:0;background:#eef;padding:4px 8px;text-align:left}\n")
        .append("td{padding:1px 8px;border-left:1px solid #ddd;vertical-align:top;white-space:nowrap}\n")
        .append("td.n{color:#999;text-align:right;border:none} tr:hover td{background:#f6f6ff}\n")
        .append(".race{background:#fff0c0} .bug{background:#ffc9c9;font-weight:bold} .pre{color:#a0f}\n")
        .append(".blocked{color:#b00;font-style:italic}\n</style></head><body>\n");
    sb.append("<h1>").append(esc(title)).append("</h1>\n");
    sb.append("<div class=\"verdict\">").append(esc(v.kind().id())).append(": ").append(esc(v.headline()));
    for (String d : v.details()) {
      sb.append("\n  ").append(esc(d));
    }
    sb.append("</div>\n<p>found by ").append(esc(found.foundBy())).append(" at execution ")
        .append(found.original().index()).append(" (seed 0x").append(Long.toHexString(found.original().seed()))
        .append("); ").append(found.steps().size()).append(" steps, ").append(found.preemptions())
        .append(" preemption(s); highlighted: steps on the racing objects; <span class=\"pre\">*</span> a preemption.</p>\n");
    sb.append("<table>\n<tr><th></th>");
    for (int i = 0; i < cpus.size(); i++) {
      sb.append("<th>CPU").append(i).append(" (").append(esc(cpus.get(i))).append(")</th>");
    }
    sb.append("</tr>\n");
    for (StepRecord s : found.steps()) {
      row(sb, s, cpus.size(), racing, s.step() == v.step(), false);
    }
    for (StepRecord s : found.pending()) {
      row(sb, s, cpus.size(), racing, false, true);
    }
    sb.append("</table>\n</body></html>\n");
    return sb.toString();
  }

  private static void row(StringBuilder sb, StepRecord s, int ncpu, Set<Integer> racing, boolean bug, boolean blocked) {
    sb.append("<tr><td class=\"n\">").append(blocked ? "-" : Long.toString(s.step())).append("</td>");
    for (int c = 0; c < ncpu; c++) {
      if (c != s.cpu()) {
        sb.append("<td></td>");
        continue;
      }
      boolean race = racing.contains(s.objectId()) || racing.contains(s.ownerId());
      String cls = bug ? "bug" : blocked ? "blocked" : race ? "race" : "";
      String tip = (s.where() == null ? "" : s.where() + "\n") + s.kind() + " " + s.what() + " on " + s.object()
          + (s.state().isEmpty() ? "" : "\nstate before: " + s.state()) + (s.preemption() ? "\npreempted the CPU that ran before" : "")
          + (blocked ? "\nnever completed: the CPU was blocked here at the end" : "");
      sb.append("<td class=\"").append(cls).append("\" title=\"").append(esc(tip)).append("\">")
          .append(esc(TextReport.cell(s)));
      if (blocked) {
        sb.append(" (blocked)");
      }
      if (bug) {
        sb.append(" &larr; ");
      }
      sb.append("</td>");
    }
    sb.append("</tr>\n");
  }

  static String esc(String s) {
    StringBuilder sb = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '<' -> sb.append("&lt;");
        case '>' -> sb.append("&gt;");
        case '&' -> sb.append("&amp;");
        case '"' -> sb.append("&quot;");
        default -> sb.append(c);
      }
    }
    return sb.toString();
  }
}
