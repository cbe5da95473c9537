#include "signer/issuer.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <filesystem>

#include "signer/cert_info.h"
#include "signer/der.h"
#include "signer/name.h"
#include "tests/support/memory_ledger.h"
#include "tests/support/soft_token.h"

namespace certpress {
namespace {

class IssuerTest : public ::testing::Test {
 protected:
  // MakeRoot creates a root CA key (|label|) and certificate and returns the CA's issuer-side
  // view.
  CaKey MakeRoot(KeyType type, Bytes* root_der, const std::string& label = "root") {
    auto spki = token_->GenerateKey(label, type);
    EXPECT_TRUE(spki.ok()) << spki.status().message();
    auto subject = EncodeName(*ParseName("CN=Test Root,O=CertPress,C=DK"));
    CaKey self{token_.get(), label, type, *subject, *spki, 0};
    auto is = Issuer::Create(profiles::RootCaProfile(3650), self);
    EXPECT_TRUE(is.ok()) << is.status().message();
    auto p = is->Prepare({*subject, *spki, {}, 0});
    EXPECT_TRUE(p.ok()) << p.status().message();
    auto der = testing::SignRecorded(*is, *p);
    EXPECT_TRUE(der.ok()) << der.status().message();
    *root_der = *der;
    auto info = ParseCertificate(*der);
    self.not_after = info->not_after;
    return self;
  }

  profiles::CertProfile EndEntity() {
    profiles::CertProfile p;
    p.name = "employee";
    p.validity_days = 365;
    p.backdate_seconds = 60;
    p.key_usage = profiles::kDigitalSignature | profiles::kKeyEncipherment;
    p.extended_key_usage = {"1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.4"};
    p.san_types = {profiles::SanType::kEmail, profiles::SanType::kUpn, profiles::SanType::kDns,
                   profiles::SanType::kIp};
    p.policies = {"1.3.6.1.4.1.99999.1.2"};
    p.crl_urls = {"http://crl.example.org/issuing.crl"};
    p.ocsp_urls = {"http://ocsp.example.org"};
    p.ca_issuers_urls = {"http://pki.example.org/root.crt"};
    return p;
  }

