package org.mmlab.mm.page;

import java.util.List;
import org.jspecify.annotations.Nullable;
import org.mmlab.explore.BugException;
import org.mmlab.explore.Cpu;
import org.mmlab.explore.Sched;
import org.mmlab.explore.Verdict;
import org.mmlab.explore.VerdictKind;
import org.mmlab.sync.HashedWaitTable;
import org.mmlab.sync.MightSleep;

/**
 * The physical memory of one kernel: frames, nodes and zones with their buddy allocators,
 * memory sections with their (lazily created) page descriptors, and the folio wait table.
 * Kernel counterparts: the memory map ({@code mm/sparse.c}: {@code pfn_to_page},
 * {@code page_to_pfn}, {@code pfn_valid}), {@code alloc_pages}, {@code __free_pages},
 * {@code free_frozen_pages}, {@code folio_alloc}, {@code folio_wait_table}.
 *
 * <h2>Contents</h2>
 * <ol>
 *   <li>Boot: {@link #PhysMem(Sched, long, int, FramePool)} splits RAM over nodes and gives
 *       every page to the buddy allocator as maximal aligned blocks. Nothing else is created:
 *       no descriptor, no frame; a 64 MiB kernel is sixteen order-10 free blocks.</li>
 *   <li>The memory map: {@link #pfnToPage}, {@link #pfnValid}, {@link #sections()}.</li>
 *   <li>Allocation: {@link #allocPages}, {@link #folioAlloc}, the {@link FailHook}; per-CPU
 *       page lists in front of the buddy lists (see {@link Zone}), {@link #drainAllPages},
 *       {@link #zonePcpDisable}, and their periodic decay ({@link #vmstatUpdate}).</li>
 *   <li>Freeing: {@link #freePages}, {@link #freeFrozenPages}, {@link Folio#folioPut}, and the
 *       TLB gather's batches ({@link #foliosPut}).</li>
 *   <li>Accounting ({@link #nrFreePages}, {@link #pgalloc}, {@link #pgfree}) and the
 *       consistency walk ({@link #checkConsistency}), registered with the scheduler.</li>
 * </ol>
 *
 * <h2>Layout</h2>
 * Physical memory starts at pfn 0 and is contiguous (no holes); node {@code i} of {@code n}
 * gets an equal share, its boundaries rounded to {@code MAX_PAGE_ORDER} blocks (4 MiB). Memory
 * sections are 128 MiB ({@link Section#SIZE_BITS}), the last one possibly smaller, and all
 * online at boot; the section object is the owner of its descriptors so that offlining (a later
 * issue) can make stale descriptor pointers use-after-free.
 *
 * <h2>Lock order</h2>
 * <pre>
 *   (anything, including page-table locks and RCU read sections for GFP_NOWAIT)
 *     pcp-&gt;lock            (Zone.rmqueue, Zone.freeUnrefPage, foliosPut's batches: trylock
 *                           by the owning CPU;
 *                           Zone.drainAll and the double-free diagnosis: spin)
 *       zone-&gt;lock         (rmqueue_bulk, free_pcppages_bulk; alone in Zone.freeOne,
 *                           the buddy fallback and pfnToPage's slow path)
 * </pre>
 * A {@link Gfp#KERNEL} allocation may sleep in the kernel: it must be made without spinlocks
 * and outside RCU read sections, and a verdict says so otherwise.
 *
 * <h2>Lifetime</h2>
 * {@link #release()} gives the frames back to their {@link FramePool}; call it when the
 * kernel is done (the explorer: at the end of each execution). Descriptors are ordinary heap
 * objects and go with the {@code PhysMem}.
 */
public final class PhysMem {
  /** {@code MAX_PAGE_ORDER}: the largest block is 2^10 pages (4 MiB). */
  public static final int MAX_PAGE_ORDER = 10;
  /** {@code MAX_ORDER_NR_PAGES}. */
  public static final long MAX_ORDER_NR_PAGES = 1L << MAX_PAGE_ORDER;
  /** {@code NUMA_NO_NODE}: the local node of the calling CPU. */
  public static final int NUMA_NO_NODE = -1;
  /** The site name of allocations whose caller gives none. */
  public static final String DEFAULT_SITE = "alloc_pages";

