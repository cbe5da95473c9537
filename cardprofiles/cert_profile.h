// cert_profile.h: the certificate profile model: what a certificate of a kind contains apart
// from its subject, key, serial and dates. Card profiles (later) name these by name.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace certpress::profiles {

// KeyUsage bits, numbered as in RFC 5280 section 4.2.1.3 (digitalSignature is bit 0).
enum KeyUsageBit : uint16_t {
  kDigitalSignature = 1u << 0,
  kNonRepudiation = 1u << 1,  // contentCommitment
  kKeyEncipherment = 1u << 2,
  kDataEncipherment = 1u << 3,
  kKeyAgreement = 1u << 4,
  kKeyCertSign = 1u << 5,
  kCrlSign = 1u << 6,
};

// ParseKeyUsage maps a name ("digitalSignature", "keyCertSign", ...) to its bit.
Result<uint16_t> ParseKeyUsage(std::string_view name);

// ExtendedKeyUsageOid maps a name ("serverAuth", "clientAuth", "emailProtection",
// "codeSigning", "OCSPSigning", "timeStamping", "smartcardLogon") or a dotted OID to a dotted
// OID.
Result<std::string> ExtendedKeyUsageOid(std::string_view name_or_oid);

// SAN kinds a profile may allow.
enum class SanType { kEmail, kDns, kUri, kIp, kUpn };
Result<SanType> ParseSanType(std::string_view name);
std::string_view SanTypeName(SanType type);

struct CertProfile {
  std::string name;
  int validity_days = 365;
  // Seconds to back-date notBefore, to absorb relying parties' clock skew.
  int backdate_seconds = 0;
  bool is_ca = false;
  std::optional<int> path_len;
  uint16_t key_usage = 0;
  std::vector<std::string> extended_key_usage;  // dotted OIDs
  std::vector<SanType> san_types;               // SAN kinds the subject template may fill
  std::vector<std::string> policies;            // dotted OIDs
  std::vector<std::string> crl_urls;
  std::vector<std::string> ocsp_urls;
  std::vector<std::string> ca_issuers_urls;
  // A TLS server profile may name internal hosts (single-label names, localhost, .internal,
  // reserved IP addresses); the Baseline Requirements forbid them in publicly trusted ones.
  bool allow_internal_names = false;

  bool AllowsSan(SanType t) const;
};

// KeyUsageForKey is the key usage a certificate of |profile| gets for a subject key that is EC
// (|ec|) or RSA. RFC 8813 3 (updating RFC 5480 3): an EC key never has keyEncipherment or
// dataEncipherment (it agrees keys: keyAgreement, when the profile asks for it); RFC 3279
// 2.3.1: an RSA key never has keyAgreement. A profile asking for "digitalSignature,
// keyEncipherment" thus gives EC keys digitalSignature and RSA keys both. 0 means the profile
// leaves nothing this key can do.
uint16_t KeyUsageForKey(const CertProfile& profile, bool ec);

// Validate checks the profile's internal consistency (RFC 5280 4.2.1.3 and 4.2.1.9: keyCertSign
// only with cA TRUE, a CA needs keyCertSign, pathLen only for CAs, validity positive).
[[nodiscard]] Status Validate(const CertProfile& profile);

// The built-in profiles for CA certificates made by `certpress ca create-root/create-sub`.
CertProfile RootCaProfile(int validity_days);
CertProfile SubCaProfile(int validity_days, std::optional<int> path_len);
// OperatorProfile is the certificate of a CertPress operator (approvals and rejections are
// statements signed with its key): digitalSignature, clientAuth.
CertProfile OperatorProfile(int validity_days);

}  // namespace certpress::profiles
