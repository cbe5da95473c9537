#include "signer/der.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/param_build.h>

#include "common/ossl.h"
#include "signer/der_keys.h"

namespace certpress::der {
namespace {

TEST(DerTest, EncodesOidsLikeX690) {
  auto oid = EncodeOid("1.2.840.10045.2.1");
  ASSERT_TRUE(oid.ok());
  EXPECT_EQ(HexEncode(*oid), "2a8648ce3d0201");
  EXPECT_EQ(OidToString(*oid), "1.2.840.10045.2.1");
  EXPECT_EQ(HexEncode(*EncodeOid("2.5.29.19")), "551d13");
  EXPECT_FALSE(EncodeOid("1").ok());
  EXPECT_FALSE(EncodeOid("3.1").ok());
  EXPECT_FALSE(EncodeOid("1..2").ok());
  EXPECT_FALSE(EncodeOid("1.40").ok());
}

// Found by der_reader_fuzz (tests/fuzz/corpus/der_reader_fuzz/oid-nonminimal.der): a padded
// subidentifier (0x80 first octet) rendered as the same text as the minimal encoding, so a
// request's algorithm or attribute OID was matched by bytes OpenSSL rejects; a subidentifier
// above 64 bits wrapped around and could render as a known OID.
TEST(DerTest, OidToStringRefusesNonMinimalAndHugeSubidentifiers) {
  const uint8_t padded[] = {0x80, 0x80, 0x01};
  EXPECT_EQ(OidToString(padded), "");
  // 1.2.840.113549.1.1.11 with the 840 arc padded: 86 48 -> 80 86 48.
  const uint8_t padded_arc[] = {0x2a, 0x80, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b};
  EXPECT_EQ(OidToString(padded_arc), "");
  // 1.2.(2^64 + 11) would wrap to 1.2.11.
  const uint8_t huge[] = {0x2a, 0x82, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x0b};
  EXPECT_EQ(OidToString(huge), "");
  // 1.2.(2^64 - 1) is the largest arc we render.
  const uint8_t largest[] = {0x2a, 0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
  EXPECT_EQ(OidToString(largest), "1.2.18446744073709551615");
  EXPECT_EQ(*EncodeOid("1.2.18446744073709551615"), Bytes(std::begin(largest), std::end(largest)));
}

TEST(DerTest, IntegersAreMinimalAndPositive) {
  Writer w;
  const uint8_t high[] = {0x00, 0x00, 0x80, 0x01};
  w.Integer(high);
  EXPECT_EQ(HexEncode(w.bytes()), "0203008001");
  Writer z;
  const uint8_t zero[] = {0x00, 0x00};
  z.Integer(zero);
  EXPECT_EQ(HexEncode(z.bytes()), "020100");
  Writer s;
  s.SmallInteger(2);
  EXPECT_EQ(HexEncode(s.bytes()), "020102");
}

TEST(DerTest, LongLengthsAreFixedUpOnEnd) {
  Writer w;
  size_t m = w.Begin(kSequence);
  Bytes big(300, 0xab);
  w.Primitive(kOctetString, big);
  w.End(m);
  // 30 82 01 30 | 04 82 01 2c ...
  EXPECT_EQ(HexEncode(ByteSpan(w.bytes()).subspan(0, 8)),
            "30820130"
            "0482012c");
  Reader r(w.bytes());
  ByteSpan content;
  ASSERT_TRUE(r.Read(kSequence, &content));
  EXPECT_TRUE(r.empty());
  Reader inner(content);
  ByteSpan os;
  ASSERT_TRUE(inner.Read(kOctetString, &os));
  EXPECT_EQ(os.size(), 300u);
}

TEST(DerTest, ReaderRejectsMalformedInput) {
  const uint8_t truncated[] = {0x30, 0x05, 0x02, 0x01};
  ByteSpan c;
  EXPECT_FALSE(Reader(truncated).Read(kSequence, &c));
  const uint8_t indefinite[] = {0x30, 0x80, 0x00, 0x00};
  EXPECT_FALSE(Reader(indefinite).Read(kSequence, &c));
  const uint8_t nonminimal[] = {0x04, 0x81, 0x01, 0xff};  // length 1 in long form
  EXPECT_FALSE(Reader(nonminimal).Read(kOctetString, &c));
  const uint8_t wrong_tag[] = {0x02, 0x01, 0x01};
  EXPECT_FALSE(Reader(wrong_tag).Read(kSequence, &c));
}

TEST(DerTest, TimeSwitchesToGeneralizedTimeIn2050) {
  Writer w;
  w.Time(2524607999);  // 2049-12-31 23:59:59Z
  w.Time(2524608000);  // 2050-01-01 00:00:00Z
  Reader r(w.bytes());
  uint8_t t1, t2;
  ByteSpan c1, c2;
  ASSERT_TRUE(r.ReadAny(&t1, &c1));
  ASSERT_TRUE(r.ReadAny(&t2, &c2));
  EXPECT_EQ(t1, kUtcTime);
  EXPECT_EQ(AsString(c1), "491231235959Z");
  EXPECT_EQ(t2, kGeneralizedTime);
  EXPECT_EQ(AsString(c2), "20500101000000Z");
  time_t back;
  ASSERT_TRUE(ParseTime(t2, c2, &back));
  EXPECT_EQ(back, 2524608000);
}

// The key and signature encodings of der_keys.h are checked against OpenSSL's own encoders, so
// that a mistake in ours is not copied into its test.

// OpenSslSig is i2d_ECDSA_SIG of the signature whose r || s is |raw|.
Bytes OpenSslSig(ByteSpan raw) {
  const size_t half = raw.size() / 2;
  UniquePtr<ECDSA_SIG> sig(ECDSA_SIG_new());
  UniquePtr<BIGNUM> r(BN_bin2bn(raw.data(), static_cast<int>(half), nullptr));
  UniquePtr<BIGNUM> s(BN_bin2bn(raw.data() + half, static_cast<int>(half), nullptr));
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return {};
  r.release();  // ECDSA_SIG_set0 took both
  s.release();
  int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return {};
  Bytes out(static_cast<size_t>(len));
  unsigned char* p = out.data();
  i2d_ECDSA_SIG(sig.get(), &p);
  return out;
}

TEST(DerKeysTest, EcdsaSigFromRawMatchesOpenSsl) {
  std::vector<Bytes> cases;
  for (size_t half : {size_t{32}, size_t{48}}) {
    Bytes plain(2 * half);
    for (size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<uint8_t>(0x11 + 3 * i);
    cases.push_back(plain);
    Bytes high = plain;  // both halves with the top bit set: DER needs a 00 in front
    high[0] = 0x80;
    high[half] = 0xff;
    cases.push_back(high);
    Bytes zeros = plain;  // r with leading zero octets, s with a zero and then the top bit
    zeros[0] = zeros[1] = zeros[2] = 0x00;
    zeros[half] = 0x00;
    zeros[half + 1] = 0x80;
    cases.push_back(zeros);
    Bytes small = Bytes(2 * half, 0x00);  // r = 1, s = 0
    small[half - 1] = 0x01;
    cases.push_back(small);
  }
  for (const Bytes& raw : cases) {
    auto der = EcdsaSigFromRaw(raw);
    ASSERT_TRUE(der.ok()) << der.status().message();
    Bytes want = OpenSslSig(raw);
    ASSERT_FALSE(want.empty());
    EXPECT_EQ(HexEncode(*der), HexEncode(want)) << "raw " << HexEncode(raw);
  }
}

TEST(DerKeysTest, EcdsaSigFromRawRejectsOddAndEmpty) {
  EXPECT_FALSE(EcdsaSigFromRaw({}).ok());
  const uint8_t odd[] = {0x01, 0x02, 0x03};
  auto st = EcdsaSigFromRaw(odd);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().kind(), ErrorKind::kInvalidInput);
}

// OpenSslSpki is i2d_PUBKEY of |key|.
Bytes OpenSslSpki(EVP_PKEY* key) {
  int len = i2d_PUBKEY(key, nullptr);
  if (len <= 0) return {};
  Bytes out(static_cast<size_t>(len));
  unsigned char* p = out.data();
  i2d_PUBKEY(key, &p);
  return out;
}

TEST(DerKeysTest, EcSpkiMatchesOpenSsl) {
  // The curve's generator is a valid public key (private key 1); the curve OID element is what
  // a PKCS#11 token gives as CKA_EC_PARAMS.
  struct Curve {
    int nid;
    const char* name;
    const char* params_hex;
  };
  for (const Curve& c : {Curve{NID_X9_62_prime256v1, "P-256", "06082a8648ce3d030107"},
                         Curve{NID_secp384r1, "P-384", "06052b81040022"}}) {
    SCOPED_TRACE(c.name);
    UniquePtr<EC_GROUP> group(EC_GROUP_new_by_curve_name(c.nid));
    ASSERT_TRUE(group);
    uint8_t point[1 + 2 * 48];
    size_t point_len =
        EC_POINT_point2oct(group.get(), EC_GROUP_get0_generator(group.get()),
                           POINT_CONVERSION_UNCOMPRESSED, point, sizeof point, nullptr);
    ASSERT_GT(point_len, 0u);
    UniquePtr<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
    ASSERT_TRUE(bld);
    ASSERT_EQ(OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, c.name, 0), 1);
    ASSERT_EQ(
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point, point_len), 1);
    UniquePtr<OSSL_PARAM> params(OSSL_PARAM_BLD_to_param(bld.get()));
    UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    EVP_PKEY* raw_key = nullptr;
    ASSERT_TRUE(params && ctx && EVP_PKEY_fromdata_init(ctx.get()) == 1 &&
                EVP_PKEY_fromdata(ctx.get(), &raw_key, EVP_PKEY_PUBLIC_KEY, params.get()) == 1);
    UniquePtr<EVP_PKEY> key(raw_key);
    const std::string want = HexEncode(OpenSslSpki(key.get()));
    ASSERT_FALSE(want.empty());

    Bytes ec_params = *HexDecode(c.params_hex);
    // CKA_EC_POINT as the standard has it (a DER OCTET STRING), and bare.
    Writer wrapped;
    wrapped.Primitive(kOctetString, ByteSpan(point, point_len));
    EXPECT_EQ(HexEncode(EcSpki(ec_params, wrapped.bytes())), want);
    EXPECT_EQ(HexEncode(EcSpki(ec_params, ByteSpan(point, point_len))), want);
  }
}

TEST(DerKeysTest, RsaSpkiMatchesOpenSsl) {
  UniquePtr<EVP_PKEY> key(EVP_RSA_gen(2048));
  ASSERT_TRUE(key);
  BIGNUM* n = nullptr;
  BIGNUM* e = nullptr;
  ASSERT_EQ(EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_N, &n), 1);
  UniquePtr<BIGNUM> owned_n(n);
  ASSERT_EQ(EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_E, &e), 1);
  UniquePtr<BIGNUM> owned_e(e);
  Bytes modulus(static_cast<size_t>(BN_num_bytes(n)));
  BN_bn2bin(n, modulus.data());
  Bytes exponent(static_cast<size_t>(BN_num_bytes(e)));
  BN_bn2bin(e, exponent.data());
  const std::string want = HexEncode(OpenSslSpki(key.get()));
  ASSERT_FALSE(want.empty());
  EXPECT_EQ(HexEncode(RsaSpki(modulus, exponent)), want);
  // A module may pad the big integers with zero octets; the INTEGERs stay minimal.
  Bytes padded_modulus(2, 0x00);
  padded_modulus.insert(padded_modulus.end(), modulus.begin(), modulus.end());
  const uint8_t padded_exponent[] = {0x00, 0x01, 0x00, 0x01};
  ASSERT_EQ(HexEncode(exponent), "010001");
  EXPECT_EQ(HexEncode(RsaSpki(padded_modulus, padded_exponent)), want);
}

}  // namespace
}  // namespace certpress::der
