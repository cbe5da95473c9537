#include "signer/der.h"

#include <charconv>
#include <cstring>

namespace certpress::der {

Result<Bytes> EncodeOid(std::string_view dotted) {
  std::vector<uint64_t> arcs;
  size_t pos = 0;
  while (pos <= dotted.size()) {
    size_t dot = dotted.find('.', pos);
    if (dot == std::string_view::npos) dot = dotted.size();
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(dotted.data() + pos, dotted.data() + dot, v);
    if (ec != std::errc() || p != dotted.data() + dot || dot == pos) {
      return InvalidInput("malformed OID '" + std::string(dotted) + "'");
    }
    arcs.push_back(v);
    pos = dot + 1;
  }
  // X.690 8.19.4: the first two arcs are combined as 40*X+Y; X is 0, 1 or 2.
  if (arcs.size() < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] > 39)) {
    return InvalidInput("malformed OID '" + std::string(dotted) + "'");
  }
  Bytes out;
  auto put = [&out](uint64_t v) {
    uint8_t tmp[10];
    int n = 0;
    do {
      tmp[n++] = v & 0x7f;
      v >>= 7;
    } while (v != 0);
    while (n > 0) {
      uint8_t b = tmp[--n];
      out.push_back(n > 0 ? (b | 0x80) : b);
    }
  };
  put(arcs[0] * 40 + arcs[1]);
  for (size_t i = 2; i < arcs.size(); ++i) put(arcs[i]);
  return out;
}

size_t Writer::Begin(uint8_t tag) {
  out_.push_back(tag);
  out_.push_back(0);  // length placeholder; End() fixes it.
  return out_.size();
}

void Writer::End(size_t mark) {
  size_t len = out_.size() - mark;
  if (len < 0x80) {
    out_[mark - 1] = static_cast<uint8_t>(len);
    return;
  }
  uint8_t lenbytes[8];
  int n = 0;
  for (size_t l = len; l != 0; l >>= 8) lenbytes[n++] = static_cast<uint8_t>(l & 0xff);
  out_[mark - 1] = static_cast<uint8_t>(0x80 | n);
  out_.insert(out_.begin() + static_cast<ptrdiff_t>(mark), static_cast<size_t>(n), 0);
  for (int i = 0; i < n; ++i) out_[mark + i] = lenbytes[n - 1 - i];
}

void Writer::Primitive(uint8_t tag, ByteSpan content) {
  out_.push_back(tag);
  size_t len = content.size();
  if (len < 0x80) {
    out_.push_back(static_cast<uint8_t>(len));
  } else {
    uint8_t lenbytes[8];
    int n = 0;
    for (size_t l = len; l != 0; l >>= 8) lenbytes[n++] = static_cast<uint8_t>(l & 0xff);
    out_.push_back(static_cast<uint8_t>(0x80 | n));
    while (n > 0) out_.push_back(lenbytes[--n]);
  }
  out_.insert(out_.end(), content.begin(), content.end());
}

void Writer::Integer(ByteSpan magnitude) {
  size_t i = 0;
  while (i + 1 < magnitude.size() && magnitude[i] == 0) ++i;  // minimal: no leading zeros
  ByteSpan m = magnitude.subspan(i);
  if (m.empty()) {
    static constexpr uint8_t kZero[1] = {0};
    Primitive(kInteger, ByteSpan(kZero, 1));
    return;
  }
  if (m[0] & 0x80) {  // keep it positive (X.690 8.3.2: two's complement)
    size_t mark = Begin(kInteger);
    out_.push_back(0);
    out_.insert(out_.end(), m.begin(), m.end());
    End(mark);
    return;
  }
  Primitive(kInteger, m);
}

void Writer::SmallInteger(uint64_t v) {
  uint8_t b[8];
  for (int i = 7; i >= 0; --i) {
    b[i] = static_cast<uint8_t>(v & 0xff);
    v >>= 8;
  }
  Integer(ByteSpan(b, 8));
}

void Writer::BitString(ByteSpan bits, uint8_t unused_bits) {
  size_t mark = Begin(kBitString);
  out_.push_back(unused_bits);
  out_.insert(out_.end(), bits.begin(), bits.end());
  End(mark);
}

