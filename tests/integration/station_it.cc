// Card personalization stations on the real stack: `certpress station` against the private
// pcscd with virtual PIV cards (tools/vpiv, driven by scripts/vcard), checked with tools
// nobody here wrote (yubico-piv-tool, OpenSC's pkcs11-tool, openssl) and in the store.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <regex>
#include <thread>

#include "common/bytes.h"
#include "store/sql.h"
#include "tests/support/test_env.h"

namespace certpress {
namespace {

using certpress::testing::Cli;
using certpress::testing::Quote;
using certpress::testing::RunResult;
using certpress::testing::Sh;
using certpress::testing::TestDb;
using certpress::testing::TestToken;

std::string Trim(std::string s) {
  s.erase(s.find_last_not_of(" \n\r\t") + 1);
  return s;
}

class StationIT : public ::testing::Test {
 protected:
  StationIT() : cli_(db_, token_) {}

  void SetUp() override {
    if (std::getenv("PCSCLITE_CSOCK_NAME") == nullptr ||
        std::getenv("CERTPRESS_VIRTUAL_CARDS") == nullptr ||
        std::atoi(std::getenv("CERTPRESS_VIRTUAL_CARDS")) < 2) {
      GTEST_SKIP() << "needs the stack's pcscd with 2 virtual cards (scripts/stack up)";
    }
    auto root = Run({"ca", "create-root", "--label", "root", "--name",
                     "CN=Station Test Root,O=CertPress Test,C=DK", "--key-type", "ec-p384"});
    ASSERT_EQ(root.exit_code, 0) << root.err;
    ASSERT_TRUE(WriteFile(Path("root.pem"), root.out).ok());
    auto sub = Run({"ca", "create-sub", "--parent", "root", "--label", "issuing", "--name",
                    "CN=Station Test Issuing CA,O=CertPress Test,C=DK", "--key-type", "ec-p256"});
    ASSERT_EQ(sub.exit_code, 0) << sub.err;
    ASSERT_TRUE(WriteFile(Path("sub.pem"), sub.out).ok());
    for (int card : {1, 2}) {
      ASSERT_EQ(VCard(card, "fault-clear").exit_code, 0);
      ASSERT_EQ(VCard(card, "timing none").exit_code, 0);
      auto reset = VCard(card, "factory-reset");
      ASSERT_EQ(reset.exit_code, 0) << reset.err;
      ASSERT_EQ(VCard(card, "insert").exit_code, 0);
    }
  }

  RunResult Run(std::vector<std::string> args) { return cli_.Run(args); }
  std::string Path(const std::string& name) { return cli_.dir() + "/" + name; }

  static RunResult VCard(int card, const std::string& args) {
    return Sh(std::string(CERTPRESS_SOURCE_DIR "/scripts/vcard ") + std::to_string(card) + " " +
              args);
  }
  static std::string Reader(int card) { return Trim(VCard(card, "reader").out); }
  static std::string Serial(int card) {
    auto st = VCard(card, "status");
    std::smatch m;
    std::regex re("\"serial\":\\s*(\\d+)");
    return std::regex_search(st.out, m, re) ? m[1].str() : "";
  }

  // Requests of employee-piv, approved by two operators (dual control).
  void Requests(int n) {
    const std::string file = Path("piv-" + std::to_string(n) + ".csv");
    ASSERT_EQ(Sh(std::string(CERTPRESS_SOURCE_DIR "/scripts/gen-employees ") + std::to_string(n) +
                 " 1 > " + Quote(file))
                  .exit_code,
              0);
    auto imp = Run({"import", file, "--profile", "employee-piv", "--ca", "issuing"});
    ASSERT_EQ(imp.exit_code, 0) << imp.err;
    for (const char* op : {"alice", "bob"}) {
      auto ok = cli_.Decide({"approve", "--all", "--profile", "employee-piv"}, op);
      ASSERT_EQ(ok.exit_code, 0) << ok.err;
    }
  }

