#include "web/multipart.h"

#include <cctype>

namespace certpress::web {

namespace {

char Lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

void TrimSpace(std::string_view* s) {
  while (!s->empty() && (s->front() == ' ' || s->front() == '\t')) s->remove_prefix(1);
  while (!s->empty() && (s->back() == ' ' || s->back() == '\t')) s->remove_suffix(1);
}

// RFC 9110 5.6.2 tchar.
bool IsTchar(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  if (std::isalnum(u)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

// RFC 2046 5.1.1 bchars (bcharsnospace and the space).
bool IsBchar(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  if (std::isalnum(u)) return true;
  switch (c) {
    case '\'':
    case '(':
    case ')':
    case '+':
    case '_':
    case ',':
    case '-':
    case '.':
    case '/':
    case ':':
    case '=':
    case '?':
    case ' ':
      return true;
    default:
      return false;
  }
}

// Parameters reads "; name=value" pairs (value a token or a quoted-string with \-escapes,
// RFC 9110 5.6.4) from |s| into |out|, names in lower case. False when malformed or when a
// name repeats.
bool Parameters(std::string_view s, std::map<std::string, std::string>* out) {
  size_t i = 0;
  auto skip_ws = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  };
  while (true) {
    skip_ws();
    if (i == s.size()) return true;
    if (s[i] != ';') return false;
    ++i;
    skip_ws();
    if (i == s.size()) return true;  // a trailing ';' (some clients send one)
    const size_t name_start = i;
    while (i < s.size() && IsTchar(s[i])) ++i;
    if (i == name_start) return false;
    std::string name(s.substr(name_start, i - name_start));
    for (char& c : name) c = Lower(c);
    skip_ws();
    if (i == s.size() || s[i] != '=') return false;
    ++i;
    skip_ws();
    std::string value;
    if (i < s.size() && s[i] == '"') {
      ++i;
      bool closed = false;
      while (i < s.size()) {
        const char c = s[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\') {
          if (i == s.size()) return false;
          value += s[i++];
        } else if (c == '\r' || c == '\n' || c == '\0') {
          return false;
        } else {
          value += c;
        }
      }
      if (!closed) return false;
    } else {
      const size_t value_start = i;
      while (i < s.size() && IsTchar(s[i])) ++i;
      if (i == value_start) return false;
      value = std::string(s.substr(value_start, i - value_start));
    }
    if (!out->emplace(std::move(name), std::move(value)).second) return false;
  }
}

std::string At(size_t offset) {
  return " (at byte " + std::to_string(offset) + ")";
}

}  // namespace

Result<std::string> MultipartBoundary(std::string_view content_type) {
  const size_t semi = content_type.find(';');
  std::string_view type = content_type.substr(0, semi);
  TrimSpace(&type);
  if (!EqualsNoCase(type, "multipart/form-data")) {
    return InvalidInput("the body is not multipart/form-data");
  }
  std::map<std::string, std::string> params;
  if (semi == std::string_view::npos || !Parameters(content_type.substr(semi), &params)) {
    return InvalidInput("the multipart/form-data Content-Type has malformed parameters");
  }
  auto it = params.find("boundary");
  if (it == params.end()) return InvalidInput("the multipart/form-data body has no boundary");
  const std::string& b = it->second;
  if (b.empty() || b.size() > 70 || b.back() == ' ') {
    return InvalidInput("the multipart boundary must be 1 to 70 characters, not ending in a space");
  }
  for (char c : b) {
    if (!IsBchar(c)) return InvalidInput("the multipart boundary has a character RFC 2046 forbids");
  }
  return b;
}

Result<std::map<std::string, FormPart>> ParseMultipart(std::string_view body,
                                                       std::string_view boundary,
                                                       const MultipartLimits& limits) {
  if (boundary.empty() || boundary.size() > 70) return InvalidInput("bad multipart boundary");
  const std::string dash = "--" + std::string(boundary);
  const std::string delimiter = "\r\n" + dash;  // ends every part's content
  std::map<std::string, FormPart> out;
  if (body.substr(0, dash.size()) != dash) {
    return InvalidInput("the multipart body does not start with its boundary");
  }
  size_t pos = dash.size();
  while (true) {
    // After a delimiter: "--" closes the body, CRLF opens a part (RFC 2046 5.1.1; the
    // transport padding of whitespace before the CRLF is not sent by browsers: refused).
    if (body.substr(pos, 2) == "--") return out;  // the epilogue, if any, is ignored
    if (body.substr(pos, 2) != "\r\n") {
      return InvalidInput("the multipart boundary is not followed by CRLF" + At(pos));
    }
    pos += 2;
    if (out.size() >= limits.max_parts) {
      return InvalidInput("the multipart body has more than " + std::to_string(limits.max_parts) +
                          " parts");
    }
    // The part's header lines, up to the empty line.
    const size_t header_end = body.find("\r\n\r\n", pos);
    // A part without headers starts with the empty line itself.
    const bool no_headers = body.substr(pos, 2) == "\r\n";
    if (!no_headers && header_end == std::string_view::npos) {
      return InvalidInput("a multipart part's headers do not end" + At(pos));
    }
    const size_t headers_size = no_headers ? 0 : header_end - pos;
    if (headers_size > limits.max_part_header_bytes) {
      return InvalidInput("a multipart part's headers are longer than " +
                          std::to_string(limits.max_part_header_bytes) + " bytes" + At(pos));
    }
    std::string_view headers = body.substr(pos, headers_size);
    const size_t headers_at = pos;
    pos += no_headers ? 2 : headers_size + 4;
    std::string name, filename, content_type;
    bool have_disposition = false, is_file = false;
    while (!headers.empty()) {
      const size_t eol = headers.find("\r\n");
      std::string_view line = headers.substr(0, eol);
      headers = eol == std::string_view::npos ? std::string_view() : headers.substr(eol + 2);
      if (line.empty() || line.front() == ' ' || line.front() == '\t') {
        return InvalidInput("a multipart part has an empty or folded header line" + At(headers_at));
      }
      for (char c : line) {
        if (c == '\r' || c == '\n' || c == '\0') {
          return InvalidInput("a multipart header has a bare CR, LF or NUL" + At(headers_at));
        }
      }
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0) {
        return InvalidInput("a multipart header line has no name" + At(headers_at));
      }
      const std::string_view field = line.substr(0, colon);
      for (char c : field) {
        if (!IsTchar(c))
          return InvalidInput("a multipart header name is malformed" + At(headers_at));
      }
      std::string_view value = line.substr(colon + 1);
      TrimSpace(&value);
      if (EqualsNoCase(field, "content-disposition")) {
        if (have_disposition) {
          return InvalidInput("a multipart part has two Content-Disposition headers" +
                              At(headers_at));
        }
        have_disposition = true;
        const size_t semi = value.find(';');
        std::string_view kind = value.substr(0, semi);
        TrimSpace(&kind);
        std::map<std::string, std::string> params;
        if (!EqualsNoCase(kind, "form-data") || semi == std::string_view::npos ||
            !Parameters(value.substr(semi), &params)) {
          return InvalidInput(
              "a multipart part's Content-Disposition is not form-data with "
              "parameters" +
              At(headers_at));
        }
        auto n = params.find("name");
        if (n == params.end() || n->second.empty()) {
          return InvalidInput("a multipart part has no name" + At(headers_at));
        }
        name = n->second;
        if (auto f = params.find("filename"); f != params.end()) {
          is_file = true;
          filename = f->second;
        }
      } else if (EqualsNoCase(field, "content-type")) {
        content_type = std::string(value);
      } else if (EqualsNoCase(field, "content-transfer-encoding")) {
        // RFC 7578 4.7: senders do not use it; the content is the octets themselves.
        return InvalidInput("a multipart part has a Content-Transfer-Encoding" + At(headers_at));
      }
      // Other header fields are ignored (RFC 7578 4.8).
    }
    if (!have_disposition) {
      return InvalidInput("a multipart part has no Content-Disposition" + At(headers_at));
    }
    // The content runs to the next delimiter.
    const size_t next = body.find(delimiter, pos);
    if (next == std::string_view::npos) {
      return InvalidInput("the multipart body ends inside a part" + At(pos));
    }
    FormPart part;
    part.data = std::string(body.substr(pos, next - pos));
    part.filename = std::move(filename);
    part.is_file = is_file;
    part.content_type = std::move(content_type);
    if (!out.emplace(name, std::move(part)).second) {
      return InvalidInput("a form field is repeated" + At(headers_at));
    }
    pos = next + delimiter.size();
  }
}

}  // namespace certpress::web
