// oids.h: the object identifiers the issuer writes and the lint reads, as DER content octets
// (the bytes after the OBJECT IDENTIFIER tag and length): one table, so that what is written
// and what is checked cannot drift apart.
#pragma once

#include <cstdint>

namespace certpress::oid {

// Certificate extensions (RFC 5280 4.2, id-ce and id-pe).
inline constexpr uint8_t kBasicConstraints[] = {0x55, 0x1d, 0x13};
inline constexpr uint8_t kKeyUsage[] = {0x55, 0x1d, 0x0f};
inline constexpr uint8_t kExtKeyUsage[] = {0x55, 0x1d, 0x25};
inline constexpr uint8_t kSubjectKeyId[] = {0x55, 0x1d, 0x0e};
inline constexpr uint8_t kAuthorityKeyId[] = {0x55, 0x1d, 0x23};
inline constexpr uint8_t kSubjectAltName[] = {0x55, 0x1d, 0x11};
inline constexpr uint8_t kCertPolicies[] = {0x55, 0x1d, 0x20};
inline constexpr uint8_t kCrlDp[] = {0x55, 0x1d, 0x1f};
inline constexpr uint8_t kAia[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01};
inline constexpr uint8_t kNameConstraints[] = {0x55, 0x1d, 0x1e};
inline constexpr uint8_t kPolicyConstraints[] = {0x55, 0x1d, 0x24};
inline constexpr uint8_t kInhibitAnyPolicy[] = {0x55, 0x1d, 0x36};
// Access methods of the AIA extension (RFC 5280 4.2.2.1).
inline constexpr uint8_t kOcsp[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01};
inline constexpr uint8_t kCaIssuers[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x02};
// Microsoft UPN otherName (1.3.6.1.4.1.311.20.2.3), used in smart card logon certificates.
inline constexpr uint8_t kUpn[] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x14, 0x02, 0x03};

}  // namespace certpress::oid
