// operator_key.h: an operator's signing key, with which every approval and rejection is signed
// (ra/decisions.h), and the check of such a signature against the operator's registered
// certificate. The key lives in a PKCS#11 token or smart card (an RFC 7512 URI) or, for small
// installs and the demo, in a passphrase-protected PKCS#8 file (PBES2: PBKDF2-HMAC-SHA256 and
// AES-256-CBC, RFC 8018).
#pragma once

#include <memory>
#include <string>

#include "common/bytes.h"
#include "common/ossl.h"
#include "common/status.h"
#include "signer/key_type.h"

namespace certpress {

class StatementKey {
 public:
  virtual ~StatementKey() = default;
  // Sign signs |data| (SHA-256, SHA-384 for P-384) as X.509 carries signatures: a DER
  // ECDSA-Sig-Value, or PKCS#1 v1.5 for RSA.
  virtual Result<Bytes> Sign(ByteSpan data) = 0;
  // Spki is the DER SubjectPublicKeyInfo of the key.
  virtual const Bytes& Spki() const = 0;
};

// OpenStatementKey opens |spec|: "pkcs11:token=...;object=..." (the token found in
// |pkcs11_module|, logged in with |password| as its user PIN) or a PEM file holding an
// encrypted PKCS#8 key that |password| opens.
Result<std::unique_ptr<StatementKey>> OpenStatementKey(const std::string& spec,
                                                       const SecureString& password,
                                                       const std::string& pkcs11_module);

// EncryptedKeyPem renders |key| as an encrypted PKCS#8 PEM ("ENCRYPTED PRIVATE KEY") under
// |password|: PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC.
Result<SecureString> EncryptedKeyPem(EVP_PKEY* key, const SecureString& password);

// VerifyStatementSignature checks |signature| over |data| with the public key of the DER
// certificate |cert_der|.
[[nodiscard]] Status VerifyStatementSignature(ByteSpan cert_der, ByteSpan data, ByteSpan signature);
// VerifySpkiSignature checks |signature| over |data| with the key of the DER
// SubjectPublicKeyInfo |spki| (the audit signing key's checkpoints).
[[nodiscard]] Status VerifySpkiSignature(ByteSpan spki, ByteSpan data, ByteSpan signature);

}  // namespace certpress
