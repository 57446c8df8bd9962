package org.mmlab.mm.page;

import java.util.List;
import org.jspecify.annotations.Nullable;
import org.mmlab.debug.LockClass;
import org.mmlab.explore.Cpu;
import org.mmlab.explore.SyncObject;

/**
 * The pseudo-lock objects of one page descriptor, created the first time the page is locked
 * ({@code PG_locked}) or its reference count frozen, and kept while the page is not a tail:
 * most resident pages (anonymous memory) are never locked, so the descriptor itself does not
 * pay for them (see {@link Page}'s notes on size).
 *
 * <p>Each pseudo-lock is what lockdep orders, what a CPU's held-lock stack shows, and what a
 * waiter's wait-for chain names; the operations themselves are scheduling points on the
 * {@link Page}, so that POS sees a lock attempt and a flag test of one page as racing.
 */
final class PageLocks {
  /** The lock class of every folio lock ({@code PG_locked}). */
  static final LockClass FOLIO_LOCK = LockClass.pseudo("PG_locked");
  /** The lock class of every frozen folio reference count ({@code folio_ref_freeze}). */
  static final LockClass FROZEN = LockClass.pseudo("folio refcount frozen");

  /** {@code PG_locked} of this page as a pseudo-lock. Immutable reference. */
  final Pseudo locked;
  /** The frozen state of this page's reference count as a pseudo-lock. Immutable reference. */
  final Pseudo frozen;

  PageLocks(Page page) {
    this.locked = new Pseudo(page, "page lock", FOLIO_LOCK);
    this.frozen = new Pseudo(page, "frozen refcount", FROZEN);
  }

  /** One pseudo-lock: who holds it, for wait-for chains and reports. */
  static final class Pseudo extends SyncObject {
    private final Page page;
    private final String kind;
    /**
     * The CPU that took it, or null. Written by the taker after its atomic operation succeeded
     * and cleared by the releaser before the bit or count is published again: protected by the
     * bit (or the frozen count) itself; read racily for reports.
     */
    @Nullable Cpu holder;

    Pseudo(Page page, String kind, LockClass cls) {
      super(page.sched(), cls.name(), cls, page.owner());
      this.page = page;
      this.kind = kind;
    }

    @Override
    public String name() {
      return lockClass() + "@" + page.name();
    }

    @Override
    public String kind() {
      return kind;
    }

    @Override
    public List<Cpu> holders() {
      Cpu h = holder;
      return h == null ? List.of() : List.of(h);
    }

    @Override
    public String state() {
      Cpu h = holder;
      return h == null ? "free" : "held by " + h.label();
    }
  }
}
