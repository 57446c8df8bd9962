/** The {@code mmlab} command: scenarios, explore, replay. */
@NullMarked
package org.mmlab.cli;

import org.jspecify.annotations.NullMarked;
