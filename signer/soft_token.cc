// soft_token.cc: keys as password-encrypted PKCS#8 files (AES-256-CBC, PBKDF2, the OpenSSL 3
// defaults for PEM_write_bio_PKCS8PrivateKey with a cipher), one file per label, mode 0600.
// For tests and small installs; production CA keys belong in an HSM.
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <map>
#include <mutex>

#include "common/ossl.h"
#include "signer/aead.h"
#include "signer/pkcs11_internal.h"
#include "signer/token.h"

namespace certpress {

namespace {

bool ValidLabel(std::string_view label) {
  if (label.empty() || label.size() > 64) return false;
  for (char c : label) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return label[0] != '.';
}

class SoftToken final : public CryptoToken {
 public:
  explicit SoftToken(TokenConfig config) : config_(std::move(config)) {}

  Result<Bytes> GenerateKey(std::string_view label, KeyType type) override {
    if (!ValidLabel(label)) return InvalidInput("invalid key label '" + std::string(label) + "'");
    std::string path = PathOf(label);
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) {
      return Conflict("soft token already holds a key labelled '" + std::string(label) + "'");
    }
    CP_ASSIGN_OR_RETURN(UniquePtr<EVP_PKEY> key, GenerateSoftKey(type));
    UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
    if (!PEM_write_bio_PKCS8PrivateKey(bio.get(), key.get(), EVP_aes_256_cbc(), nullptr, 0, nullptr,
                                       const_cast<char*>(config_.pin.str().c_str()))) {
      return OsslError("encrypting key '" + std::string(label) + "'");
    }
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    CP_RETURN_IF_ERROR(WriteFile(path, std::string_view(data, static_cast<size_t>(len)), 0600));
    auto spki = SpkiDer(key.get());
    std::lock_guard<std::mutex> lock(mu_);
    keys_[std::string(label)] = std::move(key);
    return spki;
  }

  Result<Bytes> PublicKey(std::string_view label) override {
    CP_ASSIGN_OR_RETURN(EVP_PKEY * key, Load(label));
    return SpkiDer(key);
  }

  Result<Bytes> SignDigest(std::string_view label, KeyType type, ByteSpan digest) override {
    CP_ASSIGN_OR_RETURN(EVP_PKEY * key, Load(label));
    UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new(key, nullptr));
    size_t len = 0;
    if (!ctx || EVP_PKEY_sign_init(ctx.get()) <= 0 ||
        EVP_PKEY_CTX_set_signature_md(ctx.get(), SignatureDigest(type)) <= 0 ||
        EVP_PKEY_sign(ctx.get(), nullptr, &len, digest.data(), digest.size()) <= 0) {
      return OsslError("signing with soft key '" + std::string(label) + "'");
    }
    Bytes sig(len);
    if (EVP_PKEY_sign(ctx.get(), sig.data(), &len, digest.data(), digest.size()) <= 0) {
      return OsslError("signing with soft key '" + std::string(label) + "'");
    }
    sig.resize(len);
    return sig;
  }

  // Soft secret keys: 32 random bytes kept in <label>.aes, encrypted under a key derived
  // from the token password (PBKDF2-SHA256). A soft token is for tests and small installs.
  Status EnsureSecretKey(std::string_view label) override {
    auto k = LoadSecret(label, /*create=*/true);
    return k.ok() ? Status::Ok() : k.status();
  }

  Result<Bytes> SecretEncrypt(std::string_view label, ByteSpan plaintext, ByteSpan aad) override {
    CP_ASSIGN_OR_RETURN(const SecureString* key, LoadSecret(label, false));
    return AesGcmSeal(AsBytes(key->view()), plaintext, aad);
  }

  Result<SecureString> SecretDecrypt(std::string_view label, ByteSpan blob, ByteSpan aad) override {
    CP_ASSIGN_OR_RETURN(const SecureString* key, LoadSecret(label, false));
    return AesGcmOpen(AsBytes(key->view()), blob, aad);
  }

  // A soft derivation key is a soft secret key (<label>.aes) used as the HMAC key.
  Status EnsureDerivationKey(std::string_view label) override { return EnsureSecretKey(label); }

  Result<SecureString> DeriveSecret(std::string_view label, ByteSpan data) override {
    CP_ASSIGN_OR_RETURN(const SecureString* key, LoadSecret(label, false));
    std::string out(EVP_MAX_MD_SIZE, '\0');
    unsigned int len = 0;
    if (HMAC(EVP_sha256(), key->str().data(), static_cast<int>(key->size()), data.data(),
             data.size(), reinterpret_cast<uint8_t*>(out.data()), &len) == nullptr) {
      return OsslError("HMAC");
    }
    out.resize(len);
    return SecureString(std::move(out));
  }

  std::string KeyUri(std::string_view label) const override { return "file:" + PathOf(label); }

