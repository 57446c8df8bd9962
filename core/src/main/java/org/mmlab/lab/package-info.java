@NullMarked
package org.mmlab.lab;

import org.jspecify.annotations.NullMarked;
