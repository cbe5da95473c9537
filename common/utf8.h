// utf8.h: UTF-8 validation and code point counting (RFC 3629), and the text rule for values
// that end up in names, shared by the DN encoder, the CSV reader and the request builder.
#pragma once

#include <cstddef>
#include <string_view>

#include "common/status.h"

namespace certpress {

// ValidateUtf8 returns true if |s| is well-formed UTF-8 (no overlongs, no surrogates, nothing
// above U+10FFFF). On failure *bad_offset is the byte offset of the first bad sequence.
bool ValidateUtf8(std::string_view s, size_t* bad_offset = nullptr);
// HtmlEscape escapes & < > " ' for HTML text and attribute values (the web pages and the
// HTML part of mails).
std::string HtmlEscape(std::string_view s);

// Utf8Length counts code points of a valid UTF-8 string.
size_t Utf8Length(std::string_view s);

// DecodeUtf8 decodes the code point at s[*pos] and advances *pos; returns -1 if malformed.
long DecodeUtf8(std::string_view s, size_t* pos);

// CheckFieldText validates one field value of a request: valid UTF-8, no control characters
// (C0, DEL, C1), no bidirectional formatting characters (U+061C, U+200E, U+200F,
// U+202A-U+202E, U+2066-U+2069: they make a name display differently from what it is). On
// failure *offset is the character offset (0-based) of the bad character within the value.
[[nodiscard]] Status CheckFieldText(std::string_view value, size_t* offset);

}  // namespace certpress