  private final Sched sched;
  private final Frames frames;
  private final Node[] nodes;
  private final Section[] sections;
  private final long totalPages;
  /** {@code folio_wait_table}: where folio-lock waiters sleep. Immutable reference. */
  private final HashedWaitTable folioWaitTable;
  /** The fault-injection hook. Volatile: tests may swap it while CPUs run (natively). */
  private volatile FailHook failHook = FailHook.NEVER;

  /** One node of {@code bytes} of RAM, frames from the shared pool. */
  public PhysMem(Sched sched, long bytes) {
    this(sched, bytes, 1, FramePool.shared());
  }

  /** {@code bytes} of RAM over {@code nodes} nodes, frames from the shared pool. */
  public PhysMem(Sched sched, long bytes, int nodes) {
    this(sched, bytes, nodes, FramePool.shared());
  }

  /**
   * Boots {@code bytes} of RAM (a multiple of 4 KiB, at most 16 TiB) over {@code nodeCount}
   * nodes, and registers the consistency walk with {@code sched}.
   */
  public PhysMem(Sched sched, long bytes, int nodeCount, FramePool pool) {
    if (nodeCount < 1) {
      throw new IllegalArgumentException("at least one node: " + nodeCount);
    }
    if (bytes > (1L << 44)) {
      throw new IllegalArgumentException("at most 16 TiB of RAM (pfns are 32-bit here): " + bytes);
    }
    this.sched = sched;
    this.frames = new Frames(bytes, pool);
    this.totalPages = bytes >>> Frames.PAGE_SHIFT;
    this.folioWaitTable = new HashedWaitTable(sched, "folio_wait_table");
    this.nodes = new Node[nodeCount];
    long start = 0;
    for (int i = 0; i < nodeCount; i++) {
      long end = i == nodeCount - 1 ? totalPages
          : (totalPages * (i + 1) / nodeCount) & ~(MAX_ORDER_NR_PAGES - 1);
      if (end <= start) {
        throw new IllegalArgumentException(bytes + " bytes are too little for " + nodeCount + " nodes");
      }
      nodes[i] = new Node(this, i, start, end);
      start = end;
    }
    int nSections = (int) ((totalPages + Section.PAGES - 1) >>> Section.PFN_SHIFT);
    this.sections = new Section[nSections];
    for (int s = 0; s < nSections; s++) {
      long sStart = (long) s << Section.PFN_SHIFT;
      long sEnd = Math.min(totalPages, sStart + Section.PAGES);
      Node first = nodeOf(sStart);
      sections[s] = new Section(this, s, sStart, sEnd, first.spans(sEnd - 1) ? first.normalZone() : null);
    }
    for (Node n : nodes) {
      freeBootRange(n.normalZone(), n.startPfn(), n.endPfn());
      n.normalZone().initPcp();
    }
    sched.registerWalk(this::checkConsistency);
    sched.onRelease(this::release);
  }

  /** {@code memblock_free_all}: the range as maximal naturally aligned blocks. */
  private static void freeBootRange(Zone z, long start, long end) {
    long pfn = start;
    while (pfn < end) {
      int o = pfn == 0 ? MAX_PAGE_ORDER : Math.min(MAX_PAGE_ORDER, Long.numberOfTrailingZeros(pfn));
      while (pfn + (1L << o) > end) {
        o--;
      }
      z.addBootBlock(pfn, o);
      pfn += 1L << o;
    }
  }

  public Sched sched() {
    return sched;
  }

  /** The contents of RAM. */
  public Frames frames() {
    return frames;
  }

  /** {@code totalram_pages}. */
  public long totalPages() {
    return totalPages;
  }

  public List<Node> nodes() {
    return List.of(nodes);
  }

  /** {@code NODE_DATA(nid)}. */
  public Node node(int nid) {
    return nodes[nid];
  }

  /** The sections, all online. */
  public List<Section> sections() {
    return List.of(sections);
  }

  HashedWaitTable folioWaitTable() {
    return folioWaitTable;
  }

  // ------------------------------------------------------------ the memory map

  /** {@code pfn_valid}: a frame of RAM. */
  public boolean pfnValid(long pfn) {
    return pfn >= 0 && pfn < totalPages;
  }

  /**
   * {@code pfn_to_page}: the descriptor of frame {@code pfn}, created on first lookup. Creating
   * one takes {@code zone->lock} (so that a free block's first page gets
   * {@link PageFlag#BUDDY}); every later lookup is two array reads and no scheduling point.
   * Do not call it with {@code zone->lock} held.
   */
  public Page pfnToPage(long pfn) {
    Section s = sectionOf(pfn);
    Page p = s.peek(pfn);
    return p != null ? p : s.zoneOf(pfn).materialize(s, pfn);
  }

