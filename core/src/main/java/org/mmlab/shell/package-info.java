/**
 * The {@code mmlab shell}: an xfs_io-style interpreter over the syscall surface, one command
 * per line, one result line per command. Its grammar is one table in {@code Shell} and in
 * {@code docs/SHELL.md}.
 */
@NullMarked
package org.mmlab.shell;

import org.jspecify.annotations.NullMarked;
