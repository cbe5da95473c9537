// piv_test.cc: the PIV commands (kgs/piv.h) against scripted cards: mutual authentication,
// generated public keys checked (another key, a point off the curve, a wrong key size), an
// attestation that does not hold, a card that accepts any PIN, signatures verified against
// certificates, certificates compressed and read back, the CHUID.
#include "kgs/piv.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <map>

#include "kgs/tlv.h"
#include "signer/key_type.h"
#include "tests/support/scripted_card.h"

namespace certpress::kgs {
namespace {

using testing::ScriptedCard;

Bytes EcPoint(EVP_PKEY* key) {
  Bytes p(200);
  size_t n = 0;
  EXPECT_EQ(EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, p.data(), p.size(), &n),
            1);
  p.resize(n);
  return p;
}

Bytes GeneratedResponse(const Bytes& point) {
  return MakeTlv(0x7F49, MakeTlv(0x86, point));
}

TEST(PivGenerateTest, ReturnsTheCardsKeyAsSpki) {
  auto key = GenerateSoftKey(KeyType::kEcP256);
  ASSERT_TRUE(key.ok());
  ScriptedCard card({ScriptedCard::Data(GeneratedResponse(EcPoint(key->get())))});
  ApduChannel ch(card);
  PivCard piv(ch);
  auto spki = piv.GenerateKey(0x9A, KeyType::kEcP256);
  ASSERT_TRUE(spki.ok()) << spki.status().message();
  EXPECT_EQ(*spki, *SpkiDer(key->get()));
  // 00 47 00 9A 05 AC 03 80 01 11 00: P-256 (SP 800-78-4 Table 6-2) in slot 9A.
  EXPECT_EQ(card.sent[0],
            (Bytes{0x00, 0x47, 0x00, 0x9A, 0x05, 0xAC, 0x03, 0x80, 0x01, 0x11, 0x00}));
}

TEST(PivGenerateTest, RefusesAPointOffTheCurve) {
  auto key = GenerateSoftKey(KeyType::kEcP256);
  ASSERT_TRUE(key.ok());
  Bytes point = EcPoint(key->get());
  point.back() ^= 0x01;  // y no longer matches x
  ScriptedCard card({ScriptedCard::Data(GeneratedResponse(point))});
  ApduChannel ch(card);
  PivCard piv(ch);
  auto spki = piv.GenerateKey(0x9A, KeyType::kEcP256);
  ASSERT_FALSE(spki.ok());
  EXPECT_EQ(spki.status().kind(), ErrorKind::kCard);
}

TEST(PivGenerateTest, RefusesAKeyOfAnotherType) {
  auto key = GenerateSoftKey(KeyType::kEcP384);
  ASSERT_TRUE(key.ok());
  ScriptedCard card({ScriptedCard::Data(GeneratedResponse(EcPoint(key->get())))});
  ApduChannel ch(card);
  PivCard piv(ch);
  EXPECT_FALSE(piv.GenerateKey(0x9A, KeyType::kEcP256).ok());
}

TEST(PivGenerateTest, RefusesASmallRsaKey) {
  UniquePtr<EVP_PKEY> rsa(EVP_RSA_gen(1024));
  ASSERT_TRUE(rsa);
  BIGNUM *n = nullptr, *e = nullptr;
  EVP_PKEY_get_bn_param(rsa.get(), OSSL_PKEY_PARAM_RSA_N, &n);
  EVP_PKEY_get_bn_param(rsa.get(), OSSL_PKEY_PARAM_RSA_E, &e);
  Bytes nb(BN_num_bytes(n)), eb(BN_num_bytes(e));
  BN_bn2bin(n, nb.data());
  BN_bn2bin(e, eb.data());
  BN_free(n);
  BN_free(e);
  Bytes inner = MakeTlv(0x81, nb);
  AppendTlv(inner, 0x82, eb);
  ScriptedCard card({ScriptedCard::Data(MakeTlv(0x7F49, inner))});
  ApduChannel ch(card);
  PivCard piv(ch);
  auto spki = piv.GenerateKey(0x9A, KeyType::kRsa2048);
  EXPECT_FALSE(spki.ok());
}

TEST(PivGenerateTest, TruncatedResponseIsAnError) {
  ScriptedCard card({ScriptedCard::Data({0x7F, 0x49, 0x43, 0x86, 0x41, 0x04})});
  ApduChannel ch(card);
  PivCard piv(ch);
  EXPECT_FALSE(piv.GenerateKey(0x9A, KeyType::kEcP256).ok());
}

// A card model of the management key's mutual authentication (SP 800-73-4 Part 2 A.1 with
// the Yubico 9B algorithms): witness out, decrypted witness and challenge in, encrypted
// challenge out.
class MgmCard {
 public:
  MgmCard(PivAlg alg, Bytes key, bool honest = true)
      : alg_(alg), key_(std::move(key)), honest_(honest) {}

