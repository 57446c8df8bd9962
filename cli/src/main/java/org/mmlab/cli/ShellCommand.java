package org.mmlab.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import org.mmlab.shell.Shell;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code mmlab shell [FILE]}: runs a shell script (docs/SHELL.md) from FILE or standard input on a
 * fresh default kernel, printing one result line per command to standard output. Exit 0 when the
 * script was read to its end, whatever the commands returned; 2 if FILE cannot be read.
 */
@Command(name = "shell", description = "Run mm syscall commands (docs/SHELL.md) from FILE or standard input.")
final class ShellCommand implements Callable<Integer> {
  @Parameters(arity = "0..1", paramLabel = "FILE", description = "the script; standard input if left out")
  @Nullable Path file;

  @Override
  public Integer call() throws IOException {
    PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
    Shell shell = new Shell();
    try {
      if (file == null) {
        shell.run(new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)), out);
      } else {
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
          shell.run(in, out);
        }
      }
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException("no such file: " + file);
    } finally {
      out.flush();
      shell.kernel().sched().releaseAll();
    }
    return 0;
  }
}