  testing::ScopedSoftToken token_{"cp-soft"};
};

TEST_F(IssuerTest, TbsReEncodesByteIdenticallyThroughOpenSsl) {
  for (KeyType ca_type : {KeyType::kEcP256, KeyType::kEcP384, KeyType::kRsa2048}) {
    SCOPED_TRACE(std::string(KeyTypeName(ca_type)));
    Bytes root_der;
    CaKey root = MakeRoot(ca_type, &root_der, "root-" + std::string(KeyTypeName(ca_type)));
    auto is = Issuer::Create(EndEntity(), root);
    ASSERT_TRUE(is.ok()) << is.status().message();
    auto key = GenerateSoftKey(KeyType::kEcP256);
    auto spki = SpkiDer(key->get());
    auto subject = EncodeName(*ParseName("CN=Søren Kierkegaard,OU=Research,O=Example,C=DK"));
    TbsInput in{*subject,
                *spki,
                {{profiles::SanType::kEmail, "soren.k@example.org"},
                 {profiles::SanType::kUpn, "soren@example.org"},
                 {profiles::SanType::kIp, "192.0.2.7"}},
                0};
    auto p = is->Prepare(in);
    ASSERT_TRUE(p.ok()) << p.status().message();
    auto der = testing::SignRecorded(*is, *p);
    ASSERT_TRUE(der.ok()) << der.status().message();

    const unsigned char* ptr = der->data();
    UniquePtr<X509> x(d2i_X509(nullptr, &ptr, static_cast<long>(der->size())));
    ASSERT_TRUE(x);
    // i2d_re_X509_tbs re-encodes the parsed TBS from OpenSSL's own model.
    unsigned char* tbs = nullptr;
    int len = i2d_re_X509_tbs(x.get(), &tbs);
    ASSERT_GT(len, 0);
    EXPECT_EQ(Bytes(tbs, tbs + len), p->tbs);
    OPENSSL_free(tbs);
    unsigned char* whole = nullptr;
    len = i2d_X509(x.get(), &whole);
    EXPECT_EQ(Bytes(whole, whole + len), *der);
    OPENSSL_free(whole);

    // OpenSSL's view of what we encoded.
    EXPECT_EQ(X509_get_version(x.get()), 2);
    EXPECT_EQ(X509_check_ca(x.get()), 0);
    // The profile asks for digitalSignature and keyEncipherment; an EC key gets the first only
    // (RFC 8813 3).
    EXPECT_EQ(X509_get_key_usage(x.get()), uint32_t{KU_DIGITAL_SIGNATURE});
    EXPECT_EQ(X509_get_extended_key_usage(x.get()), uint32_t{XKU_SSL_CLIENT | XKU_SMIME});
    EXPECT_EQ(X509_get0_subject_key_id(x.get())->length, 20);
    auto info = ParseCertificate(*der);
    auto root_info = ParseCertificate(root_der);
    ASSERT_TRUE(info.ok() && root_info.ok());
    EXPECT_EQ(info->issuer_der, root.subject_der);
    EXPECT_EQ(info->not_after - info->not_before, 365 * 86400);
    Status chain = VerifyChain(*info, {*root_info});
    EXPECT_TRUE(chain.ok()) << chain.message();
  }
}

TEST_F(IssuerTest, CertificateNeverOutlivesItsCa) {
  Bytes root_der;
  CaKey root = MakeRoot(KeyType::kEcP256, &root_der);
  root.not_after = time(nullptr) + 10 * 86400;
  auto is = Issuer::Create(EndEntity(), root);
  auto key = GenerateSoftKey(KeyType::kEcP256);
  auto p = is->Prepare({*EncodeName(*ParseName("CN=x")),
                        *SpkiDer(key->get()),
                        {{profiles::SanType::kEmail, "x@example.org"}},
                        0});
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->not_after, root.not_after);
}

// RFC 5280 6.1.3: a certificate is usable only within its issuer's validity; one that starts
// before its CA (a back-dated leaf of a CA made a minute ago) is cut to the CA's notBefore.
TEST_F(IssuerTest, CertificateNeverStartsBeforeItsCa) {
  Bytes root_der;
  CaKey root = MakeRoot(KeyType::kEcP256, &root_der);
  const time_t now = time(nullptr);
  root.not_before = now - 10;  // the profile back-dates by 60 s
  auto is = Issuer::Create(EndEntity(), root);
  ASSERT_TRUE(is.ok()) << is.status().message();
  auto key = GenerateSoftKey(KeyType::kEcP256);
  auto p = is->Prepare({*EncodeName(*ParseName("CN=x")),
                        *SpkiDer(key->get()),
                        {{profiles::SanType::kEmail, "x@example.org"}},
                        now});
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->not_before, root.not_before);
  EXPECT_LE(p->not_after, root.not_after);
  auto der = testing::SignRecorded(*is, *p);
  ASSERT_TRUE(der.ok());
  auto info = ParseCertificate(*der);
  auto root_info = ParseCertificate(root_der);
  EXPECT_GE(info->not_before, root.not_before);
}