  kgs::RawResponse Handle(const Bytes& c) {
    if (c[1] != 0x87 || c[3] != 0x9B) return ScriptedCard::Data({}, 0x6D00);
    if (c[2] != static_cast<uint8_t>(alg_)) return ScriptedCard::Data({}, 0x6A80);
    Bytes data(c.begin() + 5, c.begin() + 5 + c[4]);
    auto dyn = Unwrap(data, 0x7C, "dyn");
    if (!dyn.ok()) return ScriptedCard::Data({}, 0x6A80);
    auto w = FindTlv(*dyn, 0x80);
    auto ch = FindTlv(*dyn, 0x81);
    const size_t bs = alg_ == PivAlg::k3Des ? 8 : 16;
    if (w.ok() && *w && (*w)->empty()) {
      witness_.resize(bs);
      RAND_bytes(witness_.data(), static_cast<int>(bs));
      return ScriptedCard::Data(MakeTlv(0x7C, MakeTlv(0x80, Crypt(witness_, true))));
    }
    if (!w.ok() || !*w || !ch.ok() || !*ch) return ScriptedCard::Data({}, 0x6A80);
    if (Bytes((*w)->begin(), (*w)->end()) != witness_) return ScriptedCard::Data({}, 0x6982);
    Bytes answer = Crypt(Bytes((*ch)->begin(), (*ch)->end()), true);
    if (!honest_) answer[0] ^= 1;
    return ScriptedCard::Data(MakeTlv(0x7C, MakeTlv(0x82, answer)));
  }

 private:
  Bytes Crypt(const Bytes& in, bool enc) {
    const EVP_CIPHER* c = alg_ == PivAlg::k3Des     ? EVP_des_ede3_ecb()
                          : alg_ == PivAlg::kAes128 ? EVP_aes_128_ecb()
                          : alg_ == PivAlg::kAes192 ? EVP_aes_192_ecb()
                                                    : EVP_aes_256_ecb();
    UniquePtr<EVP_CIPHER_CTX> ctx(EVP_CIPHER_CTX_new());
    Bytes out(in.size() + 32);
    int n = 0, m = 0;
    EVP_CipherInit_ex(ctx.get(), c, nullptr, key_.data(), nullptr, enc);
    EVP_CIPHER_CTX_set_padding(ctx.get(), 0);
    EVP_CipherUpdate(ctx.get(), out.data(), &n, in.data(), static_cast<int>(in.size()));
    EVP_CipherFinal_ex(ctx.get(), out.data() + n, &m);
    out.resize(n + m);
    return out;
  }

  PivAlg alg_;
  Bytes key_;
  bool honest_;
  Bytes witness_;
};

Bytes KeyOf(size_t n, uint8_t seed) {
  Bytes k(n);
  for (size_t i = 0; i < n; ++i) k[i] = static_cast<uint8_t>(seed + i * 7);
  return k;
}

TEST(PivAuthenticateTest, MutualAuthenticationWithEachAlgorithm) {
  for (PivAlg alg : {PivAlg::k3Des, PivAlg::kAes128, PivAlg::kAes192, PivAlg::kAes256}) {
    const Bytes key = KeyOf(ManagementKeyLength(alg), 3);
    MgmCard model(alg, key);
    ScriptedCard card([&](const Bytes& c) { return model.Handle(c); });
    ApduChannel ch(card);
    PivCard piv(ch);
    Status st = piv.Authenticate(alg, key);
    EXPECT_TRUE(st.ok()) << static_cast<int>(alg) << ": " << st.message();
    EXPECT_EQ(card.sent.size(), 2u);
  }
}

TEST(PivAuthenticateTest, AWrongKeyIsRefused) {
  MgmCard model(PivAlg::kAes256, KeyOf(32, 3));
  ScriptedCard card([&](const Bytes& c) { return model.Handle(c); });
  ApduChannel ch(card);
  PivCard piv(ch);
  Status st = piv.Authenticate(PivAlg::kAes256, KeyOf(32, 4));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.kind(), ErrorKind::kLoginRefused);
}