void Writer::Time(time_t t) {
  struct tm tm;
  gmtime_r(&t, &tm);
  int year = tm.tm_year + 1900;
  char buf[32];
  if (year >= 1950 && year < 2050) {
    std::snprintf(buf, sizeof buf, "%02d%02d%02d%02d%02d%02dZ", year % 100, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    Primitive(kUtcTime, AsBytes(buf));
  } else {
    std::snprintf(buf, sizeof buf, "%04d%02d%02d%02d%02d%02dZ", year, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec);
    Primitive(kGeneralizedTime, AsBytes(buf));
  }
}

bool Reader::ReadAny(uint8_t* tag, ByteSpan* content, ByteSpan* element) {
  if (in_.size() < 2) return false;
  uint8_t t = in_[0];
  if ((t & 0x1f) == 0x1f) return false;  // high tag numbers are not used in our structures
  size_t len = in_[1];
  size_t header = 2;
  if (len & 0x80) {
    size_t n = len & 0x7f;
    // DER (X.690 10.1): definite form, minimal octets; no indefinite length.
    if (n == 0 || n > 4 || in_.size() < 2 + n) return false;
    len = 0;
    for (size_t i = 0; i < n; ++i) len = (len << 8) | in_[2 + i];
    if (len < 0x80 || (n > 1 && in_[2] == 0)) return false;
    header += n;
  }
  if (in_.size() - header < len) return false;
  if (tag) *tag = t;
  if (content) *content = in_.subspan(header, len);
  if (element) *element = in_.subspan(0, header + len);
  in_ = in_.subspan(header + len);
  return true;
}

bool Reader::Read(uint8_t tag, ByteSpan* content, ByteSpan* element) {
  if (PeekTag() != tag) return false;
  return ReadAny(nullptr, content, element);
}

std::string OidToString(ByteSpan c) {
  if (c.empty() || (c.back() & 0x80)) return "";
  std::string out;
  uint64_t v = 0;
  bool first = true;
  bool start = true;  // at the first octet of a subidentifier
  for (uint8_t b : c) {
    // X.690 8.19.2: a subidentifier is minimal, its first octet never 0x80. A padded one would
    // name the same text as another encoding, so an OID compared by its text could be matched
    // by bytes OpenSSL and other readers reject. Subidentifiers beyond 64 bits are refused
    // rather than wrapped around.
    if (start && b == 0x80) return "";
    if (v > (UINT64_MAX >> 7)) return "";
    start = !(b & 0x80);
    v = (v << 7) | (b & 0x7f);
    if (b & 0x80) continue;
    if (first) {
      uint64_t x = v < 80 ? v / 40 : 2;
      out += std::to_string(x) + "." + std::to_string(v - 40 * x);
      first = false;
    } else {
      out += "." + std::to_string(v);
    }
    v = 0;
  }
  return out;
}

static bool Digits(const uint8_t* p, int n, int* out) {
  int v = 0;
  for (int i = 0; i < n; ++i) {
    if (p[i] < '0' || p[i] > '9') return false;
    v = v * 10 + (p[i] - '0');
  }
  *out = v;
  return true;
}

bool ParseTime(uint8_t tag, ByteSpan c, time_t* out) {
  struct tm tm = {};
  int year, mon, day, hh, mm, ss;
  const uint8_t* p = c.data();
  if (tag == kUtcTime) {
    if (c.size() != 13 || c[12] != 'Z' || !Digits(p, 2, &year)) return false;
    year += year < 50 ? 2000 : 1900;
    p += 2;
  } else if (tag == kGeneralizedTime) {
    if (c.size() != 15 || c[14] != 'Z' || !Digits(p, 4, &year)) return false;
    p += 4;
  } else {
    return false;
  }
  if (!Digits(p, 2, &mon) || !Digits(p + 2, 2, &day) || !Digits(p + 4, 2, &hh) ||
      !Digits(p + 6, 2, &mm) || !Digits(p + 8, 2, &ss)) {
    return false;
  }
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 59) return false;
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hh;
  tm.tm_min = mm;
  tm.tm_sec = ss;
  *out = timegm(&tm);
  return true;
}

}  // namespace certpress::der
