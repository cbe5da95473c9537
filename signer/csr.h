// csr.h: PKCS#10 requests (RFC 2986) from requesters who hold their own keys: parsing, proof
// of possession, key policy, and the extensions they ask for.
#pragma once

#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/ossl.h"
#include "common/status.h"
#include "signer/issuer.h"
#include "signer/key_type.h"

namespace certpress {

struct ParsedCsr {
  Bytes der;
  Bytes spki;
  Bytes subject_der;
  std::string subject;  // RFC 4514
  std::string common_name;
  KeyType key_type = KeyType::kEcP256;
  std::vector<SubjectAltName> sans;           // from a requested subjectAltName extension
  std::vector<std::string> other_extensions;  // any other requested extension, by name/OID
};

// ParseCsr reads PEM or DER, checks the key against |allowed| key types (any when empty)
// and the signature with the enclosed key (proof of
// possession, RFC 2986 section 3) and applies CheckKeyPolicy. Errors say what is wrong.
Result<ParsedCsr> ParseCsr(ByteSpan pem_or_der, const std::vector<std::string>& allowed = {});

// CheckedCsr is what issuance needs of a request checked again: its key.
struct CheckedCsr {
  Bytes spki;
  KeyType key_type = KeyType::kEcP256;
};

// CheckCsr applies the same key policy and proof-of-possession check as ParseCsr to a DER
// request, without decoding its subject and extensions (the batch pipeline re-checks stored
// requests at issuance and needs only the key).
Result<CheckedCsr> CheckCsr(ByteSpan der, const std::vector<std::string>& allowed = {});

// CheckKeyPolicy accepts EC keys on P-256 or P-384 whose point is on the curve, and RSA keys
// of 2048, 3072 or 4096 bits with an odd public exponent 65537 <= e < 2^256 (FIPS 186-4
// B.3.1, NIST SP 800-89); |allowed| (key type names) narrows that further when not empty.
Result<KeyType> CheckKeyPolicy(EVP_PKEY* key, const std::vector<std::string>& allowed);

}  // namespace certpress
