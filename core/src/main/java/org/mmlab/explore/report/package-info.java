/** Reports of found bugs: the CPU-column text report, JSON. */
@NullMarked
package org.mmlab.explore.report;

import org.jspecify.annotations.NullMarked;
