/**
 * The seed experiments: one scenario per linux-mm thread of {@code shared/seeds/}, the design
 * that lost beside the one that landed, each running the model's real code paths.
 */
@NullMarked
package org.mmlab.lab.seed;

import org.jspecify.annotations.NullMarked;
