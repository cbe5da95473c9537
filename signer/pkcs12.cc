#include "signer/pkcs12.h"

#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "common/utf8.h"

namespace certpress {

Status CheckPkcs12Password(std::string_view password) {
  size_t pos = 0;
  while (pos < password.size()) {
    const long cp = DecodeUtf8(password, &pos);
    if (cp < 0) return InvalidInput("the PKCS#12 password is not valid UTF-8");
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
      return InvalidInput(
          "the PKCS#12 password contains a control character (a NUL, tab, line break or the "
          "like), which is not allowed");
    }
  }
  return Status::Ok();
}
Result<Bytes> BuildPkcs12(EVP_PKEY* key, ByteSpan cert_der, const std::vector<std::string>& chain,
                          const SecureString& password, const Pkcs12Options& opt) {
  CP_RETURN_IF_ERROR(CheckPkcs12Password(password.view()));
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

}  // namespace certpress
