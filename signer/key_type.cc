#include "signer/key_type.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstring>
#include <iterator>
#include <optional>

#include "signer/der.h"

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
// id-ecPublicKey (RFC 5480 2.1.1), content octets only.
constexpr uint8_t kEcPublicKey[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};

// EcType reports P-256/P-384 for EC keys and nothing for anything else. It is a parameter
// lookup on the key, with no encoder or decoder involved.
std::optional<KeyType> EcType(const EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return std::nullopt;
  // Legacy and engine keys (libp11's, for one) have no provider to answer parameter queries;
  // they take the library path.
  if (EVP_PKEY_get0_provider(key) == nullptr) return std::nullopt;
  auto t = KeyTypeOf(key);
  if (!t.ok()) return std::nullopt;
  return *t;
}

// EcAlgorithm writes the AlgorithmIdentifier { id-ecPublicKey, namedCurve } (RFC 5480 2.1.1).
void EcAlgorithm(der::Writer& w, KeyType type) {
  size_t alg = w.Begin(der::kSequence);
  w.OidContent(kEcPublicKey);
  w.Raw(CurveOidDer(type));
  w.End(alg);
}

Result<Bytes> EcPoint(const EVP_PKEY* key) {
  // Uncompressed form (0x04 || X || Y), the form RFC 5480 2.2 says implementations must support.
  uint8_t buf[1 + 2 * 66];
  size_t len = 0;
  if (!EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, buf, sizeof buf,
                                       &len)) {
    return OsslError("reading an EC public key");
  }
  return Bytes(buf, buf + len);
}
}  // namespace

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
  // One initialised generation context per thread and key type: EVP_PKEY_Q_keygen would build a
  // context and the curve's group (its precomputed tables included) again for every key, which
  // measured a third of the cost of a P-256 key. Contexts are not shared between threads.
  thread_local UniquePtr<EVP_PKEY_CTX> contexts[std::size(kKeyTypes)];
  UniquePtr<EVP_PKEY_CTX>& ctx = contexts[static_cast<int>(type)];
  if (!ctx) {
    UniquePtr<EVP_PKEY_CTX> fresh(
        EVP_PKEY_CTX_new_from_name(nullptr, IsEc(type) ? "EC" : "RSA", nullptr));
    bool ok = fresh && EVP_PKEY_keygen_init(fresh.get()) == 1;
    if (ok && IsEc(type)) {
      ok = EVP_PKEY_CTX_set_group_name(fresh.get(), type == KeyType::kEcP384 ? "P-384" : "P-256") ==
           1;
    } else if (ok) {
      ok = EVP_PKEY_CTX_set_rsa_keygen_bits(fresh.get(), RsaBits(type)) == 1;
    }
    if (!ok) return OsslError("preparing " + std::string(KeyTypeName(type)) + " key generation");
    ctx = std::move(fresh);
  }
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_generate(ctx.get(), &key) != 1 || key == nullptr) {
    return OsslError("generating a " + std::string(KeyTypeName(type)) + " key");
  }
  return UniquePtr<EVP_PKEY>(key);
}

Result<Bytes> SpkiDer(EVP_PKEY* key) {
  // OpenSSL 3.0's i2d_PUBKEY builds an OSSL_ENCODER_CTX for every call, which searches every
  // provider's encoders under a global lock; with server-side key generation that lookup cost
  // more than the key generation itself and serialised the workers (see docs/BENCHMARKS.md).
  // EC keys, the bulk case, are written directly; RSA (key generation bound) keeps the library.
  if (auto ec = EcType(key)) {
    CP_ASSIGN_OR_RETURN(Bytes point, EcPoint(key));
    der::Writer w;
    size_t spki = w.Begin(der::kSequence);
    EcAlgorithm(w, *ec);
    w.BitString(point);
    w.End(spki);
    return w.Take();
  }
  int len = i2d_PUBKEY(key, nullptr);
  if (len <= 0) return OsslError("encoding a public key");
  Bytes out(static_cast<size_t>(len));
  unsigned char* p = out.data();
  i2d_PUBKEY(key, &p);
  return out;
}

