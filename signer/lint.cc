// lint.cc: the rule engine over certificates (signer/lint.h). An input (a TBSCertificate
// before signing, a whole Certificate, a PKCS#10 request) is read once into a TbsView; a
// structure that does not parse is one fatal result. Then each rule of kRules that applies to
// the input's kind and is in effect at its notBefore looks at the view. Names are zlint's
// (v3/lints) where zlint has the rule; where it has not, the name is ours with a cp_ prefix
// and the source column says what it rests on.
#include "signer/lint.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/utf8.h"
#include "signer/der.h"
#include "signer/name.h"
#include "signer/oids.h"

namespace certpress {

// OIDs as DER content octets: the rules compare bytes, and render an OID as text only for a
// message (rendering every OID of every certificate cost a tenth of the lint).
namespace {
using oid::kAia;
using oid::kAuthorityKeyId;
using oid::kBasicConstraints;
using oid::kCaIssuers;
using oid::kCertPolicies;
using oid::kCrlDp;
using oid::kExtKeyUsage;
using oid::kInhibitAnyPolicy;
using oid::kKeyUsage;
using oid::kNameConstraints;
using oid::kOcsp;
using oid::kPolicyConstraints;
using oid::kSubjectAltName;
using oid::kSubjectKeyId;
constexpr uint8_t kEcPublicKey[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
constexpr uint8_t kRsaEncryption[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};
constexpr uint8_t kServerAuth[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01};
constexpr uint8_t kClientAuth[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02};
constexpr uint8_t kCodeSigning[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03};
constexpr uint8_t kEmailProtection[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x04};
constexpr uint8_t kTimeStamping[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08};
constexpr uint8_t kOcspSigning[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x09};
constexpr uint8_t kAnyEku[] = {0x55, 0x1d, 0x25, 0x00};
constexpr uint8_t kCommonName[] = {0x55, 0x04, 0x03};
constexpr uint8_t kCountryName[] = {0x55, 0x04, 0x06};
constexpr uint8_t kOrganizationalUnit[] = {0x55, 0x04, 0x0b};
constexpr uint8_t kEmailAddress[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01};
constexpr uint8_t kExtensionRequest[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e};
constexpr uint8_t kP256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
constexpr uint8_t kP384[] = {0x2b, 0x81, 0x04, 0x00, 0x22};
constexpr uint8_t kP521[] = {0x2b, 0x81, 0x04, 0x00, 0x23};

bool Is(ByteSpan oid, ByteSpan want) {
  return oid.size() == want.size() && std::equal(oid.begin(), oid.end(), want.begin());
}

bool Same(ByteSpan a, ByteSpan b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}
}  // namespace

struct TbsView {
  struct Extension {
    ByteSpan oid;  // content octets
    bool critical = false;
    ByteSpan value;
  };
  struct GeneralName {
    uint8_t tag = 0;  // the GeneralName's context tag (0x82 dNSName, 0x87 iPAddress, ...)
    ByteSpan value;
  };

  LintTarget kind = kLintTbs;
  int version = 0;
  ByteSpan serial;
  ByteSpan sig_alg;       // the whole AlgorithmIdentifier element of the TBS
  ByteSpan cert_sig_alg;  // a whole certificate's outer signatureAlgorithm element
  ByteSpan issuer;        // Name content
  ByteSpan subject;       // Name content
  ByteSpan subject_element;
  uint8_t not_before_tag = 0, not_after_tag = 0;
  ByteSpan not_before_raw, not_after_raw;  // the time contents as encoded
  time_t not_before = 0, not_after = 0;
  ByteSpan key_alg;     // the subject key's algorithm OID (content octets)
  ByteSpan key_params;  // the parameters element (may be empty)
  ByteSpan key_bits;    // subjectPublicKey content (unused-bits octet first)
  std::vector<Extension> extensions;

  // Read from the extensions by ReadExtension.
  bool has_bc = false, bc_critical = false, is_ca = false, has_path_len = false;
  ByteSpan path_len;  // INTEGER content
  bool has_ku = false, ku_critical = false;
  ByteSpan ku_bits;  // BIT STRING content
  bool has_eku = false, eku_critical = false;
  std::vector<ByteSpan> eku;  // OID content octets
  bool has_ski = false, ski_critical = false;
  bool has_aki = false, aki_critical = false;
  std::optional<ByteSpan> aki_key_id;
  bool has_san = false, san_critical = false;
  std::vector<GeneralName> sans;
  std::vector<std::string_view> dns_names;
  bool has_crl_dp = false, crl_dp_critical = false;
  std::vector<std::string_view> crl_uris;
  std::vector<int> crl_points_without_uri;  // indexes of distribution points with no URI
  bool has_aia = false, aia_critical = false;
  std::vector<std::pair<ByteSpan, std::string_view>> aia;  // (method OID, URI)
  std::vector<ByteSpan> policies;                          // policy OIDs, in order
  // Read from the subject by ReadSubject.
  std::vector<std::string_view> common_names;
  std::vector<std::string_view> countries;
  std::vector<std::string_view> subject_emails;
  bool subject_has_ou = false;

