// The "Trust" issue, end to end on the real stack: input refused where it enters (never cut to
// fit a column), failed requests retried against the current profile, leases kept while slow
// signing runs, a wrong PIN stopping the scheduler, PKCS#12 files written safely, and the
// audit entries that were missing.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "common/bytes.h"
#include "store/sql.h"
#include "tests/support/test_env.h"

namespace certpress {
namespace {

namespace fs = std::filesystem;
using certpress::testing::Cli;
using certpress::testing::Occurrences;
using certpress::testing::Quote;
using certpress::testing::RunResult;
using certpress::testing::Sh;
using certpress::testing::TestDb;
using certpress::testing::TestToken;

constexpr const char* kHeader =
    "given_name,surname,email,employee_id,department,address_line1,address_line2,postal_code,"
    "city,country\n";

class IntakeIT : public ::testing::Test {
 protected:
  IntakeIT() : cli_(db_, token_) {}

  void SetUp() override {
    auto root = Run({"ca", "create-root", "--label", "root", "--name",
                     "CN=Intake Test Root,O=CertPress Test,C=DK", "--key-type", "ec-p384"});
    ASSERT_EQ(root.exit_code, 0) << root.err;
    auto sub = Run({"ca", "create-sub", "--parent", "root", "--label", "issuing", "--name",
                    "CN=Intake Test Issuing CA,O=CertPress Test,C=DK", "--key-type", "ec-p256"});
    ASSERT_EQ(sub.exit_code, 0) << sub.err;
  }

  RunResult Run(std::vector<std::string> args) { return cli_.Run(args); }
  std::string Path(const std::string& name) { return cli_.dir() + "/" + name; }

  // A copy of the shipped profiles that a test may edit.
  std::string Profiles() {
    const std::string dir = Path("profiles");
    if (!fs::exists(dir)) fs::copy(CERTPRESS_SOURCE_DIR "/profiles", dir);
    return dir;
  }

  std::string Row(const std::string& given, const std::string& surname, const std::string& id) {
    return given + "," + surname + "," + given + "@example.org," + id +
           ",IT,1 Street,,1000,City,DK\n";
  }

  int64_t Scalar(const std::string& sql) {
    auto c = db_.Connect();
    auto rows = store::Sql(*c).Query(sql);
    EXPECT_TRUE(rows.ok()) << rows.status().message();
    return rows.ok() && !rows->empty() ? (*rows)[0].Int(0) : -1;
  }

