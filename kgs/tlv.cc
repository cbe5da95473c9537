#include "kgs/tlv.h"

#include <cstdio>

namespace certpress::kgs {

namespace {

std::string TagHex(uint32_t tag) {
  char buf[12];
  std::snprintf(buf, sizeof buf, "%X", tag);
  return buf;
}

}  // namespace

Result<Tlv> TlvReader::Next() {
  size_t p = pos_;
  auto at = [&](std::string_view what) {
    return InvalidInput("BER-TLV at offset " + std::to_string(pos_) + ": " + std::string(what));
  };
  if (p >= in_.size()) return at("no TLV left");
  // Tag (ISO 7816-4 5.2.2.1): low five bits all set means more tag bytes follow, each with
  // bit 8 set while yet another follows.
  uint32_t tag = in_[p++];
  if ((tag & 0x1F) == 0x1F) {
    for (int n = 0;; ++n) {
      if (p >= in_.size()) return at("tag runs past the end");
      if (n >= 2) return at("tag longer than three bytes");
      const uint8_t b = in_[p++];
      tag = tag << 8 | b;
      if ((b & 0x80) == 0) break;
    }
  }
  if (p >= in_.size()) return at("tag " + TagHex(tag) + " has no length");
  // Length (5.2.2.2): short form below 0x80, else 81, 82 or 83 and one to three bytes.
  size_t len = in_[p++];
  if (len == 0x80) return at("indefinite length (tag " + TagHex(tag) + ")");
  if (len > 0x80) {
    const size_t n = len & 0x7F;
    if (n > 3) return at("length of " + std::to_string(n) + " bytes (tag " + TagHex(tag) + ")");
    if (in_.size() - p < n) return at("length of tag " + TagHex(tag) + " runs past the end");
    len = 0;
    for (size_t i = 0; i < n; ++i) len = len << 8 | in_[p++];
  }
  if (in_.size() - p < len) {
    return at("tag " + TagHex(tag) + " claims " + std::to_string(len) + " bytes, " +
              std::to_string(in_.size() - p) + " remain (truncated)");
  }
  Tlv t{tag, in_.subspan(p, len)};
  pos_ = p + len;
  return t;
}

Result<std::vector<Tlv>> ReadAll(ByteSpan input) {
  std::vector<Tlv> out;
  TlvReader r(input);
  while (!r.done()) {
    CP_ASSIGN_OR_RETURN(Tlv t, r.Next());
    out.push_back(t);
  }
  return out;
}

Result<std::optional<ByteSpan>> FindTlv(ByteSpan input, uint32_t tag) {
  CP_ASSIGN_OR_RETURN(std::vector<Tlv> all, ReadAll(input));
  for (const Tlv& t : all) {
    if (t.tag == tag) return std::optional<ByteSpan>(t.value);
  }
  return std::optional<ByteSpan>();
}

Result<ByteSpan> ExpectTlv(ByteSpan input, uint32_t tag, std::string_view what) {
  CP_ASSIGN_OR_RETURN(auto found, FindTlv(input, tag));
  if (!found) return InvalidInput(std::string(what) + ": no tag " + TagHex(tag));
  return *found;
}

Result<ByteSpan> Unwrap(ByteSpan input, uint32_t tag, std::string_view what) {
  TlvReader r(input);
  auto t = r.Next();
  if (!t.ok()) return t.status().Wrap(what);
  if (t->tag != tag) {
    return InvalidInput(std::string(what) + ": tag " + TagHex(t->tag) + " where " + TagHex(tag) +
                        " was expected");
  }
  if (!r.done()) return InvalidInput(std::string(what) + ": bytes after tag " + TagHex(tag));
  return t->value;
}

void AppendTlv(Bytes& out, uint32_t tag, ByteSpan value) {
  if (tag > 0xFFFF) out.push_back(static_cast<uint8_t>(tag >> 16));
  if (tag > 0xFF) out.push_back(static_cast<uint8_t>(tag >> 8));
  out.push_back(static_cast<uint8_t>(tag));
  const size_t n = value.size();
  if (n < 0x80) {
    out.push_back(static_cast<uint8_t>(n));
  } else if (n <= 0xFF) {
    out.insert(out.end(), {0x81, static_cast<uint8_t>(n)});
  } else if (n <= 0xFFFF) {
    out.insert(out.end(), {0x82, static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)});
  } else {
    out.insert(out.end(), {0x83, static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 8),
                           static_cast<uint8_t>(n)});
  }
  out.insert(out.end(), value.begin(), value.end());
}

Bytes MakeTlv(uint32_t tag, ByteSpan value) {
  Bytes out;
  AppendTlv(out, tag, value);
  return out;
}

}  // namespace certpress::kgs
