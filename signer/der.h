// der.h: a small DER writer and a bounds-checked DER reader (the CBB/CBS idea of BoringSSL),
// used for the TBSCertificate, PKCS#10 and SubjectPublicKeyInfo we build ourselves.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/status.h"

namespace certpress::der {

// Universal tags (X.690 section 8.x).
inline constexpr uint8_t kBoolean = 0x01;
inline constexpr uint8_t kInteger = 0x02;
inline constexpr uint8_t kBitString = 0x03;
inline constexpr uint8_t kOctetString = 0x04;
inline constexpr uint8_t kNull = 0x05;
inline constexpr uint8_t kOid = 0x06;
inline constexpr uint8_t kUtf8String = 0x0c;
inline constexpr uint8_t kPrintableString = 0x13;
inline constexpr uint8_t kIa5String = 0x16;
inline constexpr uint8_t kUtcTime = 0x17;
inline constexpr uint8_t kGeneralizedTime = 0x18;
inline constexpr uint8_t kBmpString = 0x1e;
inline constexpr uint8_t kSequence = 0x30;
inline constexpr uint8_t kSet = 0x31;
inline constexpr uint8_t ContextConstructed(int n) {
  return static_cast<uint8_t>(0xa0 | n);
}
inline constexpr uint8_t ContextPrimitive(int n) {
  return static_cast<uint8_t>(0x80 | n);
}

// EncodeOid turns a dotted OID ("1.2.840.10045.2.1") into its content octets (no tag/length).
Result<Bytes> EncodeOid(std::string_view dotted);

// Writer appends DER to a byte vector. Constructed values are opened with Begin() and closed
// with End(); End() writes the definite length and moves the content if the length needs more
// than one octet, so callers never compute lengths by hand.
class Writer {
 public:
  Writer() { out_.reserve(1024); }

  size_t Begin(uint8_t tag);
  void End(size_t mark);

  void Primitive(uint8_t tag, ByteSpan content);
  void Raw(ByteSpan der) { out_.insert(out_.end(), der.begin(), der.end()); }
  // Integer writes a non-negative INTEGER from big-endian magnitude bytes, minimal form.
  void Integer(ByteSpan magnitude);
  void SmallInteger(uint64_t v);
  void Boolean(bool v) { Primitive(kBoolean, ByteSpan(v ? kTrue : kFalse, 1)); }
  void Null() { Primitive(kNull, {}); }
  void OidContent(ByteSpan content) { Primitive(kOid, content); }
  // BitString writes a BIT STRING with |unused_bits| unused in the last octet.
  void BitString(ByteSpan bits, uint8_t unused_bits = 0);
  // Time writes UTCTime for years 1950-2049 and GeneralizedTime otherwise (RFC 5280 4.1.2.5).
  void Time(time_t t);

  const Bytes& bytes() const { return out_; }
  Bytes Take() { return std::move(out_); }
  void Clear() { out_.clear(); }

 private:
  static constexpr uint8_t kTrue[1] = {0xff};
  static constexpr uint8_t kFalse[1] = {0x00};
  Bytes out_;
};

// Reader walks DER without ever reading past its input. Each Read* consumes one element.
class Reader {
 public:
  explicit Reader(ByteSpan in) : in_(in) {}

  bool empty() const { return in_.empty(); }
  size_t remaining() const { return in_.size(); }
  // PeekTag returns the next tag, or -1 at the end.
  int PeekTag() const { return in_.empty() ? -1 : in_[0]; }

  // Read consumes one element with |tag|, returning its content in |content| and, if
  // |element| is non-null, the whole element (tag, length and content).
  [[nodiscard]] bool Read(uint8_t tag, ByteSpan* content, ByteSpan* element = nullptr);
  // ReadAny consumes one element of any tag.
  [[nodiscard]] bool ReadAny(uint8_t* tag, ByteSpan* content, ByteSpan* element = nullptr);
  [[nodiscard]] bool Skip(uint8_t tag) {
    ByteSpan c;
    return Read(tag, &c);
  }

 private:
  ByteSpan in_;
};

// OidToString renders OID content octets as a dotted string; "" if malformed: empty, cut off,
// a subidentifier not in minimal form (X.690 8.19.2) or above 2^64-1.
std::string OidToString(ByteSpan content);

// ParseTime reads a UTCTime or GeneralizedTime content in the DER forms RFC 5280 requires.
[[nodiscard]] bool ParseTime(uint8_t tag, ByteSpan content, time_t* out);

}  // namespace certpress::der
