// Key policy and PKCS#10 parsing (signer/csr.h), with requests made by OpenSSL itself.
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <cstring>
#include <optional>

#include "signer/csr.h"
#include "signer/der.h"
#include "signer/ec_verify.h"
#include "signer/name.h"

namespace certpress {
namespace {

UniquePtr<EVP_PKEY> Ec(const char* curve) {
  return UniquePtr<EVP_PKEY>(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
}

UniquePtr<EVP_PKEY> Rsa(int bits, unsigned long e) {
  UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY_keygen_init(ctx.get());
  EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), bits);
  UniquePtr<BIGNUM> bn(BN_new());
  BN_set_word(bn.get(), e);
  EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx.get(), bn.get());
  EVP_PKEY* key = nullptr;
  EVP_PKEY_keygen(ctx.get(), &key);
  return UniquePtr<EVP_PKEY>(key);
}

// MakeCsr builds a request for |subject_key| signed by |signing_key| (normally the same).
Bytes MakeCsr(EVP_PKEY* subject_key, EVP_PKEY* signing_key, bool with_ku = false) {
  UniquePtr<X509_REQ> req(X509_REQ_new());
  X509_REQ_set_version(req.get(), 0);
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("host.example.org"), -1, -1, 0);
  X509_REQ_set_pubkey(req.get(), subject_key);
  if (with_ku) {
    UniquePtr<STACK_OF(X509_EXTENSION)> exts(sk_X509_EXTENSION_new_null());
    X509_EXTENSION* ku = X509V3_EXT_conf_nid(nullptr, nullptr, NID_key_usage, "keyCertSign");
    sk_X509_EXTENSION_push(exts.get(), ku);
    X509_REQ_add_extensions(req.get(), exts.get());  // the stack's deleter frees |ku|
  }
  X509_REQ_sign(req.get(), signing_key, EVP_sha256());
  unsigned char* out = nullptr;
  int len = i2d_X509_REQ(req.get(), &out);
  Bytes der(out, out + len);
  OPENSSL_free(out);
  return der;
}

TEST(KeyPolicyTest, AcceptsTheNamedCurvesAndRsaSizes) {
  EXPECT_EQ(*CheckKeyPolicy(Ec("P-256").get(), {}), KeyType::kEcP256);
  EXPECT_EQ(*CheckKeyPolicy(Ec("P-384").get(), {}), KeyType::kEcP384);
  EXPECT_EQ(*CheckKeyPolicy(Rsa(2048, 65537).get(), {}), KeyType::kRsa2048);
}

TEST(KeyPolicyTest, RefusesWeakOrOddKeys) {
  auto k1 = CheckKeyPolicy(Ec("secp256k1").get(), {});
  ASSERT_FALSE(k1.ok());
  EXPECT_NE(k1.status().message().find("secp256k1 is not allowed"), std::string::npos);
  auto r1024 = CheckKeyPolicy(Rsa(1024, 65537).get(), {});
  ASSERT_FALSE(r1024.ok());
  EXPECT_NE(r1024.status().message().find("1024 bits is not allowed"), std::string::npos);
  auto e3 = CheckKeyPolicy(Rsa(2048, 3).get(), {});
  ASSERT_FALSE(e3.ok());
  EXPECT_NE(e3.status().message().find("exponent"), std::string::npos);
  auto narrowed = CheckKeyPolicy(Rsa(2048, 65537).get(), {"ec-p256"});
  ASSERT_FALSE(narrowed.ok());
  EXPECT_NE(narrowed.status().message().find("allowed: ec-p256"), std::string::npos);
}

TEST(CsrTest, GoodRequestParsesWithItsKeyAndName) {
  auto key = Ec("P-256");
  auto csr = ParseCsr(MakeCsr(key.get(), key.get()));
  ASSERT_TRUE(csr.ok()) << csr.status().message();
  EXPECT_EQ(csr->common_name, "host.example.org");
  EXPECT_EQ(csr->subject, "CN=host.example.org");
  EXPECT_EQ(*SpkiDer(key.get()), csr->spki);
  EXPECT_TRUE(csr->other_extensions.empty());
}

// EcWith makes an EC key whose SubjectPublicKeyInfo OpenSSL writes with |encoding|
// ("explicit" or "named_curve") parameters and a |format| ("compressed", "uncompressed")
// point.
UniquePtr<EVP_PKEY> EcWith(const char* curve, const char* encoding, const char* format) {
  UniquePtr<EVP_PKEY> key = Ec(curve);
  EXPECT_EQ(EVP_PKEY_set_utf8_string_param(key.get(), OSSL_PKEY_PARAM_EC_ENCODING, encoding), 1);
  EXPECT_EQ(
      EVP_PKEY_set_utf8_string_param(key.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, format),
      1);
  return key;
}

