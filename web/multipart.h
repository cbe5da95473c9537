// multipart.h: a small, strict reader of multipart/form-data bodies (RFC 7578 on RFC 2046
// 5.1), for the application form's file upload (a CSR as a file). Boost.Beast reads HTTP
// messages but no multipart bodies.
//
// Strict where browsers and curl are regular, so that odd input is refused rather than
// guessed at: the body starts with the first delimiter (no preamble), lines end in CRLF, every
// part has exactly one Content-Disposition of type form-data with a name, names are not
// repeated, and header lines are not folded (RFC 7578 4.8 and 4.7: no Content-Transfer-
// Encoding, which is refused). Bounded: at most MultipartLimits::max_parts parts and
// max_part_header_bytes of headers each; the body itself is already capped by the server
// (ServerOptions::max_body_bytes). Never reads past |body|.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include "common/status.h"

namespace certpress::web {

// MultipartBoundary returns the boundary of a Content-Type header value
// "multipart/form-data; boundary=..." (token or quoted-string, RFC 9110 5.6.6): 1 to 70
// characters of RFC 2046's bchars, not ending in a space. InvalidInput for another media
// type or a missing or malformed boundary.
Result<std::string> MultipartBoundary(std::string_view content_type);

struct FormPart {
  std::string data;          // the part's content, as sent (binary for files)
  std::string filename;      // as the browser sent it; empty for a plain field
  bool is_file = false;      // the Content-Disposition had a filename parameter
  std::string content_type;  // the part's Content-Type, or empty
};

struct MultipartLimits {
  size_t max_parts = 64;
  size_t max_part_header_bytes = 2048;
};

// ParseMultipart reads |body| delimited by |boundary| into its parts by name. A malformed body
// is InvalidInput saying what is wrong and at which byte offset.
Result<std::map<std::string, FormPart>> ParseMultipart(std::string_view body,
                                                       std::string_view boundary,
                                                       const MultipartLimits& limits = {});

}  // namespace certpress::web
