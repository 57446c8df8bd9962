package org.mmlab.sync;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.mmlab.explore.Cpu;
import org.mmlab.explore.OpKind;
import org.mmlab.explore.Sched;
import org.mmlab.explore.SyncObject;

/**
 * A per-CPU event counter summed on read: the kernel's vm event counters
 * ({@code DEFINE_PER_CPU(struct vm_event_state, vm_event_states)}, {@code count_vm_event},
 * {@code count_vm_events}, {@code all_vm_events} in {@code mm/vmstat.c}).
 *
 * <h2>Overview</h2>
 * Each CPU adds to a cell of its own; a reader adds up all cells. The kernel increments its own
 * CPU's counter with preemption off ({@code this_cpu_inc}), so nothing shared is written on the
 * hot path; a reader of {@code /proc/vmstat} walks every possible CPU and may see a sum that is
 * a little behind, which the kernel accepts for statistics.
 *
 * <h2>Concurrency</h2>
 * <ul>
 *   <li>{@link #add} is <b>not</b> a scheduling point: the cell belongs to the calling CPU, and
 *       in the kernel the increment happens with preemption disabled, so no other CPU can act
 *       between its read and its write. Under the explorer it happens atomically with the
 *       preceding step.</li>
 *   <li>{@link #sum} is one read step on the counter; each cell is read with an opaque load
 *       (racy but benign: a statistic, exactly as {@code all_vm_events} is).</li>
 *   <li>Natively, cells are chosen by CPU id modulo {@value #CELLS}; CPUs whose ids collide
 *       share a cell, so the add is an atomic add (uncontended: one core's cache line). Cells
 *       are created on first use with a CAS on their slot; a CPU that loses the CAS uses the
 *       winner's cell (no retry loop). The sum of all cells is always the exact number of
 *       events added before the reader's loads.</li>
 * </ul>
 */
public final class PerCpuCounter extends SyncObject {
  /** Cells per counter: CPU ids beyond share cells (by id modulo this). */
  static final int CELLS = 64;

  private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(Cell[].class);

  /** One CPU's count. Atomic add (see the class notes); opaque reads by {@link #sum}. */
  private static final class Cell {
    private static final VarHandle VALUE;

    static {
      try {
        VALUE = MethodHandles.lookup().findVarHandle(Cell.class, "value", long.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    @SuppressWarnings("unused")
    private long value;
  }

  /** Cell of CPU {@code id} at {@code (id + 1) % CELLS} (the set-up CPU is id -1). CAS-published, never replaced. */
  private final Cell[] cells = new Cell[CELLS];

  public PerCpuCounter(Sched sched, String name) {
    super(sched, name, null, null);
  }

  @Override
  public String kind() {
    return "percpu-counter";
  }

  /** {@code count_vm_events(item, delta)} on the current CPU. No scheduling point (see the class notes). */
  public void add(long delta) {
    add(sched.cpu(), delta);
  }

  /** {@code count_vm_events} on {@code cpu}, which must be the calling CPU (callers that already hold it save a lookup). */
  public void add(Cpu cpu, long delta) {
    Cell.VALUE.getAndAdd(cell(cpu.id), delta);
  }

  private Cell cell(int cpuId) {
    int i = (cpuId + 1) & (CELLS - 1);
    Cell c = (Cell) SLOT.getAcquire(cells, i);
    if (c != null) {
      return c;
    }
    Cell fresh = new Cell();
    Cell witness = (Cell) SLOT.compareAndExchange(cells, i, (Cell) null, fresh);
    return witness == null ? fresh : witness;
  }

  /** {@code all_vm_events}' sum for this item: one read step. */
  public long sum() {
    sched.point(OpKind.READ, this, "sum_vm_event");
    return peek();
  }

  /** The sum without a scheduling point: checks and reports only. */
  public long peek() {
    long n = 0;
    for (int i = 0; i < CELLS; i++) {
      Cell c = (Cell) SLOT.getAcquire(cells, i);
      if (c != null) {
        n += (long) Cell.VALUE.getOpaque(c);
      }
    }
    return n;
  }

  @Override
  public String state() {
    return "sum=" + peek();
  }
}
