/**
 * The MMU every user access goes through: a per-CPU software TLB, the hardware's lockless
 * page-table walk with the x86 permission checks, user loads and stores (1, 2, 4, 8 bytes and
 * byte ranges, each a scheduling point on the page it touches), and TLB shootdown with the
 * guarantee that after a flush returns no CPU completes an access through a stale translation.
 *
 * <h2>What is here</h2>
 * <table>
 *   <caption>Kernel (and hardware) names and their Java types</caption>
 *   <tr><th>kernel / hardware</th><th>here</th></tr>
 *   <tr><td>the MMU, {@code copy_from_user}/{@code copy_to_user}, {@code get_user}/{@code put_user}</td>
 *       <td>{@link org.mmlab.mm.mmu.Mmu} ({@code load}, {@code store}, {@code loadBytes}, {@code storeBytes}, {@code fill}),
 *       its access paths in {@code UserAccess} (package-private)</td></tr>
 *   <tr><td>the TLB, {@code cpu_tlbstate}, {@code flush_tlb_func}</td><td>{@link org.mmlab.mm.mmu.Tlb}</td></tr>
 *   <tr><td>{@code mm->context.ctx_id}, {@code mm->context.tlb_gen}</td><td>{@link org.mmlab.mm.mmu.MmuContext}</td></tr>
 *   <tr><td>the hardware page walk, {@code follow_page}-style translation</td>
 *       <td>{@code Walk} (package-private), {@link org.mmlab.mm.mmu.Mmu#walk}, {@link org.mmlab.mm.mmu.Translation}</td></tr>
 *   <tr><td>{@code #PF} error code, {@code SEGV_MAPERR}/{@code SEGV_ACCERR}</td><td>{@link org.mmlab.mm.mmu.Fault}</td></tr>
 *   <tr><td>{@code flush_tlb_mm_range}, {@code native_flush_tlb_multi}, {@code flush_tlb_mm}</td>
 *       <td>{@link org.mmlab.mm.mmu.Mmu#flushTlbRange}, {@link org.mmlab.mm.mmu.Mmu#flushTlbMm},
 *       {@link org.mmlab.mm.mmu.Mmu#flusher} (for {@code MmuGather}), the flusher's side in {@code Shootdown}
 *       (package-private)</td></tr>
 *   <tr><td>{@code switch_mm_irqs_off}, return to user mode, syscall/fault entry, {@code enter_lazy_tlb}</td>
 *       <td>{@link org.mmlab.mm.mmu.Mmu#enterUser}, {@link org.mmlab.mm.mmu.Mmu#enterKernel},
 *       {@link org.mmlab.mm.mmu.Mmu#idle}</td></tr>
 * </table>
 *
 * <h2>Both modes</h2>
 * Every user load and store is a scheduling point (READ or WRITE on the target page's
 * descriptor, "user load"/"user store"), and so is every entry the walker reads (a point on the
 * table, through {@code PageTables.load}). A TLB hit costs no other point. Mode transitions and
 * the shootdown's generation bump, requests and waits are points on the CPU's {@link
 * org.mmlab.mm.mmu.Tlb} and on the {@link org.mmlab.mm.mmu.MmuContext}. Natively the same code
 * runs on real threads; the shootdown protocol's memory ordering is argued in {@link
 * org.mmlab.mm.mmu.Mmu}'s notes.
 *
 * <p>The MMU does not handle faults: an access that faults returns a {@link
 * org.mmlab.mm.mmu.Fault} and the caller (the kernel's fault path) handles it and retries.
 */
@NullMarked
package org.mmlab.mm.mmu;

import org.jspecify.annotations.NullMarked;
