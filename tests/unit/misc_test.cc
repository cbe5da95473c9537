#include <gtest/gtest.h>

#include "cardprofiles/cert_profile.h"
#include "common/status.h"
#include "common/utf8.h"
#include "signer/key_type.h"
#include "signer/p11_uri.h"

namespace certpress {
namespace {

TEST(StatusTest, WrapAddsContextAndKeepsKind) {
  Status s = Unavailable("MariaDB error 1213");
  Status w = s.Wrap("persisting chunk 12");
  EXPECT_EQ(w.kind(), ErrorKind::kUnavailable);
  EXPECT_EQ(w.message(), "persisting chunk 12: MariaDB error 1213");
  EXPECT_TRUE(Status::Ok().Wrap("x").ok());
}

TEST(KeyTypeTest, OnlyTheSpelledNamesParse) {
  for (auto name : {"ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096"}) {
    auto t = ParseKeyType(name);
    ASSERT_TRUE(t.ok()) << name;
    EXPECT_EQ(KeyTypeName(*t), name);
  }
  auto bad = ParseKeyType("ec-p521");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("expected ec-p256, ec-p384, rsa-2048"), std::string::npos);
}

TEST(KeyTypeTest, ClassifiesSoftwareKeys) {
  auto k = GenerateSoftKey(KeyType::kEcP384);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(*KeyTypeOf(k->get()), KeyType::kEcP384);
}

TEST(Pkcs11UriTest, ParsesAndFormatsRfc7512) {
  auto u = ParsePkcs11Uri(
      "pkcs11:token=certpress;object=root%202026;type=private"
      "?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/p");
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u->token, "certpress");
  EXPECT_EQ(u->object, "root 2026");
  EXPECT_EQ(u->type, "private");
  EXPECT_EQ(u->module_path, "/usr/lib/softhsm/libsofthsm2.so");
  EXPECT_EQ(u->pin_source, "file:/p");
  EXPECT_EQ(FormatPkcs11Uri(*u), "pkcs11:token=certpress;object=root%202026;type=private");
  EXPECT_FALSE(ParsePkcs11Uri("file:/x").ok());
  EXPECT_FALSE(ParsePkcs11Uri("pkcs11:object=%zz").ok());
}

TEST(Utf8Test, RejectsOverlongsSurrogatesAndTruncation) {
  EXPECT_TRUE(ValidateUtf8("Søren 王 🙂"));
  size_t bad = 0;
  EXPECT_FALSE(ValidateUtf8("ab\xc0\xaf", &bad));  // overlong '/'
  EXPECT_EQ(bad, 2u);
  EXPECT_FALSE(ValidateUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(ValidateUtf8("\xe2\x82"));          // truncated
  EXPECT_FALSE(ValidateUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_EQ(Utf8Length("Søren"), 5u);
}

TEST(CertProfileTest, ValidateFollowsRfc5280) {
  auto root = profiles::RootCaProfile(3650);
  EXPECT_TRUE(profiles::Validate(root).ok());
  auto ee = root;
  ee.is_ca = false;
  EXPECT_FALSE(profiles::Validate(ee).ok());  // keyCertSign without cA
  auto pl = profiles::SubCaProfile(10, 0);
  pl.is_ca = false;
  pl.key_usage = profiles::kDigitalSignature;
  EXPECT_FALSE(profiles::Validate(pl).ok());  // pathLen without cA
  EXPECT_EQ(*profiles::ExtendedKeyUsageOid("clientAuth"), "1.3.6.1.5.5.7.3.2");
  EXPECT_FALSE(profiles::ExtendedKeyUsageOid("nonsense").ok());
}

}  // namespace
}  // namespace certpress