// OpenSslSpki is the SubjectPublicKeyInfo as OpenSSL writes it (our SpkiDer always writes a
// named curve and an uncompressed point).
Bytes OpenSslSpki(EVP_PKEY* key) {
  unsigned char* out = nullptr;
  int len = i2d_PUBKEY(key, &out);
  Bytes der(out, out + len);
  OPENSSL_free(out);
  return der;
}

// RFC 5480 2.1.1: specifiedCurve MUST NOT be used; 2.2: the uncompressed form is the one every
// verifier reads. OpenSSL accepts both (and matches explicit P-256 parameters to the named
// curve), so they would be copied into certificates: they are refused, and say why.
TEST(CsrTest, ExplicitCurveParametersAndCompressedPointsAreRefused) {
  auto explicit_key = EcWith("P-256", "explicit", "uncompressed");
  ASSERT_TRUE(explicit_key);
  auto spki = std::optional<Bytes>(OpenSslSpki(explicit_key.get()));
  // The algorithm's parameters are a SEQUENCE (specifiedCurve), not an OID.
  EXPECT_EQ(AsString(*spki).find(std::string("\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07", 10)),
            std::string::npos);
  auto e = ParseCsr(MakeCsr(explicit_key.get(), explicit_key.get()));
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("explicit curve parameters"), std::string::npos)
      << e.status().message();
  EXPECT_FALSE(CheckCsr(MakeCsr(explicit_key.get(), explicit_key.get())).ok());
  EXPECT_FALSE(CheckSpkiForm(*spki).ok());

  auto compressed = EcWith("P-256", "named_curve", "compressed");
  ASSERT_TRUE(compressed);
  auto c = ParseCsr(MakeCsr(compressed.get(), compressed.get()));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("compressed"), std::string::npos) << c.status().message();

  auto plain = EcWith("P-256", "named_curve", "uncompressed");
  auto ok = ParseCsr(MakeCsr(plain.get(), plain.get()));
  EXPECT_TRUE(ok.ok()) << ok.status().message();
}

TEST(CsrTest, ProofOfPossessionIsChecked) {
  auto key = Ec("P-256"), other = Ec("P-256");
  auto csr = ParseCsr(MakeCsr(key.get(), other.get()));
  ASSERT_FALSE(csr.ok());
  EXPECT_NE(csr.status().message().find("no proof of possession"), std::string::npos);
}

TEST(CsrTest, RequestedExtensionsAreListed) {
  auto key = Ec("P-256");
  auto csr = ParseCsr(MakeCsr(key.get(), key.get(), /*with_ku=*/true));
  ASSERT_TRUE(csr.ok());
  ASSERT_EQ(csr->other_extensions.size(), 1u);
  EXPECT_EQ(csr->other_extensions[0], "X509v3 Key Usage");
}

TEST(CsrTest, PointOffTheCurveIsRefused) {
  // A P-256 SubjectPublicKeyInfo whose point (x, y) = (1, 1) is not on the curve.
  der::Writer spki;
  size_t s = spki.Begin(der::kSequence);
  size_t a = spki.Begin(der::kSequence);
  spki.OidContent(*der::EncodeOid("1.2.840.10045.2.1"));
  spki.OidContent(*der::EncodeOid("1.2.840.10045.3.1.7"));
  spki.End(a);
  Bytes point(65, 0);
  point[0] = 0x04;
  point[32] = 1;
  point[64] = 1;
  spki.BitString(point);
  spki.End(s);
  EXPECT_FALSE(ParseSpki(spki.bytes()).ok());
  // The same key inside a request (signed by some other key: it never gets that far).
  auto signer = Ec("P-256");
  der::Writer info;
  size_t i = info.Begin(der::kSequence);
  info.SmallInteger(0);
  info.Raw(*EncodeName(*ParseName("CN=x")));
  info.Raw(spki.bytes());
  info.Primitive(der::ContextConstructed(0), {});
  info.End(i);
  UniquePtr<EVP_MD_CTX> md(EVP_MD_CTX_new());
  size_t siglen = 0;
  EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, signer.get());
  EVP_DigestSign(md.get(), nullptr, &siglen, info.bytes().data(), info.bytes().size());
  Bytes sig(siglen);
  EVP_DigestSign(md.get(), sig.data(), &siglen, info.bytes().data(), info.bytes().size());
  sig.resize(siglen);
  der::Writer req;
  size_t r = req.Begin(der::kSequence);
  req.Raw(info.bytes());
  req.Raw(SignatureAlgorithmDer(KeyType::kEcP256));
  req.BitString(sig);
  req.End(r);
  auto csr = ParseCsr(req.bytes());
  ASSERT_FALSE(csr.ok());
  EXPECT_EQ(csr.status().kind(), ErrorKind::kInvalidInput);
  EXPECT_NE(csr.status().message().find("not a valid point on P-256"), std::string::npos)
      << csr.status().message();
  EXPECT_FALSE(CheckCsr(req.bytes()).ok());
}

