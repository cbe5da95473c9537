// lint.cc: our own rules over an encoded TBSCertificate, run before anything is signed.
#include "signer/lint.h"

#include <cstring>
#include <set>

#include "common/utf8.h"
#include "signer/der.h"
#include "signer/name.h"

namespace certpress {

namespace {

Status Bad(const std::string& m) {
  return InvalidInput(m);
}

Status LintName(ByteSpan name_content, const char* which, bool* empty) {
  der::Reader rdns(name_content);
  *empty = rdns.empty();
  while (!rdns.empty()) {
    ByteSpan set;
    if (!rdns.Read(der::kSet, &set)) return Bad(std::string(which) + ": RDN is not a SET");
    der::Reader avas(set);
    if (avas.empty()) return Bad(std::string(which) + ": empty RDN");
    while (!avas.empty()) {
      ByteSpan ava, oid, value;
      uint8_t tag;
      if (!avas.Read(der::kSequence, &ava)) return Bad(std::string(which) + ": malformed AVA");
      der::Reader a(ava);
      if (!a.Read(der::kOid, &oid) || !a.ReadAny(&tag, &value) || !a.empty()) {
        return Bad(std::string(which) + ": malformed AVA");
      }
      std::string dotted = der::OidToString(oid);
      const AttributeTypeInfo* type = LookupAttributeOid(dotted);
      std::string what = std::string(which) + " attribute " +
                         (type ? std::string(AttributeShortName(type)) : dotted);
      std::string_view v = AsString(value);
      switch (tag) {
        case der::kPrintableString:
          if (!IsPrintableString(v)) return Bad(what + ": PrintableString outside its alphabet");
          break;
        case der::kUtf8String:
          if (!ValidateUtf8(v)) return Bad(what + ": UTF8String is not valid UTF-8");
          break;
        case der::kIa5String:
          for (unsigned char c : v) {
            if (c >= 0x80) return Bad(what + ": IA5String with non-ASCII octets");
          }
          break;
        default:
          // RFC 5280 4.1.2.4: new certificates use PrintableString or UTF8String
          // (IA5String for emailAddress and domainComponent).
          return Bad(what + ": string type " + std::to_string(tag) + " is not allowed");
      }
      if (v.empty()) return Bad(what + ": empty value");
      if (type != nullptr) {
        char rule = AttributeStringRule(type);
        if (rule == 'P' && tag != der::kPrintableString) {
          return Bad(what + ": must be a PrintableString");
        }
        if (rule == 'I' && tag != der::kIa5String) return Bad(what + ": must be an IA5String");
        if (rule == 'D' && tag == der::kIa5String) {
          return Bad(what + ": DirectoryString must not be IA5String");
        }
        size_t ub = AttributeUpperBound(type);
        if (ub != 0 && Utf8Length(v) > ub) {
          return Bad(what + ": longer than " + std::to_string(ub) + " characters");
        }
        if (AttributeShortName(type) == "C" && v.size() != 2) {
          return Bad(what + ": country must be two letters");
        }
      }
    }
  }
  return Status::Ok();
}

bool BitSet(ByteSpan bitstring, int bit) {
  // bitstring includes the unused-bits octet.
  size_t byte = 1 + static_cast<size_t>(bit / 8);
  return byte < bitstring.size() && (bitstring[byte] & (0x80 >> (bit % 8)));
}

}  // namespace

Status LintTbs(ByteSpan tbs, const LintOptions& opt) {
  der::Reader outer(tbs);
  ByteSpan body;
  if (!outer.Read(der::kSequence, &body) || !outer.empty()) return Bad("TBS is not a SEQUENCE");
  der::Reader r(body);
  ByteSpan version, serial, alg_el, issuer, validity, subject, spki, exts_outer;
  if (!r.Read(der::ContextConstructed(0), &version)) return Bad("version must be v3");
  {
    der::Reader v(version);
    ByteSpan n;
    if (!v.Read(der::kInteger, &n) || n.size() != 1 || n[0] != 2) return Bad("version must be v3");
  }
  if (!r.Read(der::kInteger, &serial)) return Bad("missing serial");
  // RFC 5280 4.1.2.2: positive, at most 20 octets; X.690 8.3.2: minimal encoding.
  if (serial.empty() || serial.size() > 20) return Bad("serial longer than 20 octets");
  if (serial[0] & 0x80) return Bad("serial is negative");
  if (serial.size() > 1 && serial[0] == 0 && !(serial[1] & 0x80)) {
    return Bad("serial is not minimally encoded");
  }
  bool all_zero = true;
  for (uint8_t b : serial) all_zero = all_zero && b == 0;
  if (all_zero) return Bad("serial is zero");
  if (!r.Read(der::kSequence, nullptr, &alg_el)) return Bad("missing signature algorithm");
  if (!opt.expected_sig_alg.empty() &&
      (alg_el.size() != opt.expected_sig_alg.size() ||
       std::memcmp(alg_el.data(), opt.expected_sig_alg.data(), alg_el.size()) != 0)) {
    return Bad("signature algorithm does not match the CA key");
  }
  if (!r.Read(der::kSequence, &issuer)) return Bad("missing issuer");
  bool issuer_empty = false, subject_empty = false;
  CP_RETURN_IF_ERROR(LintName(issuer, "issuer", &issuer_empty));
  if (issuer_empty) return Bad("issuer name is empty");  // RFC 5280 4.1.2.4
  if (!r.Read(der::kSequence, &validity)) return Bad("missing validity");
  {
    der::Reader v(validity);
    uint8_t t1, t2;
    ByteSpan c1, c2;
    time_t nb, na;
    if (!v.ReadAny(&t1, &c1) || !v.ReadAny(&t2, &c2) || !v.empty() ||
        !der::ParseTime(t1, c1, &nb) || !der::ParseTime(t2, c2, &na)) {
      return Bad("malformed validity");
    }
    // RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
    auto year_ok = [](uint8_t tag, time_t t) {
      struct tm tm;
      gmtime_r(&t, &tm);
      int y = tm.tm_year + 1900;
      return (tag == der::kUtcTime) == (y < 2050);
    };
    if (!year_ok(t1, nb) || !year_ok(t2, na)) return Bad("validity uses the wrong time type");
    if (na <= nb) return Bad("notAfter is not after notBefore");
  }
  if (!r.Read(der::kSequence, &subject)) return Bad("missing subject");
  CP_RETURN_IF_ERROR(LintName(subject, "subject", &subject_empty));
  if (!r.Read(der::kSequence, &spki)) return Bad("missing subjectPublicKeyInfo");
  if (!r.Read(der::ContextConstructed(3), &exts_outer) || !r.empty()) {
    return Bad("extensions missing or trailing data");
  }
  der::Reader eo(exts_outer);
  ByteSpan exts;
  if (!eo.Read(der::kSequence, &exts) || !eo.empty()) return Bad("malformed extensions");
  der::Reader e(exts);
  std::set<std::string> seen;
  bool is_ca = false, has_bc = false, has_ku = false, has_ski = false, has_aki = false;
  bool san_present = false, san_critical = false;
  ByteSpan ku_bits;
  while (!e.empty()) {
    ByteSpan ext, oid, value;
    if (!e.Read(der::kSequence, &ext)) return Bad("malformed extension");
    der::Reader x(ext);
    if (!x.Read(der::kOid, &oid)) return Bad("malformed extension");
    bool critical = false;
    if (x.PeekTag() == der::kBoolean) {
      ByteSpan b;
      if (!x.Read(der::kBoolean, &b) || b.size() != 1) return Bad("malformed critical flag");
      // X.690 11.5: a DEFAULT FALSE value is never encoded.
      if (b[0] != 0xff) return Bad("critical flag encoded as FALSE or non-DER TRUE");
      critical = true;
    }
    if (!x.Read(der::kOctetString, &value) || !x.empty()) return Bad("malformed extension");
    std::string dotted = der::OidToString(oid);
    if (!seen.insert(dotted).second) return Bad("duplicate extension " + dotted);
    if (dotted == "2.5.29.19") {
      has_bc = true;
      der::Reader v(value);
      ByteSpan bc;
      if (!v.Read(der::kSequence, &bc)) return Bad("malformed basicConstraints");
      der::Reader b(bc);
      if (b.PeekTag() == der::kBoolean) {
        ByteSpan f;
        if (!b.Read(der::kBoolean, &f) || f.size() != 1 || f[0] != 0xff) {
          return Bad("basicConstraints cA must be TRUE when present");
        }
        is_ca = true;
      }
      if (!b.empty() && !is_ca) return Bad("pathLenConstraint without cA");
      if (is_ca && !critical) return Bad("basicConstraints must be critical in a CA certificate");
    } else if (dotted == "2.5.29.15") {
      has_ku = true;
      der::Reader v(value);
      if (!v.Read(der::kBitString, &ku_bits) || ku_bits.size() < 2) {
        return Bad("malformed keyUsage");
      }
      if (!critical) return Bad("keyUsage should be critical");
    } else if (dotted == "2.5.29.14") {
      has_ski = true;
    } else if (dotted == "2.5.29.35") {
      has_aki = true;
    } else if (dotted == "2.5.29.17") {
      san_present = true;
      san_critical = critical;
    }
  }
  if (!has_ku) return Bad("keyUsage is missing");
  if (!has_ski) return Bad("subjectKeyIdentifier is missing");
  if (opt.expect_aki && !has_aki) return Bad("authorityKeyIdentifier is missing");
  bool cert_sign = BitSet(ku_bits, 5);
  if (cert_sign && !is_ca) return Bad("keyCertSign without basicConstraints cA");
  if (is_ca && !cert_sign) return Bad("CA certificate without keyCertSign");
  if (is_ca && !has_bc) return Bad("CA certificate without basicConstraints");
  if (subject_empty && !san_present) return Bad("empty subject and no subjectAltName");
  if (subject_empty && !san_critical) return Bad("subjectAltName must be critical");
  return Status::Ok();
}

}  // namespace certpress
