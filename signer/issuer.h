// issuer.h: the X.509 issuer. A certificate profile plus a CA (its name, key identifier and a
// key in a crypto token) turn a subject and a public key into a certificate, in the order
// Boulder uses: Prepare (serial, TBSCertificate, lint) -> the intent is recorded durably ->
// Sign (sign in the token, assemble, verify the signature and that the signed TBS is the
// recorded one). The order is a property of the types: Sign takes a RecordedIntent, which
// only an intent ledger (ca/ledger.h: the store's, or a test's) hands out.
#pragma once

#include <array>
#include <ctime>
#include <string>
#include <vector>

#include "cardprofiles/cert_profile.h"
#include "common/bytes.h"
#include "common/ossl.h"
#include "common/status.h"
#include "signer/key_type.h"
#include "signer/serial.h"
#include "signer/token.h"

namespace certpress {

namespace internal {
class EcPublicKey;
}  // namespace internal

struct SubjectAltName {
  profiles::SanType type;
  std::string value;
};

// CaKey is what the issuer needs of the CA that signs.
struct CaKey {
  CryptoToken* token = nullptr;  // not owned
  std::string key_label;
  KeyType key_type = KeyType::kEcP256;
  Bytes subject_der;      // the CA's subject Name, DER: the issuer of what it signs
  Bytes spki;             // the CA's SubjectPublicKeyInfo, DER
  time_t not_before = 0;  // issued certificates never start before the CA (0: no limit)
  time_t not_after = 0;   // issued certificates never outlive the CA (0: no limit)
};

struct TbsInput {
  Bytes subject_der;  // DER Name; may be empty (SEQUENCE {}) only with SANs
  Bytes spki;         // DER SubjectPublicKeyInfo of the subject's key
  std::vector<SubjectAltName> sans;
  time_t now = 0;  // 0: the current time
};

namespace ca {
class IntentLedger;
}  // namespace ca

struct PreparedCert {
  Serial serial;
  time_t not_before = 0;
  time_t not_after = 0;
  Bytes tbs;  // the DER TBSCertificate that will be signed
  std::array<uint8_t, 32> tbs_sha256{};
};

// RecordedIntent is the proof that a certificate's intent (its serial and the SHA-256 of the
// TBSCertificate to be signed) was durably recorded. Only ca::IntentLedger can make one, after
// its record committed; Issuer::Sign requires it and signs nothing that does not match it.
class RecordedIntent {
 public:
  const Serial& serial() const { return serial_; }
  const std::array<uint8_t, 32>& tbs_sha256() const { return tbs_sha256_; }

 private:
  friend class ca::IntentLedger;
  RecordedIntent(const Serial& serial, const std::array<uint8_t, 32>& tbs_sha256)
      : serial_(serial), tbs_sha256_(tbs_sha256) {}

  Serial serial_;
  std::array<uint8_t, 32> tbs_sha256_;
};

// SubjectKeyId computes the key identifier of RFC 5280 4.2.1.2 method (1): the SHA-1 of the
// subjectPublicKey BIT STRING value.
Result<Bytes> SubjectKeyId(ByteSpan spki);

// IsEcSpki reports whether a SubjectPublicKeyInfo holds an EC key (true) or an RSA key
// (false); any other algorithm is invalid input.
Result<bool> IsEcSpki(ByteSpan spki);

// EncodeSan builds a SubjectAltName GeneralName list value (DER SEQUENCE).
Result<Bytes> EncodeSans(const std::vector<SubjectAltName>& sans);

class Issuer {
 public:
  // Create validates the profile and encodes the parts of the TBSCertificate that are the same
  // for every certificate of this profile and CA, once.
  static Result<Issuer> Create(const profiles::CertProfile& profile, CaKey ca);

  // Prepare draws a serial and encodes and lints the TBSCertificate. Its validity lies within
  // the CA's (notBefore raised to the CA's, notAfter cut to it); its key usage follows the
  // subject key's type (profiles::KeyUsageForKey). Thread-safe.
  Result<PreparedCert> Prepare(const TbsInput& in) const;
  // PrepareWithSerial is Prepare with a caller-chosen serial (a retry after a collision uses a
  // new one; tests use fixed ones).
  Result<PreparedCert> PrepareWithSerial(const TbsInput& in, const Serial& serial) const;

  // Sign signs |cert.tbs| with the CA key and assembles the Certificate, if and only if
  // |cert|'s serial and TBS hash are the ones |recorded|: a TBS altered after its intent was
  // recorded is refused before the token sees it. After signing, the TBS inside the assembled
  // certificate is hashed again and compared with the recorded hash, and the signature is
  // verified with the CA's public key over that TBS. Thread-safe.
  Result<Bytes> Sign(const PreparedCert& cert, const RecordedIntent& recorded) const;

  const profiles::CertProfile& profile() const { return profile_; }
  const CaKey& ca() const { return ca_; }

 private:
  Issuer() = default;

  profiles::CertProfile profile_;
  CaKey ca_;
  Bytes ca_key_id_;
  Bytes sig_alg_;  // AlgorithmIdentifier DER
  // basicConstraints, keyUsage, extKeyUsage, for EC and for RSA subject keys (the key usage
  // differs); empty when the profile leaves that key type no key usage (then
  // head_error_ says why).
  Bytes exts_head_ec_, exts_head_rsa_;
  std::string head_error_ec_, head_error_rsa_;
  Bytes exts_tail_;  // authorityKeyIdentifier, policies, CRL DP, AIA
  std::shared_ptr<EVP_PKEY> ca_pub_;
  // For EC CAs, the same key for the cheaper prehashed self-verification (ec_verify.h).
  std::shared_ptr<const internal::EcPublicKey> ca_ec_;
};

// BuildCsr makes a PKCS#10 request (RFC 2986) for the key |label| in |token|, signed by it.
Result<Bytes> BuildCsr(CryptoToken& token, std::string_view label, KeyType type,
                       ByteSpan subject_der, ByteSpan spki);

}  // namespace certpress
