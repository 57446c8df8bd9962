package org.mmlab.explore.report;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Minimal JSON: writes {@code Map}/{@code List}/String/Number/Boolean/null trees (maps keep
 * their insertion order) and parses them back. Enough for replay files and {@code --json},
 * without a runtime dependency in the core.
 */
public final class Json {
  private Json() {}

  /** Serializes {@code value} on one line. */
  public static String write(@Nullable Object value) {
    StringBuilder sb = new StringBuilder();
    write(sb, value, -1, 0);
    return sb.toString();
  }

  /** Serializes {@code value} indented by two spaces per level. */
  public static String pretty(@Nullable Object value) {
    StringBuilder sb = new StringBuilder();
    write(sb, value, 2, 0);
    return sb.toString();
  }

  private static void write(StringBuilder sb, @Nullable Object v, int indent, int depth) {
    switch (v) {
      case null -> sb.append("null");
      case String s -> quote(sb, s);
      case Boolean b -> sb.append(b);
      case Double d -> sb.append(d.isNaN() || d.isInfinite() ? "null" : d.toString());
      case Float f -> sb.append(f.isNaN() || f.isInfinite() ? "null" : f.toString());
      case Number n -> sb.append(n);
      case Map<?, ?> m -> {
        sb.append('{');
        boolean first = true;
        for (Map.Entry<?, ?> e : m.entrySet()) {
          if (!first) {
            sb.append(',');
          }
          first = false;
          newline(sb, indent, depth + 1);
          quote(sb, String.valueOf(e.getKey()));
          sb.append(indent < 0 ? ":" : ": ");
          write(sb, e.getValue(), indent, depth + 1);
        }
        if (!m.isEmpty()) {
          newline(sb, indent, depth);
        }
        sb.append('}');
      }
      case Iterable<?> it -> {
        sb.append('[');
        boolean first = true;
        for (Object o : it) {
          if (!first) {
            sb.append(',');
          }
          first = false;
          newline(sb, indent, depth + 1);
          write(sb, o, indent, depth + 1);
        }
        if (!first) {
          newline(sb, indent, depth);
        }
        sb.append(']');
      }
      default -> quote(sb, v.toString());
    }
  }

  private static void newline(StringBuilder sb, int indent, int depth) {
    if (indent >= 0) {
      sb.append('\n').append(" ".repeat(indent * depth));
    }
  }

  private static void quote(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    sb.append('"');
  }

  /** Parses a JSON text; objects become {@code LinkedHashMap}, arrays {@code ArrayList}, numbers Long or Double. */
  public static @Nullable Object parse(String text) {
    Parser p = new Parser(text);
    Object v = p.value();
    p.ws();
    if (p.i != text.length()) {
      throw p.error("trailing characters");
    }
    return v;
  }

  private static final class Parser {
    final String s;
    int i;

    Parser(String s) {
      this.s = s;
    }

    IllegalArgumentException error(String what) {
      return new IllegalArgumentException("bad JSON at offset " + i + ": " + what);
    }

    void ws() {
      while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
        i++;
      }
    }

    @Nullable Object value() {
      ws();
      if (i >= s.length()) {
        throw error("unexpected end");
      }
      char c = s.charAt(i);
      return switch (c) {
        case '{' -> object();
        case '[' -> array();
        case '"' -> string();
        case 't' -> literal("true", Boolean.TRUE);
        case 'f' -> literal("false", Boolean.FALSE);
        case 'n' -> literal("null", null);
        default -> number();
      };
    }

    @Nullable Object literal(String word, @Nullable Object v) {
      if (!s.startsWith(word, i)) {
        throw error("expected " + word);
      }
      i += word.length();
      return v;
    }

    Map<String, Object> object() {
      Map<String, Object> m = new LinkedHashMap<>();
      i++;
      ws();
      if (i < s.length() && s.charAt(i) == '}') {
        i++;
        return m;
      }
      while (true) {
        ws();
        if (i >= s.length() || s.charAt(i) != '"') {
          throw error("expected a key");
        }
        String k = string();
        ws();
        if (i >= s.length() || s.charAt(i) != ':') {
          throw error("expected :");
        }
        i++;
        m.put(k, value());
        ws();
        if (i < s.length() && s.charAt(i) == ',') {
          i++;
        } else if (i < s.length() && s.charAt(i) == '}') {
          i++;
          return m;
        } else {
          throw error("expected , or }");
        }
      }
    }

    List<Object> array() {
      List<Object> out = new ArrayList<>();
      i++;
      ws();
      if (i < s.length() && s.charAt(i) == ']') {
        i++;
        return out;
      }
      while (true) {
        out.add(value());
        ws();
        if (i < s.length() && s.charAt(i) == ',') {
          i++;
        } else if (i < s.length() && s.charAt(i) == ']') {
          i++;
          return out;
        } else {
          throw error("expected , or ]");
        }
      }
    }

    String string() {
      StringBuilder sb = new StringBuilder();
      i++;
      while (true) {
        if (i >= s.length()) {
          throw error("unterminated string");
        }
        char c = s.charAt(i++);
        if (c == '"') {
          return sb.toString();
        }
        if (c != '\\') {
          sb.append(c);
          continue;
        }
        if (i >= s.length()) {
          throw error("bad escape");
        }
        char e = s.charAt(i++);
        switch (e) {
          case 'n' -> sb.append('\n');
          case 't' -> sb.append('\t');
          case 'r' -> sb.append('\r');
          case 'b' -> sb.append('\b');
          case 'f' -> sb.append('\f');
          case 'u' -> {
            if (i + 4 > s.length()) {
              throw error("bad \\u escape");
            }
            sb.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
            i += 4;
          }
          default -> sb.append(e);
        }
      }
    }

    Object number() {
      int start = i;
      while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) {
        i++;
      }
      String t = s.substring(start, i);
      if (t.isEmpty()) {
        throw error("unexpected character");
      }
      try {
        if (t.contains(".") || t.contains("e") || t.contains("E")) {
          return Double.parseDouble(t);
        }
        return Long.parseLong(t);
      } catch (NumberFormatException ex) {
        throw error("bad number " + t);
      }
    }
  }
}