// Key usage follows the subject key (RFC 8813 3 for EC, RFC 3279 2.3.1 for RSA), decided per
// certificate from the profile's key_usage.
TEST_F(IssuerTest, KeyUsageFollowsTheKeyType) {
  Bytes root_der;
  CaKey root = MakeRoot(KeyType::kEcP256, &root_der);
  auto ku_of = [&](const profiles::CertProfile& profile, KeyType type) -> Result<uint32_t> {
    CP_ASSIGN_OR_RETURN(Issuer is, Issuer::Create(profile, root));
    auto key = GenerateSoftKey(type);
    CP_ASSIGN_OR_RETURN(PreparedCert p, is.Prepare({*EncodeName(*ParseName("CN=x")),
                                                    *SpkiDer(key->get()),
                                                    {{profiles::SanType::kEmail, "x@example.org"}},
                                                    0}));
    CP_ASSIGN_OR_RETURN(Bytes der, testing::SignRecorded(is, p));
    const unsigned char* ptr = der.data();
    UniquePtr<X509> x(d2i_X509(nullptr, &ptr, static_cast<long>(der.size())));
    return X509_get_key_usage(x.get());
  };
  auto sign_and_encrypt = EndEntity();  // digitalSignature, keyEncipherment
  EXPECT_EQ(*ku_of(sign_and_encrypt, KeyType::kEcP256), uint32_t{KU_DIGITAL_SIGNATURE});
  EXPECT_EQ(*ku_of(sign_and_encrypt, KeyType::kRsa2048),
            uint32_t{KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT});
  auto key_management = EndEntity();
  key_management.key_usage = profiles::kKeyEncipherment | profiles::kKeyAgreement;
  key_management.extended_key_usage = {"1.3.6.1.5.5.7.3.4"};
  EXPECT_EQ(*ku_of(key_management, KeyType::kEcP256), uint32_t{KU_KEY_AGREEMENT});
  EXPECT_EQ(*ku_of(key_management, KeyType::kRsa2048), uint32_t{KU_KEY_ENCIPHERMENT});
  // A profile that leaves an EC key nothing to do refuses it, and says why.
  auto encrypt_only = EndEntity();
  encrypt_only.key_usage = profiles::kKeyEncipherment;
  encrypt_only.extended_key_usage = {"1.3.6.1.5.5.7.3.4"};
  auto ec = ku_of(encrypt_only, KeyType::kEcP256);
  ASSERT_FALSE(ec.ok());
  EXPECT_NE(ec.status().message().find("leaves an EC key no key usage"), std::string::npos)
      << ec.status().message();
  EXPECT_EQ(*ku_of(encrypt_only, KeyType::kRsa2048), uint32_t{KU_KEY_ENCIPHERMENT});
}

// Whatever SPKI reaches the issuer (a CSR, a card's key), explicit EC parameters never reach a
// certificate: the lint refuses it (e_ec_improper_curves).
TEST_F(IssuerTest, ExplicitEcParametersNeverReachACertificate) {
  Bytes root_der;
  CaKey root = MakeRoot(KeyType::kEcP256, &root_der);
  auto is = Issuer::Create(EndEntity(), root);
  auto key = GenerateSoftKey(KeyType::kEcP256);
  ASSERT_EQ(EVP_PKEY_set_utf8_string_param(key->get(), OSSL_PKEY_PARAM_EC_ENCODING, "explicit"), 1);
  unsigned char* out = nullptr;
  int len = i2d_PUBKEY(key->get(), &out);  // OpenSSL's encoder honours the explicit encoding
  const Bytes spki(out, out + len);
  OPENSSL_free(out);
  auto p = is->Prepare(
      {*EncodeName(*ParseName("CN=x")), spki, {{profiles::SanType::kEmail, "x@example.org"}}, 0});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("lint e_ec_improper_curves"), std::string::npos)
      << p.status().message();
}

TEST_F(IssuerTest, ValidityPast2049UsesGeneralizedTime) {
  Bytes root_der;
  CaKey root = MakeRoot(KeyType::kEcP256, &root_der);
  root.not_after = 0;
  auto profile = EndEntity();
  profile.validity_days = 365 * 30;
  auto is = Issuer::Create(profile, root);
  auto key = GenerateSoftKey(KeyType::kEcP256);
  auto p = is->Prepare({*EncodeName(*ParseName("CN=x")),
                        *SpkiDer(key->get()),
                        {{profiles::SanType::kEmail, "x@example.org"}},
                        0});
  ASSERT_TRUE(p.ok()) << p.status().message();
  auto der = testing::SignRecorded(*is, *p);
  ASSERT_TRUE(der.ok());
  const unsigned char* ptr = der->data();
  UniquePtr<X509> x(d2i_X509(nullptr, &ptr, static_cast<long>(der->size())));
  EXPECT_EQ(ASN1_STRING_type(X509_get0_notBefore(x.get())), V_ASN1_UTCTIME);
  EXPECT_EQ(ASN1_STRING_type(X509_get0_notAfter(x.get())), V_ASN1_GENERALIZEDTIME);
}

TEST_F(IssuerTest, SanNotAllowedByProfileIsRefused) {
  Bytes root_der;
  CaKey root = MakeRoot(KeyType::kEcP256, &root_der);
  auto profile = EndEntity();
  profile.san_types = {profiles::SanType::kEmail};
  auto is = Issuer::Create(profile, root);
  auto key = GenerateSoftKey(KeyType::kEcP256);
  auto p = is->Prepare({*EncodeName(*ParseName("CN=x")),
                        *SpkiDer(key->get()),
                        {{profiles::SanType::kDns, "evil.example"}},
                        0});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("does not allow dns"), std::string::npos);
}

