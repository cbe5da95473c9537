#include "signer/key_type.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstring>

namespace certpress {

namespace {
constexpr uint8_t kEcdsaSha256[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                    0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
constexpr uint8_t kEcdsaSha384[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                    0x48, 0xce, 0x3d, 0x04, 0x03, 0x03};
constexpr uint8_t kSha256Rsa[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                  0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00};
constexpr uint8_t kP256Oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
constexpr uint8_t kP384Oid[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
}  // namespace

Result<KeyType> ParseKeyType(std::string_view name) {
  if (name == "ec-p256") return KeyType::kEcP256;
  if (name == "ec-p384") return KeyType::kEcP384;
  if (name == "rsa-2048") return KeyType::kRsa2048;
  if (name == "rsa-3072") return KeyType::kRsa3072;
  if (name == "rsa-4096") return KeyType::kRsa4096;
  return InvalidInput("unknown key type '" + std::string(name) +
                      "' (expected ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096)");
}

std::string_view KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kEcP256:
      return "ec-p256";
    case KeyType::kEcP384:
      return "ec-p384";
    case KeyType::kRsa2048:
      return "rsa-2048";
    case KeyType::kRsa3072:
      return "rsa-3072";
    case KeyType::kRsa4096:
      return "rsa-4096";
  }
  return "?";
}

bool IsEc(KeyType type) {
  return type == KeyType::kEcP256 || type == KeyType::kEcP384;
}

int RsaBits(KeyType type) {
  switch (type) {
    case KeyType::kRsa2048:
      return 2048;
    case KeyType::kRsa3072:
      return 3072;
    case KeyType::kRsa4096:
      return 4096;
    default:
      return 0;
  }
}

const EVP_MD* SignatureDigest(KeyType type) {
  return type == KeyType::kEcP384 ? EVP_sha384() : EVP_sha256();
}

ByteSpan SignatureAlgorithmDer(KeyType type) {
  switch (type) {
    case KeyType::kEcP256:
      return kEcdsaSha256;
    case KeyType::kEcP384:
      return kEcdsaSha384;
    default:
      return kSha256Rsa;
  }
}

ByteSpan CurveOidDer(KeyType type) {
  return type == KeyType::kEcP384 ? ByteSpan(kP384Oid) : ByteSpan(kP256Oid);
}

Result<UniquePtr<EVP_PKEY>> GenerateSoftKey(KeyType type) {
  EVP_PKEY* key = nullptr;
  if (IsEc(type)) {
    key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", type == KeyType::kEcP384 ? "P-384" : "P-256");
  } else {
    key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(RsaBits(type)));
  }
  if (key == nullptr) return OsslError("generating a " + std::string(KeyTypeName(type)) + " key");
  return UniquePtr<EVP_PKEY>(key);
}

Result<Bytes> SpkiDer(EVP_PKEY* key) {
  int len = i2d_PUBKEY(key, nullptr);
  if (len <= 0) return OsslError("encoding a public key");
  Bytes out(static_cast<size_t>(len));
  unsigned char* p = out.data();
  i2d_PUBKEY(key, &p);
  return out;
}

Result<UniquePtr<EVP_PKEY>> ParseSpki(ByteSpan spki) {
  const unsigned char* p = spki.data();
  EVP_PKEY* key = d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size()));
  if (key == nullptr || p != spki.data() + spki.size()) {
    EVP_PKEY_free(key);
    return OsslError("parsing a SubjectPublicKeyInfo", ErrorKind::kInvalidInput);
  }
  return UniquePtr<EVP_PKEY>(key);
}

Result<KeyType> KeyTypeOf(const EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {};
    size_t len = 0;
    if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                        &len)) {
      return OsslError("reading the curve of an EC key", ErrorKind::kInvalidInput);
    }
    if (std::strcmp(group, "prime256v1") == 0 || std::strcmp(group, "P-256") == 0) {
      return KeyType::kEcP256;
    }
    if (std::strcmp(group, "secp384r1") == 0 || std::strcmp(group, "P-384") == 0) {
      return KeyType::kEcP384;
    }
    return InvalidInput(std::string("EC curve ") + group + " is not allowed (P-256 or P-384)");
  }
  if (EVP_PKEY_is_a(key, "RSA")) {
    int bits = EVP_PKEY_get_bits(key);
    if (bits == 2048) return KeyType::kRsa2048;
    if (bits == 3072) return KeyType::kRsa3072;
    if (bits == 4096) return KeyType::kRsa4096;
    return InvalidInput("RSA key of " + std::to_string(bits) +
                        " bits is not allowed (2048, 3072 or 4096)");
  }
  return InvalidInput("key algorithm is not allowed (EC P-256/P-384 or RSA)");
}

}  // namespace certpress