  int64_t Scalar(const std::string& sql) {
    auto c = db_.Connect();
    auto rows = store::Sql(*c).Query(sql);
    EXPECT_TRUE(rows.ok()) << rows.status().message();
    return rows.ok() && !rows->empty() && !(*rows)[0].IsNull(0) ? (*rows)[0].Int(0) : -1;
  }

  RunResult PivTool(int card, const std::string& args) {
    return Sh("yubico-piv-tool -r " + Quote(Reader(card)) + " " + args);
  }

  TestDb db_;
  TestToken token_;
  Cli cli_;
};

TEST_F(StationIT, PersonalizesACardThatYubicoPivToolAndOpenScRead) {
  Requests(1);
  auto st = Run({"station", "--profile", "employee-piv", "--reader", Reader(1), "--once"});
  ASSERT_EQ(st.exit_code, 0) << st.out << st.err;
  const std::string serial = Serial(1);
  ASSERT_FALSE(serial.empty());
  EXPECT_NE(st.out.find("card " + serial), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("request 1 personalized"), std::string::npos) << st.out;

  // The store: the card personalized with a GUID, its request issued, three certificates.
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM cards WHERE state = 'personalized' AND serial = '" +
                   serial + "' AND chuid_guid IS NOT NULL"),
            1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'issued'"), 1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM card_certificates"), 3);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'card.personalized'"), 1);

  // yubico-piv-tool sees a CHUID, a CCC and the three certificates, as issued.
  auto status = PivTool(1, "-a status");
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("CHUID:"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("CCC:"), std::string::npos) << status.out;
  for (const char* slot : {"9a", "9c", "9d"}) {
    EXPECT_NE(status.out.find(std::string("Slot ") + slot), std::string::npos) << status.out;
    auto pem = PivTool(1, std::string("-a read-cert -s ") + slot);
    ASSERT_EQ(pem.exit_code, 0) << pem.err;
    ASSERT_TRUE(WriteFile(Path(std::string(slot) + ".pem"), pem.out).ok());
    auto verify =
        Sh("openssl verify -x509_strict -CAfile " + Quote(Path("root.pem")) + " -untrusted " +
           Quote(Path("sub.pem")) + " " + Quote(Path(std::string(slot) + ".pem")));
    EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
    auto ser = Sh("openssl x509 -noout -serial -in " + Quote(Path(std::string(slot) + ".pem")));
    std::string hex = Trim(ser.out.substr(ser.out.find('=') + 1));
    for (auto& c : hex) c = static_cast<char>(tolower(c));
    EXPECT_EQ(Scalar("SELECT COUNT(*) FROM card_certificates WHERE slot = '" + std::string(slot) +
                     "' AND LOWER(serial) = '" + hex + "'"),
              1)
        << slot << " " << hex;
  }
  // The retry counters were set (3) and the PIN is no longer the factory one.
  EXPECT_NE(status.out.find("PIN tries left:\t3"), std::string::npos) << status.out;
  auto factory_pin = PivTool(1, "-a verify-pin -P 123456");
  EXPECT_NE(factory_pin.exit_code, 0);
  // The factory management key no longer works: the card has its own.
  auto factory_key = PivTool(1, "-k 010203040506070801020304050607080102030405060708 -a set-chuid");
  EXPECT_NE(factory_key.exit_code, 0) << factory_key.out;

  // OpenSC lists the card's certificates and keys.
  auto objects = Sh("PCSCLITE_CSOCK_NAME=" + Quote(std::getenv("PCSCLITE_CSOCK_NAME")) +
                    " pkcs11-tool --module opensc-pkcs11.so --list-objects --type cert");
  EXPECT_EQ(objects.exit_code, 0) << objects.err;
  EXPECT_GE(testing::Occurrences(objects.out, "Certificate Object"), 3u) << objects.out;
  EXPECT_EQ(Run({"audit", "verify"}).exit_code, 0);
}

