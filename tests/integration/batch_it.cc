// End-to-end batch issuance on the real stack: CSV import, approvals, run-batch (the TBB
// pipeline with leases), concurrency and crash safety, CSRs, PKCS#12, checked with OpenSSL.
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "common/bytes.h"
#include "store/sql.h"
#include "tests/support/test_env.h"

namespace certpress {
namespace {

namespace fs = std::filesystem;
using certpress::testing::Cli;
using certpress::testing::Quote;
using certpress::testing::RunResult;
using certpress::testing::Sh;
using certpress::testing::TestDb;
using certpress::testing::TestToken;

class BatchIT : public ::testing::Test {
 protected:
  BatchIT() : cli_(db_, token_) {}

  void SetUp() override {
    auto root = Run({"ca", "create-root", "--label", "root", "--name",
                     "CN=Batch Test Root,O=CertPress Test,C=DK", "--key-type", "ec-p384"});
    ASSERT_EQ(root.exit_code, 0) << root.err;
    ASSERT_TRUE(WriteFile(Path("root.pem"), root.out).ok());
    auto sub = Run({"ca", "create-sub", "--parent", "root", "--label", "issuing", "--name",
                    "CN=Batch Test Issuing CA,O=CertPress Test,C=DK", "--key-type", "ec-p256"});
    ASSERT_EQ(sub.exit_code, 0) << sub.err;
    ASSERT_TRUE(WriteFile(Path("sub.pem"), sub.out).ok());
  }

  RunResult Run(std::vector<std::string> args) { return cli_.Run(args); }
  std::string Path(const std::string& name) { return cli_.dir() + "/" + name; }

  std::string Employees(int rows, int first = 1) {
    std::string file =
        Path("employees-" + std::to_string(rows) + "-" + std::to_string(first) + ".csv");
    auto r = Sh(std::string(CERTPRESS_SOURCE_DIR "/scripts/gen-employees ") + std::to_string(rows) +
                " " + std::to_string(first) + " > " + Quote(file));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return file;
  }

  void ImportAndApprove(const std::string& file, int rows) {
    auto imp = Run({"import", file, "--profile", "employee-soft", "--ca", "issuing"});
    ASSERT_EQ(imp.exit_code, 0) << imp.err;
    ASSERT_NE(imp.out.find(std::to_string(rows) + " created"), std::string::npos) << imp.out;
    auto ok = cli_.Decide({"approve", "--all", "--profile", "employee-soft"}, "alice");
    ASSERT_EQ(ok.exit_code, 0) << ok.err;
  }

  int64_t Scalar(const std::string& sql) {
    auto c = db_.Connect();
    auto rows = store::Sql(*c).Query(sql);
    EXPECT_TRUE(rows.ok()) << rows.status().message();
    return rows.ok() && !rows->empty() ? (*rows)[0].Int(0) : -1;
  }

  nlohmann::json Status() {
    auto s = Run({"status", "--json"});
    EXPECT_EQ(s.exit_code, 0) << s.err;
    return nlohmann::json::parse(s.out);
  }

  // Every request of the test has exactly one issued certificate and no serial repeats.
  void ExpectExactlyOnce(int64_t requests) {
    EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'issued'"), requests);
    EXPECT_EQ(Scalar("SELECT COUNT(*) FROM (SELECT request_id FROM certificates WHERE status = "
                     "'issued' AND request_id IS NOT NULL GROUP BY request_id HAVING COUNT(*) "
                     "<> 1) x"),
              0);
    EXPECT_EQ(Scalar("SELECT COUNT(DISTINCT request_id) FROM certificates WHERE status = "
                     "'issued' AND request_id IS NOT NULL"),
              requests);
    EXPECT_EQ(Scalar("SELECT COUNT(*) - COUNT(DISTINCT issuer_id, serial) FROM certificates"), 0);
  }

