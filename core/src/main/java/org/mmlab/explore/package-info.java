@NullMarked
package org.mmlab.explore;

import org.jspecify.annotations.NullMarked;