// SignInfo wraps a CertificationRequestInfo into a request signed by |key| (ECDSA-SHA256).
Bytes SignInfo(ByteSpan info, EVP_PKEY* key) {
  UniquePtr<EVP_MD_CTX> md(EVP_MD_CTX_new());
  size_t siglen = 0;
  EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key);
  EVP_DigestSign(md.get(), nullptr, &siglen, info.data(), info.size());
  Bytes sig(siglen);
  EVP_DigestSign(md.get(), sig.data(), &siglen, info.data(), info.size());
  sig.resize(siglen);
  der::Writer req;
  size_t r = req.Begin(der::kSequence);
  req.Raw(info);
  req.Raw(SignatureAlgorithmDer(KeyType::kEcP256));
  req.BitString(sig);
  req.End(r);
  return req.Take();
}

// Found by csr_fuzz (tests/fuzz/corpus/csr_fuzz/attribute-value-not-der): an attribute other
// than extensionRequest is skipped, and its value was never read; a properly signed request
// whose challengePassword value is not DER was accepted, though OpenSSL cannot read it.
TEST(CsrTest, AttributeValuesMustBeDerEvenWhenSkipped) {
  auto key = Ec("P-256");
  auto info_with = [&](ByteSpan value_set_content) {
    der::Writer info;
    size_t i = info.Begin(der::kSequence);
    info.SmallInteger(0);
    info.Raw(*EncodeName(*ParseName("CN=x")));
    info.Raw(*SpkiDer(key.get()));
    size_t attrs = info.Begin(der::ContextConstructed(0));
    size_t attr = info.Begin(der::kSequence);
    info.OidContent(*der::EncodeOid("1.2.840.113549.1.9.7"));  // challengePassword
    size_t set = info.Begin(der::kSet);
    info.Raw(value_set_content);
    info.End(set);
    info.End(attr);
    info.End(attrs);
    info.End(i);
    return info.Take();
  };
  const uint8_t good_value[] = {0x0c, 0x02, 'p', 'w'};  // UTF8String "pw"
  auto good = ParseCsr(SignInfo(info_with(good_value), key.get()));
  ASSERT_TRUE(good.ok()) << good.status().message();
  const uint8_t cut_off[] = {0x06, 0x05, 0x2a};  // an OID claiming 5 octets, holding 1
  auto bad = ParseCsr(SignInfo(info_with(cut_off), key.get()));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().kind(), ErrorKind::kInvalidInput);
}

// The issuance-time check agrees with the full parse: same key, same verdicts.
TEST(CsrTest, CheckCsrAgreesWithParseCsr) {
  for (const char* curve : {"P-256", "P-384"}) {
    auto key = Ec(curve);
    Bytes good = MakeCsr(key.get(), key.get());
    auto parsed = ParseCsr(good);
    auto checked = CheckCsr(good);
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
    ASSERT_TRUE(checked.ok()) << checked.status().message();
    EXPECT_EQ(checked->spki, parsed->spki);
    EXPECT_EQ(checked->key_type, parsed->key_type);
    auto other = Ec(curve);
    auto forged = CheckCsr(MakeCsr(key.get(), other.get()));
    ASSERT_FALSE(forged.ok());
    EXPECT_NE(forged.status().message().find("proof of possession"), std::string::npos);
  }
  auto p384 = Ec("P-384");
  auto refused = CheckCsr(MakeCsr(p384.get(), p384.get()), {"ec-p256"});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("not allowed"), std::string::npos);
}

TEST(CsrTest, GarbageIsNotARequest) {
  const std::string junk =
      "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n";
  auto csr = ParseCsr(AsBytes(junk));
  ASSERT_FALSE(csr.ok());
  EXPECT_NE(csr.status().message().find("not a PKCS#10 request"), std::string::npos);
}