  /** {@code page_to_pfn}. */
  public long pageToPfn(Page page) {
    return page.pfn();
  }

  /** The descriptor of {@code pfn} if it was ever created, else null; no lock, no point. */
  public @Nullable Page peekPage(long pfn) {
    return sectionOf(pfn).peek(pfn);
  }

  /** A descriptor known to exist (tails of an allocated compound page); falls back to {@link #pfnToPage}. */
  Page pfnToPageExisting(long pfn) {
    Page p = peekPage(pfn);
    return p != null ? p : pfnToPage(pfn);
  }

  /** {@code __pfn_to_section}. */
  public Section sectionOf(long pfn) {
    if (!pfnValid(pfn)) {
      throw new IllegalArgumentException("pfn 0x" + Long.toHexString(pfn) + " is not RAM (pfn_valid fails)");
    }
    return sections[(int) (pfn >>> Section.PFN_SHIFT)];
  }

  /** {@code page_zone}. */
  public Zone zoneOf(Page page) {
    return page.section().zoneOf(page.pfn());
  }

  Zone zoneOfPfn(long pfn) {
    return nodeOf(pfn).normalZone();
  }

  /** {@code pfn_to_nid}. */
  public Node nodeOf(long pfn) {
    for (Node n : nodes) {
      if (n.spans(pfn)) {
        return n;
      }
    }
    throw new IllegalArgumentException("pfn 0x" + Long.toHexString(pfn) + " is not RAM");
  }

  // ------------------------------------------------------------ allocation

  /** Installs the fault-injection hook consulted by every allocation ({@link FailHook#NEVER} to remove). */
  public void setFailHook(FailHook hook) {
    this.failHook = hook;
  }

  public FailHook failHook() {
    return failHook;
  }

  /** {@code alloc_pages(gfp, order)}: see {@link #allocPagesNode}. */
  public @Nullable Page allocPages(int gfp, int order) {
    return allocPagesNode(NUMA_NO_NODE, gfp, order, DEFAULT_SITE);
  }

  /** {@code alloc_pages} at a named allocation site (what the {@link FailHook} sees). */
  public @Nullable Page allocPages(int gfp, int order, String site) {
    return allocPagesNode(NUMA_NO_NODE, gfp, order, site);
  }

  /**
   * {@code alloc_pages_node}: {@code 2^order} contiguous pages, preferably from node
   * {@code nid} (the calling CPU's node for {@link #NUMA_NO_NODE}), falling back to the other
   * nodes in id order unless {@link Gfp#THISNODE}. Returns the first page with a reference
   * count of 1, a compound head if {@link Gfp#COMP} (tails linked), zeroed frames if
   * {@link Gfp#ZERO}; or null if the {@link FailHook} says so or no block is free (there is no
   * reclaim: every flag combination can fail). {@link Gfp#KERNEL} allocations check that the
   * caller may sleep. Before failing, the pages on every CPU's lists are given back to the
   * buddy lists and the allocation is tried once more (the kernel's slow path drains them after
   * direct reclaim, {@code drain_all_pages}); the model does that for every flag combination,
   * so that "no block is free" means what it says.
   */
  public @Nullable Page allocPagesNode(int nid, int gfp, int order, String site) {
    checkOrder(order);
    if (nid >= nodes.length || nid < NUMA_NO_NODE) {
      throw new IllegalArgumentException("no node " + nid);
    }
    Cpu cpu = sched.cpu();
    if (Gfp.allowsBlocking(gfp)) {
      MightSleep.check(sched, cpu, "alloc_pages with __GFP_DIRECT_RECLAIM (GFP_KERNEL)");
    }
    if (failHook.shouldFail(site, order)) {
      return null;
    }
    int preferred = nid >= 0 ? nid : localNode(cpu);
    Page page = getPageFromFreelist(preferred, gfp, order, cpu);
    if (page == null) {
      drainAllPages();
      page = getPageFromFreelist(preferred, gfp, order, cpu);
    }
    return page;
  }

