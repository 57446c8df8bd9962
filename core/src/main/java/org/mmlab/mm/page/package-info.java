/**
 * Physical memory: the layer every other mm layer stands on. Kernel counterparts:
 * {@code include/linux/mm_types.h} ({@code struct page}, {@code struct folio},
 * {@code struct ptdesc}), {@code include/linux/page-flags.h}, {@code include/linux/page_ref.h},
 * {@code mm/page_alloc.c} (the buddy allocator), {@code mm/sparse.c} (memory sections),
 * {@code include/linux/gfp_types.h}.
 *
 * <h2>What is here</h2>
 * <table>
 *   <caption>Kernel names and their Java types</caption>
 *   <tr><th>kernel</th><th>here</th></tr>
 *   <tr><td>physical RAM contents</td><td>{@link org.mmlab.mm.page.Frames} (sparse, off-heap, zero until written),
 *       {@link org.mmlab.mm.page.FramePool}</td></tr>
 *   <tr><td>{@code struct page}, {@code pfn_to_page}, {@code page_to_pfn}</td>
 *       <td>{@link org.mmlab.mm.page.Page}, {@link org.mmlab.mm.page.PhysMem#pfnToPage},
 *       {@link org.mmlab.mm.page.Page#pfn}</td></tr>
 *   <tr><td>{@code PG_*} flags and page types</td><td>{@link org.mmlab.mm.page.PageFlag}</td></tr>
 *   <tr><td>{@code page_ref_*} ({@code include/linux/page_ref.h})</td><td>{@code PageRef}</td></tr>
 *   <tr><td>{@code folio_lock}, {@code folio_unlock}, {@code folio_wait_bit_common}, {@code folio_wake_bit}</td>
 *       <td>{@code PageLockBit}, {@code PageLocks}</td></tr>
 *   <tr><td>{@code prep_new_page}, {@code free_pages_prepare}, {@code check_new_page},
 *       {@code free_page_is_bad}</td><td>{@code PagePrep}</td></tr>
 *   <tr><td>{@code struct folio}, {@code page_folio}, {@code folio_*}</td>
 *       <td>{@link org.mmlab.mm.page.Folio}, {@link org.mmlab.mm.page.Page#folio}</td></tr>
 *   <tr><td>{@code struct ptdesc}, {@code pagetable_ctor}/{@code _dtor}, {@code ptlock_ptr}</td>
 *       <td>{@link org.mmlab.mm.page.PtDesc}, {@link org.mmlab.mm.page.Page#pagetableCtor},
 *       {@link org.mmlab.mm.page.Page#ptlock}</td></tr>
 *   <tr><td>{@code pg_data_t}, {@code struct zone}, {@code struct free_area}</td>
 *       <td>{@link org.mmlab.mm.page.Node}, {@link org.mmlab.mm.page.Zone}, {@code FreeArea}
 *       ({@code ZoneCheck}: the zone's part of the consistency walk)</td></tr>
 *   <tr><td>{@code alloc_pages}, {@code __free_pages}, {@code folio_alloc}, {@code folio_put}</td>
 *       <td>{@link org.mmlab.mm.page.PhysMem#allocPages}, {@link org.mmlab.mm.page.PhysMem#freePages},
 *       {@link org.mmlab.mm.page.PhysMem#folioAlloc}, {@link org.mmlab.mm.page.Folio#folioPut}</td></tr>
 *   <tr><td>{@code struct per_cpu_pages}, {@code rmqueue_pcplist}, {@code free_unref_page},
 *       {@code drain_all_pages}, {@code zone_pcp_disable}</td>
 *       <td>{@code PerCpuPages}, {@code PcpList}, {@link org.mmlab.mm.page.Zone}, {@code ZonePcp},
 *       {@link org.mmlab.mm.page.PhysMem#drainAllPages}, {@link org.mmlab.mm.page.PhysMem#zonePcpDisable}</td></tr>
 *   <tr><td>{@code gfp_t}</td><td>{@link org.mmlab.mm.page.Gfp}</td></tr>
 *   <tr><td>{@code enum migratetype}, {@code pageblock_flags}, {@code __rmqueue_fallback}</td>
 *       <td>{@code MigrateType}, {@link org.mmlab.mm.page.Zone}</td></tr>
 *   <tr><td>the host memory behind RAM (no kernel counterpart)</td><td>{@code HostMemory}</td></tr>
 *   <tr><td>{@code should_fail_alloc_page} (fail_page_alloc)</td><td>{@link org.mmlab.mm.page.FailHook}</td></tr>
 *   <tr><td>{@code struct mem_section}</td><td>{@link org.mmlab.mm.page.Section}</td></tr>
 * </table>
 *
 * <h2>Lock order</h2>
 * <pre>
 *   folio lock (PG_locked)              (a pseudo-lock: a bit with sleepers)
 *     ... page-table locks (PtDesc.ptl) ...
 *       pcp-&gt;lock                       (a CPU's page lists; its owner only trylocks it)
 *         zone-&gt;lock                    (innermost: nothing but descriptor bit operations and pageblock types under it)
 * </pre>
 * See {@code docs/LOCKING.md}.
 *
 * <h2>Both modes</h2>
 * Every operation on a page descriptor's flags, reference count, mapcount, mapping, index and
 * private field, every zone-lock and pcp-lock acquisition and every update of
 * {@code NR_FREE_PAGES} is a scheduling point; the per-CPU event counters ({@code pgalloc},
 * {@code pgfree}) are updated by their own CPU without one (see {@code sync.PerCpuCounter}). Accesses to frame contents ({@link org.mmlab.mm.page.Frames}) are not: the
 * MMU layer makes user accesses points.
 */
@NullMarked
package org.mmlab.mm.page;

import org.jspecify.annotations.NullMarked;
