/**
 * The page cache: the RCU-safe {@link org.mmlab.mm.filemap.XArray} behind {@code i_pages}
 * and the {@code address_space} with its lookups, insertion, removal and seek hole/data, and
 * the interval tree behind {@code i_mmap}. Kernel counterparts: {@code lib/xarray.c},
 * {@code include/linux/xarray.h}, {@code mm/filemap.c}, {@code mm/interval_tree.c},
 * {@code include/linux/interval_tree_generic.h}.
 *
 * <table>
 *   <caption>Kernel names and their Java counterparts</caption>
 *   <tr><th>kernel</th><th>here</th></tr>
 *   <tr><td>{@code struct xarray}, {@code xa_init_flags}</td><td>{@code XArray}, its constructor</td></tr>
 *   <tr><td>{@code xa_lock} / {@code xa_lock_irq}</td><td>{@code XArray.lock()}</td></tr>
 *   <tr><td>{@code struct xa_node}</td><td>{@code XaNode} (package-private)</td></tr>
 *   <tr><td>{@code XA_RETRY_ENTRY}, {@code xa_is_retry}</td><td>{@code XArray.RETRY_ENTRY}, {@code XArray.isRetry}</td></tr>
 *   <tr><td>{@code xa_mk_value}, {@code xa_is_value}, {@code xa_to_value}</td><td>{@code XArray.mkValue}, {@code isValue}, {@code toValue}</td></tr>
 *   <tr><td>{@code XA_MARK_0..2}</td><td>{@code XArray.MARK_0..2}</td></tr>
 *   <tr><td>{@code xas_load} (as {@code filemap_get_entry} uses it)</td><td>{@code XArray.load}</td></tr>
 *   <tr><td>{@code xa_find}, {@code xas_find}</td><td>{@code XArray.find}</td></tr>
 *   <tr><td>{@code xa_find} with a mark, {@code xas_find_marked}</td><td>{@code XArray.findMarked}</td></tr>
 *   <tr><td>{@code xas_store} with {@code XA_STATE_ORDER}, {@code xa_store_order}, {@code xa_erase}</td><td>{@code XArray.store}</td></tr>
 *   <tr><td>{@code xa_set_mark}, {@code xa_clear_mark}, {@code xa_get_mark}</td><td>{@code XArray.setMark}, {@code clearMark}, {@code getMark}</td></tr>
 *   <tr><td>{@code xa_head}</td><td>{@code XaHead} (package-private)</td></tr>
 *   <tr><td>{@code xa_mk_internal}, {@code xa_mk_sibling}, {@code xa_mk_value}'s type</td><td>{@code XaEntry} (package-private)</td></tr>
 *   <tr><td>the walks of {@code xas_load}, {@code xas_find}, {@code xas_find_marked}, {@code xa_get_mark}</td><td>{@code XaReader} (package-private)</td></tr>
 *   <tr><td>{@code xas_store}, {@code xas_create}, {@code xas_squash_marks}, {@code xas_init_marks},
 *       {@code xa_set_mark}, {@code xa_clear_mark} under the lock</td><td>{@code XaWriter} (package-private)</td></tr>
 *   <tr><td>{@code xas_alloc}, {@code xas_expand}, {@code xas_shrink}, {@code xas_delete_node}, {@code xas_free_nodes}</td><td>{@code XaNodes} (package-private)</td></tr>
 *   <tr><td>validity checks of {@code lib/test_xarray.c}</td><td>{@code XArray.check}, {@code XArrayCheck}</td></tr>
 *   <tr><td>{@code struct address_space}, {@code vma_link_file}, {@code unlink_file_vma},
 *       {@code mapping_map_writable}, {@code mapping_deny_writable}</td><td>{@code AddressSpace}</td></tr>
 *   <tr><td>{@code vma_interval_tree} ({@code INTERVAL_TREE_DEFINE}, {@code mm/interval_tree.c}),
 *       {@code vma_interval_tree_insert}, {@code vma_interval_tree_remove},
 *       {@code vma_interval_tree_foreach}</td><td>{@code IntervalTree}; {@code AddressSpace.vmaIntervalTreeInsert},
 *       {@code vmaIntervalTreeRemove}, {@code iMmapVmas(first, last)}</td></tr>
 *   <tr><td>{@code vma_start_pgoff}, {@code vma_last_pgoff}</td><td>{@code AddressSpace} (package-private)</td></tr>
 *   <tr><td>{@code lib/interval_tree_test.c}'s checks</td><td>{@code IntervalTree.check}, {@code IntervalTreeCheck}</td></tr>
 *   <tr><td>{@code filemap_get_entry}, {@code filemap_lock_folio}, {@code filemap_get_incore_folio},
 *       {@code __filemap_add_folio}, {@code filemap_remove_folio},
 *       {@code mapping_seek_hole_data}, {@code folio_zero_range}</td><td>{@code Filemap}</td></tr>
 * </table>
 */
@NullMarked
package org.mmlab.mm.filemap;

import org.jspecify.annotations.NullMarked;
