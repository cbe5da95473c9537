// sealed_keys.h: server-generated private keys at rest (envelope encryption). A run draws a
// data key, has the token's key encryption key (an AES key that never leaves the HSM) wrap it,
// and stores the wrapped data key; each private key is sealed as PKCS#8 under the data key with
// AES-256-GCM, its additional data binding it to its request and key name. Opening reverses
// that, in the HSM for the data key and in memory that is wiped for the key. Used by the batch
// pipeline (sealing), `cert pkcs12` and the pickup server (opening), without either linking
// the other.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/ossl.h"
#include "common/status.h"
#include "signer/serial.h"
#include "signer/token.h"
#include "store/certificates.h"
#include "store/db.h"

namespace certpress::kgs {

// The AES-GCM additional data of a wrapped data key, and of a sealed private key (its request
// and key name): sealing and opening use the same bytes.
inline constexpr std::string_view kDataKeyAad = "certpress-dek-v1";
std::string PrivateKeyAad(int64_t request_id, std::string_view key_name);

// WrappedKey is a new 256-bit key and its wrapping by the token's key encryption key.
struct WrappedKey {
  SecureString key;
  Bytes wrapped;  // IV || AES-256-GCM(key) || tag, |aad| authenticated
};
// DrawWrappedKey draws a random 256-bit key and has the token's key encryption key |kek_label|
// (created in the token on first use) wrap it under |aad|.
Result<WrappedKey> DrawWrappedKey(CryptoToken& token, const std::string& kek_label,
                                  std::string_view aad);

// DataKey is one run's data key: drawn at random, stored wrapped by the token's key encryption
// key |kek_label| (created in the token on first use), held in wiped memory while it lives.
class DataKey {
 public:
  // Create draws, wraps and stores a data key; its creation is audited ("data-key.create")
  // as |actor| in the transaction that stores it.
  static Result<DataKey> Create(store::Connection& db, CryptoToken& token,
                                const std::string& kek_label, const std::string& actor);
  int64_t id() const { return id_; }

  // Seal returns IV || AES-256-GCM(PKCS#8 of |key|) || tag, bound to |request_id| and
  // |key_name|. Thread-safe.
  Result<std::string> Seal(EVP_PKEY* key, int64_t request_id, std::string_view key_name) const;

 private:
  DataKey(SecureString key, int64_t id) : key_(std::move(key)), id_(id) {}
  SecureString key_;
  int64_t id_ = 0;
};

// OpenPrivateKey opens a stored private key (store::FindPrivateKeys): its data key is
// unwrapped by the key encryption key in the token, then the PKCS#8 is decrypted and its AAD
// (request and key name) checked.
Result<UniquePtr<EVP_PKEY>> OpenPrivateKey(store::Connection& db, CryptoToken& token,
                                           const store::EncryptedKey& stored);

// KeyChoice narrows which stored key, and which certificate, a request's holder gets.
struct KeyChoice {
  std::string key_name;          // the profile's key name, or empty
  std::optional<Serial> serial;  // a certificate of the request, or the newest
};

// CheckKeyChoice refuses an open choice among several stored keys of |request_id|: a soft
// profile may have several keys (authentication and signature), and the caller must name one.
[[nodiscard]] Status CheckKeyChoice(int64_t request_id,
                                    const std::vector<store::EncryptedKey>& stored,
                                    const KeyChoice& choice);

struct KeyAndCert {
  UniquePtr<EVP_PKEY> key;
  store::CertRecord cert;
};

// PickKeyAndCert pairs a certificate of |request_id| with the stored key whose public half it
// carries, never by position (a request re-issued after a crash keeps certificates whose key
// was replaced); newest certificate first, narrowed by |choice|. Only the keys that can match
// are decrypted. |stored| is the request's keys (store::FindPrivateKeys).
Result<KeyAndCert> PickKeyAndCert(store::Connection& db, CryptoToken& token, int64_t request_id,
                                  std::vector<store::EncryptedKey> stored, const KeyChoice& choice);

}  // namespace certpress::kgs
