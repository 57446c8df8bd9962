package org.mmlab.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.jspecify.annotations.Nullable;
import org.mmlab.explore.Found;
import org.mmlab.explore.report.HtmlReport;
import org.mmlab.explore.report.TraceReport;

/** Writes the optional HTML and trace-event reports of a found bug. */
final class Reports {
  private Reports() {}

  static void write(Found found, String title, @Nullable Path html, @Nullable Path trace) throws IOException {
    if (html != null) {
      createParent(html);
      Files.writeString(html, HtmlReport.render(found, title));
    }
    if (trace != null) {
      createParent(trace);
      Files.writeString(trace, TraceReport.render(found) + "\n");
    }
  }

  private static void createParent(Path p) throws IOException {
    Path dir = p.toAbsolutePath().getParent();
    if (dir != null) {
      Files.createDirectories(dir);
    }
  }
}
