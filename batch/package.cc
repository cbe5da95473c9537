#include "batch/package.h"

#include <openssl/pkcs12.h>

#include "signer/aead.h"
#include "store/certificates.h"

namespace certpress::batch {

std::string PrivateKeyAad(int64_t request_id, std::string_view key_name) {
  return "certpress-key-v1:" + std::to_string(request_id) + ":" + std::string(key_name);
}

Result<UniquePtr<EVP_PKEY>> OpenPrivateKey(store::Connection& conn, CryptoToken& token,
                                           const store::EncryptedKey& stored) {
  const std::string what =
      "private key '" + stored.key_name + "' of request " + std::to_string(stored.request_id);
  std::string kek;
  auto wrapped = store::WrappedDataKey(conn, stored.data_key_id, &kek);
  if (!wrapped.ok()) return wrapped.status().Wrap(what);
  auto dek = token.SecretDecrypt(kek, AsBytes(*wrapped), AsBytes(kDataKeyAad));
  if (!dek.ok()) return dek.status().Wrap(what);
  const std::string aad = PrivateKeyAad(stored.request_id, stored.key_name);
  auto pkcs8 = AesGcmOpen(AsBytes(dek->view()), AsBytes(stored.ciphertext), AsBytes(aad));
  if (!pkcs8.ok()) return pkcs8.status().Wrap(what);
  const unsigned char* p = reinterpret_cast<const unsigned char*>(pkcs8->str().data());
  EVP_PKEY* key = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(pkcs8->size()));
  if (key == nullptr) return OsslError("decoding the stored " + what);
  return UniquePtr<EVP_PKEY>(key);
}

Result<Bytes> BuildPkcs12(EVP_PKEY* key, ByteSpan cert_der, const std::vector<std::string>& chain,
                          const SecureString& password, const Pkcs12Options& opt) {
  const unsigned char* p = cert_der.data();
  UniquePtr<X509> cert(d2i_X509(nullptr, &p, static_cast<long>(cert_der.size())));
  if (!cert) return OsslError("parsing the certificate");
  if (X509_check_private_key(cert.get(), key) != 1) {
    return OsslError("the private key does not match the certificate");
  }
  UniquePtr<STACK_OF(X509)> ca(sk_X509_new_null());
  std::vector<UniquePtr<X509>> keep;  // the stack is shallow; these own the certificates
  for (const auto& c : chain) {
    const unsigned char* q = reinterpret_cast<const unsigned char*>(c.data());
    UniquePtr<X509> x(d2i_X509(nullptr, &q, static_cast<long>(c.size())));
    if (!x) return OsslError("parsing a chain certificate");
    sk_X509_push(ca.get(), x.get());
    keep.push_back(std::move(x));
  }
  int nid_key = opt.legacy ? NID_pbe_WithSHA1And3_Key_TripleDES_CBC : NID_aes_256_cbc;
  int nid_cert = opt.legacy ? NID_pbe_WithSHA1And3_Key_TripleDES_CBC : NID_aes_256_cbc;
  int iter = opt.legacy ? 2048 : opt.iterations;
  // The MAC is added below with an explicit digest; PKCS12_create would default to SHA-1.
  UniquePtr<PKCS12> p12(PKCS12_create_ex(
      password.str().c_str(), opt.friendly_name.empty() ? nullptr : opt.friendly_name.c_str(), key,
      cert.get(), ca.get(), nid_key, nid_cert, iter, -1, 0, nullptr, nullptr));
  if (!p12) return OsslError("building the PKCS#12");
  if (PKCS12_set_mac(p12.get(), password.str().c_str(), -1, nullptr, 0, iter,
                     opt.legacy ? EVP_sha1() : EVP_sha256()) != 1) {
    return OsslError("adding the PKCS#12 MAC");
  }
  int len = i2d_PKCS12(p12.get(), nullptr);
  if (len <= 0) return OsslError("encoding the PKCS#12");
  Bytes out(static_cast<size_t>(len));
  unsigned char* w = out.data();
  i2d_PKCS12(p12.get(), &w);
  return out;
}

}  // namespace certpress::batch
