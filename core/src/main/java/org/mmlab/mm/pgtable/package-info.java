/**
 * x86-64 four-level page tables stored in simulated frames: entry encoding, table allocation
 * and freeing, the split page-table locks, and the TLB gather that frees pages and tables only
 * after the flush that makes them unreachable. Kernel counterparts: {@code pgtable.h},
 * {@code pgalloc.h}, {@code mm/mmu_gather.c}.
 */
@NullMarked
package org.mmlab.mm.pgtable;

import org.jspecify.annotations.NullMarked;
