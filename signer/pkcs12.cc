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

namespace {

struct SafeBagsDeleter {
  void operator()(STACK_OF(PKCS12_SAFEBAG) * p) const {
    sk_PKCS12_SAFEBAG_pop_free(p, PKCS12_SAFEBAG_free);
  }
};
struct SafesDeleter {
  void operator()(STACK_OF(PKCS7) * p) const { sk_PKCS7_pop_free(p, PKCS7_free); }
};
using SafeBags = std::unique_ptr<STACK_OF(PKCS12_SAFEBAG), SafeBagsDeleter>;
using Safes = std::unique_ptr<STACK_OF(PKCS7), SafesDeleter>;

Result<UniquePtr<X509>> ParseCert(ByteSpan der, const char* what) {
  const unsigned char* p = der.data();
  UniquePtr<X509> x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!x) return OsslError(std::string("parsing ") + what);
  return x;
}

// AddCertBag adds |x| to |bags|: with its friendly name and local key id when it has a key.
Status AddCertBag(STACK_OF(PKCS12_SAFEBAG) * *bags, X509* x, const std::string& name,
                  ByteSpan key_id) {
  PKCS12_SAFEBAG* bag = PKCS12_add_cert(bags, x);  // owned by |bags|
  if (bag == nullptr) return OsslError("adding a certificate to the PKCS#12");
  if (!name.empty() && PKCS12_add_friendlyname_utf8(bag, name.c_str(), -1) != 1) {
    return OsslError("naming a PKCS#12 certificate");
  }
  if (!key_id.empty() && PKCS12_add_localkeyid(bag, const_cast<unsigned char*>(key_id.data()),
                                               static_cast<int>(key_id.size())) != 1) {
    return OsslError("adding a PKCS#12 local key id");
  }
  return Status::Ok();
}

}  // namespace

Result<Bytes> BuildPkcs12(const std::vector<Pkcs12Entry>& entries,
                          const std::vector<std::string>& chain, const SecureString& password,
                          const Pkcs12Options& opt) {
  CP_RETURN_IF_ERROR(CheckPkcs12Password(password.view()));
  if (entries.empty()) return InvalidInput("a PKCS#12 needs at least one key");
  const int nid = opt.legacy ? NID_pbe_WithSHA1And3_Key_TripleDES_CBC : NID_aes_256_cbc;
  const int iter = opt.legacy ? 2048 : opt.iterations;
  const char* pass = password.str().c_str();
  SafeBags keys(nullptr), certs(nullptr);
  for (size_t i = 0; i < entries.size(); ++i) {
    const Pkcs12Entry& e = entries[i];
    const std::string what = "certificate " + std::to_string(i + 1);
    CP_ASSIGN_OR_RETURN(UniquePtr<X509> x, ParseCert(e.cert_der, what.c_str()));
    if (e.key == nullptr || X509_check_private_key(x.get(), e.key) != 1) {
      return OsslError("private key " + std::to_string(i + 1) + " does not match its certificate");
    }
    unsigned char id[EVP_MAX_MD_SIZE];
    unsigned int id_len = 0;
    if (X509_digest(x.get(), EVP_sha1(), id, &id_len) != 1) return OsslError("hashing a cert");
    const ByteSpan key_id(id, id_len);
    STACK_OF(PKCS12_SAFEBAG)* raw = certs.release();
    Status added = AddCertBag(&raw, x.get(), e.friendly_name, key_id);
    certs.reset(raw);
    CP_RETURN_IF_ERROR(added);
    raw = keys.release();
    PKCS12_SAFEBAG* bag = PKCS12_add_key_ex(&raw, e.key, 0, iter, nid, pass, nullptr, nullptr);
    keys.reset(raw);
    if (bag == nullptr) return OsslError("adding private key " + std::to_string(i + 1));
    if ((!e.friendly_name.empty() &&
         PKCS12_add_friendlyname_utf8(bag, e.friendly_name.c_str(), -1) != 1) ||
        PKCS12_add_localkeyid(bag, id, static_cast<int>(id_len)) != 1) {
      return OsslError("labelling private key " + std::to_string(i + 1));
    }
  }
  for (const auto& c : chain) {
    CP_ASSIGN_OR_RETURN(UniquePtr<X509> x, ParseCert(AsBytes(c), "a chain certificate"));
    STACK_OF(PKCS12_SAFEBAG)* raw = certs.release();
    Status added = AddCertBag(&raw, x.get(), "", ByteSpan());
    certs.reset(raw);
    CP_RETURN_IF_ERROR(added);
  }
  Safes safes(nullptr);
  STACK_OF(PKCS7)* raw = nullptr;
  // Certificates in an encrypted safe (nid), keys shrouded in a plain one: PKCS12_create's layout.
  const bool certs_added =
      PKCS12_add_safe_ex(&raw, certs.get(), nid, iter, pass, nullptr, nullptr) == 1;
  safes.reset(raw);
  if (!certs_added) return OsslError("encrypting the PKCS#12 certificates");
  raw = safes.release();
  const bool keys_added =
      PKCS12_add_safe_ex(&raw, keys.get(), -1, 0, nullptr, nullptr, nullptr) == 1;
  safes.reset(raw);
  if (!keys_added) return OsslError("adding the PKCS#12 keys");
  UniquePtr<PKCS12> p12(PKCS12_add_safes_ex(safes.get(), 0, nullptr, nullptr));
  if (!p12) return OsslError("building the PKCS#12");
  if (PKCS12_set_mac(p12.get(), pass, -1, nullptr, 0, iter,
                     opt.legacy ? EVP_sha1() : EVP_sha256()) != 1) {
    return OsslError("adding the PKCS#12 MAC");
  }
  const int len = i2d_PKCS12(p12.get(), nullptr);
  if (len <= 0) return OsslError("encoding the PKCS#12");
  Bytes out(static_cast<size_t>(len));
  unsigned char* w = out.data();
  i2d_PKCS12(p12.get(), &w);
  return out;
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