  /** {@code get_page_from_freelist}: the preferred node's zone, then the others unless {@link Gfp#THISNODE}. */
  private @Nullable Page getPageFromFreelist(int preferred, int gfp, int order, Cpu cpu) {
    for (int i = 0; i < nodes.length; i++) {
      Zone z = nodes[(preferred + i) % nodes.length].normalZone();
      long pfn = z.rmqueue(order, MigrateType.ofGfp(gfp), cpu);
      if (pfn >= 0) {
        return prepNewPage(pfn, order, gfp);
      }
      if ((gfp & Gfp.THISNODE) != 0) {
        break;
      }
    }
    return null;
  }

  /**
   * {@code drain_all_pages(NULL)}: the pages on every CPU's lists of every zone go back to the
   * buddy lists (see {@link Zone}). Takes each {@code pcp->lock}, then {@code zone->lock}.
   */
  public void drainAllPages() {
    for (Node n : nodes) {
      ZonePcp.drainAll(n.normalZone());
    }
  }

  /**
   * The periodic vmstat work of the calling CPU ({@code vmstat_update}, every second in the
   * kernel): {@code decay_pcp_high} on this CPU's list in every zone, which lowers its
   * {@code high} by an eighth and gives back what lies above it. The model has no timers:
   * native workloads call this about once a second on each CPU (see {@code RunCommand});
   * explored executions are too short to need it. True if a later call has more to do.
   */
  public boolean vmstatUpdate() {
    Cpu cpu = sched.cpu();
    boolean todo = false;
    for (Node n : nodes) {
      Zone z = n.normalZone();
      PerCpuPages pcp = ZonePcp.peekPcp(z, cpu);
      if (pcp != null) {
        todo |= ZonePcp.decayPcpHigh(z, pcp);
      }
    }
    return todo;
  }

  /**
   * {@code zone_pcp_disable} on every zone: per-CPU lists stop caching (every free goes
   * straight to the buddy lists) and are drained. For tests and reports that look at the buddy
   * lists alone; {@link #zonePcpEnable} undoes it.
   */
  public void zonePcpDisable() {
    for (Node n : nodes) {
      ZonePcp.pcpDisable(n.normalZone());
    }
  }

  /** {@code zone_pcp_enable} on every zone. */
  public void zonePcpEnable() {
    for (Node n : nodes) {
      ZonePcp.pcpEnable(n.normalZone());
    }
  }

  /** {@code folio_alloc}: a compound allocation ({@link Gfp#COMP} implied), as a folio. */
  public @Nullable Folio folioAlloc(int gfp, int order) {
    return allocPagesNode(NUMA_NO_NODE, gfp | Gfp.COMP, order, "folio_alloc");
  }

  /** {@code folio_alloc} at a named site. */
  public @Nullable Folio folioAlloc(int gfp, int order, String site) {
    return allocPagesNode(NUMA_NO_NODE, gfp | Gfp.COMP, order, site);
  }

  /** {@code numa_node_id}: CPU {@code i} is on node {@code i mod nodes}; the set-up CPU on node 0. */
  private int localNode(Cpu cpu) {
    if (nodes.length == 1) {
      return 0;
    }
    return cpu.id < 0 ? 0 : cpu.id % nodes.length;
  }

  /** {@code prep_new_page}: tails first (no points), then the head's flags and count (points). */
  private Page prepNewPage(long pfn, int order, int gfp) {
    Section s = sectionOf(pfn);
    Page head = s.materialize(pfn, 0);
    boolean compound = (gfp & Gfp.COMP) != 0 && order > 0;
    long n = 1L << order;
    if (compound) {
      for (long i = 1; i < n; i++) {
        PagePrep.prepTail(s.materialize(pfn + i, 0), head);
      }
    } else if (order > 0 && !s.noneMaterialized(pfn + 1, n - 1)) {
      for (long i = 1; i < n; i++) {
        Page t = s.peek(pfn + i);
        if (t != null) {
          PagePrep.checkNewPart(t, "check_new_pages");
        }
      }
    }
    PagePrep.prepNew(head, order, compound);
    if ((gfp & Gfp.ZERO) != 0) {
      for (long i = 0; i < n; i++) {
        frames.zeroPage(pfn + i);
      }
    }
    return head;
  }

  // ------------------------------------------------------------ freeing

