#include "cardprofiles/cert_profile.h"

#include <algorithm>
#include <array>
#include <utility>

namespace certpress::profiles {

namespace {

constexpr std::array<std::pair<std::string_view, uint16_t>, 8> kKeyUsageNames = {{
    {"digitalSignature", kDigitalSignature},
    {"nonRepudiation", kNonRepudiation},
    {"contentCommitment", kNonRepudiation},
    {"keyEncipherment", kKeyEncipherment},
    {"dataEncipherment", kDataEncipherment},
    {"keyAgreement", kKeyAgreement},
    {"keyCertSign", kKeyCertSign},
    {"cRLSign", kCrlSign},
}};

constexpr std::array<std::pair<std::string_view, std::string_view>, 8> kEkuNames = {{
    {"serverAuth", "1.3.6.1.5.5.7.3.1"},
    {"clientAuth", "1.3.6.1.5.5.7.3.2"},
    {"codeSigning", "1.3.6.1.5.5.7.3.3"},
    {"emailProtection", "1.3.6.1.5.5.7.3.4"},
    {"timeStamping", "1.3.6.1.5.5.7.3.8"},
    {"OCSPSigning", "1.3.6.1.5.5.7.3.9"},
    // Microsoft smart card logon, used by PIV authentication certificates.
    {"smartcardLogon", "1.3.6.1.4.1.311.20.2.2"},
    // id-PIV-cardAuth (SP 800-73-4 / FIPS 201 card authentication).
    {"pivCardAuth", "2.16.840.1.101.3.6.8"},
}};

constexpr std::array<std::pair<std::string_view, SanType>, 5> kSanNames = {{
    {"email", SanType::kEmail},
    {"dns", SanType::kDns},
    {"uri", SanType::kUri},
    {"ip", SanType::kIp},
    {"upn", SanType::kUpn},
}};

bool IsDottedOid(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  int dots = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '.') {
      if (s[i + 1] == '.') return false;
      ++dots;
    } else if (s[i] < '0' || s[i] > '9') {
      return false;
    }
  }
  return dots >= 1;
}

}  // namespace

Result<uint16_t> ParseKeyUsage(std::string_view name) {
  for (const auto& [n, bit] : kKeyUsageNames) {
    if (n == name) return bit;
  }
  return InvalidInput("unknown key usage '" + std::string(name) + "'");
}

Result<std::string> ExtendedKeyUsageOid(std::string_view name_or_oid) {
  for (const auto& [n, oid] : kEkuNames) {
    if (n == name_or_oid) return std::string(oid);
  }
  if (IsDottedOid(name_or_oid)) return std::string(name_or_oid);
  return InvalidInput("unknown extended key usage '" + std::string(name_or_oid) + "'");
}

Result<SanType> ParseSanType(std::string_view name) {
  for (const auto& [n, t] : kSanNames) {
    if (n == name) return t;
  }
  return InvalidInput("unknown subject alternative name type '" + std::string(name) +
                      "' (expected email, dns, uri, ip or upn)");
}

std::string_view SanTypeName(SanType type) {
  for (const auto& [n, t] : kSanNames) {
    if (t == type) return n;
  }
  return "?";
}

bool CertProfile::AllowsSan(SanType t) const {
  return std::find(san_types.begin(), san_types.end(), t) != san_types.end();
}

uint16_t KeyUsageForKey(const CertProfile& profile, bool ec) {
  if (profile.is_ca) return profile.key_usage;
  const uint16_t forbidden = ec ? (kKeyEncipherment | kDataEncipherment) : kKeyAgreement;
  return static_cast<uint16_t>(profile.key_usage & ~forbidden);
}

Status Validate(const CertProfile& p) {
  const std::string where = "certificate profile '" + p.name + "'";
  if (p.validity_days <= 0) return InvalidInput(where + ": validity must be at least one day");
  if (p.backdate_seconds < 0 || p.backdate_seconds > 86400) {
    return InvalidInput(where + ": backdate must be between 0 and 86400 seconds");
  }
  if (p.key_usage == 0) return InvalidInput(where + ": key usage is empty");
  // RFC 5280 4.2.1.3: "If the keyCertSign bit is asserted, then the cA bit in the basic
  // constraints extension MUST also be asserted."
  if ((p.key_usage & kKeyCertSign) && !p.is_ca) {
    return InvalidInput(where + ": keyCertSign requires a CA profile");
  }
  if (p.is_ca && !(p.key_usage & kKeyCertSign)) {
    return InvalidInput(where + ": a CA profile needs keyCertSign");
  }
  // RFC 5280 4.2.1.9: pathLenConstraint is meaningful only if cA is asserted.
  if (p.path_len && (!p.is_ca || *p.path_len < 0)) {
    return InvalidInput(where + ": path length is allowed only for CA profiles and must be >= 0");
  }
  for (const auto& oid : p.policies) {
    if (!IsDottedOid(oid)) return InvalidInput(where + ": policy '" + oid + "' is not an OID");
  }
  return Status::Ok();
}

CertProfile RootCaProfile(int validity_days) {
  CertProfile p;
  p.name = "root-ca";
  p.validity_days = validity_days;
  p.is_ca = true;
  p.key_usage = kKeyCertSign | kCrlSign | kDigitalSignature;
  return p;
}

CertProfile SubCaProfile(int validity_days, std::optional<int> path_len) {
  CertProfile p;
  p.name = "sub-ca";
  p.validity_days = validity_days;
  p.is_ca = true;
  p.path_len = path_len;
  p.key_usage = kKeyCertSign | kCrlSign | kDigitalSignature;
  return p;
}

CertProfile OperatorProfile(int validity_days) {
  CertProfile p;
  p.name = "operator";
  p.validity_days = validity_days;
  p.backdate_seconds = 60;
  p.key_usage = kDigitalSignature;
  // TLS client authentication: the web RA will authenticate operators by mutual TLS with the
  // same certificates (id-kp-clientAuth, RFC 5280 4.2.1.12).
  p.extended_key_usage = {"1.3.6.1.5.5.7.3.2"};
  return p;
}

}  // namespace certpress::profiles
