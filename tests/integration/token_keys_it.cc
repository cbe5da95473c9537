// Integration tests of kgs/token_keys.h against SoftHSM2 and MariaDB: processes that share a
// token and a database create each of CertPress's own token keys once.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "kgs/audit_keys.h"
#include "kgs/token_keys.h"
#include "signer/token.h"
#include "store/sql.h"
#include "tests/support/test_env.h"

namespace certpress {
namespace {

using kgs::TokenKeyKind;
using testing::ConfigFor;
using testing::Occurrences;
using testing::Quote;
using testing::Sh;
using testing::TestDb;
using testing::TestToken;

// Objects lists the token's objects of |type| (secrkey, privkey) with OpenSC's pkcs11-tool.
std::string Objects(const TestToken& t, const std::string& type) {
  return Sh("pkcs11-tool --module " + Quote(t.module()) + " --token-label " + Quote(t.label()) +
            " --login --pin " + Quote(t.pin()) + " --list-objects --type " + type)
      .out;
}

// Count is how many of |objects| carry exactly |label|.
size_t Count(const std::string& objects, const std::string& label) {
  return Occurrences(objects, "label:      " + label + "\n");
}

int64_t Scalar(const TestDb& db, const std::string& sql) {
  auto c = db.Connect();
  auto rows = store::Sql(*c).Query(sql);
  if (!rows.ok() || rows->empty()) return -1;
  return (*rows)[0].Int(0);
}

class TokenKeysIT : public ::testing::Test {
 protected:
  void SetUp() override {
    // The chain's first key (and the key encryption key that wraps it), made once up front,
    // so that the racing processes audit what they create.
    auto token = OpenToken(ConfigFor(token_));
    ASSERT_TRUE(token.ok()) << token.status().message();
    auto conn = store::Connection::Open(db_.RuntimeConfig());
    ASSERT_TRUE(conn.ok()) << conn.status().message();
    auto keys = kgs::LoadAuditKeys(**conn, **token, "certpress-kek", true);
    ASSERT_TRUE(keys.ok()) << keys.status().message();
  }

