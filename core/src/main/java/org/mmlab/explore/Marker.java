package org.mmlab.explore;

/** A named object that is not state of its own: what a bare retry point or an event is about. */
public final class Marker extends SyncObject {
  private final String kind;

  public Marker(Sched sched, String name, String kind) {
    super(sched, name, null, null);
    this.kind = kind;
  }

  @Override
  public String kind() {
    return kind;
  }
}
