/**
 * The page cache: the XArray ({@code lib/xarray.c}) and the {@code address_space} with its
 * lookups ({@code mm/filemap.c}).
 *
 * <table>
 *   <caption>Kernel names and their Java counterparts</caption>
 *   <tr><th>kernel</th><th>here</th></tr>
 *   <tr><td>{@code struct xarray}</td><td>{@code XArray}</td></tr>
 *   <tr><td>{@code struct address_space}</td><td>{@code AddressSpace}</td></tr>
 *   <tr><td>{@code filemap_get_entry}, {@code __filemap_get_folio}, {@code filemap_add_folio},
 *       {@code __filemap_remove_folio}, {@code filemap_get_incore_folio},
 *       {@code mapping_seek_hole_data}</td><td>{@code Filemap}</td></tr>
 * </table>
 */
@NullMarked
package org.mmlab.mm.filemap;

import org.jspecify.annotations.NullMarked;