  bool KuBit(int bit) const {
    size_t byte = 1 + static_cast<size_t>(bit / 8);
    return byte < ku_bits.size() && (ku_bits[byte] & (0x80 >> (bit % 8)));
  }
  bool IsEc() const { return Is(key_alg, kEcPublicKey); }
  bool IsRsa() const { return Is(key_alg, kRsaEncryption); }
  bool HasEku(ByteSpan want) const {
    return std::any_of(eku.begin(), eku.end(), [&](ByteSpan o) { return Is(o, want); });
  }
  // IsTlsServer: the certificate asserts serverAuth (or any purpose) for an end entity.
  bool IsTlsServer() const { return !is_ca && (HasEku(kServerAuth) || HasEku(kAnyEku)); }
  // IsSmime: an end-entity certificate for email protection. zlint applies its S/MIME BR
  // lints only to certificates with a CA/B S/MIME policy OID; CertPress applies the ones it
  // has to every email-protection certificate (docs/LINT.md).
  bool IsSmime() const { return !is_ca && HasEku(kEmailProtection); }
  bool SelfIssued() const { return Same(issuer, subject); }
  // DnsNames: the dNSNames of the SAN (read once; several rules look at them).
  const std::vector<std::string_view>& DnsNames() const { return dns_names; }
};

namespace {

// KeyUsage bit numbers (RFC 5280 4.2.1.3).
enum : int {
  kDigitalSignature = 0,
  kNonRepudiation = 1,
  kKeyEncipherment = 2,
  kDataEncipherment = 3,
  kKeyAgreement = 4,
  kKeyCertSign = 5,
  kCrlSign = 6,
  kEncipherOnly = 7,
  kDecipherOnly = 8,
};

// The names fatal parse errors are reported under (rules in the table that always pass once
// the input was read).
constexpr std::string_view kStructureRule = "cp_asn1_structure";
constexpr std::string_view kExtDerRule = "e_cert_ext_invalid_der";

// Fatal is why an input could not be read into a view.
struct Fatal {
  std::string_view rule;
  std::string detail;
};

Status Bad(const std::string& m) {
  return InvalidInput(m);
}

LintCheck Pass() {
  return {};
}
LintCheck Na() {
  return {LintStatus::kNa, {}};
}
LintCheck Fail(std::string detail) {
  return {LintStatus::kError, std::move(detail)};
}

Status ReadGeneralNames(ByteSpan content, std::vector<TbsView::GeneralName>* out) {
  der::Reader r(content);
  while (!r.empty()) {
    TbsView::GeneralName n;
    if (!r.ReadAny(&n.tag, &n.value)) return Bad("malformed GeneralName");
    out->push_back(n);
  }
  return Status::Ok();
}

Status ReadExtension(TbsView* v, const TbsView::Extension& x) {
  der::Reader r(x.value);
  if (Is(x.oid, kBasicConstraints)) {
    v->has_bc = true;
    v->bc_critical = x.critical;
    ByteSpan bc;
    if (!r.Read(der::kSequence, &bc) || !r.empty()) return Bad("malformed basicConstraints");
    der::Reader b(bc);
    if (b.PeekTag() == der::kBoolean) {
      ByteSpan f;
      // X.690 11.5: a DEFAULT FALSE cA is never encoded; TRUE is 0xff.
      if (!b.Read(der::kBoolean, &f) || f.size() != 1 || f[0] != 0xff) {
        return Bad("basicConstraints cA must be TRUE when present");
      }
      v->is_ca = true;
    }
    if (b.PeekTag() == der::kInteger) {
      if (!b.Read(der::kInteger, &v->path_len) || v->path_len.empty()) {
        return Bad("malformed pathLenConstraint");
      }
      v->has_path_len = true;
    }
    if (!b.empty()) return Bad("malformed basicConstraints");
  } else if (Is(x.oid, kKeyUsage)) {
    v->has_ku = true;
    v->ku_critical = x.critical;
    if (!r.Read(der::kBitString, &v->ku_bits) || !r.empty() || v->ku_bits.empty()) {
      return Bad("malformed keyUsage");
    }
  } else if (Is(x.oid, kExtKeyUsage)) {
    v->has_eku = true;
    v->eku_critical = x.critical;
    ByteSpan seq;
    if (!r.Read(der::kSequence, &seq) || !r.empty()) return Bad("malformed extKeyUsage");
    der::Reader e(seq);
    while (!e.empty()) {
      ByteSpan oid;
      if (!e.Read(der::kOid, &oid)) return Bad("malformed extKeyUsage");
      v->eku.push_back(oid);
    }
  } else if (Is(x.oid, kSubjectKeyId)) {
    ByteSpan id;
    if (!r.Read(der::kOctetString, &id) || !r.empty()) return Bad("malformed subjectKeyIdentifier");
    v->has_ski = true;
    v->ski_critical = x.critical;
  } else if (Is(x.oid, kAuthorityKeyId)) {
    v->has_aki = true;
    v->aki_critical = x.critical;
    ByteSpan seq;
    if (!r.Read(der::kSequence, &seq) || !r.empty()) return Bad("malformed authorityKeyIdentifier");
    der::Reader a(seq);
    if (a.PeekTag() == der::ContextPrimitive(0)) {
      ByteSpan id;
      if (!a.Read(der::ContextPrimitive(0), &id)) return Bad("malformed authorityKeyIdentifier");
      v->aki_key_id = id;
    }
  } else if (Is(x.oid, kSubjectAltName)) {
    v->has_san = true;
    v->san_critical = x.critical;
    ByteSpan seq;
    if (!r.Read(der::kSequence, &seq) || !r.empty()) return Bad("malformed subjectAltName");
    CP_RETURN_IF_ERROR(ReadGeneralNames(seq, &v->sans));
    for (const auto& n : v->sans) {
      if (n.tag == der::ContextPrimitive(2)) v->dns_names.push_back(AsString(n.value));
    }
  } else if (Is(x.oid, kCertPolicies)) {
    ByteSpan seq;
    if (!r.Read(der::kSequence, &seq) || !r.empty()) return Bad("malformed certificatePolicies");
    der::Reader ps(seq);
    while (!ps.empty()) {
      ByteSpan info, oid;
      if (!ps.Read(der::kSequence, &info)) return Bad("malformed PolicyInformation");
      der::Reader pi(info);
      if (!pi.Read(der::kOid, &oid)) return Bad("malformed PolicyInformation");
      v->policies.push_back(oid);
    }
  } else if (Is(x.oid, kCrlDp)) {
    v->has_crl_dp = true;
    v->crl_dp_critical = x.critical;
    ByteSpan seq;
    if (!r.Read(der::kSequence, &seq) || !r.empty()) return Bad("malformed cRLDistributionPoints");
    der::Reader dps(seq);
    for (int i = 0; !dps.empty(); ++i) {
      ByteSpan dp;
      if (!dps.Read(der::kSequence, &dp)) return Bad("malformed DistributionPoint");
      der::Reader d(dp);
      bool uri = false;
      ByteSpan dpn, full;
      if (d.PeekTag() == der::ContextConstructed(0)) {
        if (!d.Read(der::ContextConstructed(0), &dpn)) return Bad("malformed DistributionPoint");
        der::Reader n(dpn);
        if (n.PeekTag() == der::ContextConstructed(0)) {
          if (!n.Read(der::ContextConstructed(0), &full)) return Bad("malformed fullName");
          std::vector<TbsView::GeneralName> names;
          CP_RETURN_IF_ERROR(ReadGeneralNames(full, &names));
          for (const auto& g : names) {
            if (g.tag == der::ContextPrimitive(6)) {
              v->crl_uris.push_back(AsString(g.value));
              uri = true;
            }
          }
        }
      }
      if (!uri) v->crl_points_without_uri.push_back(i);
    }
  } else if (Is(x.oid, kAia)) {
    v->has_aia = true;
    v->aia_critical = x.critical;
    ByteSpan seq;
    if (!r.Read(der::kSequence, &seq) || !r.empty()) {
      return Bad("malformed authorityInfoAccess");
    }
    der::Reader ads(seq);
    while (!ads.empty()) {
      ByteSpan ad, method, loc;
      uint8_t tag = 0;
      if (!ads.Read(der::kSequence, &ad)) return Bad("malformed AccessDescription");
      der::Reader a(ad);
      if (!a.Read(der::kOid, &method) || !a.ReadAny(&tag, &loc) || !a.empty()) {
        return Bad("malformed AccessDescription");
      }
      // A location that is not a URI is kept as an empty one: the URL rules refuse it.
      v->aia.emplace_back(method, tag == der::ContextPrimitive(6) ? AsString(loc) : "");
    }
  }
  return Status::Ok();
}

// ReadSubject collects the CN, C and emailAddress values of the subject.
Status ReadSubject(TbsView* v) {
  der::Reader rdns(v->subject);
  while (!rdns.empty()) {
    ByteSpan set;
    if (!rdns.Read(der::kSet, &set)) return Bad("subject RDN is not a SET");
    der::Reader avas(set);
    while (!avas.empty()) {
      ByteSpan ava, oid, value;
      uint8_t tag;
      if (!avas.Read(der::kSequence, &ava)) return Bad("malformed subject AVA");
      der::Reader a(ava);
      if (!a.Read(der::kOid, &oid) || !a.ReadAny(&tag, &value)) {
        return Bad("malformed subject AVA");
      }
      if (Is(oid, kCommonName)) v->common_names.push_back(AsString(value));
      if (Is(oid, kCountryName)) v->countries.push_back(AsString(value));
      if (Is(oid, kEmailAddress)) v->subject_emails.push_back(AsString(value));
      if (Is(oid, kOrganizationalUnit)) v->subject_has_ou = true;
    }
  }
  return Status::Ok();
}

// ReadSpki reads a SubjectPublicKeyInfo's content into the key fields.
bool ReadSpki(ByteSpan spki, TbsView* v) {
  der::Reader s(spki);
  ByteSpan alg;
  if (!s.Read(der::kSequence, &alg) || !s.Read(der::kBitString, &v->key_bits) || !s.empty() ||
      v->key_bits.empty()) {
    return false;
  }
  der::Reader a(alg);
  uint8_t tag;
  ByteSpan content;
  if (!a.Read(der::kOid, &v->key_alg)) return false;
  return a.empty() || (a.ReadAny(&tag, &content, &v->key_params) && a.empty());
}

// ReadExtensionList reads a SEQUENCE OF Extension's content, then each known extension.
std::optional<Fatal> ReadExtensionList(ByteSpan exts, TbsView* v) {
  der::Reader e(exts);
  while (!e.empty()) {
    ByteSpan ext, oid;
    TbsView::Extension x;
    if (!e.Read(der::kSequence, &ext)) return Fatal{kExtDerRule, "malformed extension"};
    der::Reader xr(ext);
    if (!xr.Read(der::kOid, &oid)) return Fatal{kExtDerRule, "malformed extension"};
    x.oid = oid;
    if (xr.PeekTag() == der::kBoolean) {
      ByteSpan b;
      if (!xr.Read(der::kBoolean, &b) || b.size() != 1) {
        return Fatal{kExtDerRule, "malformed critical flag"};
      }
      // X.690 11.5: a DEFAULT FALSE value is never encoded.
      if (b[0] != 0xff) return Fatal{kExtDerRule, "critical flag encoded as FALSE or non-DER TRUE"};
      x.critical = true;
    }
    if (!xr.Read(der::kOctetString, &x.value) || !xr.empty()) {
      return Fatal{kExtDerRule, "malformed extension " + der::OidToString(x.oid)};
    }
    v->extensions.push_back(x);
  }
  for (const auto& x : v->extensions) {
    Status st = ReadExtension(v, x);
    if (!st.ok()) return Fatal{kExtDerRule, st.message()};
  }
  return std::nullopt;
}

// ReadTimeLoosely reads a UTCTime or GeneralizedTime in the strict DER form RFC 5280 4.1.2.5
// requires, or else in the looser forms X.680 allows (no seconds, fractions, an offset
// instead of Z), so that the time-encoding rules can name what is wrong instead of the whole
// certificate being unreadable.
bool ReadTimeLoosely(uint8_t tag, ByteSpan c, time_t* out) {
  if (der::ParseTime(tag, c, out)) return true;
  const size_t year_digits = tag == der::kUtcTime ? 2 : tag == der::kGeneralizedTime ? 4 : 0;
  if (year_digits == 0) return false;
  std::string s(AsString(c));
  size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  if (digits < year_digits + 8) return false;  // at least YYMMDDHHMM
  std::string fixed = s.substr(0, std::min(digits, year_digits + 10));
  if (fixed.size() == year_digits + 8) fixed += "00";
  fixed += "Z";
  return der::ParseTime(tag, AsBytes(fixed), out);
}

std::optional<Fatal> Structure(std::string detail) {
  return Fatal{kStructureRule, std::move(detail)};
}

// ReadTbsInto reads an encoded TBSCertificate element.
std::optional<Fatal> ReadTbsInto(ByteSpan tbs, TbsView* v) {
  der::Reader outer(tbs);
  ByteSpan body;
  if (!outer.Read(der::kSequence, &body) || !outer.empty()) {
    return Structure("TBSCertificate is not a SEQUENCE");
  }
  der::Reader r(body);
  ByteSpan version, validity, spki, exts_outer;
  if (r.PeekTag() == der::ContextConstructed(0)) {
    ByteSpan n;
    if (!r.Read(der::ContextConstructed(0), &version)) return Structure("malformed version");
    der::Reader vv(version);
    if (!vv.Read(der::kInteger, &n) || n.size() != 1 || !vv.empty()) {
      return Structure("malformed version");
    }
    v->version = n[0] + 1;
  } else {
    v->version = 1;
  }
  if (!r.Read(der::kInteger, &v->serial)) return Structure("missing serial");
  if (!r.Read(der::kSequence, nullptr, &v->sig_alg))
    return Structure("missing signature algorithm");
  if (!r.Read(der::kSequence, &v->issuer)) return Structure("missing issuer");
  if (!r.Read(der::kSequence, &validity)) return Structure("missing validity");
  {
    der::Reader t(validity);
    if (!t.ReadAny(&v->not_before_tag, &v->not_before_raw) ||
        !t.ReadAny(&v->not_after_tag, &v->not_after_raw) || !t.empty() ||
        !ReadTimeLoosely(v->not_before_tag, v->not_before_raw, &v->not_before) ||
        !ReadTimeLoosely(v->not_after_tag, v->not_after_raw, &v->not_after)) {
      return Structure("malformed validity");
    }
  }
  if (!r.Read(der::kSequence, &v->subject, &v->subject_element)) {
    return Structure("missing subject");
  }
  if (!r.Read(der::kSequence, &spki) || !ReadSpki(spki, v)) {
    return Structure("malformed subjectPublicKeyInfo");
  }
  // issuerUniqueID [1] and subjectUniqueID [2] (RFC 5280 4.1.2.8) are skipped.
  for (int tag : {der::ContextPrimitive(1), der::ContextPrimitive(2)}) {
    if (r.PeekTag() == tag && !r.Skip(static_cast<uint8_t>(tag))) {
      return Structure("malformed unique identifier");
    }
  }
  // Extensions are read whatever the version says: e_invalid_certificate_version reports a
  // version that is not v3.
  const bool has_exts = r.PeekTag() == der::ContextConstructed(3);
  if (has_exts && !r.Read(der::ContextConstructed(3), &exts_outer)) {
    return Fatal{kExtDerRule, "malformed extensions"};
  }
  if (!r.empty()) return Structure("trailing data after the extensions");
  der::Reader eo(exts_outer);
  ByteSpan exts;
  if (has_exts && (!eo.Read(der::kSequence, &exts) || !eo.empty())) {
    return Fatal{kExtDerRule, "malformed extensions"};
  }
  if (auto f = ReadExtensionList(exts, v)) return f;
  Status st = ReadSubject(v);
  if (!st.ok()) return Structure(st.message());
  return std::nullopt;
}

// ReadCertInto reads a DER Certificate (RFC 5280 4.1): the TBS, then the outer algorithm.
std::optional<Fatal> ReadCertInto(ByteSpan der, TbsView* v) {
  der::Reader outer(der);
  ByteSpan body, tbs, sig;
  if (!outer.Read(der::kSequence, &body) || !outer.empty()) {
    return Structure("not a DER Certificate (a SEQUENCE with nothing after it)");
  }
  der::Reader b(body);
  if (!b.Read(der::kSequence, nullptr, &tbs) ||
      !b.Read(der::kSequence, nullptr, &v->cert_sig_alg) || !b.Read(der::kBitString, &sig) ||
      !b.empty()) {
    return Structure("a Certificate is tbsCertificate, signatureAlgorithm, signatureValue");
  }
  return ReadTbsInto(tbs, v);
}

// ReadCsrInto reads a DER CertificationRequest (RFC 2986 4): subject, key, and the
// extensions of an extensionRequest attribute (RFC 2985 5.4.2).
std::optional<Fatal> ReadCsrInto(ByteSpan der, TbsView* v) {
  der::Reader outer(der);
  ByteSpan body, info, version, spki, attrs;
  if (!outer.Read(der::kSequence, &body) || !outer.empty()) {
    return Structure("not a DER CertificationRequest");
  }
  der::Reader b(body);
  if (!b.Read(der::kSequence, &info)) return Structure("no certificationRequestInfo");
  der::Reader r(info);
  if (!r.Read(der::kInteger, &version) ||
      !r.Read(der::kSequence, &v->subject, &v->subject_element)) {
    return Structure("malformed certificationRequestInfo");
  }
  if (!r.Read(der::kSequence, &spki) || !ReadSpki(spki, v)) {
    return Structure("malformed subjectPublicKeyInfo");
  }
  if (r.PeekTag() == der::ContextConstructed(0) && !r.Read(der::ContextConstructed(0), &attrs)) {
    return Structure("malformed attributes");
  }
  der::Reader as(attrs);
  while (!as.empty()) {
    ByteSpan attr, type, values;
    if (!as.Read(der::kSequence, &attr)) return Structure("malformed attribute");
    der::Reader a(attr);
    if (!a.Read(der::kOid, &type) || !a.Read(der::kSet, &values)) {
      return Structure("malformed attribute");
    }
    if (!Is(type, kExtensionRequest)) continue;
    der::Reader vs(values);
    ByteSpan exts;
    if (!vs.Read(der::kSequence, &exts) || !vs.empty()) {
      return Fatal{kExtDerRule, "malformed extensionRequest"};
    }
    if (auto f = ReadExtensionList(exts, v)) return f;
  }
  v->version = 3;
  Status st = ReadSubject(v);
  if (!st.ok()) return Structure(st.message());
  return std::nullopt;
}

// ---- helpers of the rules ----

// LintName checks the attribute values of a Name's content: string types and alphabets,
// C/serialNumber PrintableString, emailAddress/DC IA5String, RFC 5280 Appendix A bounds.
Status LintName(ByteSpan name_content, const char* which) {
  der::Reader rdns(name_content);
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

bool IsLdhChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

std::vector<std::string_view> Labels(std::string_view name) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t dot = name.find('.', start);
    out.push_back(name.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return out;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// IsUrl checks an http (or, with |ldap|, ldap) URL: scheme, a host that is an LDH name, an
// IPv4 address or a bracketed IPv6 address (ldap may leave it empty, RFC 4516), an optional
// port, and a path of printable ASCII without spaces.
bool IsUrl(std::string_view url, bool ldap) {
  std::string_view rest;
  bool is_ldap = false;
  if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else if (ldap && url.rfind("ldap://", 0) == 0) {
    rest = url.substr(7);
    is_ldap = true;
  } else {
    return false;
  }
  for (unsigned char c : rest) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  if (authority.find('@') != std::string_view::npos) return false;  // no userinfo
  std::string_view host = authority;
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    std::string v6(host.substr(1, close - 1));
    uint8_t buf[16];
    if (inet_pton(AF_INET6, v6.c_str(), buf) != 1) return false;
    host = host.substr(close + 1);
    if (!host.empty() && (host.front() != ':' || !AllDigits(host.substr(1)))) return false;
    return true;
  }
  size_t colon = host.find(':');
  if (colon != std::string_view::npos) {
    if (!AllDigits(host.substr(colon + 1))) return false;
    host = host.substr(0, colon);
  }
  if (host.empty()) return is_ldap;
  for (auto label : Labels(host)) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    if (!std::all_of(label.begin(), label.end(), IsLdhChar)) return false;
  }
  return true;
}

// IsReservedIp: RFC 1918, loopback, link-local, CGNAT, "this network", unique local and
// the documentation ranges are no public addresses (BR 1.6.1 "Reserved IP Address").
bool IsReservedIpImpl(ByteSpan ip) {
  if (ip.size() == 4) {
    const uint8_t a = ip[0], b = ip[1], c = ip[2];
    return a == 0 || a == 10 || a == 127 || (a == 169 && b == 254) ||
           (a == 172 && (b & 0xf0) == 16) || (a == 192 && b == 168) ||
           (a == 100 && (b & 0xc0) == 64) || (a == 192 && b == 0 && c == 2) ||
           (a == 198 && (b & 0xfe) == 18) || (a == 198 && b == 51 && c == 100) ||
           (a == 203 && b == 0 && c == 113) || a >= 224;
  }
  if (ip.size() == 16) {
    static const uint8_t kLoopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const uint8_t kUnspecified[16] = {};
    return std::memcmp(ip.data(), kLoopback, 16) == 0 ||
           std::memcmp(ip.data(), kUnspecified, 16) == 0 || (ip[0] & 0xfe) == 0xfc ||
           (ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80) || ip[0] == 0xff ||
           (ip[0] == 0x20 && ip[1] == 0x01 && ip[2] == 0x0d && ip[3] == 0xb8);
  }
  return false;
}

std::string IpText(ByteSpan ip) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ip.size() == 4) inet_ntop(AF_INET, ip.data(), buf, sizeof buf);
  if (ip.size() == 16) inet_ntop(AF_INET6, ip.data(), buf, sizeof buf);
  return buf[0] ? buf : "<" + std::to_string(ip.size()) + " octets>";
}

std::string Quoted(std::string_view s) {
  return "'" + std::string(s) + "'";
}

// ---- the rules, in table order ----

LintCheck VersionIsV3(const TbsView& t, const LintOptions&) {
  if (t.version != 3) return Fail("version must be v3, is v" + std::to_string(t.version));
  return Pass();
}

LintCheck SerialAtMost20Octets(const TbsView& t, const LintOptions&) {
  if (t.serial.size() > 20) return Fail("serial longer than 20 octets");
  return Pass();
}

LintCheck SerialPositive(const TbsView& t, const LintOptions&) {
  // RFC 5280 4.1.2.2: positive; X.690 8.3.2: minimal encoding.
  if (t.serial.empty()) return Fail("serial is empty");
  if (t.serial[0] & 0x80) return Fail("serial is negative");
  if (t.serial.size() > 1 && t.serial[0] == 0 && !(t.serial[1] & 0x80)) {
    return Fail("serial is not minimally encoded");
  }
  if (std::all_of(t.serial.begin(), t.serial.end(), [](uint8_t b) { return b == 0; })) {
    return Fail("serial is zero");
  }
  return Pass();
}

LintCheck SignatureAlgorithmOfCa(const TbsView& t, const LintOptions& o) {
  if (o.expected_sig_alg.empty()) return Na();
  if (!o.expected_sig_alg.empty() &&
      (t.sig_alg.size() != o.expected_sig_alg.size() ||
       std::memcmp(t.sig_alg.data(), o.expected_sig_alg.data(), t.sig_alg.size()) != 0)) {
    return Fail("signature algorithm does not match the CA key");
  }
  return Pass();
}

LintCheck IssuerNotEmpty(const TbsView& t, const LintOptions&) {
  if (t.issuer.empty()) return Fail("issuer name is empty");  // RFC 5280 4.1.2.4
  return Pass();
}

LintCheck NameEncoding(const TbsView& t, const LintOptions&) {
  Status st = LintName(t.issuer, "issuer");
  if (st.ok()) st = LintName(t.subject, "subject");
  return st.ok() ? Pass() : Fail(st.message());
}

LintCheck TimeTypes(const TbsView& t, const LintOptions&) {
  // RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  auto year_ok = [](uint8_t tag, time_t when) {
    struct tm tm;
    gmtime_r(&when, &tm);
    return (tag == der::kUtcTime) == (tm.tm_year + 1900 < 2050);
  };
  if (!year_ok(t.not_before_tag, t.not_before) || !year_ok(t.not_after_tag, t.not_after)) {
    return Fail("validity uses the wrong time type");
  }
  return Pass();
}

