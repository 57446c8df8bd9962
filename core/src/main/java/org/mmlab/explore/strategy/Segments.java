package org.mmlab.explore.strategy;

import java.util.ArrayList;
import java.util.List;
import org.mmlab.explore.ExploreSched;
import org.mmlab.explore.Strategy;

/**
 * A relaxed guide used to shrink schedules: a list of segments (CPU, number of steps). It runs
 * each segment's CPU for its number of steps, moving to the next segment early when that CPU
 * cannot run; past the last segment it runs without preempting (the last CPU while it can, then
 * the lowest enabled). Moving a segment next to another of the same CPU removes a context
 * switch; the shrinker keeps the move if the bug still shows.
 */
public final class Segments implements Strategy {
  /** A run of {@code length} steps of one CPU. */
  public record Segment(int cpu, int length) {}

  private final List<Segment> segments;
  private int at;
  private int used;

  public Segments(List<Segment> segments) {
    this.segments = List.copyOf(segments);
  }

  /** The segments of a schedule (run-length encoding of the CPU per step). */
  public static List<Segment> of(byte[] schedule) {
    List<Segment> out = new ArrayList<>();
    int i = 0;
    while (i < schedule.length) {
      int j = i;
      while (j < schedule.length && schedule[j] == schedule[i]) {
        j++;
      }
      out.add(new Segment(schedule[i], j - i));
      i = j;
    }
    return out;
  }

  @Override
  public String name() {
    return "shrink";
  }

  @Override
  public void beginExecution(long seed) {
    at = 0;
    used = 0;
  }

  @Override
  public int pick(ExploreSched ex, int[] enabled, int n) {
    while (at < segments.size()) {
      Segment s = segments.get(at);
      if (used < s.length() && isEnabled(s.cpu(), enabled, n)) {
        used++;
        return s.cpu();
      }
      at++;
      used = 0;
    }
    int last = ex.lastCpu();
    return isEnabled(last, enabled, n) ? last : enabled[0];
  }

  @Override
  public boolean wantsEveryStep() {
    return true;
  }

  private static boolean isEnabled(int cpu, int[] enabled, int n) {
    for (int i = 0; i < n; i++) {
      if (enabled[i] == cpu) {
        return true;
      }
    }
    return false;
  }
}
