// utf8.h: UTF-8 validation and code point counting (RFC 3629), shared by the DN encoder and the
// CSV reader.
#pragma once

#include <cstddef>
#include <string_view>

namespace certpress {

// ValidateUtf8 returns true if |s| is well-formed UTF-8 (no overlongs, no surrogates, nothing
// above U+10FFFF). On failure *bad_offset is the byte offset of the first bad sequence.
bool ValidateUtf8(std::string_view s, size_t* bad_offset = nullptr);

// Utf8Length counts code points of a valid UTF-8 string.
size_t Utf8Length(std::string_view s);

// DecodeUtf8 decodes the code point at s[*pos] and advances *pos; returns -1 if malformed.
long DecodeUtf8(std::string_view s, size_t* pos);

}  // namespace certpress
