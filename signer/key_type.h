// key_type.h: the crypto of each key type: its signature algorithm, curve and software key
// helpers. The key types themselves (KeyType, ParseKeyType, KeyTypeName, IsEc, RsaBits) and
// their names are in cardprofiles/key_types.h, which profiles need too.
#pragma once

#include <openssl/evp.h>

#include "cardprofiles/key_types.h"
#include "common/bytes.h"
#include "common/ossl.h"
#include "common/status.h"

namespace certpress {

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
// CheckSpkiForm refuses EC keys that are not given as RFC 5480 wants them: curve parameters
// other than a namedCurve OID (specifiedCurve, implicitCurve: RFC 5480 2.1.1 "MUST NOT be
// used"; BR 6.1.5 names the curves) and points not in uncompressed form (RFC 5480 2.2).
// Refused, not normalised: the key's holder made the SPKI, and re-encoding it would certify
// bytes nobody signed in the request. Other keys pass.
[[nodiscard]] Status CheckSpkiForm(ByteSpan spki);

// KeyTypeOf classifies an OpenSSL key; keys of other shapes are invalid input.
Result<KeyType> KeyTypeOf(const EVP_PKEY* key);

}  // namespace certpress
