// package.h: what leaves the system with a server-generated key: the private key opened from
// its envelope, and the PKCS#12 (RFC 7292) that carries it to its holder.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/ossl.h"
#include "common/status.h"
#include "signer/token.h"
#include "store/certificates.h"
#include "store/db.h"

namespace certpress::batch {

// The AES-GCM additional data that binds a wrapped data key, and a sealed private key to its
// request and key name: the pipeline seals and LoadPrivateKey opens with the same bytes.
inline constexpr std::string_view kDataKeyAad = "certpress-dek-v1";
std::string PrivateKeyAad(int64_t request_id, std::string_view key_name);

// OpenPrivateKey opens a stored private key (store::FindPrivateKeys): its data key is
// unwrapped by the key encryption key in the token, then the PKCS#8 is decrypted and its AAD
// (request and key name) checked.
Result<UniquePtr<EVP_PKEY>> OpenPrivateKey(store::Connection& conn, CryptoToken& token,
                                           const store::EncryptedKey& stored);

struct Pkcs12Options {
  // Default: PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC for key and certificates, a
  // SHA-256 MAC, |iterations| rounds. Legacy: pbeWithSHA1And3-KeyTripleDES-CBC and a SHA-1
  // MAC with 2048 rounds, for old Windows and Java importers.
  bool legacy = false;
  int iterations = 600000;
  std::string friendly_name;
};

// BuildPkcs12 packs |key|, its certificate and the chain above it (DER certificates, as
// app's CaChain and the store hold them).
Result<Bytes> BuildPkcs12(EVP_PKEY* key, ByteSpan cert_der, const std::vector<std::string>& chain,
                          const SecureString& password, const Pkcs12Options& options);

}  // namespace certpress::batch
