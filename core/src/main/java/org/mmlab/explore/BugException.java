package org.mmlab.explore;

/**
 * Thrown by a checker inside model code when it finds a bug. It is an {@link Error} so that
 * model code catching exceptions cannot swallow it. In explore mode the CPU wrapper catches it
 * and ends the execution with its verdict; in native mode it propagates to the test.
 */
public final class BugException extends Error {
  private static final long serialVersionUID = 1L;
  private final transient Verdict verdict;

  public BugException(Verdict verdict) {
    super(verdict.kind().id() + ": " + verdict.headline(), null, false, false);
    this.verdict = verdict;
  }

  public Verdict verdict() {
    return verdict;
  }
}