Result<SecureString> Pkcs8Der(EVP_PKEY* key) {
  if (auto ec = EcType(key)) {
    // OneAsymmetricKey (RFC 5958 2) holding an ECPrivateKey (RFC 5915 3), whose parameters
    // field RFC 5915 says to include; the fast path for the same reason as SpkiDer.
    BIGNUM* d = nullptr;
    if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &d)) {
      return OsslError("reading an EC private key");
    }
    // The private scalar is wiped when freed (BN_clear_free), and so is our copy on every path.
    std::unique_ptr<BIGNUM, void (*)(BIGNUM*)> owned(d, BN_clear_free);
    const int size = *ec == KeyType::kEcP384 ? 48 : 32;
    uint8_t scalar[48];
    struct Wipe {
      uint8_t* p;
      size_t n;
      ~Wipe() { OPENSSL_cleanse(p, n); }
    } wipe{scalar, sizeof scalar};
    if (BN_bn2binpad(d, scalar, size) != size) return OsslError("encoding an EC private key");
    CP_ASSIGN_OR_RETURN(Bytes point, EcPoint(key));
    der::Writer w;  // its reserve holds the whole key, so no copy is left behind unwiped
    size_t info = w.Begin(der::kSequence);
    w.SmallInteger(0);
    EcAlgorithm(w, *ec);
    size_t wrapped = w.Begin(der::kOctetString);
    size_t ecpk = w.Begin(der::kSequence);
    w.SmallInteger(1);
    w.Primitive(der::kOctetString, ByteSpan(scalar, static_cast<size_t>(size)));
    size_t params = w.Begin(der::ContextConstructed(0));
    w.Raw(CurveOidDer(*ec));
    w.End(params);
    size_t pub = w.Begin(der::ContextConstructed(1));
    w.BitString(point);
    w.End(pub);
    w.End(ecpk);
    w.End(wrapped);
    w.End(info);
    Bytes out = w.Take();
    SecureString result(std::string(out.begin(), out.end()));
    OPENSSL_cleanse(out.data(), out.size());
    return result;
  }
  UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || !i2d_PKCS8PrivateKey_bio(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)) {
    return OsslError("encoding a private key");
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  SecureString result(std::string(data, static_cast<size_t>(n)));
  OPENSSL_cleanse(data, static_cast<size_t>(n));
  return result;
}

Result<UniquePtr<EVP_PKEY>> ParseSpki(ByteSpan spki) {
  const unsigned char* p = spki.data();
  UniquePtr<EVP_PKEY> key(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size())));
  if (!key || p != spki.data() + spki.size()) {
    return OsslError("parsing a SubjectPublicKeyInfo", ErrorKind::kInvalidInput);
  }
  return key;
}

Status CheckSpkiForm(ByteSpan spki) {
  der::Reader outer(spki);
  ByteSpan body, alg, bits, oid;
  if (!outer.Read(der::kSequence, &body) || !outer.empty()) {
    return InvalidInput("malformed SubjectPublicKeyInfo");
  }
  der::Reader b(body);
  if (!b.Read(der::kSequence, &alg) || !b.Read(der::kBitString, &bits) || !b.empty()) {
    return InvalidInput("malformed SubjectPublicKeyInfo");
  }
  der::Reader a(alg);
  if (!a.Read(der::kOid, &oid)) return InvalidInput("malformed SubjectPublicKeyInfo");
  if (der::OidToString(oid) != "1.2.840.10045.2.1") return Status::Ok();
  if (a.PeekTag() != der::kOid) {
    return InvalidInput(
        "EC key with explicit curve parameters; only a named curve is allowed (RFC 5480 2.1.1)");
  }
  ByteSpan curve;
  if (!a.Read(der::kOid, &curve) || !a.empty()) {
    return InvalidInput("malformed EC algorithm parameters");
  }
  if (bits.size() < 2 || bits[0] != 0 || bits[1] != 0x04) {
    return InvalidInput(
        "EC public key is a compressed (or malformed) point; send it uncompressed (RFC 5480 2.2)");
  }
  return Status::Ok();
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
