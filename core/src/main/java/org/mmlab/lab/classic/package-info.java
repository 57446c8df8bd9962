/**
 * Classic concurrency bugs, each with a buggy and a fixed variant: the explorer's proving
 * ground (ABBA deadlock, lost update, RCU use-after-free, a spin on a frozen refcount under a
 * lock, a lost wakeup, an ABBA order only lockdep sees).
 */
@NullMarked
package org.mmlab.lab.classic;

import org.jspecify.annotations.NullMarked;