TEST(PivAuthenticateTest, ACardThatCannotAnswerOurChallengeIsRefused) {
  MgmCard model(PivAlg::k3Des, KeyOf(24, 1), /*honest=*/false);
  ScriptedCard card([&](const Bytes& c) { return model.Handle(c); });
  ApduChannel ch(card);
  PivCard piv(ch);
  Status st = piv.Authenticate(PivAlg::k3Des, KeyOf(24, 1));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("did not prove"), std::string::npos);
}

// A PIN model: |tries| left of |full|; |accept_any| makes it a broken card.
struct PinModel {
  std::string pin = "12345678";
  int full = 3, left = 3;
  bool verified = false;
  bool accept_any = false;
  bool counts = true;

  kgs::RawResponse Handle(const Bytes& c) {
    if (c[1] == 0xF7) {  // GET METADATA 80: retries total, remaining
      return ScriptedCard::Data(
          MakeTlv(0x06, Bytes{static_cast<uint8_t>(full), static_cast<uint8_t>(left)}));
    }
    if (c[1] != 0x20) return ScriptedCard::Data({}, 0x6D00);
    if (c.size() == 4) {
      return verified ? ScriptedCard::Data({}) : ScriptedCard::Data({}, 0x63C0 | left);
    }
    std::string got(c.begin() + 5, c.begin() + 13);
    while (!got.empty() && static_cast<uint8_t>(got.back()) == 0xFF) got.pop_back();
    if (accept_any || got == pin) {
      left = full;
      verified = true;
      return ScriptedCard::Data({});
    }
    verified = false;
    if (counts) --left;
    return ScriptedCard::Data({}, 0x63C0 | left);
  }
};

TEST(PivPinTest, WrongPinLowersTheCounterAndTheRightOneRestoresIt) {
  PinModel model;
  ScriptedCard card([&](const Bytes& c) { return model.Handle(c); });
  ApduChannel ch(card);
  PivCard piv(ch);
  Status st = CheckPinCounter(piv, SecureString(std::string("12345678")), 8, 3);
  EXPECT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(model.left, 3);
}

TEST(PivPinTest, ACardThatAcceptsAnyPinFails) {
  PinModel model;
  model.accept_any = true;
  ScriptedCard card([&](const Bytes& c) { return model.Handle(c); });
  ApduChannel ch(card);
  PivCard piv(ch);
  Status st = CheckPinCounter(piv, SecureString(std::string("12345678")), 8, 3);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("accepted a wrong PIN"), std::string::npos);
}

TEST(PivPinTest, ACardWhoseCounterDoesNotDropFails) {
  PinModel model;
  model.counts = false;
  ScriptedCard card([&](const Bytes& c) { return model.Handle(c); });
  ApduChannel ch(card);
  PivCard piv(ch);
  Status st = CheckPinCounter(piv, SecureString(std::string("12345678")), 8, 3);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("expected 2"), std::string::npos);
}

TEST(PivPinTest, PinIsPaddedAndNeverTooLong) {
  ScriptedCard card([](const Bytes&) { return ScriptedCard::Data({}); });
  ApduChannel ch(card);
  PivCard piv(ch);
  ASSERT_TRUE(piv.Verify(kPinRef, SecureString(std::string("123456"))).ok());
  EXPECT_EQ(card.sent[0],
            (Bytes{0x00, 0x20, 0x00, 0x80, 0x08, '1', '2', '3', '4', '5', '6', 0xFF, 0xFF}));
  EXPECT_FALSE(piv.Verify(kPinRef, SecureString(std::string("123456789"))).ok());
  EXPECT_FALSE(piv.Verify(kPinRef, SecureString(std::string("12345"))).ok());
}

TEST(RandomDigitsTest, DigitsOnlyAndTheRightLength) {
  for (int n : {6, 7, 8}) {
    auto d = RandomDigits(n);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(static_cast<int>(d->size()), n);
    for (char c : d->view()) EXPECT_TRUE(c >= '0' && c <= '9');
  }
}

// Certificates for the attestation tests: a root, an intermediate (the card's F9 key) and the
// attestation of a key, made with OpenSSL directly.
UniquePtr<X509> MakeCert(EVP_PKEY* subject_key, const char* cn, X509* issuer, EVP_PKEY* issuer_key,
                         bool ca) {
  UniquePtr<X509> x(X509_new());
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 7);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 3600 * 24);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509_set_issuer_name(x.get(),
                       issuer ? X509_get_subject_name(issuer) : X509_get_subject_name(x.get()));
  X509_set_pubkey(x.get(), subject_key);
  if (ca) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : x.get(), x.get(), nullptr, nullptr, 0);
    X509_EXTENSION* bc =
        X509V3_EXT_conf_nid(nullptr, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(x.get(), bc, -1);
    X509_EXTENSION_free(bc);
    X509_EXTENSION* ku = X509V3_EXT_conf_nid(nullptr, &ctx, NID_key_usage, "critical,keyCertSign");
    X509_add_ext(x.get(), ku, -1);
    X509_EXTENSION_free(ku);
  }
  X509_sign(x.get(), issuer_key, EVP_sha256());
  return x;
}

