/**
 * Address spaces: the VMA tree readable under RCU ({@link org.mmlab.mm.vma.VmaTree}, the maple
 * tree's role), and, as the layer grows, VMAs, the mmap lock, per-VMA locks and the
 * mmap/munmap/mprotect/mremap paths that split and merge VMAs. Kernel counterparts:
 * {@code lib/maple_tree.c}, {@code mm/vma.c}, {@code mm/mmap.c}, {@code mm/mmap_lock.c},
 * {@code mm/mprotect.c}, {@code mm/mremap.c}.
 *
 * <table>
 *   <caption>Kernel names and their Java counterparts</caption>
 *   <tr><th>kernel</th><th>here</th></tr>
 *   <tr><td>{@code mm->mm_mt} (maple tree, RCU mode, external lock)</td><td>{@code VmaTree}</td></tr>
 *   <tr><td>the tree as one RCU reader sees it</td><td>{@code Snapshot}</td></tr>
 *   <tr><td>a maple node</td><td>{@code Node} (package-private)</td></tr>
 *   <tr><td>{@code vma_lookup}</td><td>{@code VmaTree.lookup}</td></tr>
 *   <tr><td>{@code find_vma}</td><td>{@code VmaTree.findFrom(addr)}</td></tr>
 *   <tr><td>{@code vma_find}, {@code find_vma_intersection}</td><td>{@code VmaTree.findFrom(addr, limit)}</td></tr>
 *   <tr><td>{@code find_vma_prev}</td><td>{@code VmaTree.findFrom} and {@code VmaTree.prev}</td></tr>
 *   <tr><td>{@code for_each_vma_range}</td><td>{@code VmaTree.ranges}</td></tr>
 *   <tr><td>{@code vm_unmapped_area} gap search</td><td>{@code VmaTree.gapAtLeast}</td></tr>
 *   <tr><td>{@code vma_iter_store}, {@code mtree_insert_range}</td><td>{@code VmaTree.insert}</td></tr>
 *   <tr><td>{@code mas_store} over an existing range</td><td>{@code VmaTree.replace}</td></tr>
 *   <tr><td>{@code mas_erase}, {@code vma_iter_clear}</td><td>{@code VmaTree.remove}</td></tr>
 *   <tr><td>{@code vma_complete} after a split or merge</td><td>{@code VmaTree.replaceRange}</td></tr>
 *   <tr><td>{@code mt_validate}</td><td>{@code VmaTree.check}</td></tr>
 * </table>
 */
@NullMarked
package org.mmlab.mm.vma;

import org.jspecify.annotations.NullMarked;
