// der_reader_fuzz: libFuzzer target for signer/der.h.
//
// 1. The reader: der::Reader walks arbitrary input as a tree of elements (constructed tags are
//    entered). Every element it returns must lie inside its parent, consist of header plus
//    content, and leave the reader exactly past it. OIDs it renders must match OpenSSL's
//    rendering of the same element; times it accepts must be the calendar dates written.
// 2. The writer: the input is read as a small program of der::Writer calls (nested SEQUENCEs
//    and context tags, INTEGERs, BOOLEANs, OIDs, BIT STRINGs, strings, times, long contents).
//    What it writes our reader must walk back completely, and OpenSSL must parse every element
//    of it (d2i_ASN1_TYPE, recursively) and re-encode each identically (i2d_ASN1_TYPE): the
//    round-trip property of docs/RELIABILITY.md.
#include <fuzzer/FuzzedDataProvider.h>
#include <openssl/asn1.h>
#include <openssl/objects.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/ossl.h"
#include "signer/der.h"

namespace der = certpress::der;
using certpress::Bytes;
using certpress::ByteSpan;

namespace {

void Fail(const char* what) {
  std::fprintf(stderr, "der_reader_fuzz: property violated: %s\n", what);
  std::abort();
}

// OpenSslOidText renders an OID element as OpenSSL does, or "" if OpenSSL rejects it.
std::string OpenSslOidText(ByteSpan element) {
  const unsigned char* p = element.data();
  ASN1_OBJECT* obj = d2i_ASN1_OBJECT(nullptr, &p, static_cast<long>(element.size()));
  if (obj == nullptr) return "";
  char buf[1024];
  int n = OBJ_obj2txt(buf, sizeof buf, obj, 1);
  ASN1_OBJECT_free(obj);
  if (n < 0 || static_cast<size_t>(n) >= sizeof buf) return "";
  return std::string(buf, static_cast<size_t>(n));
}

// HasHugeArc reports whether an OID's content has a subidentifier of 2^64 or more.
bool HasHugeArc(ByteSpan content) {
  size_t start = 0;
  for (size_t i = 0; i < content.size(); ++i) {
    if (content[i] & 0x80) continue;
    size_t n = i - start + 1;
    if (n > 10 || (n == 10 && (content[start] & 0x7f) > 1)) return true;
    start = i + 1;
  }
  return false;
}

// Walk reads |in| as a sequence of elements, entering constructed ones, and checks what the
// reader returns. Returns false if the reader stopped before the end.
bool Walk(ByteSpan in, int depth) {
  der::Reader r(in);
  while (!r.empty()) {
    const size_t before = r.remaining();
    const uint8_t* start = in.data() + (in.size() - before);
    uint8_t tag = 0;
    ByteSpan content, element;
    if (!r.ReadAny(&tag, &content, &element)) return false;
    if (element.data() != start || element.size() != before - r.remaining() || tag != start[0] ||
        content.data() < element.data() ||
        content.data() + content.size() != element.data() + element.size() ||
        element.size() - content.size() < 2 || element.size() - content.size() > 6) {
      Fail("element bounds");
    }
    if (tag == der::kOid) {
      std::string ours = der::OidToString(content);
      std::string theirs = OpenSslOidText(element);
      // OpenSSL accepts only minimal subidentifiers; where it accepts, the texts agree, and
      // where ours renders an OID OpenSSL must have accepted it. Ours refuses subidentifiers
      // above 64 bits, which OpenSSL renders with a BIGNUM.
      if (ours != theirs && !(ours.empty() && HasHugeArc(content))) {
        Fail("OidToString disagrees with OpenSSL");
      }
      if (!ours.empty()) {
        auto again = der::EncodeOid(ours);
        if (!again.ok() || *again != Bytes(content.begin(), content.end())) {
          Fail("EncodeOid(OidToString(x)) != x");
        }
      }
    } else if (tag == der::kUtcTime || tag == der::kGeneralizedTime) {
      time_t t = 0;
      if (der::ParseTime(tag, content, &t)) {
        der::Writer w;
        w.Time(t);
        // A time read back and written again is the same element unless it was a UTCTime
        // outside 1950-2049's rule (impossible) or a GeneralizedTime RFC 5280 wants as UTCTime.
        struct tm tm;
        gmtime_r(&t, &tm);
        int year = tm.tm_year + 1900;
        bool utc_range = year >= 1950 && year < 2050;
        if ((tag == der::kUtcTime) == utc_range &&
            w.bytes() != Bytes(element.begin(), element.end())) {
          // Day 31 of a short month is normalised by timegm: not the same date.
          bool normalised = false;
          int mday = 0;
          const uint8_t* d = content.data() + (tag == der::kUtcTime ? 4 : 6);
          mday = (d[0] - '0') * 10 + (d[1] - '0');
          normalised = mday != tm.tm_mday;
          if (!normalised) Fail("ParseTime then Writer::Time changed the time");
        }
      }
    }
    if ((tag & 0x20) && depth < 64) Walk(content, depth + 1);
  }
  return true;
}

// CheckWithOpenSsl parses one element with d2i_ASN1_TYPE, re-encodes it, and descends into
// constructed elements; |der| must be exactly one element.
void CheckWithOpenSsl(ByteSpan der, int depth) {
  const unsigned char* p = der.data();
  ASN1_TYPE* t = d2i_ASN1_TYPE(nullptr, &p, static_cast<long>(der.size()));
  if (t == nullptr) Fail("OpenSSL rejects an element our writer wrote");
  if (p != der.data() + der.size()) Fail("OpenSSL read a different length");
  unsigned char* out = nullptr;
  int n = i2d_ASN1_TYPE(t, &out);
  ASN1_TYPE_free(t);
  if (n < 0 || static_cast<size_t>(n) != der.size() || std::memcmp(out, der.data(), der.size())) {
    Fail("OpenSSL re-encodes an element differently");
  }
  OPENSSL_free(out);
  if (!(der[0] & 0x20) || depth > 64) return;
  // Descend with OpenSSL's own header parser, not ours.
  const unsigned char* q = der.data();
  long len = 0;
  int tag = 0, cls = 0;
  int ret = ASN1_get_object(&q, &len, &tag, &cls, static_cast<long>(der.size()));
  if (ret & 0x80) Fail("ASN1_get_object rejects a constructed element");
  const unsigned char* end = q + len;
  while (q < end) {
    const unsigned char* child = q;
    ret = ASN1_get_object(&q, &len, &tag, &cls, end - q);
    if (ret & 0x80) Fail("ASN1_get_object rejects a child element");
    q += len;
    CheckWithOpenSsl(ByteSpan(child, static_cast<size_t>(q - child)), depth + 1);
  }
}

// WriteProgram interprets the input as der::Writer calls; returns one SEQUENCE.
Bytes WriteProgram(FuzzedDataProvider& in) {
  der::Writer w;
  std::vector<size_t> marks = {w.Begin(der::kSequence)};
  for (int op = 0; op < 256 && in.remaining_bytes() > 0; ++op) {
    switch (in.ConsumeIntegralInRange<int>(0, 12)) {
      case 0:
        if (marks.size() < 24) marks.push_back(w.Begin(der::kSequence));
        break;
      case 1:
        if (marks.size() < 24) {
          marks.push_back(w.Begin(der::ContextConstructed(in.ConsumeIntegralInRange<int>(0, 3))));
        }
        break;
      case 2:
        if (marks.size() > 1) {
          w.End(marks.back());
          marks.pop_back();
        }
        break;
      case 3: {
        Bytes m = in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange<size_t>(0, 40));
        w.Integer(m);
        break;
      }
      case 4:
        w.SmallInteger(in.ConsumeIntegral<uint64_t>());
        break;
      case 5:
        w.Boolean(in.ConsumeBool());
        break;
      case 6:
        w.Null();
        break;
      case 7: {
        // A dotted OID from arcs; EncodeOid, then OidToString must give the text back.
        std::string dotted = std::to_string(in.ConsumeIntegralInRange<int>(0, 2));
        uint64_t second = in.ConsumeIntegral<uint64_t>();
        if (dotted != "2") second %= 40;
        // X.690 8.19.4: 40*X+Y must fit in our 64-bit subidentifier.
        if (second > UINT64_MAX - 80) second %= 1000;
        dotted += "." + std::to_string(second);
        int extra = in.ConsumeIntegralInRange<int>(0, 6);
        for (int i = 0; i < extra; ++i)
          dotted += "." + std::to_string(in.ConsumeIntegral<uint64_t>());
        auto content = der::EncodeOid(dotted);
        if (!content.ok()) Fail("EncodeOid rejects a well-formed dotted OID");
        if (der::OidToString(*content) != dotted) Fail("OidToString(EncodeOid(x)) != x");
        w.OidContent(*content);
        break;
      }
      case 8: {
        Bytes bits = in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange<size_t>(0, 40));
        uint8_t unused = bits.empty() ? 0 : in.ConsumeIntegralInRange<uint8_t>(0, 7);
        if (!bits.empty()) bits.back() &= static_cast<uint8_t>(0xff << unused);  // X.690 11.2.1
        w.BitString(bits, unused);
        break;
      }
      case 9: {
        static constexpr uint8_t kTags[] = {der::kOctetString, der::kUtf8String,
                                            der::kPrintableString, der::kIa5String};
        uint8_t tag = kTags[in.ConsumeIntegralInRange<size_t>(0, 3)];
        Bytes s = in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange<size_t>(0, 300));
        w.Primitive(tag, s);
        break;
      }
      case 10: {
        // Years 0001-9999 (RFC 5280 4.1.2.5 has no others).
        time_t t = in.ConsumeIntegralInRange<int64_t>(-62135596800LL, 253402300799LL);
        w.Time(t);
        // The same time written alone must read back as |t|.
        der::Writer one;
        one.Time(t);
        der::Reader rr(one.bytes());
        uint8_t tag = 0;
        ByteSpan c;
        time_t back = 0;
        if (!rr.ReadAny(&tag, &c) || !der::ParseTime(tag, c, &back) || back != t) {
          Fail("ParseTime(Writer::Time(t)) != t");
        }
        break;
      }
      case 11: {
        Bytes s = in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange<size_t>(0, 64));
        w.Primitive(der::ContextPrimitive(in.ConsumeIntegralInRange<int>(0, 6)), s);
        break;
      }
      case 12: {
        // Long contents: one-, two- and three-octet lengths (X.690 8.1.3.5).
        size_t n = in.ConsumeIntegralInRange<size_t>(100, 70000);
        Bytes s(n, in.ConsumeIntegral<uint8_t>());
        w.Primitive(der::kOctetString, s);
        break;
      }
    }
  }
  while (!marks.empty()) {
    w.End(marks.back());
    marks.pop_back();
  }
  return w.Take();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteSpan input(data, size);
  Walk(input, 0);

  FuzzedDataProvider in(data, size);
  Bytes written = WriteProgram(in);
  if (!Walk(written, 0)) Fail("our reader cannot walk what our writer wrote");
  CheckWithOpenSsl(written, 0);
  return 0;
}