  // Race forks |n| processes that each open the token and the database, wait for the same
  // moment, and ensure |label|; returns how many exited 0.
  int Race(int n, const std::string& label, TokenKeyKind kind) {
    int go[2];
    if (pipe(go) != 0) return -1;
    std::vector<pid_t> kids;
    for (int i = 0; i < n; ++i) {
      pid_t pid = fork();
      if (pid == 0) {
        close(go[1]);
        auto token = OpenToken(ConfigFor(token_));
        auto conn = store::Connection::Open(db_.RuntimeConfig());
        if (!token.ok() || !conn.ok()) {
          fprintf(stderr, "child %d: %s\n", i,
                  (!token.ok() ? token.status() : conn.status()).message().c_str());
          _exit(2);
        }
        auto keys = kgs::LoadAuditKeys(**conn, **token, "certpress-kek", false);
        if (!keys.ok()) {
          fprintf(stderr, "child %d: %s\n", i, keys.status().message().c_str());
          _exit(3);
        }
        (*conn)->SetAuditKeys(*keys);
        char c;
        if (read(go[0], &c, 1) != 0) _exit(4);  // EOF: every process starts at once
        Status st = kgs::EnsureTokenKey(**conn, **token, label, kind);
        if (!st.ok()) fprintf(stderr, "child %d: %s\n", i, st.message().c_str());
        _exit(st.ok() ? 0 : 1);
      }
      kids.push_back(pid);
    }
    close(go[0]);
    usleep(300 * 1000);  // let them all reach the read
    close(go[1]);
    int ok = 0;
    for (pid_t pid : kids) {
      int status = 0;
      waitpid(pid, &status, 0);
      ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    return ok;
  }

  TestDb db_;
  TestToken token_;
};

TEST_F(TokenKeysIT, SixProcessesAtOnceMakeOneKeyOfEachKind) {
  EXPECT_EQ(Race(6, "race-kek", TokenKeyKind::kAesKek), 6);
  EXPECT_EQ(Race(6, "race-master", TokenKeyKind::kHmacMaster), 6);
  EXPECT_EQ(Race(6, "race-signing", TokenKeyKind::kEcSigning), 6);
  const std::string secrets = Objects(token_, "secrkey");
  EXPECT_EQ(Count(secrets, "race-kek"), 1u) << secrets;
  EXPECT_EQ(Count(secrets, "race-master"), 1u) << secrets;
  const std::string privates = Objects(token_, "privkey");
  EXPECT_EQ(Count(privates, "race-signing"), 1u) << privates;
  // One creator each, on record and in the audit log.
  EXPECT_EQ(Scalar(db_,
                   "SELECT COUNT(*) FROM token_keys WHERE created_at IS NOT NULL AND "
                   "label IN ('race-kek', 'race-master', 'race-signing')"),
            3);
  EXPECT_EQ(Scalar(db_,
                   "SELECT COUNT(*) FROM audit_log WHERE action = 'token.key-created' "
                   "AND object LIKE 'token-key:race-%'"),
            3);
}

TEST_F(TokenKeysIT, AKeyTheDatabaseSaysWasMadeButTheTokenLacksIsAnErrorNotANewKey) {
  auto c = db_.Connect();
  ASSERT_TRUE(store::Sql(*c)
                  .Exec("INSERT INTO token_keys (label, kind, claimed_by, created_at) VALUES "
                        "('gone-kek', 'aes-kek', 'node-a:42', NOW(6))")
                  .ok());
  auto token = OpenToken(ConfigFor(token_));
  ASSERT_TRUE(token.ok());
  auto conn = store::Connection::Open(db_.RuntimeConfig());
  ASSERT_TRUE(conn.ok());
  Status st = kgs::EnsureTokenKey(**conn, **token, "gone-kek", TokenKeyKind::kAesKek);
  EXPECT_EQ(st.kind(), ErrorKind::kConflict) << st.message();
  EXPECT_NE(st.message().find("node-a:42 created"), std::string::npos) << st.message();
  EXPECT_EQ(Count(Objects(token_, "secrkey"), "gone-kek"), 0u);
}

TEST_F(TokenKeysIT, ALiveClaimIsWaitedForAndADeadOneTakenOver) {
  auto c = db_.Connect();
  ASSERT_TRUE(store::Sql(*c)
                  .Exec("INSERT INTO token_keys (label, kind, claimed_by, claimed_at) VALUES "
                        "('busy-kek', 'aes-kek', 'node-b:7', NOW(6)), "
                        "('dead-kek', 'aes-kek', 'node-c:9', NOW(6) - INTERVAL 2 MINUTE)")
                  .ok());
  auto token = OpenToken(ConfigFor(token_));
  ASSERT_TRUE(token.ok());
  auto conn = store::Connection::Open(db_.RuntimeConfig());
  ASSERT_TRUE(conn.ok());
  kgs::TokenKeyOptions quick;
  quick.wait = std::chrono::milliseconds(400);
  Status busy = kgs::EnsureTokenKey(**conn, **token, "busy-kek", TokenKeyKind::kAesKek, quick);
  EXPECT_EQ(busy.kind(), ErrorKind::kUnavailable) << busy.message();
  EXPECT_NE(busy.message().find("node-b:7"), std::string::npos) << busy.message();
  Status dead = kgs::EnsureTokenKey(**conn, **token, "dead-kek", TokenKeyKind::kAesKek, quick);
  EXPECT_TRUE(dead.ok()) << dead.message();
  const std::string secrets = Objects(token_, "secrkey");
  EXPECT_EQ(Count(secrets, "busy-kek"), 0u) << secrets;
  EXPECT_EQ(Count(secrets, "dead-kek"), 1u) << secrets;
  EXPECT_EQ(Scalar(db_,
                   "SELECT COUNT(*) FROM token_keys WHERE label = 'dead-kek' AND "
                   "claimed_by <> 'node-c:9' AND created_at IS NOT NULL"),
            1);
}

}  // namespace
}  // namespace certpress