// Our direct EC encoders must say exactly what OpenSSL's encoders say (the SPKI byte for
// byte) and produce a PKCS#8 that OpenSSL reads back as the same key pair.
TEST(KeyEncodingTest, EcSpkiAndPkcs8MatchOpenSsl) {
  for (KeyType type : {KeyType::kEcP256, KeyType::kEcP384, KeyType::kRsa2048}) {
    SCOPED_TRACE(std::string(KeyTypeName(type)));
    auto key = GenerateSoftKey(type);
    ASSERT_TRUE(key.ok()) << key.status().message();
    auto spki = SpkiDer(key->get());
    ASSERT_TRUE(spki.ok());
    int len = i2d_PUBKEY(key->get(), nullptr);
    Bytes theirs(static_cast<size_t>(len));
    unsigned char* w = theirs.data();
    i2d_PUBKEY(key->get(), &w);
    EXPECT_EQ(*spki, theirs);

    auto pkcs8 = Pkcs8Der(key->get());
    ASSERT_TRUE(pkcs8.ok());
    const unsigned char* p = reinterpret_cast<const unsigned char*>(pkcs8->view().data());
    UniquePtr<PKCS8_PRIV_KEY_INFO> info(
        d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(pkcs8->size())));
    ASSERT_TRUE(info);
    EXPECT_EQ(p, reinterpret_cast<const unsigned char*>(pkcs8->view().data()) + pkcs8->size());
    UniquePtr<EVP_PKEY> back(EVP_PKCS82PKEY(info.get()));
    ASSERT_TRUE(back);
    EXPECT_EQ(EVP_PKEY_eq(back.get(), key->get()), 1);
    // The private halves agree too: a signature by the decoded key verifies with the original.
    const unsigned char msg[] = "certpress";
    UniquePtr<EVP_MD_CTX> md(EVP_MD_CTX_new());
    size_t siglen = 0;
    ASSERT_EQ(EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, back.get()), 1);
    ASSERT_EQ(EVP_DigestSign(md.get(), nullptr, &siglen, msg, sizeof msg), 1);
    Bytes sig(siglen);
    ASSERT_EQ(EVP_DigestSign(md.get(), sig.data(), &siglen, msg, sizeof msg), 1);
    UniquePtr<EVP_MD_CTX> vmd(EVP_MD_CTX_new());
    ASSERT_EQ(EVP_DigestVerifyInit(vmd.get(), nullptr, EVP_sha256(), nullptr, key->get()), 1);
    EXPECT_EQ(EVP_DigestVerify(vmd.get(), sig.data(), siglen, msg, sizeof msg), 1);
  }
}

// The shared-group EC key: partial validation (SP 800-56A rev3 5.6.2.3.4) and ECDSA checks.
TEST(EcPublicKeyTest, ValidatesPointsAndVerifiesSignatures) {
  auto key = Ec("P-256");
  uint8_t point[65];
  size_t plen = 0;
  ASSERT_EQ(EVP_PKEY_get_octet_string_param(key.get(), OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point,
                                            &plen),
            1);
  auto pub = internal::EcPublicKey::FromPoint("P-256", ByteSpan(point, plen));
  ASSERT_TRUE(pub.ok()) << pub.status().message();
  // The compressed form of the same point is accepted too (SEC 1 2.3.3).
  uint8_t compressed[33];
  compressed[0] = static_cast<uint8_t>(0x02 | (point[64] & 1));
  std::memcpy(compressed + 1, point + 1, 32);
  EXPECT_TRUE(internal::EcPublicKey::FromPoint("P-256", ByteSpan(compressed, 33)).ok());
  // The point at infinity, a point off the curve and a point for the other curve are not.
  const uint8_t infinity[1] = {0x00};
  EXPECT_FALSE(internal::EcPublicKey::FromPoint("P-256", ByteSpan(infinity, 1)).ok());
  uint8_t off[65];
  std::memcpy(off, point, 65);
  off[64] ^= 1;
  EXPECT_FALSE(internal::EcPublicKey::FromPoint("P-256", ByteSpan(off, 65)).ok());
  EXPECT_FALSE(internal::EcPublicKey::FromPoint("P-384", ByteSpan(point, plen)).ok());

  const std::string msg = "tbs";
  uint8_t digest[32];
  SHA256(reinterpret_cast<const uint8_t*>(msg.data()), msg.size(), digest);
  UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new(key.get(), nullptr));
  ASSERT_EQ(EVP_PKEY_sign_init(ctx.get()), 1);
  size_t siglen = 0;
  ASSERT_EQ(EVP_PKEY_sign(ctx.get(), nullptr, &siglen, digest, sizeof digest), 1);
  Bytes sig(siglen);
  ASSERT_EQ(EVP_PKEY_sign(ctx.get(), sig.data(), &siglen, digest, sizeof digest), 1);
  sig.resize(siglen);
  EXPECT_TRUE(pub->VerifyDigest(ByteSpan(digest, 32), sig));
  digest[0] ^= 1;
  EXPECT_FALSE(pub->VerifyDigest(ByteSpan(digest, 32), sig));
}

}  // namespace
}  // namespace certpress
