@NullMarked
package org.mmlab.debug;

import org.jspecify.annotations.NullMarked;
