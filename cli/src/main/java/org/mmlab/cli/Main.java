package org.mmlab.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code mmlab}: explore the mm model's scenarios for races, replay what was found, list the
 * catalog. Exit codes are a contract (docs/CLI.md): 0 nothing found (or, for the whole catalog,
 * every expectation met), 1 a bug found (or an expectation missed), 2 a usage error, 3 a replay
 * that did not reproduce its trace (nondeterminism).
 */
@Command(name = "mmlab", mixinStandardHelpOptions = true, version = "mmlab 0.1.0",
    description = "An executable model of the Linux mm with a deterministic race explorer.",
    subcommands = {ExploreCommand.class, ScenariosCommand.class, ReplayCommand.class, ShellCommand.class, RunCommand.class})
public final class Main implements Runnable {
  /** Exit code: a replay did not reproduce its recorded trace. */
  public static final int NONDETERMINISM = 3;

  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the command line and returns its exit code (tests call this). */
  public static int run(String... args) {
    CommandLine cl = new CommandLine(new Main());
    cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
      if (ex instanceof IllegalArgumentException) {
        cmd.getErr().println("mmlab: " + ex.getMessage());
        return CommandLine.ExitCode.USAGE;
      }
      throw ex;
    });
    return cl.execute(args);
  }
}