// The PIN comes from the PIN letter (printed to PDF, read back with pdftotext): OpenSC logs in
// with it and signs, openssl verifies the signature with the issued certificate; a wrong PIN
// lowers the counter; the PUK from the same letter unblocks a blocked PIN.
TEST_F(StationIT, ThePinFromTheLetterSignsWithOpenScAndItsPukUnblocks) {
  // A short letterhead: the letter's layout is kgs/letter_pdf's to test, not this test's (the
  // letter's wording is outside the hash a request pins, so this may change at any time).
  auto profile = ReadFile(Path("profiles/employee-piv.toml"));
  ASSERT_TRUE(profile.ok());
  ASSERT_TRUE(WriteFile(Path("profiles/employee-piv.toml"),
                        std::regex_replace(*profile, std::regex("sender = \\[[^\\]]*\\]"),
                                           "sender = [\"CertPress Test\", \"Card Services\"]"))
                  .ok());
  Requests(1);
  auto st = Run({"station", "--profile", "employee-piv", "--reader", Reader(1), "--once"});
  ASSERT_EQ(st.exit_code, 0) << st.out << st.err;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM pin_letters WHERE state = 'created' AND card_serial = '" +
                   Serial(1) + "'"),
            1);
  auto print = Run({"pinletter", "print", "--all", "--out-dir", Path("queue")});
  ASSERT_EQ(print.exit_code, 0) << print.err;
  auto text = Sh("pdftotext -layout -enc UTF-8 " + Path("queue") + "/pinletter-*.pdf -");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(text.out, m, std::regex("Your PIN[^\\n]*?(\\d{6,8})"))) << text.out;
  const std::string pin = m[1].str();
  ASSERT_TRUE(std::regex_search(text.out, m, std::regex("Your PUK[^\\n]*?(\\d{8})"))) << text.out;
  const std::string puk = m[1].str();
  EXPECT_EQ(pin.size(), 8u);  // employee-piv's default pin_length
  // Neither secret went anywhere but the card and the letter.
  EXPECT_EQ((st.out + st.err).find(pin), std::string::npos);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM audit_log WHERE details LIKE '%" + pin + "%'"), 0);

  // OpenSC: log in with the letter's PIN and sign with the PIV authentication key (9A, id 01).
  ASSERT_TRUE(WriteFile(Path("data"), "a fresh challenge " + testing::RandomSuffix()).ok());
  auto sign = Sh("pkcs11-tool --module opensc-pkcs11.so --login --pin " + pin +
                 " --sign --id 01 -m ECDSA-SHA256 --signature-format openssl -i " +
                 Quote(Path("data")) + " -o " + Quote(Path("sig")));
  ASSERT_EQ(sign.exit_code, 0) << sign.out << sign.err;
  auto cert = PivTool(1, "-a read-cert -s 9a");
  ASSERT_EQ(cert.exit_code, 0) << cert.err;
  ASSERT_TRUE(WriteFile(Path("9a.pem"), cert.out).ok());
  auto verify =
      Sh("openssl x509 -pubkey -noout -in " + Quote(Path("9a.pem")) + " > " +
         Quote(Path("9a.pub")) + " && openssl dgst -sha256 -verify " + Quote(Path("9a.pub")) +
         " -signature " + Quote(Path("sig")) + " " + Quote(Path("data")));
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_NE(verify.out.find("Verified OK"), std::string::npos) << verify.out;

  // A wrong PIN lowers the counter (3 -> 2).
  const std::string wrong = pin == "00000000" ? "11111111" : "00000000";
  EXPECT_NE(PivTool(1, "-a verify-pin -P " + wrong).exit_code, 0);
  EXPECT_NE(PivTool(1, "-a status").out.find("PIN tries left:\t2"), std::string::npos);
  // Blocked after two more; the PUK sets a new PIN, which then verifies.
  PivTool(1, "-a verify-pin -P " + wrong);
  PivTool(1, "-a verify-pin -P " + wrong);
  EXPECT_NE(PivTool(1, "-a verify-pin -P " + pin).exit_code, 0);  // blocked
  auto unblock = PivTool(1, "-a unblock-pin -P " + puk + " -N 24681357");
  EXPECT_EQ(unblock.exit_code, 0) << unblock.out << unblock.err;
  EXPECT_EQ(PivTool(1, "-a verify-pin -P 24681357").exit_code, 0);
}

