/**
 * Scheduling strategies: random walk, PCT, fair PCT, POS, bounded fair DFS, a portfolio of
 * them, and the guided strategies that replay and shrink recorded schedules.
 */
@NullMarked
package org.mmlab.explore.strategy;

import org.jspecify.annotations.NullMarked;
