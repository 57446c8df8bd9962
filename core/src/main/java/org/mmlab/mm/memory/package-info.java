/**
 * The fault path and the unmapping of pages: {@code handle_mm_fault} for anonymous memory
 * (the zero page on read, a fresh zeroed page on write, copy on write from the zero page), the
 * architecture's {@code do_user_addr_fault} with the per-VMA lock first and the mmap lock as
 * the fallback ({@code Faults}); the fault paths of file mappings, {@code do_fault} and
 * {@code wp_page_shared} ({@code FileFaults}); and {@code zap_page_range} and
 * {@code unmap_mapping_range} ({@code Zap}). Kernel counterpart: {@code mm/memory.c},
 * {@code arch/x86/mm/fault.c}.
 */
@NullMarked
package org.mmlab.mm.memory;

import org.jspecify.annotations.NullMarked;