TEST_F(StationIT, ACardPulledOutHalfWayFailsWithItsCertificatesRevokedAndIsDoneAgain) {
  Requests(1);
  // The card leaves its reader on the first PUT DATA (DB): the 9A certificate is issued,
  // not yet written.
  ASSERT_EQ(VCard(1, "fault drop-on=DB").exit_code, 0);
  auto st = Run({"station", "--profile", "employee-piv", "--reader", Reader(1), "--once"});
  EXPECT_NE(st.exit_code, 0);
  EXPECT_NE(st.out.find("failed"), std::string::npos) << st.out << st.err;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM cards WHERE state = 'failed'"), 1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM cards WHERE state = 'personalizing'"), 0);
  // Its certificate is revoked, cessationOfOperation (RFC 5280 5.3.1), and marked so.
  EXPECT_GE(Scalar("SELECT COUNT(*) FROM revocations WHERE reason_code = 5"), 1);
  EXPECT_EQ(
      Scalar(
          "SELECT COUNT(*) FROM certificates WHERE status = 'issued' AND request_id IS NOT NULL"),
      0);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM certificates WHERE status = 'revoked'"),
            Scalar("SELECT COUNT(*) FROM revocations"));
  // The request is not lost.
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'approved'"), 1);

  ASSERT_EQ(VCard(1, "fault-clear").exit_code, 0);
  ASSERT_EQ(VCard(1, "insert").exit_code, 0);
  auto again = Run({"station", "--profile", "employee-piv", "--reader", Reader(1), "--once"});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM cards WHERE state = 'personalized'"), 1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM cards WHERE serial = '" + Serial(1) + "'"), 2);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'issued'"), 1);
  EXPECT_EQ(
      Scalar(
          "SELECT COUNT(*) FROM certificates WHERE status = 'issued' AND request_id IS NOT NULL"),
      3);
  EXPECT_EQ(Run({"audit", "verify"}).exit_code, 0);
}

TEST_F(StationIT, TwoReadersPersonalizeTwoCardsAtOnce) {
  Requests(2);
  auto st = Run({"station", "--profile", "employee-piv", "--all-readers", "--once"});
  ASSERT_EQ(st.exit_code, 0) << st.out << st.err;
  EXPECT_EQ(testing::Occurrences(st.out, " personalized ("), 2u) << st.out;
  EXPECT_EQ(Scalar("SELECT COUNT(DISTINCT serial) FROM cards WHERE state = 'personalized'"), 2);
  EXPECT_EQ(Scalar("SELECT COUNT(DISTINCT request_id) FROM cards WHERE state = 'personalized'"), 2);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'issued'"), 2);
}

// An operator names the card (--card-serial) and the request (--request): the other card is
// left alone and the named request goes to the named card.
TEST_F(StationIT, AnOperatorNamesTheCardAndTheRequest) {
  Requests(2);
  const std::string serial2 = Serial(2);
  auto st = Run({"station", "--profile", "employee-piv", "--all-readers", "--once", "--card-serial",
                 serial2, "--request", "2"});
  ASSERT_EQ(st.exit_code, 0) << st.out << st.err;
  EXPECT_NE(st.out.find("card " + serial2), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("request 2 personalized"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("skipped"), std::string::npos) << st.out;
  EXPECT_EQ(Scalar("SELECT request_id FROM cards WHERE state = 'personalized' AND serial = '" +
                   serial2 + "'"),
            2);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM cards"), 1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE id = 1 AND state = 'approved'"), 1);
}

