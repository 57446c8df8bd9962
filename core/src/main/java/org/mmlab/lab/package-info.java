/**
 * The experiments: scenarios with design variants, each a program the explorer runs, and the
 * catalog that lists them. A scenario declares, for each variant, what the explorer must find
 * (a verdict kind) or that it must find nothing.
 */
@NullMarked
package org.mmlab.lab;

import org.jspecify.annotations.NullMarked;
