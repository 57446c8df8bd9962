package org.mmlab.mm.page;

/**
 * Fault injection for page allocations: consulted at every allocation site before the
 * allocator looks at its free lists; returning true makes that allocation fail as if memory
 * were exhausted. The kernel's {@code fail_page_alloc} ({@code should_fail_alloc_page},
 * {@code mm/fail_page_alloc.c}), made deterministic: tests decide by site and order (or by
 * counting calls) instead of by probability.
 *
 * <p>Under the explorer the hook runs inside CPU bodies: it must be deterministic (state reset
 * per execution, no clocks, no unseeded randomness) and must not touch model state. Natively it
 * may be called from several threads at once.
 */
@FunctionalInterface
public interface FailHook {
  /** Never fails. */
  FailHook NEVER = (site, order) -> false;

  /**
   * @param site the allocation site: {@code "alloc_pages"} unless the caller named one
   *     ({@code "pte_alloc"}, {@code "do_anonymous_page"}, ...)
   * @param order the requested order
   * @return true to make the allocation fail
   */
  boolean shouldFail(String site, int order);
}
