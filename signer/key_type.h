// key_type.h: the key types CertPress names everywhere ("ec-p256", "ec-p384", "rsa-2048",
// "rsa-3072", "rsa-4096"), their signature algorithms and software key helpers.
#pragma once

#include <openssl/evp.h>

#include <string_view>

#include "common/bytes.h"
#include "common/ossl.h"
#include "common/status.h"

namespace certpress {

enum class KeyType { kEcP256, kEcP384, kRsa2048, kRsa3072, kRsa4096 };

// ParseKeyType accepts exactly the spelled names; the error lists them.
Result<KeyType> ParseKeyType(std::string_view name);
std::string_view KeyTypeName(KeyType type);
bool IsEc(KeyType type);
int RsaBits(KeyType type);

// SignatureDigest is the hash used with |type|: SHA-384 for P-384, SHA-256 otherwise.
const EVP_MD* SignatureDigest(KeyType type);
// SignatureAlgorithmDer is the DER AlgorithmIdentifier for signatures by a |type| key:
// ecdsa-with-SHA256/384 with absent parameters (RFC 5758 3.2) or sha256WithRSAEncryption with
// NULL parameters (RFC 4055 5).
ByteSpan SignatureAlgorithmDer(KeyType type);
// CurveOidDer is the DER OID element of the curve (the CKA_EC_PARAMS value).
ByteSpan CurveOidDer(KeyType type);

// GenerateSoftKey makes a key pair in software (OpenSSL's default provider).
Result<UniquePtr<EVP_PKEY>> GenerateSoftKey(KeyType type);
// SpkiDer returns the DER SubjectPublicKeyInfo of |key|.
Result<Bytes> SpkiDer(EVP_PKEY* key);
// Pkcs8Der returns the DER PKCS#8 (OneAsymmetricKey, unencrypted) of a private |key|, in
// memory that is wiped when released.
Result<SecureString> Pkcs8Der(EVP_PKEY* key);
// ParseSpki parses a DER SubjectPublicKeyInfo.
Result<UniquePtr<EVP_PKEY>> ParseSpki(ByteSpan spki);
// KeyTypeOf classifies an OpenSSL key; keys of other shapes are invalid input.
Result<KeyType> KeyTypeOf(const EVP_PKEY* key);

}  // namespace certpress
