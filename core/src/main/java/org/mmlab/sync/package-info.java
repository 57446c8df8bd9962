@NullMarked
package org.mmlab.sync;

import org.jspecify.annotations.NullMarked;
