#include "common/utf8.h"

#include <cstdio>
#include <string>

namespace certpress {

long DecodeUtf8(std::string_view s, size_t* pos) {
  size_t i = *pos;
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  int n;
  long cp;
  if (c < 0x80) {
    *pos = i + 1;
    return c;
  } else if ((c & 0xe0) == 0xc0) {
    n = 1;
    cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 2;
    cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 3;
    cp = c & 0x07;
  } else {
    return -1;
  }
  for (int k = 1; k <= n; ++k) {
    if (i + k >= s.size() || (b(i + k) & 0xc0) != 0x80) return -1;
    cp = (cp << 6) | (b(i + k) & 0x3f);
  }
  static constexpr long kMin[4] = {0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return -1;
  *pos = i + n + 1;
  return cp;
}

bool ValidateUtf8(std::string_view s, size_t* bad_offset) {
  size_t pos = 0;
  while (pos < s.size()) {
    size_t start = pos;
    if (DecodeUtf8(s, &pos) < 0) {
      if (bad_offset) *bad_offset = start;
      return false;
    }
  }
  return true;
}

size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xc0) != 0x80) ++n;
  }
  return n;
}

Status CheckFieldText(std::string_view value, size_t* offset) {
  size_t pos = 0;
  size_t index = 0;
  while (pos < value.size()) {
    long cp = DecodeUtf8(value, &pos);
    if (cp < 0) {
      *offset = index;
      return InvalidInput("invalid UTF-8");
    }
    if (cp >= 0x20 && cp < 0x7f) {  // the common case: printable ASCII
      ++index;
      continue;
    }
    char hex[24];
    std::snprintf(hex, sizeof hex, "U+%04lX", cp);
    if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f)) {
      *offset = index;
      return InvalidInput(std::string("control character ") + hex);
    }
    // Bidirectional formatting characters make text display differently from what it is
    // (CVE-2021-42574, "Trojan Source"); names in certificates must not carry them.
    if (cp == 0x061c || cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
        (cp >= 0x2066 && cp <= 0x2069)) {
      *offset = index;
      return InvalidInput(std::string("bidirectional formatting character ") + hex);
    }
    // Invisible characters make two names that look the same differ (and one that looks
    // empty not be); a byte order mark belongs at the start of a file, never in a field.
    if ((cp >= 0x200b && cp <= 0x200d) || cp == 0x2060 || cp == 0xfeff) {
      *offset = index;
      return InvalidInput(std::string(cp == 0xfeff ? "byte order mark " : "zero-width character ") +
                          hex + " inside a field");
    }
    // Line and paragraph separators break a name across lines where it is shown.
    if (cp == 0x2028 || cp == 0x2029) {
      *offset = index;
      return InvalidInput(std::string("line or paragraph separator ") + hex);
    }
    ++index;
  }
  return Status::Ok();
}

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace certpress