  TestDb db_;
  TestToken token_;
  Cli cli_;
};

// Natural keys longer than the 200-character column were cut by INSERT IGNORE: two people
// whose ids share a prefix became "1 created, 1 already present".
TEST_F(IntakeIT, ANaturalKeyLongerThanItsColumnIsRefusedNotTruncated) {
  const std::string profiles = Profiles();
  ASSERT_EQ(
      Sh("sed -i 's/^employee_id = .*/employee_id = { required = true, max_length = 300 }/' " +
         Quote(profiles + "/employee-soft.toml"))
          .exit_code,
      0);
  const std::string prefix(200, '7');
  ASSERT_TRUE(WriteFile(Path("long.csv"), std::string(kHeader) + Row("ann", "A", prefix + "1") +
                                              Row("bob", "B", prefix + "2"))
                  .ok());
  auto r = Run({"import", Path("long.csv"), "--profile", "employee-soft", "--ca", "issuing",
                "--profiles.dir", profiles});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("0 created, 0 already present, 2 bad"), std::string::npos) << r.out;
  for (const char* line : {":2:", ":3:"}) {
    EXPECT_NE(r.err.find(Path("long.csv") + line +
                         "23: the natural key is 201 characters long; "
                         "the limit is 200"),
              std::string::npos)
        << r.err;
  }
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests"), 0);
}

// A taken natural key with different content was counted "already present" and dropped.
TEST_F(IntakeIT, ATakenNaturalKeyWithOtherContentIsAConflictNotAlreadyPresent) {
  ASSERT_TRUE(
      WriteFile(Path("a.csv"), std::string(kHeader) + Row("ann", "Andersen", "E000001")).ok());
  ASSERT_TRUE(WriteFile(Path("b.csv"), std::string(kHeader) + Row("ann", "Berg", "E000001")).ok());
  auto a = Run({"import", Path("a.csv"), "--profile", "employee-soft", "--ca", "issuing"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  auto b = Run({"import", Path("b.csv"), "--profile", "employee-soft", "--ca", "issuing"});
  EXPECT_EQ(b.exit_code, 1) << b.out << b.err;
  EXPECT_NE(b.out.find("0 created, 0 already present, 1 bad"), std::string::npos) << b.out;
  EXPECT_NE(b.err.find(Path("b.csv") + ":2:"), std::string::npos) << b.err;
  EXPECT_NE(b.err.find("natural key 'E000001' of profile 'employee-soft' is taken by request"),
            std::string::npos)
      << b.err;
  EXPECT_NE(b.err.find("with a different subject"), std::string::npos) << b.err;
  // The same row again is what "already present" means.
  auto again = Run({"import", Path("a.csv"), "--profile", "employee-soft", "--ca", "issuing"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("0 created, 1 already present, 0 bad"), std::string::npos) << again.out;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE subject LIKE 'CN=ann Andersen,%'"), 1);
}

// An optional column left out of the file failed every row.
TEST_F(IntakeIT, AnOptionalColumnMissingFromTheFileIsEmpty) {
  ASSERT_TRUE(WriteFile(Path("short.csv"),
                        "given_name,surname,email,employee_id,country\n"
                        "Ann,Andersen,ann@example.org,E000001,DK\n"
                        "Bob,Berg,bob@example.org,E000002,SE\n")
                  .ok());
  auto r = Run({"import", Path("short.csv"), "--profile", "employee-soft", "--ca", "issuing"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("2 created"), std::string::npos) << r.out;
}

// A 70 KB CSR was cut to the BLOB's 65,535 bytes and failed later, at issuance.
TEST_F(IntakeIT, AnOversizedCsrIsRefusedAtSubmissionWithItsSize) {
  std::string sans = "subjectAltName=DNS:host0.example.org";
  for (int i = 1; i < 3500; ++i) sans += ",DNS:host" + std::to_string(i) + ".example.org";
  ASSERT_TRUE(
      WriteFile(Path("sans.cnf"), "[req]\ndistinguished_name=dn\n[dn]\n[ext]\n" + sans + "\n")
          .ok());
  auto gen = Sh("cd " + Quote(cli_.dir()) +
                " && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                "-keyout big.key -outform DER -out big.der -subj /CN=big.example.org "
                "-config sans.cnf -reqexts ext");
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  ASSERT_GT(fs::file_size(Path("big.der")), 65535u);
  auto r = Run({"request", "submit", "--csr", Path("big.der"), "--profile", "tls-server", "--ca",
                "issuing"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find(Path("big.der") + ": the CSR file is "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the limit is 32768 bytes"), std::string::npos) << r.err;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests"), 0);
}

// A request failed because its profile changed was failed for good; `retry` rebuilds it
// against the profile as it is now and asks for a fresh approval. Editing the description
// alone no longer fails anything.
TEST_F(IntakeIT, RetryBringsAFailedRequestBackAgainstTheCurrentProfile) {
  const std::string profiles = Profiles();
  std::string csv = kHeader;
  for (int i = 1; i <= 3; ++i)
    csv += Row("p" + std::to_string(i), "X", "E00000" + std::to_string(i));
  ASSERT_TRUE(WriteFile(Path("three.csv"), csv).ok());
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), {"--profiles.dir", profiles});
    return Run(args);
  };
  ASSERT_EQ(with({"import", Path("three.csv"), "--profile", "employee-soft", "--ca", "issuing"})
                .exit_code,
            0);
  ASSERT_EQ(
      cli_.Decide({"approve", "--all", "--profile", "employee-soft", "--profiles.dir", profiles},
                  "bob")
          .exit_code,
      0);
  // A description edit keeps the pinned hash.
  ASSERT_EQ(Sh("sed -i 's/^description = .*/description = \"Renamed\"/' " +
               Quote(profiles + "/employee-soft.toml"))
                .exit_code,
            0);
  // A validity edit does not: the run fails all three.
  ASSERT_EQ(Sh("sed -i 's/^validity_days = 730/validity_days = 365/' " +
               Quote(profiles + "/certificates.toml"))
                .exit_code,
            0);
  auto run = with({"run-batch"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("issued 0, failed 3"), std::string::npos) << run.out;
  const int64_t first = Scalar("SELECT MIN(id) FROM requests");
  const std::string ids = std::to_string(first) + "-" + std::to_string(first + 2);
  auto retry = with({"retry", "--ids", ids, "--operator", "carol"});
  ASSERT_EQ(retry.exit_code, 0) << retry.err;
  EXPECT_NE(retry.out.find("0 back to approved, 3 pending a fresh approval, 0 refused"),
            std::string::npos)
      << retry.out;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'pending' AND reason IS NULL"), 3);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM approvals"), 0);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'request.retry' AND actor = "
                   "'carol'"),
            3);
  // Only failed requests: a pending one is refused, and named.
  auto twice = with({"retry", "--ids", std::to_string(first)});
  EXPECT_EQ(twice.exit_code, 1);
  EXPECT_NE(twice.err.find("request " + std::to_string(first) + " is pending, not failed"),
            std::string::npos)
      << twice.err;
  // bob approved the old content; his fresh approval counts again.
  ASSERT_EQ(
      cli_.Decide({"approve", "--all", "--profile", "employee-soft", "--profiles.dir", profiles},
                  "bob")
          .exit_code,
      0);
  auto again = with({"run-batch"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("issued 3, failed 0"), std::string::npos) << again.out;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM certificates WHERE DATEDIFF(not_after, not_before) "
                   "BETWEEN 364 AND 366"),
            3);
}