 private:
  std::string PathOf(std::string_view label) const {
    return config_.dir + "/" + std::string(label) + ".key.pem";
  }

  // Load decrypts a key once and keeps it for the life of the token.
  Result<EVP_PKEY*> Load(std::string_view label) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = keys_.find(std::string(label));
    if (it != keys_.end()) return it->second.get();
    if (!ValidLabel(label)) return InvalidInput("invalid key label '" + std::string(label) + "'");
    std::string path = PathOf(label);
    UniquePtr<BIO> bio(BIO_new_file(path.c_str(), "r"));
    if (!bio) {
      OpenSslErrors();
      return NotFound("soft token has no key labelled '" + std::string(label) + "' (" + path + ")");
    }
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr,
                                            const_cast<char*>(config_.pin.str().c_str()));
    if (key == nullptr) {
      return OsslError("decrypting " + path + " (wrong password?)", ErrorKind::kHsm);
    }
    EVP_PKEY* raw = key;
    keys_[std::string(label)] = UniquePtr<EVP_PKEY>(key);
    return raw;
  }

  Result<const SecureString*> LoadSecret(std::string_view label, bool create) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = secrets_.find(std::string(label));
    if (it != secrets_.end()) return &it->second;
    if (!ValidLabel(label)) return InvalidInput("invalid key label '" + std::string(label) + "'");
    const std::string path = config_.dir + "/" + std::string(label) + ".aes";
    // File layout: salt (16) || AES-256-GCM(IV || key || tag) under PBKDF2(password, salt).
    auto file = ReadFile(path);
    Bytes salt(16);
    SecureString key;
    if (!file.ok()) {
      if (!create) {
        return NotFound("soft token has no secret key labelled '" + std::string(label) + "'");
      }
      std::string raw(32, '\0');
      if (RAND_bytes(salt.data(), 16) != 1 ||
          RAND_bytes(reinterpret_cast<uint8_t*>(raw.data()), 32) != 1) {
        return OsslError("drawing a secret key");
      }
      key = SecureString(std::move(raw));
      CP_ASSIGN_OR_RETURN(SecureString kek, DeriveKek(salt));
      CP_ASSIGN_OR_RETURN(Bytes sealed, AesGcmSeal(AsBytes(kek.view()), AsBytes(key.view()), {}));
      std::string data(salt.begin(), salt.end());
      data.append(sealed.begin(), sealed.end());
      CP_RETURN_IF_ERROR(WriteFile(path, data, 0600));
    } else {
      if (file->size() < 16 + 12 + 32 + 16) return InvalidInput(path + " is truncated");
      salt.assign(file->begin(), file->begin() + 16);
      CP_ASSIGN_OR_RETURN(SecureString kek, DeriveKek(salt));
      auto opened = AesGcmOpen(AsBytes(kek.view()), AsBytes(*file).subspan(16), {});
      if (!opened.ok()) return HsmError("cannot open " + path + " (wrong password?)");
      key = std::move(opened).value();
    }
    auto [pos, ok] = secrets_.emplace(std::string(label), std::move(key));
    return &pos->second;
  }

  Result<SecureString> DeriveKek(const Bytes& salt) {
    std::string out(32, '\0');
    if (PKCS5_PBKDF2_HMAC(config_.pin.str().data(), static_cast<int>(config_.pin.size()),
                          salt.data(), static_cast<int>(salt.size()), 200000, EVP_sha256(), 32,
                          reinterpret_cast<uint8_t*>(out.data())) != 1) {
      return OsslError("deriving the soft token key");
    }
    return SecureString(std::move(out));
  }

  TokenConfig config_;
  std::mutex mu_;
  std::map<std::string, UniquePtr<EVP_PKEY>> keys_;
  std::map<std::string, SecureString> secrets_;
};

}  // namespace

Result<std::unique_ptr<CryptoToken>> OpenSoftToken(const TokenConfig& config) {
  if (config.dir.empty()) return InvalidInput("no key directory configured (token.dir)");
  if (config.pin.empty()) return InvalidInput("no password for the soft token");
  struct stat st;
  if (::stat(config.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return NotFound("soft token directory " + config.dir + " does not exist");
  }
  return std::unique_ptr<CryptoToken>(new SoftToken(CloneConfig(config)));
}

Result<std::unique_ptr<CryptoToken>> OpenToken(const TokenConfig& config) {
  if (config.kind == "pkcs11") return OpenPkcs11Token(config);
  if (config.kind == "soft") return OpenSoftToken(config);
  return InvalidInput("unknown token kind '" + config.kind + "' (expected pkcs11 or soft)");
}

Result<Bytes> SignData(CryptoToken& token, std::string_view label, KeyType type, ByteSpan data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!EVP_Digest(data.data(), data.size(), md, &len, SignatureDigest(type), nullptr)) {
    return OsslError("hashing data to sign");
  }
  return token.SignDigest(label, type, ByteSpan(md, len));
}

}  // namespace certpress