  /**
   * {@code __free_pages}: drops the caller's reference to the block of {@code 2^order} pages
   * starting at {@code page}; the last reference frees it ({@code free_pages_prepare}'s checks,
   * then the buddy allocator). If other references remain on the head of a non-compound block,
   * the rest of the block is freed now and the head later, as in the kernel.
   *
   * <p>Verdicts: use-after-free for a double free; refcount-misuse for a count already at zero
   * on an allocated page; invariant ("Bad page state") when the page is still mapped, locked,
   * a page table, on the LRU or in a page cache.
   */
  public void freePages(Page page, int order) {
    checkOrder(order);
    if (page.isTail()) {
      throw page.invariant("__free_pages of a tail page");
    }
    checkNotFreed(page, "__free_pages");
    boolean compound = page.peekFlag(PageFlag.HEAD);
    if (PageRef.sub(page, 1, "__free_pages")) {
      freeBlock(page.pfn(), order, "__free_pages", false);
    } else if (!compound && order > 0) {
      for (int o = order - 1; o >= 0; o--) {
        freeBlock(page.pfn() + (1L << o), o, "__free_pages", true);
      }
    }
  }

  /**
   * {@code free_frozen_pages}: frees a block whose count the caller already brought to zero,
   * or froze ({@link Folio#folioRefFreeze}; the frozen pseudo-lock is released). A nonzero
   * count is a refcount-misuse verdict ("freeing a page with a nonzero refcount").
   */
  public void freeFrozenPages(Page page, int order) {
    checkOrder(order);
    PageRef.dropFrozen(page);
    freeBlock(page.pfn(), order, "free_frozen_pages", true);
  }

  /**
   * Before a put: a count already at zero on a page that is free is a double free (a
   * use-after-free verdict) rather than a mere underflow. Looks at the free lists (taking
   * {@code zone->lock}) only when the count is zero, i.e. only on the error path.
   */
  void checkNotFreed(Page page, String what) {
    if (page.peekRefCount() == 0 && !page.peekFrozen()
        && (page.peekFlag(PageFlag.BUDDY) || zoneOf(page).isFree(page.pfn()))) {
      throw doubleFree(page.pfn(), page.peekFlag(PageFlag.HEAD) ? page.peekOrder() : 0, what, "the page is already free");
    }
  }

  /** {@code __folio_put}: the last reference to {@code head} is gone. */
  void freeFolio(Page head, String what) {
    int order = head.peekFlag(PageFlag.HEAD) ? head.peekOrder() : 0;
    freeBlock(head.pfn(), order, what, false);
  }

  /** {@code PAGEVEC_SIZE}: folios per {@code struct folio_batch}. */
  static final int FOLIO_BATCH = 31;

  /**
   * {@code free_pages_and_swap_cache} as the TLB gather calls it after its flush: drops one
   * reference of each folio, {@link #FOLIO_BATCH} at a time ({@code folios_put_refs}), and frees
   * those whose count reached zero together ({@code free_unref_folios}): each prepared, then
   * committed to the calling CPU's lists under one {@code pcp->lock} for the batch (taken again
   * only when the zone changes), instead of a lock round trip per page. A folio whose CPU list
   * cannot be locked ({@code pcp_spin_trylock} failed) goes to the buddy lists, as there.
   */
  public void foliosPut(List<? extends Folio> folios, String what) {
    int size = folios.size();
    if (size == 0) {
      return;
    }
    Page[] batch = new Page[Math.min(size, FOLIO_BATCH)];
    long[] pfns = new long[batch.length];
    int[] orders = new int[batch.length];
    Zone[] zones = new Zone[batch.length];
    for (int from = 0; from < size; from += FOLIO_BATCH) {
      int n = Math.min(FOLIO_BATCH, size - from);
      for (int i = 0; i < n; i++) {
        batch[i] = folios.get(from + i).headPage();
      }
      int freed = 0;
      for (int i = 0; i < n; i++) { // folio_put_testzero; the last references are kept, in order
        Page p = batch[i];
        checkNotFreed(p, what);
        if (PageRef.sub(p, 1, what)) {
          pfns[freed] = p.pfn();
          orders[freed] = p.peekFlag(PageFlag.HEAD) ? p.peekOrder() : 0;
          freed++;
        }
      }
      freeUnrefFolios(pfns, orders, zones, freed, what);
    }
  }

