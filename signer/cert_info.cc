#include "signer/cert_info.h"

#include <openssl/pem.h>

#include "common/ossl.h"
#include "signer/name.h"

namespace certpress {

namespace {

template <class T, class F>
Bytes ToDer(T* obj, F i2d) {
  int len = i2d(obj, nullptr);
  if (len <= 0) return {};
  Bytes out(static_cast<size_t>(len));
  unsigned char* p = out.data();
  i2d(obj, &p);
  return out;
}

time_t AsnTime(const ASN1_TIME* t) {
  struct tm tm = {};
  ASN1_TIME_to_tm(t, &tm);
  return timegm(&tm);
}

UniquePtr<X509> ParseX509(ByteSpan der) {
  const unsigned char* p = der.data();
  UniquePtr<X509> x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (x && p != der.data() + der.size()) x.reset();
  return x;
}

}  // namespace

Result<CertInfo> ParseCertificate(ByteSpan der) {
  UniquePtr<X509> x = ParseX509(der);
  if (!x) return OsslError("parsing a certificate", ErrorKind::kInvalidInput);
  CertInfo info;
  info.der.assign(der.begin(), der.end());
  info.subject_der = ToDer(X509_get_subject_name(x.get()), i2d_X509_NAME);
  info.issuer_der = ToDer(X509_get_issuer_name(x.get()), i2d_X509_NAME);
  info.spki = ToDer(X509_get_X509_PUBKEY(x.get()), i2d_X509_PUBKEY);
  info.subject = FormatNameDer(info.subject_der);
  info.issuer = FormatNameDer(info.issuer_der);
  const ASN1_INTEGER* serial = X509_get0_serialNumber(x.get());
  info.serial_hex = HexEncode(ByteSpan(serial->data, static_cast<size_t>(serial->length)));
  for (char& c : info.serial_hex)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  info.not_before = AsnTime(X509_get0_notBefore(x.get()));
  info.not_after = AsnTime(X509_get0_notAfter(x.get()));
  info.is_ca = X509_check_ca(x.get()) == 1;
  info.path_len = info.is_ca ? X509_get_pathlen(x.get()) : -1;
  info.self_signed = X509_self_signed(x.get(), 1) == 1;
  OpenSslErrors();
  return info;
}

Result<std::vector<CertInfo>> ParsePemCertificates(std::string_view pem) {
  UniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::vector<CertInfo> out;
  for (;;) {
    UniquePtr<X509> x(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!x) break;
    Bytes der = ToDer(x.get(), i2d_X509);
    CP_ASSIGN_OR_RETURN(CertInfo info, ParseCertificate(der));
    out.push_back(std::move(info));
  }
  OpenSslErrors();  // the end of input shows up as a "no start line" error
  if (out.empty()) return InvalidInput("no PEM CERTIFICATE found");
  return out;
}

std::string ToPem(ByteSpan der, const char* label) {
  UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio(bio.get(), label, "", der.data(), static_cast<long>(der.size()));
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

bool VerifySignedBy(const CertInfo& cert, const CertInfo& issuer) {
  UniquePtr<X509> c = ParseX509(cert.der), i = ParseX509(issuer.der);
  if (!c || !i) return false;
  EVP_PKEY* key = X509_get0_pubkey(i.get());
  bool ok = key != nullptr && X509_verify(c.get(), key) == 1;
  OpenSslErrors();
  return ok;
}

namespace {

Status VerifyPath(const CertInfo& leaf, const std::vector<const CertInfo*>& anchors,
                  const std::vector<const CertInfo*>& untrusted_certs, bool partial) {
  UniquePtr<X509_STORE> store(X509_STORE_new());
  UniquePtr<STACK_OF(X509)> untrusted(sk_X509_new_null());
  std::vector<UniquePtr<X509>> keep;
  for (const auto* list : {&anchors, &untrusted_certs}) {
    for (const CertInfo* c : *list) {
      UniquePtr<X509> x = ParseX509(c->der);
      if (!x) return InvalidInput("chain certificate does not parse");
      if (list == &anchors) {
        X509_STORE_add_cert(store.get(), x.get());
      } else {
        sk_X509_push(untrusted.get(), x.get());
      }
      keep.push_back(std::move(x));
    }
  }
  UniquePtr<X509> l = ParseX509(leaf.der);
  UniquePtr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  if (!l || !ctx || !X509_STORE_CTX_init(ctx.get(), store.get(), l.get(), untrusted.get())) {
    return OsslError("setting up chain verification");
  }
  X509_STORE_CTX_set_flags(ctx.get(),
                           X509_V_FLAG_X509_STRICT | (partial ? X509_V_FLAG_PARTIAL_CHAIN : 0UL));
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    OpenSslErrors();
    return InvalidInput(std::string("chain does not verify: ") +
                        X509_verify_cert_error_string(err));
  }
  return Status::Ok();
}

}  // namespace

Status VerifyChain(const CertInfo& leaf, const std::vector<CertInfo>& chain) {
  std::vector<const CertInfo*> roots, others;
  for (const auto& c : chain) (c.self_signed ? roots : others).push_back(&c);
  return VerifyPath(leaf, roots, others, false);
}

Status VerifyChainTo(const CertInfo& leaf, const std::vector<CertInfo>& anchors,
                     const std::vector<CertInfo>& intermediates) {
  std::vector<const CertInfo*> a, i;
  for (const auto& c : anchors) a.push_back(&c);
  for (const auto& c : intermediates) i.push_back(&c);
  return VerifyPath(leaf, a, i, true);
}

}  // namespace certpress