LintCheck ValidityPositive(const TbsView& t, const LintOptions&) {
  if (t.not_after <= t.not_before) return Fail("notAfter is not after notBefore");
  return Pass();
}

LintCheck ValidityWithinIssuer(const TbsView& t, const LintOptions& o) {
  if (o.issuer_not_before == 0 && o.issuer_not_after == 0) return Na();
  // RFC 5280 6.1.3 (a)(2): every certificate of a path must be valid at the time of use; a
  // certificate that starts before or ends after its issuer is invalid for that part.
  if (o.issuer_not_before != 0 && t.not_before < o.issuer_not_before) {
    return Fail("notBefore precedes the issuer's notBefore");
  }
  if (o.issuer_not_after != 0 && t.not_after > o.issuer_not_after) {
    return Fail("notAfter is after the issuer's notAfter");
  }
  return Pass();
}

LintCheck ValidityWithinProfile(const TbsView& t, const LintOptions& o) {
  if (o.max_validity_days <= 0) return Na();
  if (o.max_validity_days > 0 &&
      t.not_after - t.not_before > static_cast<time_t>(o.max_validity_days) * 86400) {
    return Fail("validity is longer than the profile's " + std::to_string(o.max_validity_days) +
                " days");
  }
  return Pass();
}

LintCheck TlsValidity398Days(const TbsView& t, const LintOptions&) {
  // BR 6.3.2: a TLS subscriber certificate is valid for at most 398 days. RFC 5280 counts
  // validity inclusively, so 398 days are 398 * 86400 seconds minus one.
  if (!t.IsTlsServer()) return Na();
  if (t.not_after - t.not_before >= 398 * 86400) {
    return Fail("a TLS server certificate may be valid for at most 398 days");
  }
  return Pass();
}

LintCheck NoDuplicateExtensions(const TbsView& t, const LintOptions&) {
  for (size_t i = 0; i < t.extensions.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (Is(t.extensions[i].oid, t.extensions[j].oid)) {
        return Fail("duplicate extension " + der::OidToString(t.extensions[i].oid));
      }
    }
  }
  return Pass();
}

LintCheck NoUnknownCriticalExtension(const TbsView& t, const LintOptions&) {
  // RFC 5280 4.2: "A certificate-using system MUST reject the certificate if it encounters a
  // critical extension it does not recognize": we only mark critical what every verifier
  // knows.
  static constexpr ByteSpan kKnown[] = {
      kBasicConstraints, kKeyUsage, kExtKeyUsage,  kSubjectKeyId,    kAuthorityKeyId,
      kSubjectAltName,   kCrlDp,    kCertPolicies, kNameConstraints, kPolicyConstraints,
      kInhibitAnyPolicy, kAia};
  for (const auto& x : t.extensions) {
    if (x.critical && std::none_of(std::begin(kKnown), std::end(kKnown),
                                   [&](ByteSpan k) { return Is(x.oid, k); })) {
      return Fail("extension " + der::OidToString(x.oid) +
                  " is critical and not one a verifier must know");
    }
  }
  return Pass();
}

LintCheck BasicConstraintsCritical(const TbsView& t, const LintOptions&) {
  if (!t.is_ca) return Na();
  if (t.is_ca && !t.bc_critical) {
    return Fail("basicConstraints must be critical in a CA certificate");
  }
  return Pass();
}

LintCheck PathLenOnlyWithCa(const TbsView& t, const LintOptions&) {
  if (!t.has_path_len) return Na();
  if (t.has_path_len && (!t.is_ca || !t.KuBit(kKeyCertSign))) {
    return Fail("pathLenConstraint without cA and keyCertSign");
  }
  return Pass();
}

LintCheck KeyUsagePresentWithBits(const TbsView& t, const LintOptions&) {
  if (!t.has_ku) return Na();
  bool any = false;
  for (int b = 0; b <= kDecipherOnly; ++b) any = any || t.KuBit(b);
  if (!any) return Fail("keyUsage has no bit set");
  return Pass();
}

LintCheck KeyUsageCritical(const TbsView& t, const LintOptions&) {
  if (!t.has_ku) return Na();
  if (t.has_ku && !t.ku_critical) return Fail("keyUsage should be critical");
  return Pass();
}

LintCheck CertSignOnlyInCa(const TbsView& t, const LintOptions&) {
  if (t.KuBit(kKeyCertSign) && !t.is_ca) return Fail("keyCertSign without basicConstraints cA");
  return Pass();
}

LintCheck CaHasCertSign(const TbsView& t, const LintOptions&) {
  if (!t.is_ca) return Na();
  if (t.is_ca && !t.KuBit(kKeyCertSign)) return Fail("CA certificate without keyCertSign");
  return Pass();
}

LintCheck CrlSignOnlyInCa(const TbsView& t, const LintOptions&) {
  if (t.is_ca) return Na();
  if (!t.is_ca && t.KuBit(kCrlSign)) return Fail("cRLSign in an end-entity certificate");
  return Pass();
}

LintCheck EcKeyUsage(const TbsView& t, const LintOptions&) {
  // RFC 8813 3 (updating RFC 5480 3): with id-ecPublicKey, keyEncipherment and
  // dataEncipherment MUST NOT be present.
  if (!t.IsEc() || !t.has_ku) return Na();
  if ((t.KuBit(kKeyEncipherment) || t.KuBit(kDataEncipherment))) {
    return Fail("an EC key cannot do keyEncipherment or dataEncipherment (use keyAgreement)");
  }
  return Pass();
}

LintCheck RsaKeyUsage(const TbsView& t, const LintOptions&) {
  // RFC 3279 2.3.1: an RSA key's usage may be any but keyAgreement, encipherOnly and
  // decipherOnly.
  if (!t.IsRsa() || t.is_ca || !t.has_ku) return Na();
  if ((t.KuBit(kKeyAgreement) || t.KuBit(kEncipherOnly) || t.KuBit(kDecipherOnly))) {
    return Fail("an RSA key cannot do keyAgreement, encipherOnly or decipherOnly");
  }
  return Pass();
}

LintCheck KeyUsageFitsEku(const TbsView& t, const LintOptions&) {
  // RFC 5280 4.2.1.12, with zlint's table of consistent key usages per purpose: the key
  // usage must be one of the purposes' combinations. A purpose outside the table (smart card
  // logon, PIV card authentication) makes the check pass, as in zlint.
  if (t.is_ca || !t.has_eku || !t.has_ku) return Na();
  constexpr uint16_t DS = 1 << kDigitalSignature, NR = 1 << kNonRepudiation,
                     KE = 1 << kKeyEncipherment, KA = 1 << kKeyAgreement;
  struct Purpose {
    ByteSpan oid;
    std::vector<uint16_t> allowed;
  };
  static const Purpose kPurposes[] = {
      {kServerAuth, {DS, KE, KA, DS | KE, DS | KA}},
      {kClientAuth, {DS, KA, DS | KA}},
      {kCodeSigning, {DS}},
      {kEmailProtection,
       {DS, NR, KE, KA, DS | NR, DS | KE, DS | KA, DS | NR | KE, DS | NR | KA, NR | KE, NR | KA}},
      {kTimeStamping, {DS, NR, DS | NR}},
      {kOcspSigning, {DS, NR, DS | NR}},
  };
  uint16_t ku = 0;
  for (int b = 0; b <= kDecipherOnly; ++b) {
    if (t.KuBit(b)) ku |= static_cast<uint16_t>(1u << b);
  }
  std::set<uint16_t> combos;  // every union of one allowed combination per purpose
  bool first = true;
  for (const auto& oid : t.eku) {
    const Purpose* p = nullptr;
    for (const auto& q : kPurposes) {
      if (Is(oid, q.oid)) p = &q;
    }
    if (p == nullptr) return Na();
    std::set<uint16_t> next;
    for (uint16_t a : p->allowed) {
      next.insert(a);
      if (!first) {
        for (uint16_t c : combos) next.insert(static_cast<uint16_t>(c | a));
      }
    }
    for (uint16_t c : combos) next.insert(c);
    combos = std::move(next);
    first = false;
  }
  if (!combos.count(ku)) {
    return Fail("keyUsage is not consistent with the extended key usages");
  }
  return Pass();
}

