// csr_fuzz: libFuzzer target for signer/csr.h (ParseCsr, CheckCsr).
//
// The first input byte picks a mode:
//   0-127    the rest is a request as it arrives: ParseCsr on it as given (PEM or DER), on it
//            wrapped in PEM, and CheckCsr on it as DER.
//   128-255  the rest is split into a subject and the attributes of a CertificationRequestInfo
//            that this target signs with a fixed P-256 key, so that the parsing behind the
//            proof-of-possession check (names, extension requests, SANs) is reached too.
// Properties: whenever ParseCsr accepts, OpenSSL's d2i_X509_REQ accepts the same DER, its
// signature verifies with the enclosed key, the subject and key are the ones OpenSSL sees, and
// CheckCsr accepts the DER with the same key.
#include <fuzzer/FuzzedDataProvider.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/ossl.h"
#include "signer/csr.h"
#include "signer/der.h"
#include "signer/key_type.h"

using namespace certpress;

namespace {

void Fail(const char* what) {
  std::fprintf(stderr, "csr_fuzz: property violated: %s\n", what);
  std::abort();
}

Bytes I2d(X509_NAME* n) {
  unsigned char* out = nullptr;
  int len = i2d_X509_NAME(n, &out);
  if (len < 0) return {};
  Bytes b(out, out + len);
  OPENSSL_free(out);
  return b;
}

void CheckAccepted(const ParsedCsr& csr) {
  const unsigned char* p = csr.der.data();
  UniquePtr<X509_REQ> req(d2i_X509_REQ(nullptr, &p, static_cast<long>(csr.der.size())));
  if (!req) Fail("ParseCsr accepted a request OpenSSL's d2i_X509_REQ rejects");
  if (p != csr.der.data() + csr.der.size()) Fail("OpenSSL read a different length");
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (key == nullptr || X509_REQ_verify(req.get(), key) != 1) {
    Fail("ParseCsr accepted a request whose signature OpenSSL does not verify");
  }
  if (I2d(X509_REQ_get_subject_name(req.get())) != csr.subject_der) Fail("subject differs");
  auto ours = ParseSpki(csr.spki);
  if (!ours.ok() || EVP_PKEY_eq(ours->get(), key) != 1) Fail("key differs");
  auto checked = CheckCsr(csr.der);
  if (!checked.ok() || checked->spki != csr.spki || checked->key_type != csr.key_type) {
    Fail("CheckCsr disagrees with ParseCsr");
  }
  ERR_clear_error();
}

void Try(ByteSpan in) {
  auto parsed = ParseCsr(in);
  if (parsed.ok()) CheckAccepted(*parsed);
  ERR_clear_error();
}

std::string Pem(ByteSpan der) {
  UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio(bio.get(), "CERTIFICATE REQUEST", "", der.data(), static_cast<long>(der.size()));
  char* p = nullptr;
  long n = BIO_get_mem_data(bio.get(), &p);
  return std::string(p, static_cast<size_t>(n));
}

// Signer is a fixed P-256 key the target signs requests with (mode 2).
struct Signer {
  UniquePtr<EVP_PKEY> key;
  Bytes spki;
  Signer() {
    key.reset(EVP_EC_gen("P-256"));
    spki = SpkiDer(key.get()).value();
  }
};

Bytes SignedRequest(ByteSpan subject, ByteSpan attributes) {
  static Signer* signer = new Signer;
  der::Writer w;
  size_t cri = w.Begin(der::kSequence);
  w.SmallInteger(0);
  w.Raw(subject);
  w.Raw(signer->spki);
  size_t attrs = w.Begin(der::ContextConstructed(0));
  w.Raw(attributes);
  w.End(attrs);
  w.End(cri);
  Bytes info = w.Take();
  UniquePtr<EVP_MD_CTX> md(EVP_MD_CTX_new());
  size_t sig_len = 0;
  Bytes sig;
  if (EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, signer->key.get()) != 1 ||
      EVP_DigestSign(md.get(), nullptr, &sig_len, info.data(), info.size()) != 1) {
    std::abort();
  }
  sig.resize(sig_len);
  if (EVP_DigestSign(md.get(), sig.data(), &sig_len, info.data(), info.size()) != 1) std::abort();
  sig.resize(sig_len);
  der::Writer out;
  size_t req = out.Begin(der::kSequence);
  out.Raw(info);
  size_t alg = out.Begin(der::kSequence);
  out.OidContent(der::EncodeOid("1.2.840.10045.4.3.2").value());  // ecdsa-with-SHA256
  out.End(alg);
  out.BitString(sig);
  out.End(req);
  return out.Take();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  ByteSpan rest(data + 1, size - 1);
  if (data[0] < 128) {
    Try(rest);
    if (AsString(rest).find("-----BEGIN") == std::string_view::npos) {
      std::string pem = Pem(rest);
      Try(AsBytes(pem));
    }
    auto checked = CheckCsr(rest);
    (void)checked;
    ERR_clear_error();
    return 0;
  }
  // A subject of the first |n| bytes (whole, or wrapped as a SEQUENCE when it is not one).
  FuzzedDataProvider in(rest.data(), rest.size());
  size_t n = in.ConsumeIntegralInRange<size_t>(0, in.remaining_bytes());
  Bytes subject = in.ConsumeBytes<uint8_t>(n);
  if (subject.empty() || subject[0] != der::kSequence) {
    der::Writer w;
    size_t m = w.Begin(der::kSequence);
    w.Raw(subject);
    w.End(m);
    subject = w.Take();
  }
  Bytes attributes = in.ConsumeRemainingBytes<uint8_t>();
  Bytes req = SignedRequest(subject, attributes);
  Try(req);
  return 0;
}