TEST_F(StationIT, AWrongPublicKeyFromTheCardGetsNoCertificate) {
  Requests(1);
  ASSERT_EQ(VCard(1, "fault wrong-pubkey").exit_code, 0);
  auto st = Run({"station", "--profile", "employee-piv", "--reader", Reader(1), "--once"});
  EXPECT_NE(st.exit_code, 0);
  EXPECT_NE(st.out.find("failed"), std::string::npos) << st.out;
  EXPECT_EQ(
      Scalar(
          "SELECT COUNT(*) FROM certificates WHERE status = 'issued' AND request_id IS NOT NULL"),
      0);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'approved'"), 1);
}

// The profile requires attestation chaining to the virtual cards' attestation CA: a card whose
// ATTEST is signed by another key gets no certificate; the same card without the fault does.
TEST_F(StationIT, RequiredAttestationIsVerifiedAgainstTheProfilesRoot) {
  const char* ca = std::getenv("CERTPRESS_VPIV_ATTESTATION_CA");
  ASSERT_NE(ca, nullptr);
  auto add =
      Sh("printf '\n[card.employee-piv.piv]\nattestation = \"required\"\n"
         "attestation_root = \"%s\"\n' " +
         Quote(ca) + " >> " + Quote(Path("profiles/employee-piv.toml")));
  ASSERT_EQ(add.exit_code, 0) << add.err;
  Requests(1);
  ASSERT_EQ(VCard(1, "fault bad-attestation=signature").exit_code, 0);
  auto bad = Run({"station", "--profile", "employee-piv", "--reader", Reader(1), "--once"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.out.find("attestation"), std::string::npos) << bad.out;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM certificates WHERE request_id IS NOT NULL"), 0);
  ASSERT_EQ(VCard(1, "fault-clear").exit_code, 0);
  ASSERT_EQ(VCard(1, "factory-reset").exit_code, 0);
  ASSERT_EQ(VCard(1, "insert").exit_code, 0);
  auto good = Run({"station", "--profile", "employee-piv", "--reader", Reader(1), "--once"});
  ASSERT_EQ(good.exit_code, 0) << good.out << good.err;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM cards WHERE state = 'personalized'"), 1);
}

TEST_F(StationIT, SigtermMidCardFinishesItAndLeavesNothingHalfRecorded) {
  Requests(1);
  // Real cards' timing: seconds per card, so the signal lands in the middle of one.
  ASSERT_EQ(VCard(1, "timing real").exit_code, 0);
  const std::string cmd =
      "exec " + cli_.CommandLine({"station", "--profile", "employee-piv", "--reader", Reader(1)});
  ASSERT_EQ(Sh("(" + cmd + " > " + Quote(Path("station.out")) + " 2>&1 & echo $! > " +
               Quote(Path("pid")) + ")")
                .exit_code,
            0);
  const std::string pid = Trim(*ReadFile(Path("pid")));
  for (int i = 0; i < 600 && Scalar("SELECT COUNT(*) FROM cards WHERE state = "
                                    "'personalizing'") < 1;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(Scalar("SELECT COUNT(*) FROM cards WHERE state = 'personalizing'"), 1);
  auto term =
      Sh("kill -TERM " + pid + " && while kill -0 " + pid + " 2>/dev/null; do sleep 0.1; done");
  ASSERT_EQ(term.exit_code, 0);
  const std::string out = *ReadFile(Path("station.out"));
  EXPECT_NE(out.find("personalized ("), std::string::npos) << out;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM cards WHERE state = 'personalizing'"), 0);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'issuing'"), 0);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM cards WHERE state = 'personalized'"), 1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM serials s WHERE NOT EXISTS (SELECT 1 FROM certificates "
                   "c WHERE c.issuer_id = s.issuer_id AND c.serial = s.serial) AND "
                   "s.request_id IS NOT NULL"),
            0);
}

}  // namespace
}  // namespace certpress