  /**
   * {@code free_unref_folios}: every block prepared first (and one beyond the per-CPU orders freed
   * at once), then the rest committed under the pcp lock of its zone, taken once per run of the
   * same zone.
   */
  private void freeUnrefFolios(long[] pfns, int[] orders, Zone[] zones, int n, String what) {
    Cpu cpu = sched.cpu();
    for (int i = 0; i < n; i++) {
      Zone z = prepareBlock(pfns[i], orders[i], what);
      zones[i] = z;
      if (orders[i] > PerCpuPages.PCP_MAX_ORDER) {
        z.freeUnrefPage(pfns[i], orders[i], cpu);
        pfns[i] = -1;
      }
    }
    Zone locked = null;
    PerCpuPages pcp = null;
    for (int i = 0; i < n; i++) {
      long pfn = pfns[i];
      if (pfn < 0) {
        continue;
      }
      Zone z = zones[i];
      if (z != locked) {
        if (pcp != null) {
          pcp.lock().unlock();
        }
        locked = z;
        pcp = ZonePcp.pcpOf(z, cpu);
        if (!pcp.lock().tryLock()) {
          locked = null;
          pcp = null;
          z.freeUnrefFallback(pfn, orders[i], cpu);
          continue;
        }
      }
      z.freeUnrefPageLocked(pcp, pfn, orders[i], cpu);
    }
    if (pcp != null) {
      pcp.lock().unlock();
    }
  }

  /**
   * {@code free_pages_prepare}, then {@code free_unref_page} (per-CPU lists first, see
   * {@link Zone}). {@code unproven}: the caller did not just drop the count from 1 to 0, so the
   * block may already be free: it is checked against every free list and goes straight to the
   * buddy lists ({@code Zone.freeUnproven}; the kernel would put it on the per-CPU list too).
   */
  private void freeBlock(long pfn, int order, String what, boolean unproven) {
    Zone z = prepareBlock(pfn, order, what);
    if (unproven) {
      z.freeUnproven(pfn, order, what, sched.cpu());
    } else {
      z.freeUnrefPage(pfn, order, sched.cpu());
    }
  }

  /**
   * {@code free_pages_prepare} of the block {@code [pfn, pfn + 2^order)}: checks it is aligned, not
   * free already, and whole (a compound page freed at its order), and clears its descriptors.
   * Returns its zone.
   */
  private Zone prepareBlock(long pfn, int order, String what) {
    Section s = sectionOf(pfn);
    long n = 1L << order;
    if (pfn + n > s.endPfn() || (pfn & (n - 1)) != 0) {
      throw new IllegalArgumentException("block 0x" + Long.toHexString(pfn) + " of order " + order + " is misaligned");
    }
    Page head = s.peek(pfn);
    boolean compound = false;
    if (head != null) {
      if (head.peekFlag(PageFlag.BUDDY)) {
        throw doubleFree(pfn, order, what, "its first page starts a free block");
      }
      compound = head.peekFlag(PageFlag.HEAD);
      if (compound && head.peekOrder() != order) {
        throw head.invariant(what + " frees a compound page of order " + head.peekOrder() + " as order " + order);
      }
      if (!compound && order > 0 && head.isTail()) {
        throw head.invariant(what + " frees a block starting at a tail page");
      }
    }
    if (order > 0 && !s.noneMaterialized(pfn + 1, n - 1)) {
      for (long i = 1; i < n; i++) {
        Page t = s.peek(pfn + i);
        if (t == null) {
          continue;
        }
        if (t.peekFlag(PageFlag.BUDDY)) {
          throw doubleFree(pfn, order, what, "page 0x" + Long.toHexString(pfn + i) + " starts a free block");
        }
        if (compound) {
          PagePrep.prepareFreeTail(t, head, what);
        } else {
          PagePrep.checkFreePart(t, what);
        }
      }
    }
    if (head != null) {
      PagePrep.prepareFree(head, what);
    }
    return s.zoneOf(pfn);
  }

  /** The use-after-free verdict of freeing free memory. */
  BugException doubleFree(long pfn, int order, String what, String reason) {
    Page p = peekPage(pfn);
    return sched.bug(Verdict.of(VerdictKind.USE_AFTER_FREE,
        sched.cpu().label() + ": double free of pfn 0x" + Long.toHexString(pfn) + " (order " + order + ") in " + what,
        List.of(reason, "state: " + (p == null ? "no descriptor" : p.state())),
        p == null ? List.of() : List.of(p.id())));
  }

  private static void checkOrder(int order) {
    if (order < 0 || order > MAX_PAGE_ORDER) {
      throw new IllegalArgumentException("order " + order + " outside 0.." + MAX_PAGE_ORDER);
    }
  }

