// ec_verify.h: ECDSA verification on P-256 and P-384 without OpenSSL 3's per-key curve set-up.
// Internal to signer/: the CSR check and the issuer's self-verification use it.
#pragma once

#include <memory>

#include "common/bytes.h"
#include "common/status.h"
#include "signer/key_type.h"

namespace certpress::internal {

// EcPublicKey is an EC public key on a named curve, ready to verify signatures. It shares
// the curve's group (built once per process) instead of building one per key: importing a
// key through EVP_PKEY_fromdata builds the group from its name each time (13.9 us against
// 1.6 us here; bench/micro.cc BM_CsrParseAndVerify).
class EcPublicKey {
 public:
  // FromPoint imports an X9.62 point (SEC 1 2.3.4) for curve "P-256" or "P-384". It applies
  // SP 800-56A rev3 5.6.2.3.4 partial validation: the point decodes, lies on the curve and is
  // not the point at infinity (with cofactor 1 that puts it in the prime-order group).
  static Result<EcPublicKey> FromPoint(const char* curve, ByteSpan point);
  // FromSpki reads a named-curve EC SubjectPublicKeyInfo; returns null (no error) for any
  // other key, which then takes OpenSSL's general path.
  static Result<std::unique_ptr<EcPublicKey>> FromSpki(ByteSpan spki);

  EcPublicKey(EcPublicKey&&) noexcept;
  EcPublicKey& operator=(EcPublicKey&&) noexcept;
  ~EcPublicKey();

  KeyType key_type() const;

  // VerifyDigest checks a DER ECDSA-Sig-Value (RFC 5480 / SEC 1 C.5) over |digest|.
  [[nodiscard]] bool VerifyDigest(ByteSpan digest, ByteSpan der_signature) const;

 private:
  struct Impl;
  explicit EcPublicKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace certpress::internal
