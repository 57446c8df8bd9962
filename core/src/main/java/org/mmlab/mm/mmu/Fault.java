package org.mmlab.mm.mmu;

import org.mmlab.kernel.Uapi;

/**
 * A page fault the MMU raised instead of completing an access: the x86 {@code #PF} with its
 * faulting address ({@code CR2}) and the relevant bits of its error code. The MMU does not
 * handle it; the caller (the kernel's fault path, {@code handle_mm_fault}) does, and calls the
 * MMU again, or delivers {@code SIGSEGV}.
 *
 * @param address the first byte that faulted (for a range, the first byte of the first page
 *     that could not be accessed; bytes before it were transferred)
 * @param write true for a store ({@code X86_PF_WRITE})
 * @param kind why the access faulted
 */
public record Fault(long address, boolean write, Kind kind) {
  /** Why an access faulted. */
  public enum Kind {
    /**
     * No present translation ({@code X86_PF_PROT} clear): an entry on the way was none, a
     * migration or swap entry, or the address is outside the user half of the address space.
     * The kernel handles it or reports {@code SEGV_MAPERR}.
     */
    NOT_PRESENT(Uapi.SEGV_MAPERR),
    /**
     * A present translation forbids the access ({@code X86_PF_PROT} set): a store through a
     * read-only entry at some level, or an entry without the user bit. The kernel fixes it
     * (write-protect and COW faults) or reports {@code SEGV_ACCERR}.
     */
    PROTECTION(Uapi.SEGV_ACCERR);

    /** The {@code si_code} the kernel reports when it cannot fix the fault. */
    public final int segvCode;

    Kind(int segvCode) {
      this.segvCode = segvCode;
    }
  }

  /** For reports: {@code "write fault at 0x7f0000 (protection)"}. */
  @Override
  public String toString() {
    return (write ? "write" : "read") + " fault at 0x" + Long.toHexString(address) + " ("
        + kind.name().toLowerCase(java.util.Locale.ROOT).replace('_', ' ') + ")";
  }
}
