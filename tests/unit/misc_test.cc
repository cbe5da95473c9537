#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <sstream>

#include "cardprofiles/cert_profile.h"
#include "common/bytes.h"
#include "common/log.h"
#include "common/status.h"
#include "common/utf8.h"
#include "scheduler/daemon.h"
#include "signer/key_type.h"
#include "signer/p11_uri.h"
#include "signer/pkcs12.h"

namespace certpress {
namespace {

// Review: "%00xxxxxxxx" passed the length check and PKCS12_create stopped at the NUL, giving a
// PKCS#12 with an empty password. Control characters are refused before any work, by the
// check the web form and `cert pkcs12` use and by BuildPkcs12 itself.
TEST(Pkcs12Test, APasswordWithANulOrAnotherControlCharacterIsRefused) {
  EXPECT_TRUE(CheckPkcs12Password("correct horse battery staple").ok());
  EXPECT_TRUE(CheckPkcs12Password("Søren-Kierkegaard €").ok());
  for (const std::string& bad :
       std::vector<std::string>{std::string("\0xxxxxxxxx", 10), std::string("abcd\0efghij", 11),
                                std::string("tab\there!"), std::string("line\nbreak"),
                                std::string("del\x7f-char"), std::string("c1 \xc2\x85 nel")}) {
    Status st = CheckPkcs12Password(bad);
    EXPECT_FALSE(st.ok()) << bad.size();
    EXPECT_NE(st.message().find("control character"), std::string::npos) << st.message();
  }
  EXPECT_FALSE(CheckPkcs12Password("bad \xff utf-8").ok());
  // BuildPkcs12 refuses it too, before it looks at the key or the certificate.
  auto p12 = BuildPkcs12(nullptr, ByteSpan(), {}, SecureString(std::string("\0xxxxxxxxx", 10)),
                         Pkcs12Options{});
  ASSERT_FALSE(p12.ok());
  EXPECT_EQ(p12.status().kind(), ErrorKind::kInvalidInput);
  EXPECT_NE(p12.status().message().find("control character"), std::string::npos);
}

// Trust issue: a wrong PIN was tried again on every scheduler run until the token was nearly
// locked. A refused login stops the daemon after the run that met it.
TEST(DaemonTest, ARefusedLoginStopsTheSchedulerAfterOneRun) {
  scheduler::DaemonOptions opt;
  opt.interval_seconds = 1;
  opt.run_now = true;
  std::atomic<bool> stop{false};
  int runs = 0;
  const std::string file = ::testing::TempDir() + "/daemon-" + std::to_string(::getpid()) + ".log";
  std::remove(file.c_str());
  log::Config lc;
  lc.level = log::Level::kInfo;
  lc.file = file;
  ASSERT_TRUE(log::Configure(lc).ok());
  Status st = scheduler::RunDaemon(
      opt,
      [&]() -> Result<batch::BatchSummary> {
        if (++runs >= 3) stop = true;  // the old behaviour would go on; end the test anyway
        return LoginRefused("token 't' login refused: wrong PIN (CKR_PIN_INCORRECT)");
      },
      stop);
  EXPECT_TRUE(log::Configure(log::Config{}).ok());
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(st.kind(), ErrorKind::kLoginRefused);
  auto text = ReadFile(file);
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("could lock it"), std::string::npos) << *text;
}

// Secrets: a PIN file is small; a large one is refused rather than read whole.
TEST(SecretFileTest, ReadsThePinAndRefusesAnOversizedFile) {
  char dir[] = "/tmp/cp-secret-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string pin = std::string(dir) + "/pin", big = std::string(dir) + "/big";
  ASSERT_TRUE(WriteFile(pin, "123456\r\n", 0600).ok());
  ASSERT_TRUE(WriteFile(big, std::string(kMaxSecretFileBytes + 1, 'x'), 0600).ok());
  auto p = ReadSecretFile(pin);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->str(), "123456");
  auto b = ReadSecretFile(big);
  EXPECT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("larger than 4096 bytes"), std::string::npos);
  unlink(pin.c_str());
  unlink(big.c_str());
  rmdir(dir);
}

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
