/**
 * The address-space system calls at mm level: {@code mmap}, {@code munmap}, {@code mprotect},
 * {@code mremap}, {@code madvise} and {@code mincore} for anonymous private memory, on an
 * {@link org.mmlab.mm.vma.MmStruct}, with Linux 6.12's semantics and errno
 * ({@link org.mmlab.mm.mmap.MmSyscalls} is the entry point and has the implementation notes).
 * VMA splits and merges are planned on a copy of the VMAs involved and published in one RCU
 * step, so a failing call leaves the mm unchanged and a racing fault never sees half a change.
 * Kernel counterparts: {@code mm/mmap.c}, {@code mm/vma.c}, {@code mm/mprotect.c},
 * {@code mm/mremap.c}, {@code mm/madvise.c}, {@code mm/mincore.c}, the populate part of
 * {@code mm/gup.c}, {@code arch/x86/kernel/sys_x86_64.c}.
 *
 * <p>Not modelled yet, and said where it matters: shared anonymous memory, hugetlb,
 * {@code MAP_DROPPABLE}, stack VMAs ({@code MAP_GROWSDOWN}), mlock (all ENODEV from
 * {@code mmap}); files (EBADF); {@code anon_vma}s and {@code VM_ACCOUNT} (so merging ignores
 * them); THP.
 */
@NullMarked
package org.mmlab.mm.mmap;

import org.jspecify.annotations.NullMarked;
