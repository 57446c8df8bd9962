package org.mmlab.explore;

import org.jspecify.annotations.Nullable;

/**
 * One step of a captured schedule, for reports: which CPU performed which kernel operation on
 * which object, from which model function, and the object's state just before.
 *
 * @param step index in the execution
 * @param cpu CPU id
 * @param kind operation kind
 * @param objectId the object's id, or 0
 * @param ownerId the id of the object's owner ({@code KObject}), or 0
 * @param object the object's description ({@code "spinlock A"})
 * @param what the kernel operation ({@code "spin_lock"})
 * @param where the model function, or null
 * @param state the object's state before the step
 * @param preemption true if this step preempted a CPU that could have gone on
 */
public record StepRecord(long step, int cpu, OpKind kind, int objectId, int ownerId, String object, String what,
    @Nullable String where, String state, boolean preemption) {}
