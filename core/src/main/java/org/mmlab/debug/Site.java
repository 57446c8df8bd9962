package org.mmlab.debug;

import org.jspecify.annotations.Nullable;

/**
 * Where something happened: which CPU, at which step of which execution, and (when known) in
 * which model function. Recording a site is cheap (no stack walk); the function is filled in
 * when the report replays the schedule with detail capture, or when a rare event (a new
 * lockdep edge) walks the stack itself.
 *
 * @param cpu CPU label, e.g. {@code "CPU1 (munmap)"}, or {@code "setup"}
 * @param step the step index in its execution (-1 outside a schedule)
 * @param where model function ({@code "Abba.lockBoth:42"}) or null
 */
public record Site(String cpu, long step, @Nullable String where) {
  @Override
  public String toString() {
    String s = cpu + (step >= 0 ? " at step " + step : "");
    return where == null ? s : s + " in " + where;
  }
}
