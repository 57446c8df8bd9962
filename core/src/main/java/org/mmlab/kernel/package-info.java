/**
 * The kernel: booting a model from a {@code KernelConfig}, processes and tasks, the syscall
 * surface with Linux's errno values, signals on bad accesses, and the {@code /proc} views.
 * Constants here carry Linux's numeric values (x86-64 UAPI) so that programs, scripts and the
 * shell can pass raw numbers as they would to the real kernel.
 */
@NullMarked
package org.mmlab.kernel;

import org.jspecify.annotations.NullMarked;