LintCheck EkuPresentForServerNames(const TbsView& t, const LintOptions&) {
  // BR 7.1.2.7.10: a subscriber certificate carries extKeyUsage. Without one a certificate
  // with a dNSName or iPAddress is good for every purpose, TLS server authentication
  // included.
  if (t.is_ca || t.has_eku) return Na();
  for (const auto& n : t.sans) {
    if (n.tag == der::ContextPrimitive(2) || n.tag == der::ContextPrimitive(7)) {
      return Fail("a certificate with DNS or IP names must say its purpose (extKeyUsage)");
    }
  }
  return Pass();
}

LintCheck SkiPresentCa(const TbsView& t, const LintOptions&) {
  if (!t.is_ca) return Na();
  if (!t.has_ski) return Fail("subjectKeyIdentifier is missing");
  return Pass();
}

LintCheck SkiPresentSubscriber(const TbsView& t, const LintOptions&) {
  if (t.is_ca) return Na();
  if (!t.has_ski) return Fail("subjectKeyIdentifier is missing");
  return Pass();
}

LintCheck AkiHasKeyId(const TbsView& t, const LintOptions& o) {
  if (!o.expect_aki) return Na();
  if (!t.has_aki) return Fail("authorityKeyIdentifier is missing");
  if (!t.aki_key_id) return Fail("authorityKeyIdentifier has no keyIdentifier");
  return Pass();
}

LintCheck AkiIsIssuerSki(const TbsView& t, const LintOptions& o) {
  // RFC 5280 4.2.1.1: the keyIdentifier is the issuer's subject key identifier, so that a
  // verifier finds the issuer's certificate.
  if (o.issuer_ski.empty() || !t.aki_key_id) return Na();
  if (t.aki_key_id->size() != o.issuer_ski.size() ||
      std::memcmp(t.aki_key_id->data(), o.issuer_ski.data(), o.issuer_ski.size()) != 0) {
    return Fail("authorityKeyIdentifier is not the issuer's subjectKeyIdentifier");
  }
  return Pass();
}

LintCheck EmptySubjectHasSan(const TbsView& t, const LintOptions&) {
  if (t.subject.empty() && !t.has_san) return Fail("empty subject and no subjectAltName");
  return Pass();
}

LintCheck SanCriticalWithEmptySubject(const TbsView& t, const LintOptions&) {
  if (!t.subject.empty() || !t.has_san) return Na();
  if (t.subject.empty() && t.has_san && !t.san_critical) {
    return Fail("subjectAltName must be critical with an empty subject");
  }
  return Pass();
}

LintCheck DnsNameCharacters(const TbsView& t, const LintOptions&) {
  // RFC 5280 4.2.1.6 and RFC 1123 2.1: the preferred name syntax, letters, digits and
  // hyphens, a label neither starting nor ending with a hyphen.
  for (auto name : t.DnsNames()) {
    auto labels = Labels(name);
    for (size_t i = 0; i < labels.size(); ++i) {
      std::string_view label = labels[i];
      if (label.empty()) continue;                                // e_dnsname_empty_label
      if (i == 0 && label == "*" && labels.size() > 1) continue;  // a wildcard (BR 1.6.1)
      if (!std::all_of(label.begin(), label.end(), IsLdhChar) || label.front() == '-' ||
          label.back() == '-') {
        return Fail("dNSName " + Quoted(name) + " is not a letters-digits-hyphen name");
      }
    }
  }
  return Pass();
}

LintCheck DnsNameNoEmptyLabel(const TbsView& t, const LintOptions&) {
  for (auto name : t.DnsNames()) {
    for (auto label : Labels(name)) {
      if (label.empty()) return Fail("dNSName " + Quoted(name) + " has an empty label");
    }
  }
  return Pass();
}

LintCheck DnsNameLabelLength(const TbsView& t, const LintOptions&) {
  for (auto name : t.DnsNames()) {
    for (auto label : Labels(name)) {
      if (label.size() > 63) return Fail("dNSName " + Quoted(name) + " has a label over 63");
    }
  }
  return Pass();
}

LintCheck DnsNameLength(const TbsView& t, const LintOptions&) {
  for (auto name : t.DnsNames()) {
    if (name.size() > 253) return Fail("a dNSName is longer than 253 characters");
  }
  return Pass();
}

LintCheck DnsNameNotAnIp(const TbsView& t, const LintOptions&) {
  // An all-numeric last label is no host name (RFC 3696 2, RFC 1123 2.1): it is an IPv4
  // address or a number, which belongs in an iPAddress name, if anywhere.
  for (auto name : t.DnsNames()) {
    if (AllDigits(Labels(name).back())) {
      return Fail("dNSName " + Quoted(name) + " is an IP address or a number, not a host name");
    }
  }
  return Pass();
}

LintCheck DnsNameNotInternal(const TbsView& t, const LintOptions& o) {
  if (!t.IsTlsServer() || o.allow_internal_names) return Na();
  for (auto name : t.DnsNames()) {
    if (IsInternalDnsName(name)) {
      return Fail("dNSName " + Quoted(name) + " is an internal name (the profile does not allow " +
                  "internal names)");
    }
  }
  for (const auto& cn : t.common_names) {
    if (IsInternalDnsName(cn)) return Fail("commonName " + Quoted(cn) + " is an internal name");
  }
  return Pass();
}

LintCheck IpNotReserved(const TbsView& t, const LintOptions& o) {
  if (!t.IsTlsServer() || o.allow_internal_names) return Na();
  for (const auto& n : t.sans) {
    if (n.tag == der::ContextPrimitive(7) && IsReservedIpImpl(n.value)) {
      return Fail("iPAddress " + IpText(n.value) + " is a reserved address (the profile does " +
                  "not allow internal names)");
    }
  }
  return Pass();
}

LintCheck CommonNameFromSan(const TbsView& t, const LintOptions&) {
  // BR 7.1.4.3: a TLS certificate's CN, if present, is one of its dNSName or iPAddress names.
  if (!t.IsTlsServer()) return Na();
  for (const auto& cn : t.common_names) {
    bool found = false;
    for (const auto& n : t.sans) {
      if (n.tag == der::ContextPrimitive(2) && AsString(n.value) == cn) found = true;
      if (n.tag == der::ContextPrimitive(7) && IpText(n.value) == cn) found = true;
    }
    if (!found) return Fail("commonName " + Quoted(cn) + " is not among the subjectAltNames");
  }
  return Pass();
}

LintCheck CrlDpUrls(const TbsView& t, const LintOptions&) {
  // RFC 5280 4.2.1.13: a distribution point names an http or ldap URI.
  if (!t.has_crl_dp) return Na();
  if (!t.crl_points_without_uri.empty()) return Fail("a CRL distribution point has no URI");
  for (const auto& u : t.crl_uris) {
    if (!IsUrl(u, /*ldap=*/true))
      return Fail("CRL distribution point " + Quoted(u) + " is no http or ldap URL");
  }
  return Pass();
}

LintCheck CrlDpHttpForTls(const TbsView& t, const LintOptions&) {
  if (!t.IsTlsServer()) return Na();
  for (const auto& u : t.crl_uris) {
    if (!IsUrl(u, /*ldap=*/false)) {
      return Fail("CRL distribution point " + Quoted(u) + " of a TLS certificate is no http URL");
    }
  }
  return Pass();
}

LintCheck AiaOcspHttp(const TbsView& t, const LintOptions&) {
  // RFC 6960 / BR 7.1.2.7.7: the OCSP responder is reached over http.
  for (const auto& [method, uri] : t.aia) {
    if (Is(method, kOcsp) && !IsUrl(uri, /*ldap=*/false)) {
      return Fail("OCSP location " + Quoted(uri) + " is no http URL");
    }
  }
  return Pass();
}

LintCheck AiaCaIssuersHttp(const TbsView& t, const LintOptions&) {
  // RFC 5280 4.2.2.1: caIssuers is an http or ldap URI; BR 7.1.2.7.7: http for TLS.
  for (const auto& [method, uri] : t.aia) {
    if (Is(method, kCaIssuers) && !IsUrl(uri, /*ldap=*/!t.IsTlsServer())) {
      return Fail("caIssuers location " + Quoted(uri) + " is no " +
                  (t.IsTlsServer() ? "http" : "http or ldap") + " URL");
    }
  }
  return Pass();
}

LintCheck EcNamedCurve(const TbsView& t, const LintOptions&) {
  // RFC 5480 2.1.1: "specifiedCurve ... MUST NOT be used"; BR 6.1.5: P-256, P-384, P-521.
  if (!t.IsEc()) return Na();
  der::Reader p(t.key_params);
  ByteSpan oid;
  if (!p.Read(der::kOid, &oid) || !p.empty()) {
    return Fail("EC key with explicit (or absent) curve parameters; only named curves");
  }
  if (!Is(oid, kP256) && !Is(oid, kP384) && !Is(oid, kP521)) {
    return Fail("EC curve " + der::OidToString(oid) + " is not P-256, P-384 or P-521");
  }
  return Pass();
}

LintCheck EcPointUncompressed(const TbsView& t, const LintOptions&) {
  // RFC 5480 2.2: "The uncompressed form MUST be supported ... the compressed form MAY";
  // verifiers that follow the MUST alone cannot read a compressed key, so we issue none.
  if (!t.IsEc()) return Na();
  // key_bits holds the unused-bits octet, then 0x04 || X || Y (an odd length).
  if (t.key_bits.size() < 2 || t.key_bits[0] != 0 || t.key_bits[1] != 0x04 ||
      (t.key_bits.size() - 1) % 2 != 1) {
    return Fail("EC public key is not an uncompressed point");
  }
  return Pass();
}

// ---- rules added for `certpress lint` (issue 15) ----

LintCheck CertSigAlgMatchesTbs(const TbsView& t, const LintOptions&) {
  // RFC 5280 4.1.1.2: signatureAlgorithm "MUST contain the same algorithm identifier as the
  // signature field in the sequence tbsCertificate".
  if (t.cert_sig_alg.empty()) return Na();
  if (!Same(t.cert_sig_alg, t.sig_alg)) {
    return Fail("the certificate's signatureAlgorithm differs from the TBS signature field");
  }
  return Pass();
}

// NotCritical is the check of an extension RFC 5280 says MUST NOT be critical.
LintCheck NotCritical(bool present, bool critical, const char* what) {
  if (!present) return Na();
  if (critical) return Fail(std::string(what) + " is marked critical");
  return Pass();
}

LintCheck AkiNotCritical(const TbsView& t, const LintOptions&) {
  return NotCritical(t.has_aki, t.aki_critical, "authorityKeyIdentifier");  // RFC 5280 4.2.1.1
}

LintCheck SkiNotCritical(const TbsView& t, const LintOptions&) {
  return NotCritical(t.has_ski, t.ski_critical, "subjectKeyIdentifier");  // RFC 5280 4.2.1.2
}

LintCheck AiaNotCritical(const TbsView& t, const LintOptions&) {
  return NotCritical(t.has_aia, t.aia_critical, "authorityInfoAccess");  // RFC 5280 4.2.2.1
}

LintCheck CrlDpNotCritical(const TbsView& t, const LintOptions&) {
  // RFC 5280 4.2.1.13: "SHOULD be non-critical".
  return NotCritical(t.has_crl_dp, t.crl_dp_critical, "cRLDistributionPoints");
}

LintCheck SanHasEntries(const TbsView& t, const LintOptions&) {
  // RFC 5280 4.2.1.6: GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName.
  if (!t.has_san) return Na();
  if (t.sans.empty()) return Fail("subjectAltName has no names");
  return Pass();
}

LintCheck SanNoEmptyName(const TbsView& t, const LintOptions&) {
  if (!t.has_san) return Na();
  for (const auto& n : t.sans) {
    if (n.value.empty()) return Fail("subjectAltName holds an empty name");
  }
  return Pass();
}