// With slow keys and a short lease, a run re-claimed its own in-flight requests and signed
// them again. Leases are renewed while a chunk is in flight: one serial per request.
TEST_F(IntakeIT, LeasesAreRenewedWhileSlowSigningRuns) {
  auto slow = Run({"ca", "create-sub", "--parent", "root", "--label", "slow", "--name",
                   "CN=Slow RSA-4096 CA,O=CertPress Test,C=DK", "--key-type", "rsa-4096"});
  ASSERT_EQ(slow.exit_code, 0) << slow.err;
  const std::string file = Path("many.csv");
  ASSERT_EQ(
      Sh(std::string(CERTPRESS_SOURCE_DIR "/scripts/gen-employees 800 > ") + Quote(file)).exit_code,
      0);
  ASSERT_EQ(Run({"import", file, "--profile", "employee-soft", "--ca", "slow"}).exit_code, 0);
  ASSERT_EQ(cli_.Decide({"approve", "--all", "--profile", "employee-soft"}, "alice").exit_code, 0);
  auto run = Run({"run-batch", "--lease", "1", "--chunk", "50", "--threads", "2", "--tokens", "4"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("issued 800, failed 0"), std::string::npos) << run.out;
  // One serial drawn per request: each was signed once (the CAs' own serials have no request).
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM (SELECT request_id FROM serials WHERE request_id IS NOT "
                   "NULL GROUP BY request_id HAVING COUNT(*) > 1) x"),
            0);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM serials WHERE request_id IS NOT NULL"), 800);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'request.lease-takeover'"), 0);
  // The run itself and its data key are audited.
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'run.start'"), 1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'run.finish' AND details LIKE "
                   "'outcome=done claimed=800 issued=800 %'"),
            1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'data-key.create'"), 1);
}

// A wrong PIN was tried again on every scheduler run. It now stops the scheduler, non-zero,
// after one login attempt.
TEST_F(IntakeIT, AWrongPinStopsTheSchedulerAfterOneAttempt) {
  ASSERT_TRUE(WriteFile(Path("wrong-pin"), "000000\n", 0600).ok());
  const std::string cmd = cli_.CommandLine(
      {"scheduler", "--interval", "1", "--run-now", "--token.pin-file", Path("wrong-pin")});
  auto r = Sh("timeout 15 " + cmd);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;  // 124: still retrying when the timeout hit
  EXPECT_NE(r.err.find("login refused: wrong PIN (CKR_PIN_INCORRECT)"), std::string::npos) << r.err;
  EXPECT_EQ(Occurrences(r.err, "run starting"), 1u) << r.err;
  // The right PIN still works: one wrong try did not lock it.
  EXPECT_EQ(Run({"ca", "list"}).exit_code, 0);
}