  TestDb db_;
  TestToken token_;
  Cli cli_;
};

TEST_F(BatchIT, TenThousandRowsImportedApprovedIssuedAndChainWithOpenSsl) {
  const std::string file = Employees(10000);
  ImportAndApprove(file, 10000);
  EXPECT_EQ(Status()["requests"]["approved"], 10000);
  auto run = Run({"run-batch"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("issued 10000, failed 0"), std::string::npos) << run.out;
  EXPECT_EQ(Status()["requests"]["issued"], 10000);
  ExpectExactlyOnce(10000);

  auto exp =
      Run({"cert", "export", "--all", "--profile", "employee-soft", "--out-dir", Path("certs")});
  ASSERT_EQ(exp.exit_code, 0) << exp.err;
  // OpenSSL, not our code, checks every certificate against the chain.
  auto v =
      Sh("cd " + Quote(Path("certs")) +
         " && ls | xargs -n 2000 openssl verify -x509_strict "
         "-CAfile " +
         Quote(Path("root.pem")) + " -untrusted " + Quote(Path("sub.pem")) + " | grep -c ': OK$'");
  EXPECT_EQ(v.out, "10000\n") << v.err.substr(0, 2000);

  // Importing the same file again creates nothing new.
  auto again = Run({"import", file, "--profile", "employee-soft", "--ca", "issuing"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("0 created, 10000 already present"), std::string::npos) << again.out;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests"), 10000);
  auto audit = Run({"audit", "verify"});
  EXPECT_EQ(audit.exit_code, 0) << audit.err;
}

TEST_F(BatchIT, TwoConcurrentRunBatchesIssueEveryRequestExactlyOnce) {
  ImportAndApprove(Employees(3000), 3000);
  const std::string cmd = cli_.CommandLine({"run-batch", "--chunk", "50", "--threads", "2"});
  auto r = Sh("(" + cmd + " > " + Quote(Path("a.out")) + " 2>&1 & " + cmd + " > " +
              Quote(Path("b.out")) + " 2>&1 & wait)");
  ASSERT_EQ(r.exit_code, 0);
  std::string a = *ReadFile(Path("a.out")), b = *ReadFile(Path("b.out"));
  auto issued = [](const std::string& out) {
    size_t at = out.find("issued ");
    return at == std::string::npos ? -1 : std::stoll(out.substr(at + 7));
  };
  ASSERT_GE(issued(a), 0) << a;
  ASSERT_GE(issued(b), 0) << b;
  EXPECT_EQ(issued(a) + issued(b), 3000) << a << b;
  ExpectExactlyOnce(3000);
}

TEST_F(BatchIT, SchedulerKilledMidBatchThenRunAgainIssuesExactlyOnce) {
  ImportAndApprove(Employees(6000), 6000);
  const std::string cmd =
      "exec " + cli_.CommandLine({"run-batch", "--chunk", "100", "--threads", "1", "--lease", "2"});
  auto start = Sh("(" + cmd + " > " + Quote(Path("killed.out")) + " 2>&1 & echo $! > " +
                  Quote(Path("pid")) + ")");
  ASSERT_EQ(start.exit_code, 0);
  std::string pid = *ReadFile(Path("pid"));
  pid.erase(pid.find_last_not_of(" \n") + 1);
  // Kill it with SIGKILL once it is well into the batch and holds claimed requests (with one
  // thread a chunk goes through every stage before the next claim, so there are moments
  // between chunks when it holds none).
  int64_t issued = 0, holding = 0;
  for (int i = 0; i < 1000 && (issued < 500 || holding == 0); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    issued = Scalar("SELECT COUNT(*) FROM requests WHERE state = 'issued'");
    holding = Scalar("SELECT COUNT(*) FROM requests WHERE state = 'issuing'");
  }
  Sh("kill -9 " + pid);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  issued = Scalar("SELECT COUNT(*) FROM requests WHERE state = 'issued'");
  ASSERT_GT(issued, 0);
  ASSERT_LT(issued, 6000) << "the batch finished before it could be killed";
  EXPECT_GT(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'issuing'"), 0);
  // Leases of 2 s expire; the next run takes over what the dead one held.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  auto again = Run({"run-batch"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  ExpectExactlyOnce(6000);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state <> 'issued'"), 0);
}

TEST_F(BatchIT, ExpiredLeaseIsReclaimedAndALiveOneIsNot) {
  ImportAndApprove(Employees(20), 20);
  auto c = db_.Connect();
  ASSERT_TRUE(store::Sql(*c)
                  .Exec("UPDATE requests SET state = 'issuing', claimed_by = 'dead:1', fence = "
                        "fence + 1, lease_until = UTC_TIMESTAMP(6) - INTERVAL 1 MINUTE WHERE id <= "
                        "(SELECT MIN(id) + 9 FROM (SELECT id FROM requests) x)")
                  .ok());
  ASSERT_TRUE(
      store::Sql(*c)
          .Exec("UPDATE requests SET state = 'issuing', claimed_by = 'alive:1', lease_until "
                "= UTC_TIMESTAMP(6) + INTERVAL 1 HOUR WHERE state = 'approved' ORDER BY id "
                "LIMIT 5")
          .ok());
  auto run = Run({"run-batch"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("issued 15,"), std::string::npos) << run.out;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'issuing' AND claimed_by = "
                   "'alive:1'"),
            5);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE claimed_by = 'dead:1'"), 0);
}

TEST_F(BatchIT, ProfileChangedUnderTheRequestFailsIt) {
  const std::string profiles = Path("profiles");
  certpress::testing::CopyTestProfiles(profiles);
  auto imp = Run({"import", Employees(5), "--profile", "employee-soft", "--ca", "issuing",
                  "--profiles.dir", profiles});
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  ASSERT_EQ(
      cli_.Decide({"approve", "--all", "--profile", "employee-soft", "--profiles.dir", profiles},
                  "bob")
          .exit_code,
      0);
  // Edit the certificate profile the card profile names.
  auto sed = Sh("sed -i 's/^validity_days = .*/validity_days = 30/' " +
                Quote(profiles + "/certificates.toml"));
  ASSERT_EQ(sed.exit_code, 0);
  auto run = Run({"run-batch", "--profiles.dir", profiles});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("issued 0, failed 5"), std::string::npos) << run.out;
  auto c = db_.Connect();
  auto rows = store::Sql(*c).Query("SELECT DISTINCT reason FROM requests");
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_NE((*rows)[0].Str(0).find("changed since the request was made"), std::string::npos)
      << (*rows)[0].Str(0);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM certificates WHERE request_id IS NOT NULL"), 0);
}

TEST_F(BatchIT, BadCsvRowsAreReportedWithFileLineColumnAndTheRestImported) {
  const std::string f = Path("bad.csv");
  std::string csv =
      "\xEF\xBB\xBFgiven_name,surname,email,employee_id,department,address_line1,address_line2,"
      "postal_code,city,country\r\n"
      "Alice,Andersen,alice@example.org,E100001,Finance,Street 1,,1165,City,DK\r\n"  // 2 good
      "Bad\xC3\x28utf,X,bad1@example.org,E100002,IT,S,,1,C,DK\r\n"                   // 3
      "Ctl\x01name,X,bad2@example.org,E100003,IT,S,,1,C,DK\r\n"                      // 4
      "Bidi\xE2\x80\xAEname,X,bad3@example.org,E100004,IT,S,,1,C,DK\r\n"             // 5
      "Long," +
      std::string(70, 'x') +
      ",bad4@example.org,E100005,IT,S,,1,C,DK\r\n"                   // 6
      "Alice,Again,alice2@example.org,E100001,IT,S,,1,C,DK\r\n"      // 7 dup
      "Eve,X,not-an-email,E100007,IT,S,,1,C,DK\r\n"                  // 8
      ",X,bad6@example.org,E100008,IT,S,,1,C,DK\r\n"                 // 9
      "Ev\"e,X,bad7@example.org,E100009,IT,S,,1,C,DK\r\n"            // 10
      "Too,Few,fields@example.org\r\n"                               // 11
      "Pat,X,bad8@example.org,X12,IT,S,,1,C,DK\r\n"                  // 12
      "\"Multi\nLine\",X,bad9@example.org,E100012,IT,S,,1,C,DK\r\n"  // 13-14
      "Bruno,Ferreira,bruno@example.org,E100013,\"Risk, Audit & Compliance\",S,,1,C,PT\r\n";  // 15
  ASSERT_TRUE(WriteFile(f, csv).ok());
  auto r = Run({"import", f, "--profile", "employee-soft", "--ca", "issuing"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("2 created"), std::string::npos) << r.out;
  const std::vector<std::string> expected = {
      f + ":3:4: given_name: invalid UTF-8",
      f + ":4:4: given_name: control character",
      f + ":5:5: given_name: bidirectional formatting character",
      f + ":6:70: surname is 70 characters long",  // the first character past the limit
      f + ":7:",                                   // duplicate of line 2
      f + ":8:7: email: 'not-an-email' is not an email address",
      f + ":9:1: given_name is required",
      f + ":10:3:",
      f + ":11:",
      f + ":12:",
      f + ":13:",
  };
  for (const auto& e : expected) {
    EXPECT_NE(r.err.find(e), std::string::npos) << "missing '" << e << "' in:\n" << r.err;
  }
  EXPECT_NE(r.err.find("duplicate of line 2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("does not match the pattern"), std::string::npos) << r.err;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests"), 2);
  // Unknown columns fail the header, not rows.
  ASSERT_TRUE(WriteFile(Path("hdr.csv"), "given_name,surname,shoe_size\nA,B,44\n").ok());
  auto h = Run({"import", Path("hdr.csv"), "--profile", "employee-soft", "--ca", "issuing"});
  EXPECT_EQ(h.exit_code, 1);
  EXPECT_NE(h.err.find(Path("hdr.csv") + ":1:20: unknown column 'shoe_size'"), std::string::npos)
      << h.err;
  // --dry-run stores nothing.
  auto dry = Run(
      {"import", Employees(10, 500), "--profile", "employee-soft", "--ca", "issuing", "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests"), 2);
}

TEST_F(BatchIT, Pkcs12OpensWithOpenSslAndItsKeyMatchesItsCertificate) {
  ImportAndApprove(Employees(3), 3);
  ASSERT_EQ(Run({"run-batch"}).exit_code, 0);
  const int64_t id = Scalar("SELECT MIN(id) FROM requests");
  ASSERT_TRUE(WriteFile(Path("pw"), "correct horse battery staple\n", 0600).ok());
  for (bool legacy : {false, true}) {
    SCOPED_TRACE(legacy ? "legacy" : "default");
    const std::string p12 = Path(legacy ? "legacy.p12" : "modern.p12");
    std::vector<std::string> args = {"cert",  "pkcs12", "--request",       std::to_string(id),
                                     "--out", p12,      "--password-file", Path("pw")};
    if (legacy) args.push_back("--legacy");
    auto r = Run(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string flag = legacy ? " -legacy" : "";
    auto info = Sh("openssl pkcs12" + flag + " -info -noout -in " + Quote(p12) +
                   " -passin file:" + Quote(Path("pw")));
    ASSERT_EQ(info.exit_code, 0) << info.err;
    if (legacy) {
      EXPECT_NE(info.err.find("MAC: sha1"), std::string::npos) << info.err;
      EXPECT_NE(info.err.find("pbeWithSHA1And3-KeyTripleDES-CBC"), std::string::npos) << info.err;
    } else {
      EXPECT_NE(info.err.find("MAC: sha256"), std::string::npos) << info.err;
      EXPECT_NE(info.err.find("PBES2, PBKDF2, AES-256-CBC"), std::string::npos) << info.err;
    }
    auto key = Sh("openssl pkcs12" + flag + " -in " + Quote(p12) +
                  " -passin file:" + Quote(Path("pw")) + " -nocerts -nodes | openssl pkey -pubout");
    auto cert =
        Sh("openssl pkcs12" + flag + " -in " + Quote(p12) + " -passin file:" + Quote(Path("pw")) +
           " -clcerts -nokeys | openssl x509 -pubkey -noout");
    ASSERT_EQ(key.exit_code, 0) << key.err;
    ASSERT_EQ(cert.exit_code, 0) << cert.err;
    EXPECT_NE(key.out.find("BEGIN PUBLIC KEY"), std::string::npos);
    EXPECT_EQ(key.out, cert.out);
    // The chain travels with it.
    auto cas =
        Sh("openssl pkcs12" + flag + " -in " + Quote(p12) + " -passin file:" + Quote(Path("pw")) +
           " -cacerts -nokeys | grep -c 'BEGIN CERTIFICATE'");
    EXPECT_EQ(cas.out, "2\n");
  }
  // A NUL in the password file would have cut the password to nothing inside PKCS12_create:
  // refused, and no file written.
  ASSERT_TRUE(WriteFile(Path("nul-pw"), std::string("\0xxxxxxxxxx\n", 12), 0600).ok());
  auto nul = Run({"cert", "pkcs12", "--request", std::to_string(id), "--out", Path("nul.p12"),
                  "--password-file", Path("nul-pw")});
  EXPECT_NE(nul.exit_code, 0);
  EXPECT_NE(nul.err.find("control character"), std::string::npos) << nul.err;
  EXPECT_NE(nul.err.find(Path("nul-pw")), std::string::npos) << nul.err;
  EXPECT_FALSE(std::filesystem::exists(Path("nul.p12")));
  // The key at rest is ciphertext: no PKCS#8 structure in the database.
  auto c = db_.Connect();
  auto rows = store::Sql(*c).Query("SELECT ciphertext FROM private_keys LIMIT 1");
  ASSERT_FALSE(rows->empty());
  const std::string& blob = (*rows)[0].Str(0);
  const unsigned char* bp = reinterpret_cast<const unsigned char*>(blob.data());
  PKCS8_PRIV_KEY_INFO* p8 = d2i_PKCS8_PRIV_KEY_INFO(nullptr, &bp, static_cast<long>(blob.size()));
  EXPECT_EQ(p8, nullptr) << "a private key is stored as plain PKCS#8";
  PKCS8_PRIV_KEY_INFO_free(p8);
  ERR_clear_error();
  auto wrong = Sh("openssl pkcs12 -in " + Quote(Path("modern.p12")) + " -passin pass:wrong -noout");
  EXPECT_NE(wrong.exit_code, 0);
}

// A soft profile with two keys: each certificate is packaged with its own key, chosen by
// --key or --serial; without either the command asks which one.
TEST_F(BatchIT, Pkcs12OfATwoKeyProfilePairsEachCertificateWithItsKey) {
  const std::string profiles = Path("profiles");
  certpress::testing::CopyTestProfiles(profiles);
  // employee-soft with a second server key for signatures (whose certificate profile allows
  // email SANs only).
  auto soft = ReadFile(profiles + "/employee-soft.toml");
  ASSERT_TRUE(soft.ok());
  std::string toml = std::regex_replace(*soft, std::regex("employee-soft"), "employee-dual");
  toml = std::regex_replace(toml, std::regex(R"(, \["upn", "\{email\}"\])"), "");
  toml +=
      "\n[[card.employee-dual.keys]]\nname = \"sign\"\nalgorithm = \"ec-p256\"\n"
      "source = \"server\"\ncertificate = \"employee-signature\"\n";
  ASSERT_TRUE(WriteFile(profiles + "/employee-dual.toml", toml).ok());
  auto imp = Run({"import", Employees(2), "--profile", "employee-dual", "--ca", "issuing",
                  "--profiles.dir", profiles});
  ASSERT_EQ(imp.exit_code, 0) << imp.err << imp.out;
  ASSERT_EQ(
      cli_.Decide({"approve", "--all", "--profile", "employee-dual", "--profiles.dir", profiles},
                  "alice")
          .exit_code,
      0);
  auto run = Run({"run-batch", "--profiles.dir", profiles});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_NE(run.out.find("issued 2,"), std::string::npos) << run.out;
  const int64_t id = Scalar("SELECT MIN(id) FROM requests");
  ASSERT_EQ(Scalar("SELECT COUNT(*) FROM certificates WHERE status = 'issued' AND request_id = " +
                   std::to_string(id)),
            2);
  ASSERT_EQ(Scalar("SELECT COUNT(*) FROM private_keys WHERE request_id = " + std::to_string(id)),
            2);
  ASSERT_TRUE(WriteFile(Path("pw"), "two keys\n", 0600).ok());
  std::vector<std::string> base = {
      "cert", "pkcs12", "--request", std::to_string(id), "--password-file", Path("pw")};
  auto ask = Run([&] {
    auto a = base;
    a.insert(a.end(), {"--out", Path("none.p12")});
    return a;
  }());
  EXPECT_EQ(ask.exit_code, 2);
  EXPECT_NE(ask.err.find("2 keys (auth, sign): name one with --key NAME or --serial S"),
            std::string::npos)
      << ask.err;
  // Package each key; the certificate inside carries that key and that key's profile.
  std::map<std::string, std::string> serials;
  for (const std::string name : {"auth", "sign"}) {
    SCOPED_TRACE(name);
    const std::string p12 = Path(name + ".p12");
    auto a = base;
    a.insert(a.end(), {"--key", name, "--out", p12});
    auto r = Run(a);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string open =
        "openssl pkcs12 -in " + Quote(p12) + " -passin file:" + Quote(Path("pw"));
    auto key = Sh(open + " -nocerts -nodes | openssl pkey -pubout");
    auto cert = Sh(open + " -clcerts -nokeys | openssl x509 -pubkey -noout");
    ASSERT_EQ(key.exit_code, 0) << key.err;
    ASSERT_EQ(cert.exit_code, 0) << cert.err;
    EXPECT_NE(key.out.find("BEGIN PUBLIC KEY"), std::string::npos);
    EXPECT_EQ(key.out, cert.out);
    auto text = Sh(open + " -clcerts -nokeys | openssl x509 -noout -ext keyUsage -serial");
    ASSERT_EQ(text.exit_code, 0) << text.err;
    // employee-signature says nonRepudiation; employee-auth's keyEncipherment is not for an
    // EC key (RFC 8813 3), which gets digitalSignature alone.
    EXPECT_NE(text.out.find(name == "sign" ? "Non Repudiation" : "Digital Signature"),
              std::string::npos)
        << text.out;
    EXPECT_EQ(text.out.find("Key Encipherment"), std::string::npos) << text.out;
    const size_t at = text.out.find("serial=");
    ASSERT_NE(at, std::string::npos) << text.out;
    serials[name] = text.out.substr(at + 7, text.out.find('\n', at) - at - 7);
  }
  EXPECT_NE(serials["auth"], serials["sign"]);
  // --serial picks the certificate, and its key with it.
  auto a = base;
  a.insert(a.end(), {"--serial", serials["sign"], "--out", Path("by-serial.p12")});
  auto r = Run(a);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto text = Sh("openssl pkcs12 -in " + Quote(Path("by-serial.p12")) + " -passin file:" +
                 Quote(Path("pw")) + " -clcerts -nokeys | openssl x509 -noout -serial");
  EXPECT_EQ(text.out, "serial=" + serials["sign"] + "\n");
  // A key name the request does not have is not found, with the name in the message.
  a = base;
  a.insert(a.end(), {"--key", "encrypt", "--out", Path("x.p12")});
  auto missing = Run(a);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("has no key named 'encrypt'"), std::string::npos) << missing.err;
}

// A request issued again (as after a crash) got a new key; its first certificate's key is
// gone, so that certificate cannot be packaged and the newest one is, with the new key.
TEST_F(BatchIT, Pkcs12OfAReissuedRequestTakesTheCertificateOfTheStoredKey) {
  ImportAndApprove(Employees(1), 1);
  ASSERT_EQ(Run({"run-batch"}).exit_code, 0);
  const std::string id = std::to_string(Scalar("SELECT MIN(id) FROM requests"));
  auto c = db_.Connect();
  auto first = store::Sql(*c).Query("SELECT serial FROM certificates WHERE request_id = " + id);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 1u);
  const std::string old_serial = (*first)[0].Str(0);
  ASSERT_TRUE(store::Sql(*c).Exec("UPDATE requests SET state = 'approved' WHERE id = " + id).ok());
  ASSERT_EQ(Run({"run-batch"}).exit_code, 0);
  ASSERT_EQ(
      Scalar("SELECT COUNT(*) FROM certificates WHERE status = 'issued' AND request_id = " + id),
      2);
  ASSERT_TRUE(WriteFile(Path("pw"), "again and again\n", 0600).ok());
  auto r = Run(
      {"cert", "pkcs12", "--request", id, "--password-file", Path("pw"), "--out", Path("new.p12")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto serial =
      Sh("openssl pkcs12 -in " + Quote(Path("new.p12")) + " -passin file:" + Quote(Path("pw")) +
         " -clcerts -nokeys | openssl x509 -noout -serial");
  ASSERT_EQ(serial.exit_code, 0) << serial.err;
  EXPECT_EQ(serial.out.find("serial=" + old_serial), std::string::npos) << serial.out;
  auto old = Run({"cert", "pkcs12", "--request", id, "--serial", old_serial, "--password-file",
                  Path("pw"), "--out", Path("old.p12")});
  EXPECT_EQ(old.exit_code, 1);
  EXPECT_NE(old.err.find("has no certificate " + old_serial + " whose private key is stored"),
            std::string::npos)
      << old.err;
}

TEST_F(BatchIT, CsrRequestsAreCheckedAndIssued) {
  auto gen = Sh("cd " + Quote(cli_.dir()) +
                " && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                "-keyout tls.key -out tls.csr -subj /CN=www.example.org "
                "-addext subjectAltName=DNS:www.example.org,DNS:api.example.org");
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  auto sub = Run({"request", "submit", "--csr", Path("tls.csr"), "--profile", "tls-server", "--ca",
                  "issuing"});
  ASSERT_EQ(sub.exit_code, 0) << sub.err;
  ASSERT_EQ(cli_.Decide({"approve", "--all", "--profile", "tls-server"}, "carol").exit_code, 0);
  auto run = Run({"run-batch"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("issued 1,"), std::string::npos) << run.out;
  const int64_t id = Scalar("SELECT MAX(id) FROM requests");
  auto exp = Run({"cert", "export", "--request", std::to_string(id), "--out", Path("tls.pem")});
  ASSERT_EQ(exp.exit_code, 0) << exp.err;
  auto text = Sh("openssl x509 -in " + Quote(Path("tls.pem")) +
                 " -noout -ext subjectAltName,extendedKeyUsage");
  EXPECT_NE(text.out.find("DNS:www.example.org, DNS:api.example.org"), std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("TLS Web Server Authentication"), std::string::npos) << text.out;
  // The certificate is for the requester's key.
  auto a = Sh("openssl x509 -in " + Quote(Path("tls.pem")) + " -pubkey -noout");
  auto b = Sh("openssl pkey -in " + Quote(Path("tls.key")) + " -pubout");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_NE(a.out.find("BEGIN PUBLIC KEY"), std::string::npos) << a.out;
  EXPECT_EQ(a.out, b.out);
  auto chain = Run({"cert", "export", "--request", std::to_string(id), "--format", "chain", "--out",
                    Path("tls-chain.pem")});
  ASSERT_EQ(chain.exit_code, 0);
  auto g = Sh("certtool --verify-chain --infile " + Quote(Path("tls-chain.pem")));
  EXPECT_NE(g.out.find("Chain verification output: Verified."), std::string::npos) << g.out;
}

// IP names a CSR asks for are carried into the certificate when the profile allows them, never
// dropped silently; a name the profile has no place for refuses the request.
TEST_F(BatchIT, CsrIpNamesAreCarriedOrRefusedNeverDropped) {
  auto gen = Sh("cd " + Quote(cli_.dir()) +
                " && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                "-keyout ip.key -out ip.csr -subj /CN=www.example.org "
                "-addext subjectAltName=DNS:www.example.org,IP:93.184.216.34,IP:2606:4700::1111");
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  auto sub = Run(
      {"request", "submit", "--csr", Path("ip.csr"), "--profile", "tls-server", "--ca", "issuing"});
  ASSERT_EQ(sub.exit_code, 0) << sub.err;
  ASSERT_EQ(cli_.Decide({"approve", "--all", "--profile", "tls-server"}, "carol").exit_code, 0);
  auto run = Run({"run-batch"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const int64_t id = Scalar("SELECT MAX(id) FROM requests");
  auto exp = Run({"cert", "export", "--request", std::to_string(id), "--out", Path("ip.pem")});
  ASSERT_EQ(exp.exit_code, 0) << exp.err;
  auto text = Sh("openssl x509 -in " + Quote(Path("ip.pem")) + " -noout -ext subjectAltName");
  EXPECT_NE(text.out.find("IP Address:93.184.216.34, IP Address:2606:4700:"), std::string::npos)
      << text.out;
  // The submitter's --field dns replaces the CSR's DNS names: a CSR name left out is refused.
  auto gen2 = Sh("cd " + Quote(cli_.dir()) +
                 " && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                 "-keyout two.key -out two.csr -subj /CN=www.example.org "
                 "-addext subjectAltName=DNS:www.example.org,DNS:api.example.org");
  ASSERT_EQ(gen2.exit_code, 0) << gen2.err;
  auto replaced = Run({"request", "submit", "--csr", Path("two.csr"), "--profile", "tls-server",
                       "--ca", "issuing", "--field", "dns=cdn.example.org"});
  EXPECT_EQ(replaced.exit_code, 1);
  EXPECT_NE(replaced.err.find("the dns subjectAltName 'api.example.org', which profile "
                              "'tls-server' has no field to carry"),
            std::string::npos)
      << replaced.err;
}

TEST_F(BatchIT, BadCsrsAreRefusedWithTheReason) {
  struct Case {
    std::string name, make, expect;
  };
  const std::vector<Case> cases = {
      {"rsa1024",
       "openssl req -new -newkey rsa:1024 -nodes -keyout k -out c -subj /CN=a.example.org",
       "RSA key of 1024 bits is not allowed"},
      {"k256",
       "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:secp256k1 -nodes -keyout k "
       "-out c -subj /CN=a.example.org",
       "EC curve secp256k1 is not allowed"},
      {"ext",
       "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k -out c "
       "-subj /CN=a.example.org -addext basicConstraints=critical,CA:TRUE",
       "extensions the profile 'tls-server' does not allow: X509v3 Basic Constraints"},
      {"san",
       "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k -out c "
       "-subj /CN=a.example.org -addext subjectAltName=email:x@example.org",
       "email subjectAltName, which profile 'tls-server' does not allow"},
      {"garbage", "head -c 300 /dev/urandom > c", "not a PKCS#10 request"},
      // RFC 5480 2.1.1: no explicit curve parameters; 2.2: uncompressed points.
      {"explicit",
       "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -pkeyopt "
       "ec_param_enc:explicit -nodes -keyout k -out c -subj /CN=a.example.org",
       "explicit curve parameters"},
      {"compressed",
       "openssl ecparam -name prime256v1 -genkey -noout -out k0 && openssl ec -in k0 "
       "-conv_form compressed -out k 2>/dev/null && openssl req -new -key k -out c "
       "-subj /CN=a.example.org",
       "compressed"},
      // DNS names are host names; TLS server profiles refuse internal ones.
      {"dns-ip",
       "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k -out c "
       "-subj /CN=a.example.org -addext subjectAltName=DNS:a.example.org,DNS:192.0.2.1",
       "'192.0.2.1' is an IP address or a number, not a DNS name"},
      {"localhost",
       "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k -out c "
       "-subj /CN=localhost",
       "'localhost' is a loopback name"},
      {"internal",
       "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k -out c "
       "-subj /CN=printer.internal",
       "'printer.internal' is an internal name, which certificate profile 'tls-server' does not "
       "allow"},
      {"reserved-ip",
       "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k -out c "
       "-subj /CN=a.example.org -addext subjectAltName=DNS:a.example.org,IP:10.1.2.3",
       "'10.1.2.3' is a reserved IP address"},
      // Flip a byte inside the signature: proof of possession fails.
      {"badsig",
       "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k "
       "-outform DER -out c -subj /CN=a.example.org && "
       "size=$(stat -c %s c) && printf '\\x55' | dd of=c bs=1 seek=$((size-5)) "
       "conv=notrunc 2>/dev/null",
       "does not verify with its own key"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string dir = Path("csr-" + c.name);
    fs::create_directories(dir);
    auto mk = Sh("cd " + Quote(dir) + " && " + c.make);
    ASSERT_EQ(mk.exit_code, 0) << mk.err;
    auto r = Run(
        {"request", "submit", "--csr", dir + "/c", "--profile", "tls-server", "--ca", "issuing"});
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << r.err;
  }
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests"), 0);
}

TEST_F(BatchIT, DualControlNeedsTwoDistinctOperatorsAndOneRejectionEndsIt) {
  auto imp = cli_.SubmitAs({"import", Employees(3), "--profile", "employee-piv", "--ca", "issuing"},
                           "dave");
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  const int64_t first = Scalar("SELECT MIN(id) FROM requests");
  const std::string a = std::to_string(first), b = std::to_string(first + 1);
  auto one = cli_.Decide({"approve", "--ids", a}, "alice");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_NE(one.out.find("0 approved, 1 waiting"), std::string::npos) << one.out;
  auto twice = cli_.Decide({"approve", "--ids", a}, "alice");
  EXPECT_EQ(twice.exit_code, 1);
  EXPECT_NE(twice.err.find("already approved it"), std::string::npos) << twice.err;
  auto two = cli_.Decide({"approve", "--ids", a}, "bob");
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_NE(two.out.find("1 approved"), std::string::npos) << two.out;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'approved'"), 1);
  ASSERT_EQ(cli_.Decide({"approve", "--ids", b}, "alice").exit_code, 0);
  auto rej = cli_.Decide({"reject", "--ids", b, "--reason", "left the company"}, "bob");
  ASSERT_EQ(rej.exit_code, 0) << rej.err;
  auto late = cli_.Decide({"approve", "--ids", b}, "carol");
  EXPECT_EQ(late.exit_code, 1);
  EXPECT_NE(late.err.find("is rejected, not pending"), std::string::npos) << late.err;
  auto noop = Run({"approve", "--ids", a});
  EXPECT_EQ(noop.exit_code, 2);  // no --operator
  // PIV requests wait for a personalization station; batch runs leave them alone.
  auto run = Run({"run-batch"});
  ASSERT_EQ(run.exit_code, 0);
  EXPECT_NE(run.out.find("claimed 0"), std::string::npos) << run.out;
  auto audit = Run({"audit", "verify", "--json"});
  ASSERT_EQ(audit.exit_code, 0);
  EXPECT_GE(nlohmann::json::parse(audit.out)["entries"].get<int>(), 2 + 1 + 3 + 1);
}

// The attack the trust issue opened with: one person typing two spellings of one name, a name
// without its key, another operator's key. Each is refused, and nothing is approved by it.
TEST_F(BatchIT, OnePersonCannotBeTwoOperators) {
  auto imp = cli_.SubmitAs({"import", Employees(2), "--profile", "employee-piv", "--ca", "issuing"},
                           "carol");
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  const std::string a = std::to_string(Scalar("SELECT MIN(id) FROM requests"));
  ASSERT_EQ(cli_.Decide({"approve", "--ids", a}, "alice").exit_code, 0);
  const std::vector<std::string> alice = cli_.OperatorArgs("alice");
  const std::vector<std::string> bob = cli_.OperatorArgs("bob");
  // 'ALICE' with alice's key is alice: her second approval does not count.
  auto upper = Run({"approve", "--ids", a, "--operator", "ALICE", "--key", alice[3],
                    "--key-password-file", alice[5]});
  EXPECT_EQ(upper.exit_code, 1);
  EXPECT_NE(upper.err.find("already approved it"), std::string::npos) << upper.err;
  // A name nobody registered, with alice's key.
  auto mallory = Run({"approve", "--ids", a, "--operator", "mallory", "--key", alice[3],
                      "--key-password-file", alice[5]});
  EXPECT_EQ(mallory.exit_code, 1);
  EXPECT_NE(mallory.err.find("'mallory' is not a registered operator"), std::string::npos)
      << mallory.err;
  // bob's name with alice's key: the signature is not bob's.
  auto forged = Run({"approve", "--ids", a, "--operator", "bob", "--key", alice[3],
                     "--key-password-file", alice[5]});
  EXPECT_EQ(forged.exit_code, 1);
  EXPECT_NE(forged.err.find("does not verify with the operator's registered certificate"),
            std::string::npos)
      << forged.err;
  // A name with no key at all is a usage error.
  auto keyless = Run({"approve", "--ids", a, "--operator", "bob"});
  EXPECT_EQ(keyless.exit_code, 2);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'approved'"), 0);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM approvals"), 1);
  // Bob, with his own key, is the second operator.
  auto real = Run(
      {"approve", "--ids", a, "--operator", "bob", "--key", bob[3], "--key-password-file", bob[5]});
  ASSERT_EQ(real.exit_code, 0) << real.err;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'approved'"), 1);
  // A disabled operator decides nothing more.
  ASSERT_EQ(Run({"operator", "disable", "Bob"}).exit_code, 0);
  const std::string b = std::to_string(Scalar("SELECT MAX(id) FROM requests"));
  auto disabled = cli_.Decide({"approve", "--ids", b}, "bob");
  EXPECT_EQ(disabled.exit_code, 1);
  EXPECT_NE(disabled.err.find("operator 'bob' is disabled"), std::string::npos) << disabled.err;
  auto list = Run({"operator", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0);
  auto ops = nlohmann::json::parse(list.out);
  ASSERT_EQ(ops.size(), 3u);  // alice, bob, and carol who submitted
  EXPECT_EQ(ops[1]["name"], "bob");
  EXPECT_EQ(ops[1]["status"], "disabled");
  // Registering alice's certificate again under another name is refused: one certificate, one
  // operator.
  auto again = Run({"operator", "enroll", "alice", "--key-out", Path("alice2.key"),
                    "--password-file", alice[5]});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
}

// On a two-approver profile the operator who imported the requests is not one of their
// approvers; two others are needed.
TEST_F(BatchIT, TheSubmitterDoesNotApproveTheirOwnTwoApproverRequests) {
  const std::vector<std::string> alice = cli_.OperatorArgs("alice");
  cli_.OperatorArgs("bob");
  const std::string file = Employees(1);
  // Who submits must prove it: with no operator (cli:<login>, whom no operator matches), a
  // name without its key, or another's key, the submitter could be anyone, and so could
  // approve their own requests. Each is refused and nothing is stored.
  const std::vector<std::string> imp_args = {"import",       file,   "--profile",
                                             "employee-piv", "--ca", "issuing"};
  auto anonymous = Run(imp_args);
  EXPECT_EQ(anonymous.exit_code, 1);
  EXPECT_NE(anonymous.err.find("profile 'employee-piv' keeps whoever submits a request from "
                               "approving it"),
            std::string::npos)
      << anonymous.err;
  auto named = imp_args;
  named.insert(named.end(), {"--operator", "carol"});
  EXPECT_EQ(Run(named).exit_code, 1);
  auto borrowed = imp_args;
  borrowed.insert(borrowed.end(),
                  {"--operator", "bob", "--key", alice[3], "--key-password-file", alice[5]});
  auto as_bob = Run(borrowed);
  EXPECT_EQ(as_bob.exit_code, 1);
  EXPECT_NE(as_bob.err.find("submitter 'bob'"), std::string::npos) << as_bob.err;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests"), 0);
  // alice, with her key, submits; the audit entry keeps her signature.
  auto imp = cli_.SubmitAs(imp_args, "alice");
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'request.import' AND actor = "
                   "'alice' AND details LIKE '%submitter-signature=%'"),
            1);
  const std::string a = std::to_string(Scalar("SELECT MIN(id) FROM requests"));
  auto own = cli_.Decide({"approve", "--ids", a}, "alice");
  EXPECT_EQ(own.exit_code, 1);
  EXPECT_NE(own.err.find("operator 'alice' submitted it"), std::string::npos) << own.err;
  ASSERT_EQ(cli_.Decide({"approve", "--ids", a}, "bob").exit_code, 0);
  ASSERT_EQ(cli_.Decide({"approve", "--ids", a}, "carol").exit_code, 0);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'approved'"), 1);
}

// Every decision is a signed statement kept in the store; `audit verify` checks them all
// again, and a statement altered afterwards (an approver's list grown by one) is caught.
TEST_F(BatchIT, SignedDecisionsAreVerifiedAgainByAuditVerify) {
  auto imp = Run({"import", Employees(3), "--profile", "employee-soft", "--ca", "issuing"});
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  auto dry = cli_.Decide({"approve", "--all", "--profile", "employee-soft", "--dry-run"}, "alice");
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("ca=issuing"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("3 request(s) would be approved by alice"), std::string::npos) << dry.out;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM approvals"), 0);
  ASSERT_EQ(cli_.Decide({"approve", "--all", "--profile", "employee-soft"}, "alice").exit_code, 0);
  auto ok = Run({"audit", "verify", "--json"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  auto j = nlohmann::json::parse(ok.out);
  EXPECT_EQ(j["signed_decisions"], 3);
  EXPECT_EQ(j["decision_statements"], 1);
  auto c = db_.Connect();
  ASSERT_TRUE(store::Sql(*c)
                  .Exec("UPDATE decision_statements SET statement = REPLACE(statement, "
                        "'decision: approve', 'decision: reject')")
                  .ok());
  auto bad = Run({"audit", "verify"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("does not verify with the operator's registered certificate"),
            std::string::npos)
      << bad.err;
}

// The run-time account can write request and approval rows, but not an operator's signature:
// `audit verify` recounts every approved request's approvals from the signed statements, so
// a bare state change, an approval pointing at another operator's statement and a lowered
// approval count are each caught, and the honestly approved request is not named.
TEST_F(BatchIT, ApprovalsForgedInTheDatabaseAreCaughtByAuditVerify) {
  ASSERT_EQ(cli_.SubmitAs({"import", Employees(3), "--profile", "employee-piv", "--ca", "issuing"},
                          "carol")
                .exit_code,
            0);
  const int64_t first = Scalar("SELECT MIN(id) FROM requests");
  const std::string honest = std::to_string(first), bare = std::to_string(first + 1),
                    borrowed = std::to_string(first + 2);
  ASSERT_EQ(cli_.Decide({"approve", "--ids", honest}, "alice").exit_code, 0);
  ASSERT_EQ(cli_.Decide({"approve", "--ids", honest}, "bob").exit_code, 0);
  ASSERT_EQ(cli_.Decide({"approve", "--ids", borrowed}, "alice").exit_code, 0);
  ASSERT_EQ(
      Run({"import", Employees(1, 900), "--profile", "employee-soft", "--ca", "issuing"}).exit_code,
      0);
  const std::string lowered = std::to_string(Scalar("SELECT MAX(id) FROM requests"));
  auto before = Run({"audit", "verify", "--json"});
  ASSERT_EQ(before.exit_code, 0) << before.err;
  EXPECT_EQ(nlohmann::json::parse(before.out)["approved_requests_checked"], 1);

  auto c = db_.Connect();
  auto& sql = *c;
  const int64_t alices = Scalar("SELECT MAX(id) FROM decision_statements");
  ASSERT_TRUE(store::Sql(sql)
                  .Exec("UPDATE requests SET state = 'approved' WHERE id = ?", {first + 1})
                  .ok());
  ASSERT_TRUE(store::Sql(sql)
                  .Exec("INSERT INTO approvals (request_id, operator, decision, statement_id) "
                        "VALUES (?, 'bob', 'approve', ?)",
                        {first + 2, alices})
                  .ok());
  ASSERT_TRUE(store::Sql(sql)
                  .Exec("UPDATE requests SET state = 'approved' WHERE id = ?", {first + 2})
                  .ok());
  ASSERT_TRUE(store::Sql(sql)
                  .Exec("UPDATE requests SET state = 'approved', approvals_needed = 0 WHERE id = "
                        "(SELECT MAX(id) FROM (SELECT id FROM requests) r)")
                  .ok());
  auto after = Run({"audit", "verify"});
  EXPECT_EQ(after.exit_code, 1) << after.out;
  EXPECT_NE(after.err.find("request " + bare + " (approved) has 0 verified approval(s) of the 2"),
            std::string::npos)
      << after.err;
  EXPECT_NE(
      after.err.find("request " + borrowed + " (approved): the approval by 'bob' (statement " +
                     std::to_string(alices) + ") points at a statement by 'alice' (approve)"),
      std::string::npos)
      << after.err;
  EXPECT_NE(
      after.err.find("request " + borrowed + " (approved) has 1 verified approval(s) of the 2"),
      std::string::npos)
      << after.err;
  EXPECT_NE(after.err.find("request " + lowered +
                           " (approved) needed 1 approval(s) by profile 'employee-soft', but "
                           "its row says 0"),
            std::string::npos)
      << after.err;
  EXPECT_EQ(after.err.find("request " + honest + " "), std::string::npos) << after.err;
}

// The audit chain is keyed by the token, and its head is checkpointed with a signature by the
// token's audit key, in the database and in a file outside it. An administrator who cuts the
// chain back to an earlier, still valid prefix (and deletes the database's checkpoints) is
// caught by the file.
TEST_F(BatchIT, ACutAndReGrownAuditChainIsCaughtByTheCheckpointFile) {
  ImportAndApprove(Employees(20), 20);
  // A run signs a checkpoint every N audit entries (here 2: chunks of 5, one entry each, and
  // the run's start) and at its end.
  ASSERT_EQ(Run({"run-batch", "--chunk", "5", "--audit.checkpoint-every", "2"}).exit_code, 0);
  EXPECT_GE(Scalar("SELECT COUNT(*) FROM audit_checkpoints"), 3);
  auto cp = Run({"audit", "checkpoint"});
  ASSERT_EQ(cp.exit_code, 0) << cp.err;
  auto ok = Run({"audit", "verify", "--json"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err << ok.out;
  auto j = nlohmann::json::parse(ok.out);
  EXPECT_TRUE(j["keyed"].get<bool>());
  EXPECT_GE(j["checkpoints"].get<int>(), 2);
  EXPECT_EQ(j["checkpoints"], j["checkpoints_in_file"]);
  const int64_t entries = j["entries"].get<int64_t>();
  ASSERT_GT(entries, 5);
  // Back to the first 5 entries: a valid prefix of the keyed chain, head and all.
  auto c = db_.Connect();
  auto& sql = *c;
  ASSERT_TRUE(store::Sql(sql).ExecScript("DROP TRIGGER audit_log_no_delete").ok());
  ASSERT_TRUE(store::Sql(sql).Exec("DELETE FROM audit_log WHERE seq > 5").ok());
  ASSERT_TRUE(store::Sql(sql)
                  .Exec("UPDATE audit_head SET seq = 5, hash = (SELECT hash FROM audit_log "
                        "WHERE seq = 5) WHERE id = 1")
                  .ok());
  ASSERT_TRUE(store::Sql(sql).Exec("DELETE FROM audit_checkpoints").ok());
  auto cut = Run({"audit", "verify"});
  EXPECT_EQ(cut.exit_code, 1) << cut.out;
  EXPECT_NE(cut.err.find("entries removed, or an older database restored"), std::string::npos)
      << cut.err;
  // A forged checkpoint line (another hash at the same place) does not verify either.
  auto lines = Sh("sed -i 's/\"hash\":\"0/\"hash\":\"1/;t;s/\"hash\":\"[1-9a-f]/\"hash\":\"0/' " +
                  Quote(cli_.dir() + "/audit-checkpoints.jsonl"));
  ASSERT_EQ(lines.exit_code, 0);
  auto forged = Run({"audit", "verify"});
  EXPECT_EQ(forged.exit_code, 1);
  EXPECT_NE(forged.err.find("the signature does not verify with the signing key"),
            std::string::npos)
      << forged.err;
}

// A command that audits anything ends with a signed checkpoint, in the database and in the
// file (not only runs do); and the file removed is caught, since it is the copy outside the
// database that would catch an older database restored.
TEST_F(BatchIT, EveryAuditingCommandIsCheckpointedAndARemovedCheckpointFileIsCaught) {
  ASSERT_EQ(
      Run({"import", Employees(2), "--profile", "employee-soft", "--ca", "issuing"}).exit_code, 0);
  cli_.OperatorArgs("alice");  // enrolled (and checkpointed) before the count
  const int64_t after_import = Scalar("SELECT COUNT(*) FROM audit_checkpoints");
  EXPECT_GE(after_import, 2);
  const std::string a = std::to_string(Scalar("SELECT MIN(id) FROM requests"));
  ASSERT_EQ(cli_.Decide({"approve", "--ids", a}, "alice").exit_code, 0);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM audit_checkpoints"), after_import + 1);
  // The approval's checkpoint is at the chain's head: the decision is covered.
  EXPECT_EQ(Scalar("SELECT MAX(seq) FROM audit_checkpoints"),
            Scalar("SELECT seq FROM audit_head WHERE id = 1"));
  auto ok = Run({"audit", "verify", "--json"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  auto j = nlohmann::json::parse(ok.out);
  EXPECT_EQ(j["checkpoints"], j["checkpoints_in_file"]);
  const std::string file = cli_.dir() + "/audit-checkpoints.jsonl";
  ASSERT_TRUE(fs::remove(file));
  auto gone = Run({"audit", "verify"});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_NE(gone.err.find("the checkpoint file " + file +
                          " is missing or empty, but the database "
                          "holds"),
            std::string::npos)
      << gone.err;
}

// Issuance is audited per chunk: one entry with the RFC 6962 Merkle root of its
// certificates. `audit prove` shows each certificate is in it, and a certificate row changed
// afterwards is no longer.
TEST_F(BatchIT, EveryCertificateIsProvableFromItsChunksAuditEntry) {
  ImportAndApprove(Employees(30), 30);
  ASSERT_EQ(Run({"run-batch", "--chunk", "8"}).exit_code, 0);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'chunk.issue'"), 4);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'request.issue'"), 0);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM certificates WHERE request_id IS NOT NULL AND "
                   "audit_seq IS NULL"),
            0);
  auto c = db_.Connect();
  auto rows = store::Sql(*c).Query(
      "SELECT serial FROM certificates WHERE request_id IS NOT NULL ORDER BY id");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 30u);
  for (size_t k : {size_t{0}, size_t{13}, size_t{29}}) {
    auto p = Run({"audit", "prove", "--serial", (*rows)[k].Str(0)});
    ASSERT_EQ(p.exit_code, 0) << p.err;
    auto j = nlohmann::json::parse(p.out);
    EXPECT_TRUE(j["verified"].get<bool>());
    EXPECT_EQ(j["tree_size"], k < 24 ? 8 : 6);
  }
  EXPECT_EQ(Run({"audit", "verify"}).exit_code, 0);
  // Another certificate's DER in the row: the tree no longer has the recorded root.
  const std::string serial = (*rows)[13].Str(0);
  ASSERT_TRUE(store::Sql(*c)
                  .Exec("UPDATE certificates SET der = (SELECT der FROM (SELECT der FROM "
                        "certificates WHERE serial = ?) x) WHERE serial = ?",
                        {(*rows)[14].Str(0), serial})
                  .ok());
  auto bad = Run({"audit", "prove", "--serial", serial});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("is not in the Merkle tree of audit entry"), std::string::npos) << bad.err;
}

// An operator whose key is in a PKCS#11 token (here a key the token generated, certified by a
// CA the administrator trusts, made with plain openssl) signs decisions through its RFC 7512
// URI; a certificate without its chain is not registered.
TEST_F(BatchIT, AnOperatorSignsWithAKeyInAToken) {
  const std::string root_key = Path("trusted.key"), root_pem = Path("trusted.pem");
  auto mk = Sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " +
               Quote(root_key) + " -out " + Quote(root_pem) +
               " -days 365 -subj '/O=Trusted/CN=Trusted Operator CA' "
               "-addext basicConstraints=critical,CA:TRUE "
               "-addext keyUsage=critical,keyCertSign,cRLSign");
  ASSERT_EQ(mk.exit_code, 0) << mk.err;
  // A P-256 key generated in the token, and its CSR (signed in the token).
  auto csr = Run({"ca", "create-sub", "--label", "op-carol", "--name", "CN=carol,O=Trusted",
                  "--key-type", "ec-p256", "--csr-out", Path("carol.csr")});
  ASSERT_EQ(csr.exit_code, 0) << csr.err;
  ASSERT_TRUE(WriteFile(Path("op.cnf"),
                        "basicConstraints=critical,CA:FALSE\n"
                        "keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n")
                  .ok());
  auto sign =
      Sh("openssl x509 -req -in " + Quote(Path("carol.csr")) + " -CA " + Quote(root_pem) +
         " -CAkey " + Quote(root_key) + " -CAcreateserial -days 30 -extfile " +
         Quote(Path("op.cnf")) + " -out " + Quote(Path("carol.pem")) + " && cat " +
         Quote(Path("carol.pem")) + " " + Quote(root_pem) + " > " + Quote(Path("carol-chain.pem")));
  ASSERT_EQ(sign.exit_code, 0) << sign.err;
  auto alone = Run({"operator", "add", "dave", "--cert", Path("carol.pem")});
  EXPECT_EQ(alone.exit_code, 1);
  EXPECT_NE(alone.err.find("does not chain to a CA of ours"), std::string::npos) << alone.err;
  // A root that comes with the certificate is not trusted for being there: anyone can make
  // one (the attack: a self-made root and leaf register a second identity).
  auto self_made = Run({"operator", "add", "carol", "--cert", Path("carol-chain.pem")});
  EXPECT_EQ(self_made.exit_code, 1);
  EXPECT_NE(self_made.err.find("does not chain to a CA of ours or to an anchor of "
                               "operators.trust-anchors"),
            std::string::npos)
      << self_made.err;
  // The administrator's anchors, a file outside the database, are.
  const std::string anchors = "--operators.trust-anchors=" + root_pem;
  auto add = Run({"operator", "add", "carol", "--cert", Path("carol-chain.pem"), anchors});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  // The same key under a second name (a new certificate for it) is the same operator.
  auto resign = Sh("openssl x509 -req -in " + Quote(Path("carol.csr")) + " -CA " + Quote(root_pem) +
                   " -CAkey " + Quote(root_key) + " -CAcreateserial -days 20 " + "-extfile " +
                   Quote(Path("op.cnf")) + " -out " + Quote(Path("carol2.pem")));
  ASSERT_EQ(resign.exit_code, 0) << resign.err;
  auto twice = Run({"operator", "add", "carol2", "--cert", Path("carol2.pem"), anchors});
  EXPECT_EQ(twice.exit_code, 1);
  EXPECT_NE(twice.err.find("is operator 'carol''s already; one key is one operator"),
            std::string::npos)
      << twice.err;

  auto imp = Run({"import", Employees(2), "--profile", "employee-soft", "--ca", "issuing"});
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  const std::string uri = "pkcs11:token=" + token_.label() + ";object=op-carol";
  // Another key of the same token is not carol's.
  auto other = Run({"approve", "--all", "--profile", "employee-soft", "--operator", "carol",
                    "--key", "pkcs11:token=" + token_.label() + ";object=issuing",
                    "--key-password-file", token_.pin_file()});
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_NE(other.err.find("does not verify with the operator's registered certificate"),
            std::string::npos)
      << other.err;
  auto ok = Run({"approve", "--all", "--profile", "employee-soft", "--operator", "carol", "--key",
                 uri, "--key-password-file", token_.pin_file()});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("2 approved"), std::string::npos) << ok.out;
  auto verify = Run({"audit", "verify", "--json"});
  ASSERT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_EQ(nlohmann::json::parse(verify.out)["signed_decisions"], 2);
}

TEST_F(BatchIT, SchedulerRunsOnScheduleAndStopsCleanlyOnSigterm) {
  ImportAndApprove(Employees(50), 50);
  auto once = Run({"scheduler", "--interval", "3600", "--run-now", "--max-runs", "1"});
  ASSERT_EQ(once.exit_code, 0) << once.err;
  EXPECT_NE(once.err.find(" info scheduler: run starting n=1"), std::string::npos) << once.err;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'issued'"), 50);

  ImportAndApprove(Employees(4000, 1000), 4000);
  const std::string cmd = "exec " + cli_.CommandLine({"scheduler", "--run-now", "--interval",
                                                      "3600", "--chunk", "50", "--threads", "1"});
  ASSERT_EQ(Sh("(" + cmd + " > " + Quote(Path("sched.out")) + " 2>&1 & echo $! > " +
               Quote(Path("spid")) + ")")
                .exit_code,
            0);
  std::string pid = *ReadFile(Path("spid"));
  pid.erase(pid.find_last_not_of(" \n") + 1);
  for (int i = 0; i < 500 && Scalar("SELECT COUNT(*) FROM requests WHERE state = 'issued'") < 300;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto term =
      Sh("kill -TERM " + pid + " && while kill -0 " + pid + " 2>/dev/null; do sleep 0.1; done");
  ASSERT_EQ(term.exit_code, 0);
  const std::string log = *ReadFile(Path("sched.out"));
  EXPECT_NE(log.find("scheduler: stopped by signal"), std::string::npos) << log;
  // Nothing is left claimed: finished or given back.
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'issuing'"), 0);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'issued'") +
                Scalar("SELECT COUNT(*) FROM requests WHERE state = 'approved'"),
            4050);
  ASSERT_EQ(Run({"run-batch"}).exit_code, 0);
  ExpectExactlyOnce(4050);
}

// The scheduler's log in JSON: every stderr line is a JSON object, the scheduler's lines name
// their component and the run, and the token PIN is nowhere in what the process wrote.
TEST_F(BatchIT, SchedulerLogsJsonLinesWithRunIdsAndNoSecret) {
  ImportAndApprove(Employees(5), 5);
  auto r = Run({"scheduler", "--run-now", "--max-runs", "1", "--log-format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  size_t scheduler_lines = 0;
  bool finished_with_run = false;
  std::istringstream in(r.err);
  for (std::string line; std::getline(in, line);) {
    // Progress lines ("run-batch: ...") share stderr with the log; every other line is JSON.
    if (line.rfind("run-batch: ", 0) == 0) continue;
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(j.is_discarded()) << line;
    for (const char* key : {"time", "level", "component", "msg"}) {
      EXPECT_TRUE(j.contains(key)) << key << " missing: " << line;
    }
    if (j["component"] != "scheduler") continue;
    ++scheduler_lines;
    if (j["msg"] == "run finished") {
      EXPECT_GT(j["run"].get<int64_t>(), 0) << line;
      EXPECT_EQ(j["issued"], 5) << line;
      finished_with_run = true;
    }
  }
  EXPECT_GE(scheduler_lines, 3u) << r.err;  // started, run starting, run finished, stopped
  EXPECT_TRUE(finished_with_run) << r.err;
  const std::string pin = token_.pin();
  ASSERT_FALSE(pin.empty());
  EXPECT_EQ(r.err.find(pin), std::string::npos);
  EXPECT_EQ(r.out.find(pin), std::string::npos);
  // The issued summary line stays on stdout.
  EXPECT_NE(r.out.find("issued 5"), std::string::npos) << r.out;
}

// run-batch keeps its output: the summary on stdout and no log lines below warn on stderr;
// --log-level info adds the batch's lines, and bad log options are usage errors.
TEST_F(BatchIT, RunBatchLogsOnlyWarningsUnlessAskedAndRefusesBadLogOptions) {
  ImportAndApprove(Employees(3), 3);
  auto quiet = Run({"run-batch"});
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.err.find("batch:"), std::string::npos) << quiet.err;
  ImportAndApprove(Employees(2, 100), 2);
  auto loud = Run({"run-batch", "--log-level", "info"});
  ASSERT_EQ(loud.exit_code, 0) << loud.err;
  EXPECT_NE(loud.err.find(" info batch: run started run="), std::string::npos) << loud.err;
  EXPECT_NE(loud.err.find(" info batch: run finished run="), std::string::npos) << loud.err;
  EXPECT_EQ(Run({"status", "--log-level", "loud"}).exit_code, 2);
  EXPECT_EQ(Run({"status", "--log-format", "xml"}).exit_code, 2);
}

}  // namespace
}  // namespace certpress