  // ------------------------------------------------------------ accounting

  /**
   * Free pages as {@code /proc/meminfo}'s MemFree shows them: {@code NR_FREE_PAGES} plus the
   * pages on per-CPU lists (the kernel's MemFree leaves the latter out; see {@link Zone}). Two
   * read steps per zone.
   */
  public long nrFreePages() {
    long n = 0;
    for (Node node : nodes) {
      n += node.normalZone().nrFreePages() + node.normalZone().nrPcpPages();
    }
    return n;
  }

  /** {@code pgalloc} ({@code /proc/vmstat}, summed over zones): pages allocated so far. */
  public long pgalloc() {
    long n = 0;
    for (Node node : nodes) {
      n += node.normalZone().pgalloc();
    }
    return n;
  }

  /** {@code pgfree} ({@code /proc/vmstat}): pages freed so far. */
  public long pgfree() {
    long n = 0;
    for (Node node : nodes) {
      n += node.normalZone().pgfree();
    }
    return n;
  }

  /** Free pages (buddy and per-CPU lists, as {@link #nrFreePages}) without scheduling points: checks and reports only. */
  public long peekNrFreePages() {
    long n = 0;
    for (Node node : nodes) {
      n += node.normalZone().peekNrFreePages() + node.normalZone().peekPcpPages();
    }
    return n;
  }

  /** Pages on per-CPU lists, without scheduling points. */
  public long peekPcpPages() {
    long n = 0;
    for (Node node : nodes) {
      n += node.normalZone().peekPcpPages();
    }
    return n;
  }

  /** Free blocks of {@code order} over all zones, without scheduling points. */
  public long peekFreeBlocks(int order) {
    long n = 0;
    for (Node node : nodes) {
      n += node.normalZone().peekFreeBlocks(order);
    }
    return n;
  }

  /** Descriptors created so far (statistics). */
  public long materializedDescriptors() {
    long n = 0;
    for (Section s : sections) {
      n += s.materialized();
    }
    return n;
  }

  /** {@code /proc/buddyinfo}. */
  public String buddyinfo() {
    StringBuilder sb = new StringBuilder();
    for (Node node : nodes) {
      sb.append(node.normalZone().buddyinfo()).append('\n');
    }
    return sb.toString();
  }

  // ------------------------------------------------------------ consistency walk, teardown

  /**
   * The walk registered with the scheduler (run when no CPU runs): every zone's free lists
   * (see {@link Zone}), managed pages adding up to the total, no descriptor outside a free
   * block marked {@link PageFlag#BUDDY}, and the frames' line masks covering every nonzero line
   * ({@link Frames#findUnmarkedLine}). An invariant verdict if anything does not hold.
   */
  public void checkConsistency() {
    long managed = 0;
    for (Node node : nodes) {
      Zone z = node.normalZone();
      ZoneCheck.walk(z);
      managed += z.managedPages();
    }
    if (managed != totalPages) {
      throw new BugException(Verdict.of(VerdictKind.INVARIANT,
          "managed pages (" + managed + ") != total pages (" + totalPages + ")", List.of(), List.of()));
    }
    for (Section s : sections) {
      s.forEachMaterialized(p -> ZoneCheck.walkAllocatedDescriptor(s.zoneOf(p.pfn()), p));
    }
    long line = frames.findUnmarkedLine();
    if (line >= 0) {
      long pfn = line >>> 6;
      Page p = pfnValid(pfn) ? peekPage(pfn) : null;
      throw new BugException(Verdict.of(VerdictKind.INVARIANT,
          "pfn 0x" + Long.toHexString(pfn) + ": bytes [" + ((line & 63) << 6) + ", +64) are nonzero but not marked written",
          List.of("a store reached the frame without marking its line (Frames.markLines), so clear_page would skip it",
              "page: " + (p == null ? "no descriptor" : p.describe() + " [" + p.state() + "]"),
              "a store through a stale translation into a reused page does this"),
          List.of()));
    }
  }

  /** Gives the frames back to their pool; the memory must not be used afterwards. */
  public void release() {
    frames.release();
  }

  @Override
  public String toString() {
    return "PhysMem[" + (totalPages >>> 8) + " MiB, " + nodes.length + " node(s), " + sections.length + " section(s)]";
  }
}