// cert pkcs12 --out followed symlinks, kept an existing file's mode, took a one-character
// password and audited only after writing.
TEST_F(IntakeIT, Pkcs12IsWrittenSafelyAndAuditedFirst) {
  ASSERT_TRUE(WriteFile(Path("one.csv"), std::string(kHeader) + Row("ann", "A", "E000001")).ok());
  ASSERT_EQ(
      Run({"import", Path("one.csv"), "--profile", "employee-soft", "--ca", "issuing"}).exit_code,
      0);
  ASSERT_EQ(cli_.Decide({"approve", "--all", "--profile", "employee-soft"}, "alice").exit_code, 0);
  ASSERT_EQ(Run({"run-batch"}).exit_code, 0);
  const std::string id = std::to_string(Scalar("SELECT MIN(id) FROM requests"));
  ASSERT_TRUE(WriteFile(Path("short-pw"), "x\n", 0600).ok());
  ASSERT_TRUE(WriteFile(Path("pw"), "correct horse battery staple\n", 0600).ok());
  auto p12 = [&](const std::string& out, const std::string& pw, bool force = false) {
    std::vector<std::string> a = {"cert",  "pkcs12", "--request",       id,
                                  "--out", out,      "--password-file", pw};
    if (force) a.push_back("--force");
    return Run(a);
  };
  auto weak = p12(Path("weak.p12"), Path("short-pw"));
  EXPECT_EQ(weak.exit_code, 2);
  EXPECT_NE(weak.err.find("at least 8 are required"), std::string::npos) << weak.err;
  EXPECT_FALSE(fs::exists(Path("weak.p12")));
  // A symlink at --out is not followed.
  ASSERT_TRUE(WriteFile(Path("target"), "precious\n", 0644).ok());
  fs::create_symlink(Path("target"), Path("link.p12"));
  auto link = p12(Path("link.p12"), Path("pw"));
  EXPECT_EQ(link.exit_code, 2);
  EXPECT_NE(link.err.find("already exists; pass --force"), std::string::npos) << link.err;
  EXPECT_EQ(*ReadFile(Path("target")), "precious\n");
  auto replaced = p12(Path("link.p12"), Path("pw"), true);
  EXPECT_EQ(replaced.exit_code, 0) << replaced.err;
  EXPECT_FALSE(fs::is_symlink(Path("link.p12")));
  EXPECT_EQ(*ReadFile(Path("target")), "precious\n");
  // An existing 0644 file is refused, and replaced with --force as a 0600 file.
  ASSERT_TRUE(WriteFile(Path("old.p12"), "old\n", 0644).ok());
  EXPECT_EQ(p12(Path("old.p12"), Path("pw")).exit_code, 2);
  EXPECT_EQ(*ReadFile(Path("old.p12")), "old\n");
  ASSERT_EQ(p12(Path("old.p12"), Path("pw"), true).exit_code, 0);
  struct stat st;
  ASSERT_EQ(stat(Path("old.p12").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto info = Sh("openssl pkcs12 -info -noout -in " + Quote(Path("old.p12")) +
                 " -passin file:" + Quote(Path("pw")));
  EXPECT_EQ(info.exit_code, 0) << info.err;
  // A write that fails after the audit leaves both entries.
  auto lost = p12(Path("no-such-dir/x.p12"), Path("pw"));
  EXPECT_EQ(lost.exit_code, 1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'cert.pkcs12' AND details LIKE "
                   "'%no-such-dir%'"),
            1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'cert.pkcs12-failed'"), 1);
}

// Secrets pass through certpress's memory: the process may not dump core.
TEST_F(IntakeIT, CertpressCannotDumpCore) {
  const std::string cmd = cli_.CommandLine({"scheduler", "--interval", "3600"});
  auto r = Sh(cmd +
              " 2>/dev/null & pid=$!; sleep 1; grep 'Max core file size' /proc/$pid/limits; "
              "kill $pid; wait $pid");
  EXPECT_NE(r.out.find("Max core file size        0                    0"), std::string::npos)
      << r.out;
}

// token init is audited when a database is configured. The audit chain's key is the token's
// (wrapped by its key encryption key), so a database of its own for the new token.
TEST_F(IntakeIT, TokenInitIsAudited) {
  testing::TestDb fresh_db;
  testing::Cli fresh(fresh_db, token_);
  ASSERT_TRUE(WriteFile(Path("so-pin"), "77120459\n", 0600).ok());
  auto r = fresh.Run({"token", "init", "--token.label", "fresh-" + testing::RandomSuffix(),
                      "--so-pin-file", Path("so-pin")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto c = fresh_db.Connect();
  auto n = store::Sql(*c).Query("SELECT COUNT(*) FROM audit_log WHERE action = 'token.init'");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ((*n)[0].Int(0), 1);
}

}  // namespace
}  // namespace certpress