// IsMailbox checks an rfc822Name as RFC 5280 4.2.1.6 wants it: a Mailbox of RFC 5321 4.1.2,
// local-part "@" domain, without a phrase, angle brackets or spaces.
bool IsMailbox(std::string_view m) {
  size_t at = m.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == m.size()) return false;
  for (unsigned char c : m.substr(0, at)) {
    if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '(' || c == ')' || c == ',' ||
        c == ';' || c == ':' || c == '\\' || c == '"' || c == '[' || c == ']' || c == '@') {
      return false;
    }
  }
  std::string_view domain = m.substr(at + 1);
  for (auto label : Labels(domain)) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-' ||
        !std::all_of(label.begin(), label.end(), IsLdhChar)) {
      return false;
    }
  }
  return true;
}

LintCheck SanRfc822Syntax(const TbsView& t, const LintOptions&) {
  bool any = false;
  for (const auto& n : t.sans) {
    if (n.tag != der::ContextPrimitive(1)) continue;
    any = true;
    if (!IsMailbox(AsString(n.value))) {
      return Fail("rfc822Name " + Quoted(AsString(n.value)) + " is not a mailbox address");
    }
  }
  return any ? Pass() : Na();
}

LintCheck CaSubjectNotEmpty(const TbsView& t, const LintOptions&) {
  // RFC 5280 4.1.2.6: a CA's subject "MUST contain a non-empty distinguished name".
  if (!t.is_ca) return Na();
  if (t.subject.empty()) return Fail("a CA certificate with an empty subject");
  return Pass();
}

LintCheck PathLenNotNegative(const TbsView& t, const LintOptions&) {
  // RFC 5280 4.2.1.9: "it gives the maximum number of non-self-issued intermediate
  // certificates"; INTEGER (0..MAX).
  if (!t.has_path_len) return Na();
  if (t.path_len[0] & 0x80) return Fail("pathLenConstraint is negative");
  return Pass();
}

LintCheck NoDuplicatePolicy(const TbsView& t, const LintOptions&) {
  // RFC 5280 4.2.1.4: "A certificate policy OID MUST NOT appear more than once".
  if (t.policies.empty()) return Na();
  for (size_t i = 0; i < t.policies.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (Same(t.policies[i], t.policies[j])) {
        return Fail("policy " + der::OidToString(t.policies[i]) + " appears twice");
      }
    }
  }
  return Pass();
}

// TimeForm checks the validity times of one type (|tag|) against RFC 5280 4.1.2.5.1/4.1.2.5.2:
// the form YYMMDDHHMMSSZ or YYYYMMDDHHMMSSZ, which |what| picks apart: 'Z' the zone, 's' the
// seconds, 'f' no fraction.
LintCheck TimeForm(const TbsView& t, uint8_t tag, char what) {
  const size_t digits = tag == der::kUtcTime ? 12 : 14;
  bool any = false;
  for (auto [tg, raw] : {std::pair{t.not_before_tag, t.not_before_raw},
                         std::pair{t.not_after_tag, t.not_after_raw}}) {
    if (tg != tag) continue;
    any = true;
    std::string_view s = AsString(raw);
    size_t n = 0;
    while (n < s.size() && s[n] >= '0' && s[n] <= '9') ++n;
    const char* type = tag == der::kUtcTime ? "UTCTime" : "GeneralizedTime";
    if (what == 'Z' && (s.empty() || s.back() != 'Z')) {
      return Fail(std::string(type) + " " + Quoted(s) + " is not in Zulu time (no Z)");
    }
    if (what == 's' && n < digits) {
      return Fail(std::string(type) + " " + Quoted(s) + " has no seconds");
    }
    if (what == 'f' && s.find('.') != std::string_view::npos) {
      return Fail(std::string(type) + " " + Quoted(s) + " has fractional seconds");
    }
  }
  return any ? Pass() : Na();
}

LintCheck UtcTimeZulu(const TbsView& t, const LintOptions&) {
  return TimeForm(t, der::kUtcTime, 'Z');
}
LintCheck UtcTimeSeconds(const TbsView& t, const LintOptions&) {
  return TimeForm(t, der::kUtcTime, 's');
}
LintCheck GeneralizedTimeZulu(const TbsView& t, const LintOptions&) {
  return TimeForm(t, der::kGeneralizedTime, 'Z');
}
LintCheck GeneralizedTimeSeconds(const TbsView& t, const LintOptions&) {
  return TimeForm(t, der::kGeneralizedTime, 's');
}
LintCheck GeneralizedTimeNoFraction(const TbsView& t, const LintOptions&) {
  return TimeForm(t, der::kGeneralizedTime, 'f');
}

LintCheck SubjectEmailInSan(const TbsView& t, const LintOptions&) {
  // RFC 5280 4.1.2.6: "Conforming implementations generating new certificates with electronic
  // mail addresses MUST use the rfc822Name in the subject alternative name".
  if (t.subject_emails.empty()) return Na();
  for (auto email : t.subject_emails) {
    bool found = false;
    for (const auto& n : t.sans) {
      found = found || (n.tag == der::ContextPrimitive(1) && AsString(n.value) == email);
    }
    if (!found) {
      return Fail("subject emailAddress " + Quoted(email) + " is not an rfc822Name of the SAN");
    }
  }
  return Pass();
}

// The officially assigned ISO 3166-1 alpha-2 codes, and XX, which BR 7.1.4.2.2 allows where
// a country has none.
constexpr std::string_view kIsoCountries =
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ "
    "BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM "
    "DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS "
    "GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN "
    "KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ "
    "MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM "
    "PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV "
    "SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI "
    "VN VU WF WS XX YE YT ZA ZM ZW";

