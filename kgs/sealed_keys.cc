#include "kgs/sealed_keys.h"

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "kgs/token_keys.h"
#include "signer/aead.h"
#include "signer/key_type.h"
#include "store/audit.h"

namespace certpress::kgs {

std::string PrivateKeyAad(int64_t request_id, std::string_view key_name) {
  return "certpress-key-v1:" + std::to_string(request_id) + ":" + std::string(key_name);
}

Result<WrappedKey> DrawWrappedKey(CryptoToken& token, const std::string& kek_label,
                                  std::string_view aad) {
  std::string raw(32, '\0');
  if (RAND_bytes(reinterpret_cast<uint8_t*>(raw.data()), 32) != 1) {
    return OsslError("drawing a key");
  }
  WrappedKey out{SecureString(std::move(raw)), {}};
  CP_RETURN_IF_ERROR(token.EnsureSecretKey(kek_label).Wrap("key encryption key"));
  CP_ASSIGN_OR_RETURN(out.wrapped,
                      token.SecretEncrypt(kek_label, AsBytes(out.key.view()), AsBytes(aad)));
  return out;
}

Result<DataKey> DataKey::Create(store::Connection& db, CryptoToken& token,
                                const std::string& kek_label, const std::string& actor) {
  // One data key per run: one HSM operation, then private keys are sealed in software.
  CP_RETURN_IF_ERROR(
      EnsureTokenKey(db, token, kek_label, TokenKeyKind::kAesKek).Wrap("key encryption key"));
  CP_ASSIGN_OR_RETURN(WrappedKey drawn, DrawWrappedKey(token, kek_label, kDataKeyAad));
  SecureString dek = std::move(drawn.key);
  const Bytes& wrapped = drawn.wrapped;
  int64_t id = 0;
  Status st = store::RunTransaction(db, [&](store::Connection& c) -> Status {
    CP_ASSIGN_OR_RETURN(id, store::StoreDataKey(c, kek_label, wrapped));
    return store::AppendAudit(
        c, {actor, "data-key.create", "data-key:" + std::to_string(id), "wrapped by " + kek_label});
  });
  if (!st.ok()) return st.Wrap("storing the data key");
  return DataKey(std::move(dek), id);
}

Result<std::string> DataKey::Seal(EVP_PKEY* key, int64_t request_id,
                                  std::string_view key_name) const {
  CP_ASSIGN_OR_RETURN(SecureString pkcs8, Pkcs8Der(key));
  const std::string aad = PrivateKeyAad(request_id, key_name);
  CP_ASSIGN_OR_RETURN(Bytes sealed,
                      AesGcmSeal(AsBytes(key_.view()), AsBytes(pkcs8.view()), AsBytes(aad)));
  return std::string(sealed.begin(), sealed.end());
}

Result<UniquePtr<EVP_PKEY>> OpenPrivateKey(store::Connection& db, CryptoToken& token,
                                           const store::EncryptedKey& stored) {
  const std::string what =
      "private key '" + stored.key_name + "' of request " + std::to_string(stored.request_id);
  std::string kek;
  auto wrapped = store::WrappedDataKey(db, stored.data_key_id, &kek);
  if (!wrapped.ok()) return wrapped.status().Wrap(what);
  auto dek = token.SecretDecrypt(kek, AsBytes(*wrapped), AsBytes(kDataKeyAad));
  if (!dek.ok()) return dek.status().Wrap(what);
  const std::string aad = PrivateKeyAad(stored.request_id, stored.key_name);
  auto pkcs8 = AesGcmOpen(AsBytes(dek->view()), AsBytes(stored.ciphertext), AsBytes(aad));
  if (!pkcs8.ok()) return pkcs8.status().Wrap(what);
  const unsigned char* p = reinterpret_cast<const unsigned char*>(pkcs8->str().data());
  UniquePtr<EVP_PKEY> key(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(pkcs8->size())));
  if (!key) return OsslError("decoding the stored " + what);
  return key;
}

Status CheckKeyChoice(int64_t request_id, const std::vector<store::EncryptedKey>& stored,
                      const KeyChoice& choice) {
  if (!choice.key_name.empty() || choice.serial || stored.size() <= 1) return Status::Ok();
  std::string names;
  for (const auto& k : stored) names += (names.empty() ? "" : ", ") + k.key_name;
  return InvalidInput("request " + std::to_string(request_id) + " has " +
                      std::to_string(stored.size()) + " keys (" + names +
                      "): name one with --key NAME or --serial S");
}

Result<KeyAndCert> PickKeyAndCert(store::Connection& db, CryptoToken& token, int64_t request_id,
                                  std::vector<store::EncryptedKey> stored,
                                  const KeyChoice& choice) {
  const std::string what = "request " + std::to_string(request_id);
  CP_ASSIGN_OR_RETURN(auto certs, store::IssuedForRequest(db, request_id));
  if (certs.empty()) return NotFound(what + " has no issued certificate");
  if (stored.empty()) return NotFound(what + " has no server-generated private key");
  if (!choice.key_name.empty()) {
    std::erase_if(stored,
                  [&](const store::EncryptedKey& k) { return k.key_name != choice.key_name; });
    if (stored.empty()) return NotFound(what + " has no key named '" + choice.key_name + "'");
  }
  if (choice.serial) {
    const std::string hex = choice.serial->Hex();
    std::erase_if(certs, [&](const store::CertRecord& c) { return c.serial_hex != hex; });
    if (certs.empty()) return NotFound(what + " has no issued certificate " + hex);
  }
  std::vector<UniquePtr<EVP_PKEY>> keys;
  for (const auto& k : stored) {
    CP_ASSIGN_OR_RETURN(auto key, OpenPrivateKey(db, token, k));
    keys.push_back(std::move(key));
  }
  for (auto c = certs.rbegin(); c != certs.rend(); ++c) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(c->der.data());
    UniquePtr<X509> x(d2i_X509(nullptr, &p, static_cast<long>(c->der.size())));
    if (!x) return OsslError("parsing certificate " + c->serial_hex);
    for (auto& k : keys) {
      if (EVP_PKEY_eq(X509_get0_pubkey(x.get()), k.get()) == 1) {
        return KeyAndCert{std::move(k), std::move(*c)};
      }
    }
  }
  ERR_clear_error();
  std::string which = choice.serial ? "certificate " + choice.serial->Hex() : "issued certificate";
  if (!choice.key_name.empty()) which += " for key '" + choice.key_name + "'";
  return NotFound(what + " has no " + which + " whose private key is stored");
}

}  // namespace certpress::kgs
