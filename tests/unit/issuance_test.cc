// The issuance core's order as a property of the types: nothing is signed without the ledger's
// proof, nothing that differs from what was recorded, and nothing is persisted after a refusal.
#include "ca/issuance.h"

#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <filesystem>

#include "ca/ledger.h"
#include "signer/cert_info.h"
#include "signer/name.h"
#include "tests/support/memory_ledger.h"
#include "tests/support/soft_token.h"

namespace certpress {
namespace {

class IssuanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto spki = token_->GenerateKey("ca", KeyType::kEcP256);
    ASSERT_TRUE(spki.ok()) << spki.status().message();
    CaKey ca{token_.get(),
             "ca",
             KeyType::kEcP256,
             *EncodeName(*ParseName("CN=Issuance Test CA,O=CertPress,C=DK")),
             *spki,
             0};
    profiles::CertProfile p;
    p.name = "device";
    p.validity_days = 30;
    p.key_usage = profiles::kDigitalSignature;
    auto is = Issuer::Create(p, ca);
    ASSERT_TRUE(is.ok()) << is.status().message();
    issuer_.emplace(std::move(is).value());
  }

  ca::Issuance Item(const std::string& cn) {
    ca::Issuance item;
    item.issuer = &*issuer_;
    item.issuer_id = 7;
    item.request_id = 42;
    item.subject = "CN=" + cn;
    auto key = GenerateSoftKey(KeyType::kEcP256);
    item.tbs = TbsInput{*EncodeName(*ParseName("CN=" + cn)), *SpkiDer(key->get()), {}, 0};
    return item;
  }

  testing::ScopedSoftToken token_{"cp-issuance"};
  std::optional<Issuer> issuer_;
};

TEST_F(IssuanceTest, IssueOneRecordsSignsAndPersistsTheRecordedCertificate) {
  testing::MemoryLedger ledger;
  ca::Issuance item = Item("good.example");
  int persisted = 0;
  auto der = ca::IssueOne(ledger, item, [&](const ca::Issuance& done) {
    ++persisted;
    EXPECT_EQ(done.der, item.der);
    return Status::Ok();
  });
  ASSERT_TRUE(der.ok()) << der.status().message();
  EXPECT_EQ(persisted, 1);
  ASSERT_EQ(ledger.recorded.size(), 1u);
  auto info = ParseCertificate(*der);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->serial_hex, ledger.recorded[0].serial_hex);
  EXPECT_EQ(ledger.recorded[0].request_id, 42);
}

// The TBS is altered after its intent was recorded (a bug, or memory corruption between the
// stages): Sign refuses before the token signs anything, and nothing is persisted.
TEST_F(IssuanceTest, TbsAlteredBetweenRecordingAndSigningIsRefusedAndNothingPersisted) {
  testing::MemoryLedger ledger;
  ledger.after_record = [](ca::Issuance& it) {
    it.prepared.tbs[it.prepared.tbs.size() - 5] ^= 0x01;  // inside the extensions
  };
  ca::Issuance item = Item("altered.example");
  int persisted = 0;
  auto der = ca::IssueOne(ledger, item, [&](const ca::Issuance&) {
    ++persisted;
    return Status::Ok();
  });
  ASSERT_FALSE(der.ok());
  EXPECT_NE(der.status().message().find("differs from the one recorded"), std::string::npos)
      << der.status().message();
  EXPECT_EQ(persisted, 0);
  EXPECT_TRUE(item.der.empty());
}

// The prepared hash travels with the bytes: altering both the TBS and PreparedCert's own hash
// is still caught, because Sign hashes the TBS afresh against the recorded hash.
TEST_F(IssuanceTest, AlteredTbsWithAMatchingPreparedHashIsStillRefused) {
  testing::MemoryLedger ledger;
  ca::Issuance item = Item("rehashed.example");
  ASSERT_TRUE(ca::Prepare(item).ok());
  ca::Issuance* one[] = {&item};
  ASSERT_TRUE(ca::Record(ledger, one).ok());
  item.prepared.tbs[item.prepared.tbs.size() - 5] ^= 0x01;
  SHA256(item.prepared.tbs.data(), item.prepared.tbs.size(), item.prepared.tbs_sha256.data());
  Status st = ca::Sign(item);
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(item.der.empty());
}

TEST_F(IssuanceTest, AnUnrecordedItemIsNotSigned) {
  ca::Issuance item = Item("unrecorded.example");
  ASSERT_TRUE(ca::Prepare(item).ok());
  Status st = ca::Sign(item);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("was not recorded"), std::string::npos) << st.message();
  EXPECT_TRUE(item.der.empty());
}

// A proof is for one serial: a certificate prepared again after recording (new serial, new
// TBS) cannot borrow the old proof.
TEST_F(IssuanceTest, AProofDoesNotCoverAnotherSerial) {
  testing::MemoryLedger ledger;
  ca::Issuance item = Item("serial.example");
  ASSERT_TRUE(ca::Prepare(item).ok());
  ca::Issuance* one[] = {&item};
  ASSERT_TRUE(ca::Record(ledger, one).ok());
  const RecordedIntent proof = *item.recorded;
  ASSERT_TRUE(ca::Prepare(item).ok());  // drops the proof, draws a new serial
  EXPECT_FALSE(item.recorded.has_value());
  auto der = issuer_->Sign(item.prepared, proof);
  ASSERT_FALSE(der.ok());
  EXPECT_NE(der.status().message().find("is not the recorded serial"), std::string::npos)
      << der.status().message();
}

TEST_F(IssuanceTest, AFailedRecordSignsAndPersistsNothing) {
  testing::MemoryLedger ledger;
  ledger.fail_next = Unavailable("database gone");
  ca::Issuance item = Item("down.example");
  int persisted = 0;
  auto der = ca::IssueOne(ledger, item, [&](const ca::Issuance&) {
    ++persisted;
    return Status::Ok();
  });
  ASSERT_FALSE(der.ok());
  EXPECT_EQ(der.status().kind(), ErrorKind::kUnavailable);
  EXPECT_EQ(persisted, 0);
  EXPECT_FALSE(item.recorded.has_value());
}

// A serial collision fails the record as a conflict: the core draws new serials and records
// again; the certificate carries the serial that was finally recorded.
TEST_F(IssuanceTest, ASerialCollisionIsPreparedAgainWithANewSerial) {
  testing::MemoryLedger ledger;
  ledger.fail_next = Conflict("duplicate serial");
  ca::Issuance item = Item("collision.example");
  ASSERT_TRUE(ca::Prepare(item).ok());
  const std::string first = item.intent.serial_hex;
  ca::Issuance* one[] = {&item};
  ASSERT_TRUE(ca::Record(ledger, one).ok());
  EXPECT_EQ(ledger.records, 2);
  EXPECT_NE(item.intent.serial_hex, first);
  ASSERT_TRUE(ca::Sign(item).ok());
  EXPECT_EQ(ParseCertificate(item.der)->serial_hex, item.intent.serial_hex);
}

}  // namespace
}  // namespace certpress
