// The EC_KEY and ECDSA_verify functions are deprecated in OpenSSL 3 in favour of EVP_PKEY,
// but supported throughout 3.x; this file is the one place that uses them, because the EVP
// route builds the curve's group again for every key it imports (see ec_verify.h).
#define OPENSSL_SUPPRESS_DEPRECATED

#include "signer/ec_verify.h"

#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/obj_mac.h>

#include <cstring>

#include "common/ossl.h"
#include "signer/der.h"

namespace certpress {

// EC_KEY's deleter lives here, not in common/ossl.h: EC_KEY_free is deprecated in OpenSSL 3 and
// this is the one file that may use it (see the top).
template <>
struct OsslDeleter<EC_KEY> {
  void operator()(EC_KEY* p) const { EC_KEY_free(p); }
};

namespace internal {

struct EcPublicKey::Impl {
  UniquePtr<EC_KEY> key;
  KeyType type = KeyType::kEcP256;
};

namespace {

// The groups are built once and only read afterwards (EC_KEY_set_group copies them), so
// they are safe to share between threads.
const EC_GROUP* Group(int nid) {
  static const EC_GROUP* p256 = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  static const EC_GROUP* p384 = EC_GROUP_new_by_curve_name(NID_secp384r1);
  return nid == NID_X9_62_prime256v1 ? p256 : nid == NID_secp384r1 ? p384 : nullptr;
}

}  // namespace

EcPublicKey::EcPublicKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EcPublicKey::EcPublicKey(EcPublicKey&&) noexcept = default;
EcPublicKey& EcPublicKey::operator=(EcPublicKey&&) noexcept = default;
EcPublicKey::~EcPublicKey() = default;

Result<EcPublicKey> EcPublicKey::FromPoint(const char* curve, ByteSpan point) {
  const int nid = std::strcmp(curve, "P-256") == 0   ? NID_X9_62_prime256v1
                  : std::strcmp(curve, "P-384") == 0 ? NID_secp384r1
                                                     : NID_undef;
  const EC_GROUP* group = Group(nid);
  if (group == nullptr) return InvalidInput(std::string("unsupported curve ") + curve);
  auto impl = std::make_unique<Impl>();
  impl->type = nid == NID_secp384r1 ? KeyType::kEcP384 : KeyType::kEcP256;
  impl->key.reset(EC_KEY_new());
  if (!impl->key || EC_KEY_set_group(impl->key.get(), group) != 1) {
    return OsslError("preparing an EC key");
  }
  const std::string bad =
      std::string("public key is not a valid point on ") + curve + " (SP 800-56A rev3 5.6.2.3.4)";
  if (EC_KEY_oct2key(impl->key.get(), point.data(), point.size(), nullptr) != 1) {
    OpenSslErrors();
    return InvalidInput(bad);
  }
  const EC_POINT* q = EC_KEY_get0_public_key(impl->key.get());
  if (q == nullptr || EC_POINT_is_at_infinity(group, q) ||
      EC_POINT_is_on_curve(group, q, nullptr) != 1) {
    OpenSslErrors();
    return InvalidInput(bad);
  }
  return EcPublicKey(std::move(impl));
}

Result<std::unique_ptr<EcPublicKey>> EcPublicKey::FromSpki(ByteSpan spki) {
  // SubjectPublicKeyInfo ::= SEQUENCE { algorithm { id-ecPublicKey, namedCurve }, BIT STRING }
  // (RFC 5480 2).
  der::Reader outer(spki);
  ByteSpan body, alg, bits;
  if (!outer.Read(der::kSequence, &body) || !outer.empty()) return std::unique_ptr<EcPublicKey>();
  der::Reader b(body);
  if (!b.Read(der::kSequence, &alg) || !b.Read(der::kBitString, &bits) || !b.empty()) {
    return std::unique_ptr<EcPublicKey>();
  }
  der::Reader a(alg);
  ByteSpan oid, curve;
  if (!a.Read(der::kOid, &oid) || der::OidToString(oid) != "1.2.840.10045.2.1" ||
      !a.Read(der::kOid, &curve) || !a.empty() || bits.empty() || bits[0] != 0) {
    return std::unique_ptr<EcPublicKey>();
  }
  const std::string c = der::OidToString(curve);
  const char* name = c == "1.2.840.10045.3.1.7" ? "P-256" : c == "1.3.132.0.34" ? "P-384" : nullptr;
  if (name == nullptr) return std::unique_ptr<EcPublicKey>();
  CP_ASSIGN_OR_RETURN(EcPublicKey key, FromPoint(name, bits.subspan(1)));
  return std::make_unique<EcPublicKey>(std::move(key));
}

KeyType EcPublicKey::key_type() const {
  return impl_->type;
}

bool EcPublicKey::VerifyDigest(ByteSpan digest, ByteSpan der_signature) const {
  int ok = ECDSA_verify(0, digest.data(), static_cast<int>(digest.size()), der_signature.data(),
                        static_cast<int>(der_signature.size()), impl_->key.get());
  if (ok != 1) OpenSslErrors();
  return ok == 1;
}

}  // namespace internal
}  // namespace certpress