LintCheck CountryIsIso(const TbsView& t, const LintOptions&) {
  // BR 7.1.4.2.2(g) (7.1.2.7.4 table): the two-letter ISO 3166-1 code; "UK" and "EN" are the
  // usual mistakes.
  if (t.countries.empty()) return Na();
  for (auto c : t.countries) {
    // The codes are sorted, three characters apart: a binary search.
    size_t lo = 0, hi = kIsoCountries.size() / 3 + 1;
    bool ok = false;
    while (c.size() == 2 && lo < hi && !ok) {
      const size_t mid = (lo + hi) / 2;
      const std::string_view code = kIsoCountries.substr(mid * 3, 2);
      if (code == c) {
        ok = true;
      } else if (code < c) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    if (!ok) return Fail("country " + Quoted(c) + " is not an ISO 3166-1 alpha-2 code");
  }
  return Pass();
}

// RsaKey reads an RSA public key's modulus and exponent (RFC 8017 A.1.1) as INTEGER contents.
bool RsaKey(const TbsView& t, ByteSpan* n, ByteSpan* e) {
  if (t.key_bits.size() < 2 || t.key_bits[0] != 0) return false;
  der::Reader r(t.key_bits.subspan(1));
  ByteSpan seq;
  if (!r.Read(der::kSequence, &seq) || !r.empty()) return false;
  der::Reader k(seq);
  return k.Read(der::kInteger, n) && k.Read(der::kInteger, e) && k.empty() && !n->empty() &&
         !e->empty();
}

// Magnitude drops the sign octet of a positive INTEGER's content.
ByteSpan Magnitude(ByteSpan v) {
  while (v.size() > 1 && v[0] == 0) v = v.subspan(1);
  return v;
}

size_t BitLength(ByteSpan v) {
  v = Magnitude(v);
  if (v.empty() || (v.size() == 1 && v[0] == 0)) return 0;
  size_t bits = (v.size() - 1) * 8;
  for (uint8_t b = v[0]; b != 0; b >>= 1) ++bits;
  return bits;
}

// RsaCheck runs |f| on a parsed RSA key; a key that does not parse is a finding of its own.
template <class F>
LintCheck RsaCheck(const TbsView& t, F f) {
  if (!t.IsRsa()) return Na();
  ByteSpan n, e;
  if (!RsaKey(t, &n, &e)) return Fail("the RSA public key is not RSAPublicKey ::= SEQUENCE {n, e}");
  return f(n, e);
}

LintCheck RsaModulus2048(const TbsView& t, const LintOptions&) {
  // BR 6.1.5: RSA moduli of at least 2048 bits.
  return RsaCheck(t, [](ByteSpan n, ByteSpan) {
    size_t bits = BitLength(n);
    return bits < 2048 ? Fail("RSA modulus of " + std::to_string(bits) + " bits") : Pass();
  });
}

LintCheck RsaModulusOdd(const TbsView& t, const LintOptions&) {
  // BR 6.1.6: the modulus is odd (a product of two odd primes).
  return RsaCheck(t, [](ByteSpan n, ByteSpan) {
    return (n.back() & 1) ? Pass() : Fail("RSA modulus is even");
  });
}

LintCheck RsaExponentOdd(const TbsView& t, const LintOptions&) {
  // BR 6.1.6: "The value of the public exponent MUST be an odd number".
  return RsaCheck(t, [](ByteSpan, ByteSpan e) {
    return (e.back() & 1) ? Pass() : Fail("RSA public exponent is even");
  });
}

LintCheck RsaExponentNotTooSmall(const TbsView& t, const LintOptions&) {
  // BR 6.1.6: "equal to 3 or more".
  return RsaCheck(t, [](ByteSpan, ByteSpan e) {
    return BitLength(e) < 2 ? Fail("RSA public exponent is smaller than 3") : Pass();
  });
}

LintCheck RsaExponentInRange(const TbsView& t, const LintOptions&) {
  // BR 6.1.6 (NIST SP 800-89 5.3.3): "SHOULD be in the range between 2^16+1 and 2^256-1".
  return RsaCheck(t, [](ByteSpan, ByteSpan e) {
    size_t bits = BitLength(e);
    ByteSpan m = Magnitude(e);
    bool small = bits < 17 || (bits == 17 && m.size() == 3 && m[1] == 0 && m[2] == 0);
    return small || bits > 256 ? Fail("RSA public exponent outside 2^16+1 .. 2^256-1") : Pass();
  });
}

LintCheck RsaParamsNull(const TbsView& t, const LintOptions&) {
  // RFC 3279 2.3.1 / RFC 4055 1.2: rsaEncryption's parameters "MUST be present and MUST be
  // NULL".
  if (!t.IsRsa()) return Na();
  static constexpr uint8_t kNullElement[] = {0x05, 0x00};
  if (!Same(t.key_params, kNullElement)) return Fail("rsaEncryption parameters are not NULL");
  return Pass();
}

LintCheck TlsHasSan(const TbsView& t, const LintOptions&) {
  // BR 7.1.2.7.12: a subscriber TLS certificate carries subjectAltName.
  if (!t.IsTlsServer()) return Na();
  if (!t.has_san) return Fail("a TLS server certificate without subjectAltName");
  return Pass();
}

// TlsSanHasNo reports a GeneralName of context tag |tag| in a TLS server certificate: BR
// 7.1.2.7.12 allows only dNSName and iPAddress.
LintCheck TlsSanHasNo(const TbsView& t, int tag, const char* what) {
  if (!t.IsTlsServer() || !t.has_san) return Na();
  for (const auto& n : t.sans) {
    if (n.tag == der::ContextPrimitive(tag) || n.tag == der::ContextConstructed(tag)) {
      return Fail(std::string("a TLS server certificate's SAN holds an ") + what);
    }
  }
  return Pass();
}

LintCheck TlsSanNoRfc822(const TbsView& t, const LintOptions&) {
  return TlsSanHasNo(t, 1, "rfc822Name");
}
LintCheck TlsSanNoOtherName(const TbsView& t, const LintOptions&) {
  return TlsSanHasNo(t, 0, "otherName");
}
LintCheck TlsSanNoUri(const TbsView& t, const LintOptions&) {
  return TlsSanHasNo(t, 6, "uniformResourceIdentifier");
}

// ServerValidity checks BR 6.3.2 as ballot SC-081 changed it: a TLS subscriber certificate's
// validity period (RFC 5280 4.1.2.5: notAfter - notBefore + 1 second) at most |days|.
LintCheck ServerValidity(const TbsView& t, int days) {
  if (!t.IsTlsServer()) return Na();
  if (t.not_after - t.not_before + 1 > static_cast<time_t>(days) * 86400) {
    return Fail("a TLS server certificate issued now may be valid for at most " +
                std::to_string(days) + " days (BR 6.3.2, SC-081)");
  }
  return Pass();
}

LintCheck ServerValidity200(const TbsView& t, const LintOptions&) {
  return ServerValidity(t, 200);
}
LintCheck ServerValidity199(const TbsView& t, const LintOptions&) {
  return ServerValidity(t, 199);
}
LintCheck ServerValidity100(const TbsView& t, const LintOptions&) {
  return ServerValidity(t, 100);
}
LintCheck ServerValidity99(const TbsView& t, const LintOptions&) {
  return ServerValidity(t, 99);
}
LintCheck ServerValidity47(const TbsView& t, const LintOptions&) {
  return ServerValidity(t, 47);
}
LintCheck ServerValidity46(const TbsView& t, const LintOptions&) {
  return ServerValidity(t, 46);
}

LintCheck TlsHasAia(const TbsView& t, const LintOptions&) {
  // BR 7.1.2.7.7 (7.1.2.3(c) before 2.0): a subscriber TLS certificate has authorityInfoAccess.
  if (!t.IsTlsServer()) return Na();
  if (!t.has_aia) return Fail("a TLS server certificate without authorityInfoAccess");
  return Pass();
}

LintCheck TlsNoOu(const TbsView& t, const LintOptions&) {
  // BR 7.1.2.7.4 (7.1.4.2.2(i) since 2022-09-01): organizationalUnitName MUST NOT be present.
  if (!t.IsTlsServer()) return Na();
  if (t.subject_has_ou) return Fail("a TLS server certificate's subject has an OU");
  return Pass();
}

LintCheck KeyTypeAllowed(const TbsView& t, const LintOptions&) {
  // BR 6.1.5: RSA or ECDSA keys (RFC 5480's id-ecPublicKey); CertPress issues nothing else.
  if (t.IsRsa() || t.IsEc()) return Pass();
  return Fail("public key algorithm " + der::OidToString(t.key_alg) + " is neither RSA nor EC");
}

LintCheck TlsEkuOnlyServerClient(const TbsView& t, const LintOptions&) {
  // BR 7.1.2.7.10: serverAuth MUST, clientAuth MAY be present; anyExtendedKeyUsage,
  // emailProtection, codeSigning, timeStamping and OCSPSigning MUST NOT.
  if (!t.IsTlsServer() || !t.has_eku) return Na();
  for (ByteSpan bad : {ByteSpan(kAnyEku), ByteSpan(kEmailProtection), ByteSpan(kCodeSigning),
                       ByteSpan(kTimeStamping), ByteSpan(kOcspSigning)}) {
    if (t.HasEku(bad)) {
      return Fail("a TLS server certificate also for " + der::OidToString(bad));
    }
  }
  if (!t.HasEku(kServerAuth)) return Fail("serverAuth is missing");
  return Pass();
}

LintCheck TlsHasCrlDpWithoutOcsp(const TbsView& t, const LintOptions&) {
  // BR 7.1.2.11.2 (ballot SC-063): without an OCSP location, cRLDistributionPoints MUST be
  // present, so that the certificate can be revoked at all.
  if (!t.IsTlsServer()) return Na();
  const bool ocsp =
      std::any_of(t.aia.begin(), t.aia.end(), [](const auto& a) { return Is(a.first, kOcsp); });
  if (!ocsp && !t.has_crl_dp) {
    return Fail("a TLS server certificate with neither an OCSP location nor a CRL");
  }
  return Pass();
}

LintCheck TlsBasicConstraintsCritical(const TbsView& t, const LintOptions&) {
  // BR 7.1.2.7.6: basicConstraints MAY be present in a subscriber certificate; if so, critical.
  if (!t.IsTlsServer() || !t.has_bc) return Na();
  if (!t.bc_critical) return Fail("basicConstraints is not critical");
  return Pass();
}

LintCheck TlsEkuNotCritical(const TbsView& t, const LintOptions&) {
  // BR 7.1.2.7.6: extKeyUsage MUST be present and not critical.
  if (!t.IsTlsServer() || !t.has_eku) return Na();
  if (t.eku_critical) return Fail("extKeyUsage is critical");
  return Pass();
}

LintCheck SanCriticalWithSubject(const TbsView& t, const LintOptions&) {
  // RFC 5280 4.2.1.6: "If the subject field contains an empty sequence ... critical";
  // otherwise the extension "SHOULD" be non-critical.
  if (!t.has_san || t.subject.empty()) return Na();
  if (t.san_critical) return Fail("subjectAltName is critical although the subject is not empty");
  return Pass();
}

LintCheck TlsSanNoDirName(const TbsView& t, const LintOptions&) {
  return TlsSanHasNo(t, 4, "directoryName");
}
LintCheck TlsSanNoEdiParty(const TbsView& t, const LintOptions&) {
  return TlsSanHasNo(t, 5, "ediPartyName");
}
LintCheck TlsSanNoRegisteredId(const TbsView& t, const LintOptions&) {
  return TlsSanHasNo(t, 8, "registeredID");
}

LintCheck SmimeHasKeyUsage(const TbsView& t, const LintOptions&) {
  // S/MIME BR 7.1.2.3(e): keyUsage SHALL be present.
  if (!t.IsSmime()) return Na();
  if (!t.has_ku) return Fail("an email protection certificate without keyUsage");
  return Pass();
}

LintCheck SmimeHasSan(const TbsView& t, const LintOptions&) {
  // S/MIME BR 7.1.2.3(h): subjectAltName SHALL be present.
  if (!t.IsSmime()) return Na();
  if (!t.has_san) return Fail("an email protection certificate without subjectAltName");
  return Pass();
}

LintCheck SmimeHasMailbox(const TbsView& t, const LintOptions&) {
  // S/MIME BR 7.1.4.2.1: the SAN holds the mailbox address (rfc822Name or SmtpUTF8Mailbox).
  if (!t.IsSmime() || !t.has_san) return Na();
  for (const auto& n : t.sans) {
    if (n.tag == der::ContextPrimitive(1)) return Pass();
  }
  return Fail("an email protection certificate whose SAN has no rfc822Name");
}

LintCheck SmimeSanNotCritical(const TbsView& t, const LintOptions&) {
  // S/MIME BR 7.1.2.3(h): "SHOULD NOT be marked critical unless the subject field is empty".
  if (!t.IsSmime() || !t.has_san || t.subject.empty()) return Na();
  if (t.san_critical) return Fail("subjectAltName is critical with a subject present");
  return Pass();
}

LintCheck SmimeHasCrlDp(const TbsView& t, const LintOptions&) {
  // S/MIME BR 7.1.2.3(b): cRLDistributionPoints SHALL be present.
  if (!t.IsSmime()) return Na();
  if (!t.has_crl_dp) return Fail("an email protection certificate without CRL distribution points");
  return Pass();
}

LintCheck SmimeCrlDpHttp(const TbsView& t, const LintOptions&) {
  // S/MIME BR 7.1.2.3(b): "at least one uniformResourceIdentifier ... the HTTP scheme".
  if (!t.IsSmime() || !t.has_crl_dp) return Na();
  for (const auto& u : t.crl_uris) {
    if (!IsUrl(u, /*ldap=*/false)) {
      return Fail("CRL distribution point " + Quoted(u) + " is no http URL");
    }
  }
  if (t.crl_uris.empty()) return Fail("no http CRL distribution point");
  return Pass();
}

LintCheck SmimeEku(const TbsView& t, const LintOptions&) {
  // S/MIME BR 7.1.2.3(f), legacy and multipurpose: emailProtection, and none of serverAuth,
  // codeSigning, timeStamping, anyExtendedKeyUsage.
  if (!t.IsSmime()) return Na();
  for (ByteSpan bad : {ByteSpan(kServerAuth), ByteSpan(kCodeSigning), ByteSpan(kTimeStamping),
                       ByteSpan(kAnyEku)}) {
    if (t.HasEku(bad)) {
      return Fail("an email protection certificate also for " + der::OidToString(bad));
    }
  }
  return Pass();
}

LintCheck SmimeEcKeyUsage(const TbsView& t, const LintOptions&) {
  // S/MIME BR 7.1.2.3(e) for id-ecPublicKey: signing digitalSignature (nonRepudiation), key
  // management keyAgreement (encipherOnly or decipherOnly), or both; nothing else.
  if (!t.IsSmime() || !t.IsEc() || !t.has_ku) return Na();
  if (!t.KuBit(kDigitalSignature) && !t.KuBit(kKeyAgreement)) {
    return Fail("an EC email certificate needs digitalSignature or keyAgreement");
  }
  for (int bit : {kKeyEncipherment, kDataEncipherment, kKeyCertSign, kCrlSign}) {
    if (t.KuBit(bit)) return Fail("key usage bit " + std::to_string(bit) + " is not allowed");
  }
  if ((t.KuBit(kEncipherOnly) || t.KuBit(kDecipherOnly)) && !t.KuBit(kKeyAgreement)) {
    return Fail("encipherOnly or decipherOnly without keyAgreement");
  }
  return Pass();
}

LintCheck EkuOfProfile(const TbsView& t, const LintOptions& o) {
  // The profile's own limit: a certificate says exactly the purposes its profile gives.
  if (o.profile_ekus.empty() || t.is_ca) return Na();
  for (const auto& want : o.profile_ekus) {
    if (want.size() != t.eku.size()) continue;
    bool all = std::all_of(want.begin(), want.end(), [&](const Bytes& w) { return t.HasEku(w); });
    if (all) return Pass();
  }
  std::string have;
  for (ByteSpan e : t.eku) have += (have.empty() ? "" : ",") + der::OidToString(e);
  return Fail("extKeyUsage " + (have.empty() ? std::string("(none)") : have) +
              " is not the profile's");
}

LintCheck Parsed(const TbsView&, const LintOptions&) {
  // The input was read into a view: its structure (and its extensions' DER) is sound. A
  // failure is reported under this rule's name as fatal, before any rule runs.
  return Pass();
}

// Day is the time_t of 00:00 UTC on a civil date (days from 1970-01-01, proleptic Gregorian),
// so that the table's dates are constants.
constexpr time_t Day(int y, int m, int d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = y - era * 400;
  const int doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<time_t>(era * 146097 + doe - 719468) * 86400;
}

// The dates zlint uses for its sources (v3/util/time.go), so that ne reads the same.
constexpr time_t kAlways = 0;
constexpr time_t kRfc2459 = Day(1999, 1, 1);
constexpr time_t kRfc3279 = Day(2002, 4, 1);
constexpr time_t kRfc3280 = Day(2002, 4, 1);
constexpr time_t kRfc5280 = Day(2008, 5, 1);
constexpr time_t kRfc8813 = Day(2020, 8, 1);
constexpr time_t kCab = Day(2012, 7, 1);  // the Baseline Requirements' effective date
constexpr time_t kCabV130 = Day(2015, 4, 16);
constexpr time_t kCab180 = Day(2021, 8, 25);
constexpr time_t kCab200 = Day(2023, 9, 15);  // BR 2.0.0 (ballot SC-62)
constexpr time_t kApple398 = Day(2020, 9, 1);
constexpr time_t kCabV113 = Day(2013, 2, 21);
constexpr time_t kSc081First = Day(2026, 3, 15);  // ballot SC-081's three steps
constexpr time_t kSc081Second = Day(2027, 3, 15);
constexpr time_t kSc081Third = Day(2029, 3, 15);
constexpr time_t kSmime = Day(2023, 9, 1);  // S/MIME BR 1.0.0

constexpr LintStatus E = LintStatus::kError;
constexpr LintStatus W = LintStatus::kWarn;
constexpr uint8_t kCertTbs = kLintTbs | kLintCert;
constexpr uint8_t kAll = kLintTbs | kLintCert | kLintCsr;

constexpr LintRule kRules[] = {
    {kStructureRule, "RFC 5280 4.1, RFC 2986 4 (CertPress)",
     "the certificate or request parses as its ASN.1 structure", kAlways, 0, E, kAll, Parsed},
    {kExtDerRule, "RFC 5280 4.2", "extensions are DER-encoded as their syntax says", kRfc5280, 0, E,
     kAll, Parsed},
    {"e_invalid_certificate_version", "RFC 5280 4.1.2.1, BR 7.1.1", "certificates are v3", kCabV130,
     0, E, kCertTbs, VersionIsV3},
    {"e_serial_number_longer_than_20_octets", "RFC 5280 4.1.2.2", "serial at most 20 octets",
     kRfc3280, 0, E, kCertTbs, SerialAtMost20Octets},
    {"e_serial_number_not_positive", "RFC 5280 4.1.2.2, X.690 8.3.2",
     "serial positive, non-zero, minimally encoded", kRfc3280, 0, E, kCertTbs, SerialPositive},
    {"cp_signature_algorithm_not_ca_key", "RFC 5280 4.1.2.3",
     "the signature algorithm is the CA key's (pre-issuance only: needs the CA key)", kAlways, 0, E,
     kCertTbs, SignatureAlgorithmOfCa},
    {"e_issuer_field_empty", "RFC 5280 4.1.2.4", "issuer name not empty", kRfc2459, 0, E, kCertTbs,
     IssuerNotEmpty},
    {"cp_name_attribute_encoding",
     "RFC 5280 4.1.2.4, App. A (zlint e_subject_printable_string_badalpha, "
     "e_subject_*_max_length, e_*_dn_country_not_printable_string)",
     "name string types, alphabets and lengths", kAlways, 0, E, kAll, NameEncoding},
    {"e_wrong_time_format_pre2050", "RFC 5280 4.1.2.5", "UTCTime through 2049", kRfc2459, 0, E,
     kCertTbs, TimeTypes},
    {"e_validity_time_not_positive", "RFC 5280 4.1.2.5 (zlint community)",
     "notAfter after notBefore", kAlways, 0, E, kCertTbs, ValidityPositive},
    {"cp_validity_outside_issuer", "RFC 5280 6.1.3",
     "validity within the issuer's validity (needs the issuer)", kAlways, 0, E, kCertTbs,
     ValidityWithinIssuer},
    {"cp_eku_not_profile", "profile", "extKeyUsage exactly the profile's (needs --profile)",
     kAlways, 0, E, kCertTbs, EkuOfProfile},
    {"cp_validity_longer_than_profile", "profile",
     "validity at most the profile's validity_days (needs --profile)", kAlways, 0, E, kCertTbs,
     ValidityWithinProfile},
    {"e_tls_server_cert_valid_time_longer_than_398_days", "BR 6.3.2 (Apple root policy)",
     "TLS server certificates at most 398 days", kApple398, 0, E, kCertTbs, TlsValidity398Days},
    {"e_ext_duplicate_extension", "RFC 5280 4.2", "no extension twice", kRfc2459, 0, E, kAll,
     NoDuplicateExtensions},
    {"cp_ext_unknown_critical", "RFC 5280 4.2 (pkilint pkix.unknown_extension)",
     "critical only what verifiers know", kAlways, 0, E, kAll, NoUnknownCriticalExtension},
    {"e_basic_constraints_not_critical", "RFC 5280 4.2.1.9",
     "basicConstraints critical in CA certificates", kRfc2459, 0, E, kCertTbs,
     BasicConstraintsCritical},
    {"e_path_len_constraint_improperly_included", "RFC 5280 4.2.1.9",
     "pathLenConstraint only with cA and keyCertSign", kRfc3280, 0, E, kCertTbs, PathLenOnlyWithCa},
    {"e_ext_key_usage_without_bits", "RFC 5280 4.2.1.3", "keyUsage has a bit set", kRfc5280, 0, E,
     kCertTbs, KeyUsagePresentWithBits},
    {"w_ext_key_usage_not_critical", "RFC 5280 4.2.1.3", "keyUsage critical", kRfc2459, 0, W,
     kCertTbs, KeyUsageCritical},
    {"e_ext_key_usage_cert_sign_without_ca", "RFC 5280 4.2.1.3, 4.2.1.9",
     "keyCertSign only in CA certificates", kRfc3280, 0, E, kCertTbs, CertSignOnlyInCa},
    {"e_ca_key_cert_sign_not_set", "BR 7.1.2.10.7", "CA certificates have keyCertSign", kCab, 0, E,
     kCertTbs, CaHasCertSign},
    {"e_sub_cert_key_usage_crl_sign_bit_set", "BR 7.1.2.7.11", "cRLSign only in CA certificates",
     kCab, 0, E, kCertTbs, CrlSignOnlyInCa},
    {"e_ecdsa_allowed_ku", "RFC 8813 3 (RFC 5480 3)",
     "EC keys: no keyEncipherment or dataEncipherment", kRfc8813, 0, E, kCertTbs, EcKeyUsage},
    {"e_rsa_allowed_ku_ee", "RFC 3279 2.3.1", "RSA keys: no keyAgreement, encipher/decipherOnly",
     kRfc3279, 0, E, kCertTbs, RsaKeyUsage},
    {"e_key_usage_and_extended_key_usage_inconsistent", "RFC 5280 4.2.1.12",
     "keyUsage consistent with the extended key usages", kRfc5280, 0, E, kCertTbs, KeyUsageFitsEku},
    {"e_sub_cert_eku_missing", "BR 7.1.2.7.10",
     "extKeyUsage present when the certificate names hosts", kCab, 0, E, kCertTbs,
     EkuPresentForServerNames},
    {"e_ext_subject_key_identifier_missing_ca", "RFC 5280 4.2.1.2",
     "subjectKeyIdentifier in CA certificates", kRfc2459, 0, E, kCertTbs, SkiPresentCa},
    {"w_ext_subject_key_identifier_missing_sub_cert", "RFC 5280 4.2.1.2",
     "subjectKeyIdentifier in end-entity certificates", kRfc2459, 0, W, kCertTbs,
     SkiPresentSubscriber},
    {"e_ext_authority_key_identifier_no_key_identifier", "RFC 5280 4.2.1.1",
     "authorityKeyIdentifier with keyIdentifier (but in self-issued certificates)", kRfc2459, 0, E,
     kCertTbs, AkiHasKeyId},
    {"cp_aki_not_issuer_ski",
     "RFC 5280 4.2.1.1 (pkilint pkix.issuer_and_subject_key_identifier_not_equal)",
     "authorityKeyIdentifier equals the issuer's subjectKeyIdentifier (needs the issuer)", kAlways,
     0, E, kCertTbs, AkiIsIssuerSki},
    {"e_subject_empty_without_san", "RFC 5280 4.2.1.6", "an empty subject needs a SAN", kRfc2459, 0,
     E, kAll, EmptySubjectHasSan},
    {"e_ext_san_not_critical_without_subject", "RFC 5280 4.2.1.6",
     "SAN critical when the subject is empty", kRfc2459, 0, E, kCertTbs,
     SanCriticalWithEmptySubject},
    {"e_dnsname_bad_character_in_label", "RFC 5280 4.2.1.6, RFC 1123 2.1, BR 7.1.4.2",
     "dNSNames are letters, digits and hyphens", kCab, 0, E, kAll, DnsNameCharacters},
    {"e_dnsname_empty_label", "RFC 5280 4.2.1.6, BR 7.1.4.2", "no empty labels", kCab, 0, E, kAll,
     DnsNameNoEmptyLabel},
    {"e_dnsname_label_too_long", "RFC 1035 2.3.4", "labels at most 63 characters", kCab, 0, E, kAll,
     DnsNameLabelLength},
    {"e_ext_san_dns_name_too_long", "RFC 5280 4.2.1.6, RFC 1035 2.3.4",
     "dNSNames at most 253 characters", kRfc5280, 0, E, kAll, DnsNameLength},
    {"cp_dnsname_is_ip_address", "RFC 1123 2.1, RFC 3696 2", "no IP address or number in a dNSName",
     kAlways, 0, E, kAll, DnsNameNotAnIp},
    {"e_dnsname_not_valid_tld", "BR 7.1.2.7.12, 3.2.2.4 (zlint checks the IANA TLD list)",
     "no internal names in TLS certificates unless the profile allows them", kCab, 0, E, kAll,
     DnsNameNotInternal},
    {"e_ext_san_contains_reserved_ip", "BR 7.1.2.7.12, 7.1.4.2.1",
     "no reserved IP addresses in TLS certificates unless the profile allows them", kCab, 0, E,
     kAll, IpNotReserved},
    {"e_subject_common_name_not_exactly_from_san", "BR 7.1.4.3, 7.1.4.2.2",
     "a TLS certificate's CN is one of its SANs", kCab180, 0, E, kCertTbs, CommonNameFromSan},
    {"w_distribution_point_missing_ldap_or_uri", "RFC 5280 4.2.1.13",
     "CRL distribution points are http or ldap URLs", kRfc5280, 0, W, kCertTbs, CrlDpUrls},
    {"e_crl_distrib_points_not_http", "BR 7.1.2.11.2",
     "a TLS certificate's CRL distribution points are http URLs", kCab200, 0, E, kCertTbs,
     CrlDpHttpForTls},
    {"e_aia_ocsp_must_have_http_only", "RFC 5280 4.2.2.1, BR 7.1.2.7.7",
     "OCSP locations are http URLs", kCab200, 0, E, kCertTbs, AiaOcspHttp},
    {"e_aia_ca_issuers_must_have_http_only", "RFC 5280 4.2.2.1, BR 7.1.2.7.7",
     "caIssuers are http URLs (or ldap outside TLS)", kCab200, 0, E, kCertTbs, AiaCaIssuersHttp},
    {"e_ec_improper_curves", "RFC 5480 2.1.1, BR 6.1.5",
     "EC keys on a named curve P-256, P-384 or P-521", kAlways, 0, E, kAll, EcNamedCurve},
    {"cp_ec_point_not_uncompressed", "RFC 5480 2.2 (zlint e_mp_ecdsa_pub_key_encoding_correct)",
     "EC public keys as uncompressed points", kAlways, 0, E, kAll, EcPointUncompressed},
    {"e_cert_sig_alg_not_match_tbs_sig_alg", "RFC 5280 4.1.1.2",
     "signatureAlgorithm equals the TBS signature field", kRfc5280, 0, E, kLintCert,
     CertSigAlgMatchesTbs},
    {"e_ext_authority_key_identifier_critical", "RFC 5280 4.2.1.1",
     "authorityKeyIdentifier not critical", kRfc2459, 0, E, kCertTbs, AkiNotCritical},
    {"e_ext_subject_key_identifier_critical", "RFC 5280 4.2.1.2",
     "subjectKeyIdentifier not critical", kRfc2459, 0, E, kCertTbs, SkiNotCritical},
    {"e_ext_aia_marked_critical", "RFC 5280 4.2.2.1", "authorityInfoAccess not critical", kRfc2459,
     0, E, kCertTbs, AiaNotCritical},
    {"w_ext_crl_distribution_marked_critical", "RFC 5280 4.2.1.13",
     "cRLDistributionPoints not critical", kRfc2459, 0, W, kCertTbs, CrlDpNotCritical},
    {"e_ext_san_no_entries", "RFC 5280 4.2.1.6", "subjectAltName has a name", kRfc2459, 0, E, kAll,
     SanHasEntries},
    {"e_ext_san_empty_name", "RFC 5280 4.2.1.6", "no empty name in subjectAltName", kRfc2459, 0, E,
     kAll, SanNoEmptyName},
    {"e_ext_san_rfc822_format_invalid", "RFC 5280 4.2.1.6, RFC 5321 4.1.2",
     "rfc822Names are bare mailbox addresses", kRfc2459, 0, E, kAll, SanRfc822Syntax},
    {"e_ca_subject_field_empty", "RFC 5280 4.1.2.6", "CA certificates have a subject", kRfc2459, 0,
     E, kCertTbs, CaSubjectNotEmpty},
    {"e_path_len_constraint_zero_or_less", "RFC 5280 4.2.1.9", "pathLenConstraint not negative",
     kRfc2459, 0, E, kCertTbs, PathLenNotNegative},
    {"e_ext_cert_policy_duplicate", "RFC 5280 4.2.1.4", "no certificate policy twice", kRfc5280, 0,
     E, kCertTbs, NoDuplicatePolicy},
    {"e_utc_time_not_in_zulu", "RFC 5280 4.1.2.5.1", "UTCTime ends in Z", kRfc2459, 0, E, kCertTbs,
     UtcTimeZulu},
    {"e_utc_time_does_not_include_seconds", "RFC 5280 4.1.2.5.1", "UTCTime has seconds", kRfc2459,
     0, E, kCertTbs, UtcTimeSeconds},
    {"e_generalized_time_not_in_zulu", "RFC 5280 4.1.2.5.2", "GeneralizedTime ends in Z", kRfc2459,
     0, E, kCertTbs, GeneralizedTimeZulu},
    {"e_generalized_time_does_not_include_seconds", "RFC 5280 4.1.2.5.2",
     "GeneralizedTime has seconds", kRfc2459, 0, E, kCertTbs, GeneralizedTimeSeconds},
    {"e_generalized_time_includes_fraction_seconds", "RFC 5280 4.1.2.5.2",
     "GeneralizedTime has no fractional seconds", kRfc2459, 0, E, kCertTbs,
     GeneralizedTimeNoFraction},
    {"e_subj_email_not_in_san", "RFC 5280 4.1.2.6",
     "a subject emailAddress is also an rfc822Name of the SAN", kRfc2459, 0, E, kAll,
     SubjectEmailInSan},
    {"e_subject_country_not_iso", "BR 7.1.4.2.2 (7.1.2.7.4)", "countries are ISO 3166-1 codes",
     kCab, 0, E, kAll, CountryIsIso},
    {"e_rsa_mod_less_than_2048_bits", "BR 6.1.5", "RSA moduli of at least 2048 bits", kAlways, 0, E,
     kAll, RsaModulus2048},
    {"w_rsa_mod_not_odd", "BR 6.1.6", "RSA modulus odd", kCabV113, 0, W, kAll, RsaModulusOdd},
    {"e_rsa_public_exponent_not_odd", "BR 6.1.6", "RSA public exponent odd", kCabV113, 0, E, kAll,
     RsaExponentOdd},
    {"e_rsa_public_exponent_too_small", "BR 6.1.6", "RSA public exponent at least 3", kCabV113, 0,
     E, kAll, RsaExponentNotTooSmall},
    {"w_rsa_public_exponent_not_in_range", "BR 6.1.6, NIST SP 800-89 5.3.3",
     "RSA public exponent in 2^16+1 .. 2^256-1", kCabV113, 0, W, kAll, RsaExponentInRange},
    {"e_spki_rsa_encryption_parameter_not_null", "RFC 3279 2.3.1, RFC 4055 1.2",
     "rsaEncryption parameters are NULL", kRfc5280, 0, E, kAll, RsaParamsNull},
    {"e_ext_san_missing", "BR 7.1.2.7.12 (7.1.4.2.1)", "TLS server certificates have a SAN", kCab,
     0, E, kCertTbs, TlsHasSan},
    {"e_ext_san_rfc822_name_present", "BR 7.1.2.7.12 (7.1.4.2.1)",
     "no rfc822Name in a TLS server certificate", kCab, 0, E, kCertTbs, TlsSanNoRfc822},
    {"e_ext_san_other_name_present", "BR 7.1.2.7.12 (7.1.4.2.1)",
     "no otherName in a TLS server certificate", kCab, 0, E, kCertTbs, TlsSanNoOtherName},
    {"e_ext_san_uniform_resource_identifier_present", "BR 7.1.2.7.12 (7.1.4.2.1)",
     "no URI in a TLS server certificate", kCab, 0, E, kCertTbs, TlsSanNoUri},
    {"e_server_cert_valid_time_longer_than_200_days", "BR 6.3.2 (ballot SC-081)",
     "TLS server certificates issued from 2026-03-15: at most 200 days", kSc081First, kSc081Second,
     E, kCertTbs, ServerValidity200},
    {"w_server_cert_valid_time_longer_than_199_days", "BR 6.3.2 (ballot SC-081)",
     "TLS server certificates issued from 2026-03-15: not over 199 days", kSc081First, kSc081Second,
     W, kCertTbs, ServerValidity199},
    {"e_server_cert_valid_time_longer_than_100_days", "BR 6.3.2 (ballot SC-081)",
     "TLS server certificates issued from 2027-03-15: at most 100 days", kSc081Second, kSc081Third,
     E, kCertTbs, ServerValidity100},
    {"w_server_cert_valid_time_longer_than_99_days", "BR 6.3.2 (ballot SC-081)",
     "TLS server certificates issued from 2027-03-15: not over 99 days", kSc081Second, kSc081Third,
     W, kCertTbs, ServerValidity99},
    {"e_server_cert_valid_time_longer_than_47_days", "BR 6.3.2 (ballot SC-081)",
     "TLS server certificates issued from 2029-03-15: at most 47 days", kSc081Third, 0, E, kCertTbs,
     ServerValidity47},
    {"w_server_cert_valid_time_longer_than_46_days", "BR 6.3.2 (ballot SC-081)",
     "TLS server certificates issued from 2029-03-15: not over 46 days", kSc081Third, 0, W,
     kCertTbs, ServerValidity46},
    {"e_sub_cert_aia_missing", "BR 7.1.2.7.7", "TLS server certificates have AIA", kCab, 0, E,
     kCertTbs, TlsHasAia},
    {"e_organizational_unit_name_prohibited", "BR 7.1.2.7.4 (7.1.4.2.2 i)",
     "no OU in a TLS server certificate's subject", Day(2022, 9, 1), 0, E, kCertTbs, TlsNoOu},
    {"e_public_key_type_not_allowed", "BR 6.1.5", "RSA or EC keys only", kCab, 0, E, kAll,
     KeyTypeAllowed},
    {"e_sub_cert_eku_check", "BR 7.1.2.7.10",
     "a TLS server certificate's EKU is serverAuth (and clientAuth), nothing of another kind",
     kCab200, 0, E, kCertTbs, TlsEkuOnlyServerClient},
    {"e_missing_crl_distrib_point", "BR 7.1.2.11.2 (ballot SC-063)",
     "TLS server certificates without OCSP have CRL distribution points", Day(2024, 3, 15), 0, E,
     kCertTbs, TlsHasCrlDpWithoutOcsp},
    {"e_sub_cert_basic_constraints_not_critical", "BR 7.1.2.7.6",
     "a TLS server certificate's basicConstraints critical when present", kCab200, 0, E, kCertTbs,
     TlsBasicConstraintsCritical},
    {"e_eku_critical", "BR 7.1.2.7.6", "a TLS server certificate's extKeyUsage not critical",
     kCab200, 0, E, kCertTbs, TlsEkuNotCritical},
    {"w_ext_san_critical_with_subject_dn", "RFC 5280 4.2.1.6",
     "subjectAltName not critical when there is a subject", kRfc5280, 0, W, kCertTbs,
     SanCriticalWithSubject},
    {"e_ext_san_directory_name_present", "BR 7.1.2.7.12 (7.1.4.2.1)",
     "no directoryName in a TLS server certificate's SAN", kCab, 0, E, kCertTbs, TlsSanNoDirName},
    {"e_ext_san_edi_party_name_present", "BR 7.1.2.7.12 (7.1.4.2.1)",
     "no ediPartyName in a TLS server certificate's SAN", kCab, 0, E, kCertTbs, TlsSanNoEdiParty},
    {"e_ext_san_registered_id_present", "BR 7.1.2.7.12 (7.1.4.2.1)",
     "no registeredID in a TLS server certificate's SAN", kCab, 0, E, kCertTbs,
     TlsSanNoRegisteredId},
    {"e_key_usage_presence", "S/MIME BR 7.1.2.3(e)", "email protection certificates have keyUsage",
     kSmime, 0, E, kCertTbs, SmimeHasKeyUsage},
    {"e_san_shall_be_present", "S/MIME BR 7.1.2.3(h)", "email protection certificates have a SAN",
     kSmime, 0, E, kCertTbs, SmimeHasSan},
    {"cp_smime_san_without_mailbox", "S/MIME BR 7.1.2.3(h), 7.1.4.2.1",
     "an email protection certificate's SAN holds a mailbox address", kSmime, 0, E, kCertTbs,
     SmimeHasMailbox},
    {"w_san_should_not_be_critical", "S/MIME BR 7.1.2.3(h)",
     "an email certificate's SAN not critical when it has a subject", kSmime, 0, W, kCertTbs,
     SmimeSanNotCritical},
    {"e_subscribers_shall_have_crl_distribution_points", "S/MIME BR 7.1.2.3(b)",
     "email protection certificates have CRL distribution points", kSmime, 0, E, kCertTbs,
     SmimeHasCrlDp},
    {"e_subscribers_crl_distribution_points_are_http", "S/MIME BR 7.1.2.3(b)",
     "an email certificate's CRL distribution points are http URLs", kSmime, 0, E, kCertTbs,
     SmimeCrlDpHttp},
    {"e_smime_legacy_multipurpose_eku_check", "S/MIME BR 7.1.2.3(f)",
     "email certificates not also for serverAuth, codeSigning, timeStamping or any purpose", kSmime,
     0, E, kCertTbs, SmimeEku},
    {"e_ecpublickey_key_usages", "S/MIME BR 7.1.2.3(e)",
     "an EC email certificate's key usage is signing, key agreement or both", kSmime, 0, E,
     kCertTbs, SmimeEcKeyUsage},
};

// InEffect: whether |rule| applies to a certificate issued at |when| (zlint's ne).
bool InEffect(const LintRule& rule, time_t when) {
  return when >= rule.effective && (rule.ineffective == 0 || when < rule.ineffective);
}

// Blocks: whether a finding of |rule| refuses issuance (the pre-issuance lint refuses on
// warnings too: CertPress issues nothing a linter would warn about).
bool Blocks(const LintRule& rule) {
  return rule.severity >= LintStatus::kWarn;
}

}  // namespace

