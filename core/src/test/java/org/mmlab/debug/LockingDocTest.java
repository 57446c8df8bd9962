package org.mmlab.debug;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** docs/LOCKING.md names every lock class the main sources create. */
class LockingDocTest {
  private static final Pattern CLASS = Pattern.compile(
      "LockClass\\.(?:of|pseudo)\\(\"([^\"]+)\"\\)|(?:LOCK_CLASS_NAME|DEFAULT_FROZEN_CLASS) = \"([^\"]+)\"");

  @Test
  void everyLockClassInTheSourcesIsDocumented() throws IOException {
    Path root = Path.of("").toAbsolutePath();
    Path sources = root.resolve("src/main/java");
    Path doc = root.getParent().resolve("docs/LOCKING.md");
    String text = Files.readString(doc);
    Set<String> names = new TreeSet<>();
    try (Stream<Path> files = Files.walk(sources)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
        Matcher m = CLASS.matcher(Files.readString(f));
        while (m.find()) {
          names.add(m.group(1) != null ? m.group(1) : m.group(2));
        }
      }
    }
    assertThat(names).isNotEmpty();
    for (String n : names) {
      assertThat(text).as("docs/LOCKING.md documents lock class %s", n).contains("`" + n + "`");
    }
  }
}