TEST_F(IssuerTest, EmptySubjectMakesSanCritical) {
  Bytes root_der;
  CaKey root = MakeRoot(KeyType::kEcP256, &root_der);
  auto is = Issuer::Create(EndEntity(), root);
  auto key = GenerateSoftKey(KeyType::kEcP256);
  const Bytes empty_name = {0x30, 0x00};
  auto p = is->Prepare({empty_name,
                        *SpkiDer(key->get()),
                        {{profiles::SanType::kDns, "host.example.org"},
                         {profiles::SanType::kEmail, "x@example.org"}},
                        0});
  ASSERT_TRUE(p.ok()) << p.status().message();
  auto der = testing::SignRecorded(*is, *p);
  const unsigned char* ptr = der->data();
  UniquePtr<X509> x(d2i_X509(nullptr, &ptr, static_cast<long>(der->size())));
  int idx = X509_get_ext_by_NID(x.get(), NID_subject_alt_name, -1);
  ASSERT_GE(idx, 0);
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(x.get(), idx)), 1);
  // Without a SAN an empty subject is refused by lint.
  auto bad = is->Prepare({empty_name, *SpkiDer(key->get()), {}, 0});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("empty subject"), std::string::npos);
}

TEST_F(IssuerTest, LintRejectsASerialOverTwentyOctets) {
  Bytes root_der;
  CaKey root = MakeRoot(KeyType::kEcP256, &root_der);
  auto is = Issuer::Create(EndEntity(), root);
  auto key = GenerateSoftKey(KeyType::kEcP256);
  Serial s;
  s.len = 20;
  std::memset(s.bytes, 0xff, 20);  // top bit set: DER needs a 21st (0x00) octet
  auto p = is->PrepareWithSerial({*EncodeName(*ParseName("CN=x")), *SpkiDer(key->get()), {}, 0}, s);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("serial longer than 20 octets"), std::string::npos)
      << p.status().message();
}

TEST_F(IssuerTest, ProfilesThatContradictRfc5280AreRefused) {
  Bytes root_der;
  CaKey root = MakeRoot(KeyType::kEcP256, &root_der);
  auto p = EndEntity();
  p.key_usage |= profiles::kKeyCertSign;
  auto is = Issuer::Create(p, root);
  ASSERT_FALSE(is.ok());
  EXPECT_NE(is.status().message().find("keyCertSign requires a CA"), std::string::npos);
}

TEST_F(IssuerTest, SignatureFromTheWrongKeyIsCaught) {
  Bytes root_der;
  CaKey root = MakeRoot(KeyType::kEcP256, &root_der);
  ASSERT_TRUE(token_->GenerateKey("other", KeyType::kEcP256).ok());
  root.key_label = "other";  // the token signs with a key that is not the CA's
  auto is = Issuer::Create(EndEntity(), root);
  auto key = GenerateSoftKey(KeyType::kEcP256);
  auto p = is->Prepare({*EncodeName(*ParseName("CN=x")),
                        *SpkiDer(key->get()),
                        {{profiles::SanType::kEmail, "x@example.org"}},
                        0});
  ASSERT_TRUE(p.ok());
  auto der = testing::SignRecorded(*is, *p);
  ASSERT_FALSE(der.ok());
  EXPECT_EQ(der.status().kind(), ErrorKind::kHsm);
}

TEST_F(IssuerTest, CsrFromTokenKeyVerifiesWithOpenSsl) {
  auto spki = token_->GenerateKey("sub", KeyType::kEcP384);
  ASSERT_TRUE(spki.ok());
  auto subject = EncodeName(*ParseName("CN=Sub,O=CertPress,C=DK"));
  auto csr = BuildCsr(*token_, "sub", KeyType::kEcP384, *subject, *spki);
  ASSERT_TRUE(csr.ok()) << csr.status().message();
  const unsigned char* ptr = csr->data();
  UniquePtr<X509_REQ> req(d2i_X509_REQ(nullptr, &ptr, static_cast<long>(csr->size())));
  ASSERT_TRUE(req);
  EXPECT_EQ(X509_REQ_verify(req.get(), X509_REQ_get0_pubkey(req.get())), 1);
}

}  // namespace
}  // namespace certpress
