package org.mmlab.sync;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.jspecify.annotations.Nullable;
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
 *   <li>Natively, a CPU's cell is slot {@code (id + 1) mod }{@value #CELLS}, created by that CPU on
 *       first use (a CAS on the slot) and owned by it: only the owner writes it, with a plain
 *       read and an opaque write, as {@code this_cpu_add} does, no atomic instruction. A CPU whose
 *       slot another CPU owns (ids that collide modulo {@value #CELLS}) adds to one shared
 *       overflow cell with an atomic add. The sum of all cells is the exact number of events
 *       added before the reader's loads.</li>
 *   <li>Cells are padded to keep each value alone on its cache line: a garbage collection
 *       copies the cells of one counter side by side, and two CPUs adding to neighbouring cells
 *       would make their cores fight over one line.</li>
 * </ul>
 */
public final class PerCpuCounter extends SyncObject {
  /** Cell slots per counter: a CPU whose slot (id modulo this) is taken uses the overflow cell. */
  static final int CELLS = 64;

  private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(Cell[].class);

  /** Padding before a cell's value (the object header and these fill a cache line). */
  @SuppressWarnings("unused")
  private static class CellPadBefore {
    long p1, p2, p3, p4, p5, p6, p7;
  }

  /** The value, after the padding (HotSpot lays superclass fields first). */
  private static class CellValue extends CellPadBefore {
    /** The count. Written by {@link Cell#owner} only (opaque), or atomically in the overflow cell. */
    long value;
  }

  /** One CPU's count, padded after too; read with opaque loads by {@link #sum}. */
  @SuppressWarnings("unused")
  private static final class Cell extends CellValue {
    private static final VarHandle VALUE;

    static {
      try {
        VALUE = MethodHandles.lookup().findVarHandle(CellValue.class, "value", long.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    /** The only CPU that writes this cell; null for the overflow cell (atomic adds). */
    final @Nullable Cpu owner;
    long q1, q2, q3, q4, q5, q6, q7;

    Cell(@Nullable Cpu owner) {
      this.owner = owner;
    }
  }

  /** Cell of CPU {@code id} at {@code (id + 1) % CELLS} (the set-up CPU is id -1), owned by that CPU. CAS-published, never replaced. */
  private final Cell[] cells = new Cell[CELLS];
  /** The cell of CPUs whose slot another CPU owns: atomic adds. */
  private final Cell overflow = new Cell(null);

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
    Cell c = (Cell) SLOT.getAcquire(cells, (cpu.id + 1) & (CELLS - 1));
    if (c != null && c.owner == cpu) {
      Cell.VALUE.setOpaque(c, (long) Cell.VALUE.getOpaque(c) + delta);
    } else {
      addSlow(cpu, delta);
    }
  }

  /** First use by {@code cpu}: claims its slot, or adds to the overflow cell if another CPU owns it. */
  private void addSlow(Cpu cpu, long delta) {
    int i = (cpu.id + 1) & (CELLS - 1);
    if (SLOT.getAcquire(cells, i) == null) {
      Cell fresh = new Cell(cpu);
      if (SLOT.compareAndExchange(cells, i, (Cell) null, fresh) == null) {
        Cell.VALUE.setOpaque(fresh, (long) Cell.VALUE.getOpaque(fresh) + delta);
        return;
      }
    }
    Cell.VALUE.getAndAdd(overflow, delta); // the slot is another CPU's: no cell made per add
  }

  /** {@code all_vm_events}' sum for this item: one read step. */
  public long sum() {
    sched.point(OpKind.READ, this, "sum_vm_event");
    return peek();
  }

  /** The sum without a scheduling point: checks and reports only. */
  public long peek() {
    long n = (long) Cell.VALUE.getOpaque(overflow);
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