Bytes Der(X509* x) {
  unsigned char* p = nullptr;
  int n = i2d_X509(x, &p);
  Bytes out(p, p + n);
  OPENSSL_free(p);
  return out;
}

std::string Pem(X509* x) {
  UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), x);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, n);
}

struct AttestationFixture {
  UniquePtr<EVP_PKEY> root_key = std::move(GenerateSoftKey(KeyType::kEcP256).value());
  UniquePtr<EVP_PKEY> f9_key = std::move(GenerateSoftKey(KeyType::kEcP256).value());
  UniquePtr<EVP_PKEY> card_key = std::move(GenerateSoftKey(KeyType::kEcP256).value());
  UniquePtr<X509> root =
      MakeCert(root_key.get(), "Attestation Root", nullptr, root_key.get(), true);
  UniquePtr<X509> f9 = MakeCert(f9_key.get(), "Card F9", root.get(), root_key.get(), true);
};

TEST(PivAttestationTest, AKeyAttestedByTheCardChainingToTheRootVerifies) {
  AttestationFixture f;
  auto att = MakeCert(f.card_key.get(), "Slot 9a", f.f9.get(), f.f9_key.get(), false);
  Status st = VerifyAttestation(Der(att.get()), Der(f.f9.get()), Pem(f.root.get()),
                                *SpkiDer(f.card_key.get()));
  EXPECT_TRUE(st.ok()) << st.message();
}

TEST(PivAttestationTest, ACardReturningAnotherPublicKeyIsCaught) {
  AttestationFixture f;
  auto att = MakeCert(f.card_key.get(), "Slot 9a", f.f9.get(), f.f9_key.get(), false);
  auto other = GenerateSoftKey(KeyType::kEcP256);
  Status st =
      VerifyAttestation(Der(att.get()), Der(f.f9.get()), Pem(f.root.get()), *SpkiDer(other->get()));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("another key"), std::string::npos);
}

TEST(PivAttestationTest, AnAttestationNotSignedByTheCardsKeyIsRefused) {
  AttestationFixture f;
  auto forger = GenerateSoftKey(KeyType::kEcP256);
  auto att = MakeCert(f.card_key.get(), "Slot 9a", f.f9.get(), forger->get(), false);
  Status st = VerifyAttestation(Der(att.get()), Der(f.f9.get()), Pem(f.root.get()),
                                *SpkiDer(f.card_key.get()));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("not signed by the card's attestation key"), std::string::npos);
}

TEST(PivAttestationTest, ACardKeyFromAnotherRootIsRefused) {
  AttestationFixture f;
  AttestationFixture other;
  auto att = MakeCert(f.card_key.get(), "Slot 9a", f.f9.get(), f.f9_key.get(), false);
  Status st = VerifyAttestation(Der(att.get()), Der(f.f9.get()), Pem(other.root.get()),
                                *SpkiDer(f.card_key.get()));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("does not chain"), std::string::npos);
}

// A data object store: PUT DATA and GET DATA of SP 800-73-4 Part 2 3.1.2 / 3.3.2.
struct ObjectModel {
  std::map<Bytes, Bytes> objects;
  Bytes pending;  // a chained command's data so far

  kgs::RawResponse Handle(const Bytes& c) {
    Bytes data(c.begin() + 5, c.begin() + 5 + c[4]);
    if (c[0] & 0x10) {
      pending.insert(pending.end(), data.begin(), data.end());
      return ScriptedCard::Data({});
    }
    pending.insert(pending.end(), data.begin(), data.end());
    Bytes all;
    all.swap(pending);
    auto tag = ExpectTlv(all, 0x5C, "tag");
    if (!tag.ok()) return ScriptedCard::Data({}, 0x6A80);
    Bytes key(tag->begin(), tag->end());
    if (c[1] == 0xDB) {
      auto v = FindTlv(all, 0x53);
      objects[key] = MakeTlv(0x53, **v);
      return ScriptedCard::Data({});
    }
    auto it = objects.find(key);
    if (it == objects.end()) return ScriptedCard::Data({}, 0x6A82);
    // Answer in 256-byte pieces through 61xx.
    answer = it->second;
    return Next();
  }
  kgs::RawResponse Next() {
    const size_t n = std::min<size_t>(256, answer.size());
    Bytes part(answer.begin(), answer.begin() + n);
    answer.erase(answer.begin(), answer.begin() + n);
    const uint16_t sw = answer.empty() ? 0x9000 : 0x6100 | std::min<size_t>(answer.size(), 255);
    return ScriptedCard::Data(part, sw);
  }
  Bytes answer;
};