std::string_view LintStatusName(LintStatus s) {
  switch (s) {
    case LintStatus::kPass:
      return "pass";
    case LintStatus::kNa:
      return "na";
    case LintStatus::kNe:
      return "ne";
    case LintStatus::kNotice:
      return "notice";
    case LintStatus::kWarn:
      return "warn";
    case LintStatus::kError:
      return "error";
    case LintStatus::kFatal:
      return "fatal";
  }
  return "?";
}

std::span<const LintRule> LintRules() {
  return kRules;
}

const LintRule* FindLintRule(std::string_view name) {
  for (const auto& r : kRules) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

std::string LintDate(time_t t) {
  if (t == 0) return "";
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[16];
  strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

Status LintTbs(ByteSpan tbs, const LintOptions& options) {
  TbsView view;
  if (auto fatal = ReadTbsInto(tbs, &view)) {
    return InvalidInput("lint " + std::string(fatal->rule) + ": " + fatal->detail);
  }
  for (const auto& rule : kRules) {
    if (!(rule.applies_to & kLintTbs) || !InEffect(rule, view.not_before) || !Blocks(rule)) {
      continue;
    }
    LintCheck c = rule.check(view, options);
    if (c.status == LintStatus::kError) {
      return InvalidInput("lint " + std::string(rule.name) + ": " + c.detail);
    }
  }
  return Status::Ok();
}

LintReport LintDer(LintTarget kind, ByteSpan der, const LintOptions& options,
                   std::span<const std::string> only) {
  LintReport report;
  report.kind = kind;
  auto wanted = [&](std::string_view name) {
    return only.empty() || std::find(only.begin(), only.end(), name) != only.end();
  };
  TbsView view;
  view.kind = kind;
  std::optional<Fatal> fatal =
      kind == kLintCsr ? ReadCsrInto(der, &view) : ReadCertInto(der, &view);
  if (fatal) {
    report.results.push_back({fatal->rule, LintStatus::kFatal, fatal->detail});
    report.worst = LintStatus::kFatal;
    return report;
  }
  report.subject = FormatNameDer(view.subject_element);
  LintOptions o = options;
  // RFC 5280 4.2.1.1: the AKI "MAY be omitted" in a self-signed certificate.
  if (kind == kLintCert && view.SelfIssued()) o.expect_aki = false;
  // A request is judged by the rules in effect now.
  if (kind == kLintCsr) view.not_before = o.now != 0 ? o.now : time(nullptr);
  for (const auto& rule : kRules) {
    if (!(rule.applies_to & kind) || !wanted(rule.name)) continue;
    LintResult r{rule.name, LintStatus::kPass, {}};
    if (!InEffect(rule, view.not_before)) {
      r.status = LintStatus::kNe;
    } else {
      LintCheck c = rule.check(view, o);
      r.status = c.status == LintStatus::kError ? rule.severity : c.status;
      r.detail = std::move(c.detail);
    }
    report.worst = std::max(report.worst, r.status);
    report.results.push_back(std::move(r));
  }
  return report;
}

bool IsReservedIpAddress(ByteSpan ip) {
  return IsReservedIpImpl(ip);
}

bool IsInternalDnsName(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto labels = Labels(lower);
  if (labels.size() < 2) return true;
  static constexpr std::string_view kReserved[] = {
      "localhost", "local", "localdomain", "test", "invalid",  "example",
      "internal",  "lan",   "corp",        "home", "intranet", "private"};
  const std::string_view tld = labels.back();
  if (std::find(std::begin(kReserved), std::end(kReserved), tld) != std::end(kReserved)) {
    return true;
  }
  // RFC 8375: home.arpa is for home networks.
  return labels.size() >= 2 && labels[labels.size() - 2] == "home" && tld == "arpa";
}

}  // namespace certpress