TEST(PivCertificateTest, WrittenPlainOrCompressedAndReadBack) {
  ObjectModel model;
  ScriptedCard card([&](const Bytes& c) {
    if (c[1] == 0xC0) return model.Next();
    return model.Handle(c);
  });
  ApduChannel ch(card);
  PivCard piv(ch);
  Bytes cert(1500);
  for (size_t i = 0; i < cert.size(); ++i) cert[i] = static_cast<uint8_t>(i % 13);
  ASSERT_TRUE(piv.PutCertificate(0x5FC105, cert, false).ok());
  auto back = piv.ReadCertificate(0x5FC105);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, cert);
  ASSERT_TRUE(piv.PutCertificate(0x5FC10A, cert, true).ok());
  const Bytes& stored = model.objects[Bytes{0x5F, 0xC1, 0x0A}];
  EXPECT_LT(stored.size(), cert.size());  // compressed (CertInfo 01)
  auto back2 = piv.ReadCertificate(0x5FC10A);
  ASSERT_TRUE(back2.ok()) << back2.status().message();
  EXPECT_EQ(*back2, cert);
  EXPECT_EQ(piv.ReadCertificate(0x5FC10B).status().kind(), ErrorKind::kNotFound);
}

TEST(PivSignTest, CardSignaturesVerifyAgainstTheCertificate) {
  auto key = GenerateSoftKey(KeyType::kEcP256);
  auto cert = MakeCert(key->get(), "holder", nullptr, key->get(), false);
  // The card signs the challenge (a digest) with its key.
  ScriptedCard card([&](const Bytes& c) {
    const Bytes data(c.begin() + 5, c.begin() + 5 + c[4]);
    auto dyn = Unwrap(data, 0x7C, "dyn");
    auto digest = ExpectTlv(*dyn, 0x81, "challenge");
    UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new(key->get(), nullptr));
    EVP_PKEY_sign_init(ctx.get());
    Bytes sig(128);
    size_t n = sig.size();
    EVP_PKEY_sign(ctx.get(), sig.data(), &n, digest->data(), digest->size());
    sig.resize(n);
    return ScriptedCard::Data(MakeTlv(0x7C, MakeTlv(0x82, sig)));
  });
  ApduChannel ch(card);
  PivCard piv(ch);
  Bytes digest(32, 0x11);
  auto sig = piv.Sign(0x9A, KeyType::kEcP256, digest);
  ASSERT_TRUE(sig.ok()) << sig.status().message();
  EXPECT_TRUE(VerifyCardSignature(Der(cert.get()), KeyType::kEcP256, digest, *sig).ok());
  Bytes other(32, 0x12);
  EXPECT_FALSE(VerifyCardSignature(Der(cert.get()), KeyType::kEcP256, other, *sig).ok());
}

TEST(PivChuidTest, GuidRoundTripsAndFascnIsTheNonFederalOne) {
  std::array<uint8_t, 16> guid;
  for (int i = 0; i < 16; ++i) guid[i] = static_cast<uint8_t>(i * 9);
  Bytes chuid = EncodeChuid(guid, "20310101");
  auto back = ChuidGuid(chuid);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, guid);
  auto fascn = ExpectTlv(chuid, 0x30, "FASC-N");
  ASSERT_TRUE(fascn.ok());
  ASSERT_EQ(fascn->size(), 25u);
  // Start sentinel, agency 9999, system 9999, credential 999999, series 0, issue 1, person
  // 0000000000: the first 20 bytes of the FASC-N in yubico-piv-tool's default CHUID.
  const Bytes expected = {0xD4, 0xE7, 0x39, 0xDA, 0x73, 0x9C, 0xED, 0x39, 0xCE, 0x73,
                          0x9D, 0x83, 0x68, 0x58, 0x21, 0x08, 0x42, 0x10, 0x84, 0x21};
  EXPECT_EQ(Bytes(fascn->begin(), fascn->begin() + 20), expected);
  auto expiry = ExpectTlv(chuid, 0x35, "expiry");
  EXPECT_EQ(std::string(AsString(*expiry)), "20310101");
}

}  // namespace
}  // namespace certpress::kgs
