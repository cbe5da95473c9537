// Integration tests of store/ against the private MariaDB of scripts/stack.
#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "store/audit.h"
#include "store/certificates.h"
#include "store/requests.h"
#include "store/schema.h"
#include "store/sql.h"
#include "tests/support/test_env.h"

namespace certpress::store {
namespace {

using certpress::testing::TestDb;

std::string SchemaFingerprint(Connection& c, const std::string& db) {
  auto rows = Sql(c).Query(
      "SELECT table_name, column_name, column_type FROM information_schema.columns "
      "WHERE table_schema = ? ORDER BY table_name, ordinal_position",
      {db});
  EXPECT_TRUE(rows.ok()) << rows.status().message();
  std::string fp;
  for (const auto& r : *rows) fp += r.Str(0) + "." + r.Str(1) + ":" + r.Str(2) + "\n";
  return fp;
}

TEST(StoreIT, MigrationsRunTwiceWithoutChange) {
  TestDb db;  // already migrated once
  auto c = db.Connect();
  ASSERT_TRUE(c);
  std::string before = SchemaFingerprint(*c, db.name());
  ASSERT_NE(before.find("certificates.serial"), std::string::npos);
  auto recorded = Sql(*c).Query("SELECT COUNT(*), MAX(version) FROM schema_migrations");
  ASSERT_TRUE(recorded.ok());
  auto again = Migrate(*c);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->applied, 0);
  EXPECT_EQ(again->to_version, LatestSchemaVersion());
  EXPECT_EQ(SchemaFingerprint(*c, db.name()), before);
  // Versions are owned per branch and may leave gaps (9, 12, ...): the count stays, the
  // highest is the latest.
  auto n = Sql(*c).Query("SELECT COUNT(*), MAX(version) FROM schema_migrations");
  EXPECT_EQ((*n)[0].Int(0), (*recorded)[0].Int(0));
  EXPECT_EQ((*n)[0].Int(1), LatestSchemaVersion());
}

// The migration lock is a lease in schema_lock (a committed row, which Galera certifies across
// nodes), not GET_LOCK: a migrator waits while another holds an unexpired lease, goes on once
// it is released, and takes over one that ran out (its holder died).
TEST(StoreIT, MigrationsWaitForTheLeaseInSchemaLockAndTakeOverAnExpiredOne) {
  TestDb db;
  auto c = db.Connect();
  auto other = db.Connect();
  ASSERT_TRUE(c && other);
  ASSERT_TRUE(Sql(*other)
                  .Exec("UPDATE schema_lock SET holder = 'someone-else', lease_until = "
                        "UTC_TIMESTAMP(6) + INTERVAL 60 SECOND WHERE id = 1")
                  .ok());
  std::atomic<bool> released{false};
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    released = true;
    EXPECT_TRUE(Sql(*other)
                    .Exec("UPDATE schema_lock SET holder = NULL, lease_until = NULL WHERE id = 1")
                    .ok());
  });
  auto m = Migrate(*c);
  const bool waited = released.load();
  release.join();
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_TRUE(waited) << "Migrate did not wait for the lease another process held";
  auto free = Sql(*other).Query("SELECT COUNT(*) FROM schema_lock WHERE holder IS NULL");
  ASSERT_TRUE(free.ok());
  EXPECT_EQ((*free)[0].Int(0), 1);  // released after the migration

  // A holder that died: its lease ran out, and the next migration takes the lock at once.
  ASSERT_TRUE(Sql(*other)
                  .Exec("UPDATE schema_lock SET holder = 'dead', lease_until = "
                        "UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE id = 1")
                  .ok());
  auto again = Migrate(*c);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->applied, 0);
}

// db.hosts: a node that is down is passed by, in order, and the connection names the node it
// is on; when every node is down the error names each.
TEST(StoreIT, AConnectionOpensOnTheFirstNodeOfDbHostsThatAnswers) {
  TestDb db;
  DbConfig config = db.Config();
  const std::string live = config.socket;
  const std::string dead = "/nonexistent/certpress-test/mysqld.sock";
  config.socket.clear();
  config.nodes = {dead, live};
  auto c = Connection::Open(config);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ((*c)->Node(), live);
  auto one = Sql(**c).Query("SELECT 1");
  ASSERT_TRUE(one.ok()) << one.status().message();

  config.nodes = {dead, dead + ".2"};
  auto none = Connection::Open(config);
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(IsRetryable(none.status())) << none.status().message();  // down, not refused
  EXPECT_NE(none.status().message().find(dead + ".2"), std::string::npos)
      << none.status().message();
}

TEST(StoreIT, TransactionInterruptedByKilledConnectionIsRetried) {
  TestDb db;
  auto c = db.Connect();
  auto killer = db.Connect();
  ASSERT_TRUE(c && killer);
  ASSERT_TRUE(Sql(*c).ExecScript("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))").ok());
  int runs = 0, attempts = 0;
  Status st = RunTransaction(
      *c,
      [&](Connection& conn) -> Status {
        ++runs;
        CP_RETURN_IF_ERROR(Sql(conn).Exec("INSERT INTO t VALUES (1, 'a')").status());
        if (runs == 1) {
          // Another session kills ours in the middle of the transaction.
          auto k = Sql(*killer).Exec("KILL CONNECTION ?", {static_cast<int64_t>(conn.ThreadId())});
          EXPECT_TRUE(k.ok()) << k.status().message();
        }
        return Sql(conn).Exec("INSERT INTO t VALUES (2, 'b')").status();
      },
      RetryPolicy{}, &attempts);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(attempts, 2);
  auto rows = Sql(*killer).Query("SELECT COUNT(*) FROM t");
  EXPECT_EQ((*rows)[0].Int(0), 2);  // the first, killed attempt left nothing behind
}

TEST(StoreIT, DeadlockIsRetried) {
  TestDb db;
  auto a = db.Connect();
  auto b = db.Connect();
  ASSERT_TRUE(Sql(*a).ExecScript("CREATE TABLE d (id INT PRIMARY KEY, v INT)").ok());
  ASSERT_TRUE(Sql(*a).ExecScript("INSERT INTO d VALUES (1, 0), (2, 0)").ok());
  // Session b locks row 2 then waits for row 1, while a holds row 1 and asks for row 2.
  // b also writes more rows than a will, so that InnoDB, which rolls back the smaller
  // transaction of a deadlock, picks a: the retry is what this test is about.
  ASSERT_TRUE(Sql(*b).ExecScript("START TRANSACTION").ok());
  ASSERT_TRUE(Sql(*b).Exec("UPDATE d SET v = v + 1 WHERE id = 2").ok());
  ASSERT_TRUE(Sql(*b).ExecScript("INSERT INTO d SELECT seq + 100, 0 FROM seq_1_to_20").ok());
  int runs = 0;
  const uint64_t thread_before = a->ThreadId();
  std::thread other([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    Sql(*b).Exec("UPDATE d SET v = v + 1 WHERE id = 1").status().IgnoreError();
    Sql(*b).ExecScript("COMMIT").IgnoreError();
  });
  Status st = RunTransaction(*a, [&](Connection& conn) -> Status {
    ++runs;
    CP_RETURN_IF_ERROR(Sql(conn).Exec("UPDATE d SET v = v + 10 WHERE id = 1").status());
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    return Sql(conn).Exec("UPDATE d SET v = v + 10 WHERE id = 2").status();
  });
  other.join();
  ASSERT_TRUE(st.ok()) << st.message();
  auto rows = Sql(*a).Query("SELECT SUM(v) FROM d");
  // a lost the deadlock, was run again, and its +20 landed exactly once, after b's +2.
  int64_t sum = (*rows)[0].Int(0);
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(sum, 22);
  // Trust issue: each deadlock cost a reconnect. The retry ran on the same server connection.
  EXPECT_EQ(a->ThreadId(), thread_before);
}

// AddCas inserts CAs with ids 1..n.
void AddCas(Connection& c, int n) {
  for (int i = 0; i < n; ++i) {
    const std::string label = "ca" + std::to_string(i);
    ASSERT_TRUE(Sql(c)
                    .Exec("INSERT INTO cas (label, subject, key_uri, key_type, status) "
                          "VALUES (?, 'CN=x', 'pkcs11:object=x', 'ec-p256', 'active')",
                          {std::string_view(label)})
                    .ok());
  }
}

TEST(StoreIT, UniqueSerialPerIssuer) {
  TestDb db;
  auto c = db.Connect();
  AddCas(*c, 2);
  CertIntent in{1, "0A0B", std::nullopt, "CN=a", 1700000000, 1800000000, {}};
  ASSERT_TRUE(RecordIntents(*c, {&in}).ok());
  auto dup = RecordIntents(*c, {&in});
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.kind(), ErrorKind::kConflict);
  in.issuer_id = 2;  // the same serial under another issuer is another certificate
  EXPECT_TRUE(RecordIntents(*c, {&in}).ok());
}

// Storing signed certificates: each row gets its own DER and intent fields, two issuers in one
// call; a certificate whose intent was not recorded (or was recorded under the other issuer)
// fails the statement, and a certificate cannot be stored twice.
TEST(StoreIT, StoreCertificatesNeedsTheRecordedIntent) {
  TestDb db;
  auto c = db.Connect();
  AddCas(*c, 2);
  std::vector<CertIntent> intents;
  std::vector<std::string> ders;
  for (int i = 0; i < 600; ++i) {  // more than one statement's worth
    CertIntent in{1 + i % 2,  "0A" + std::to_string(1000 + i),
                  int64_t{i}, "CN=r" + std::to_string(i),
                  1700000000, 1800000000 + i,
                  {}};
    in.tbs_sha256[0] = static_cast<uint8_t>(i);
    in.tbs_sha256[31] = 0xff;  // not valid UTF-8, as real hashes are not
    intents.push_back(in);
    ders.push_back("der-" + std::to_string(i));
  }
  std::vector<const CertIntent*> recorded;
  std::vector<SignedCert> certs;
  for (int i = 0; i < 600; ++i) {
    recorded.push_back(&intents[i]);
    certs.push_back({&intents[i], ders[i]});
  }
  ASSERT_TRUE(RecordIntents(*c, recorded).ok());
  Status st = RunTransaction(*c, [&](Connection& t) { return StoreCertificates(t, certs); });
  ASSERT_TRUE(st.ok()) << st.message();
  auto rows = Sql(*c).Query(
      "SELECT serial, issuer_id, request_id, status, subject, not_after, tbs_sha256, der "
      "FROM certificates ORDER BY id");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 600u);
  for (const auto& r : *rows) {
    const int i = std::stoi(r.Str(0).substr(2)) - 1000;
    EXPECT_EQ(r.Int(1), 1 + i % 2);
    EXPECT_EQ(r.Int(2), i);
    EXPECT_EQ(r.Str(3), "issued");
    EXPECT_EQ(r.Str(4), "CN=r" + std::to_string(i));
    EXPECT_EQ(r.Str(5), FormatUtc(1800000000 + i));
    EXPECT_EQ(r.Str(6),
              std::string(reinterpret_cast<const char*>(intents[i].tbs_sha256.data()), 32));
    EXPECT_EQ(r.Str(7), "der-" + std::to_string(i));
  }

  const CertIntent unrecorded{1, "0BFF", std::nullopt, "CN=u", 1700000000, 1800000000, {}};
  CertIntent other_issuer = intents[0];
  other_issuer.issuer_id = 3 - other_issuer.issuer_id;
  other_issuer.serial_hex = "0B" + other_issuer.serial_hex;
  const CertIntent recorded_elsewhere{intents[0].issuer_id,
                                      other_issuer.serial_hex,
                                      std::nullopt,
                                      "CN=o",
                                      1700000000,
                                      1800000000,
                                      {}};
  ASSERT_TRUE(RecordIntents(*c, {&recorded_elsewhere}).ok());
  for (const SignedCert& bad :
       {SignedCert{&unrecorded, "der-u"}, SignedCert{&other_issuer, ders[0]}, certs[5]}) {
    Status s = RunTransaction(*c, [&](Connection& t) { return StoreCertificates(t, {bad}); });
    EXPECT_FALSE(s.ok()) << bad.intent->serial_hex;
  }
  auto n = Sql(*c).Query("SELECT COUNT(*) FROM certificates");
  EXPECT_EQ((*n)[0].Int(0), 600);
}

// Schema 5 moves intents out of certificates: a schema-4 database keeps its issued
// certificates, every serial lands in serials, and the result is the fresh schema.
TEST(StoreIT, MigrationToSerialsKeepsCertificatesAndMovesIntents) {
  TestDb fresh;
  auto f = fresh.Connect();
  const std::string latest = SchemaFingerprint(*f, fresh.name());
  TestDb db;
  auto c = db.Connect();
  AddCas(*c, 1);
  // Back to schema 4, with one open intent and one issued certificate as schema 4 kept them.
  // Schema 10's tables refer to serials: they go too, and come back with their migration.
  ASSERT_TRUE(Sql(*c).ExecScript("DROP TABLE card_certificates, revocations").ok());
  ASSERT_TRUE(Sql(*c).Exec("DELETE FROM schema_migrations WHERE version = 10").ok());
  ASSERT_TRUE(
      Sql(*c).ExecScript("ALTER TABLE certificates DROP FOREIGN KEY fk_certificates_serial").ok());
  ASSERT_TRUE(Sql(*c).ExecScript("DROP TABLE serials").ok());
  ASSERT_TRUE(Sql(*c).Exec("DELETE FROM schema_migrations WHERE version = 5").ok());
  for (const char* row :
       {"(1, '0A01', 7, 'intent', 'CN=i', NOW(), NOW(), REPEAT('a', 32), NULL)",
        "(1, '0A02', 8, 'issued', 'CN=d', NOW(), NOW(), REPEAT('b', 32), 'der')"}) {
    ASSERT_TRUE(Sql(*c)
                    .ExecScript(std::string("INSERT INTO certificates (issuer_id, serial, "
                                            "request_id, status, subject, not_before, not_after, "
                                            "tbs_sha256, der) VALUES ") +
                                row)
                    .ok());
  }
  auto m = Migrate(*c);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->applied, 2);  // 5, and 10 that needs it
  EXPECT_EQ(SchemaFingerprint(*c, db.name()), latest);
  auto serials =
      Sql(*c).Query("SELECT serial, request_id, tbs_sha256 FROM serials ORDER BY serial");
  ASSERT_TRUE(serials.ok());
  ASSERT_EQ(serials->size(), 2u);
  EXPECT_EQ((*serials)[0].Str(0), "0A01");
  EXPECT_EQ((*serials)[0].Int(1), 7);
  EXPECT_EQ((*serials)[1].Str(2), std::string(32, 'b'));
  auto certs = Sql(*c).Query("SELECT serial, status, der FROM certificates");
  ASSERT_TRUE(certs.ok());
  ASSERT_EQ(certs->size(), 1u);
  EXPECT_EQ((*certs)[0].Str(0), "0A02");
  EXPECT_EQ((*certs)[0].Str(2), "der");
  // The foreign key is in place: a certificate without an intent is refused.
  const CertIntent orphan{1, "0C01", std::nullopt, "CN=o", 1700000000, 1800000000, {}};
  EXPECT_FALSE(StoreCertificates(*c, {{&orphan, "der"}}).ok());
}

// |n| requests of profile "p" with subjects CN=r0, CN=r1, ...; |needed|(i) approvals each
// (0: created approved).
std::vector<NewRequest> Requests(int n, const std::function<int(int)>& needed) {
  std::vector<NewRequest> rows(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto& r = rows[static_cast<size_t>(i)];
    r.profile = "p";
    r.subject = "CN=r" + std::to_string(i);
    r.approvals_needed = needed(i);
  }
  return rows;
}

// A crashed claimer's expired leases go first with kFirst; with kIfRoom approved requests go
// first (in id order, though the expired ones have lower ids) and expired leases fill the rest.
TEST(StoreIT, ClaimTakesExpiredLeasesFirstOrWhenThereIsRoom) {
  TestDb db;
  auto c = db.Connect();
  auto made = InsertRequests(*c, Requests(6, [](int) { return 0; }));
  ASSERT_TRUE(made.ok()) << made.status().message();
  ASSERT_EQ(made->created, 6u);
  // The two lowest ids were claimed by a scheduler that died a minute ago.
  ASSERT_TRUE(Sql(*c)
                  .Exec("UPDATE requests SET state = 'issuing', claimed_by = 'dead:1', lease_until "
                        "= UTC_TIMESTAMP(6) - INTERVAL 1 MINUTE ORDER BY id LIMIT 2")
                  .ok());
  // What a run expects: 4 approved and 2 expired, none for another profile.
  auto backlog = CountClaimable(*c, {"p"});
  ASSERT_TRUE(backlog.ok()) << backlog.status().message();
  EXPECT_EQ(*backlog, 6);
  auto other = CountClaimable(*c, {"other"});
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(*other, 0);
  auto ids = [&](const std::vector<ClaimedRequest>& v) {
    std::string s;
    for (const auto& r : v) s += r.subject + (r.reclaimed ? "* " : " ");  // *: expired lease
    return s;
  };
  auto room = ClaimRequests(*c, {"p"}, 2, "a:1", 60, ExpiredLeases::kIfRoom);
  ASSERT_TRUE(room.ok()) << room.status().message();
  EXPECT_EQ(ids(*room), "CN=r2 CN=r3 ");
  auto first = ClaimRequests(*c, {"p"}, 1, "b:1", 60, ExpiredLeases::kFirst);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(ids(*first), "CN=r0* ");
  auto rest = ClaimRequests(*c, {"p"}, 10, "c:1", 60, ExpiredLeases::kIfRoom);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(ids(*rest), "CN=r1* CN=r4 CN=r5 ");  // sorted by id: the expired one fills the room
  auto none = ClaimRequests(*c, {"p"}, 10, "d:1", 60, ExpiredLeases::kFirst);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());  // every lease is live
  auto after = CountClaimable(*c, {"p"});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, 0);
  // Trust issue: lease takeovers were not audited. One entry per claim that took some over.
  auto audit = Sql(*c).Query(
      "SELECT actor, details FROM audit_log WHERE action = 'request.lease-takeover' ORDER BY seq");
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 2u);
  EXPECT_EQ((*audit)[0].Str(0), "b:1");
  EXPECT_EQ((*audit)[0].Str(1).rfind("ids=", 0), 0u) << (*audit)[0].Str(1);
  EXPECT_NE((*audit)[1].Str(1).find(" from=dead:1"), std::string::npos) << (*audit)[1].Str(1);
}

// Approving many at once: each id gets its own answer, in order, and dual control holds.
TEST(StoreIT, ApproveManyAnswersEachIdAndCountsDistinctOperators) {
  TestDb db;
  auto c = db.Connect();
  // r2 and r3 need two operators.
  ASSERT_TRUE(InsertRequests(*c, Requests(4, [](int i) { return i < 2 ? 1 : 2; })).ok());
  auto id = [&](int i) {
    auto r =
        Sql(*c).Query("SELECT id FROM requests WHERE subject = ?", {"CN=r" + std::to_string(i)});
    return (*r)[0].Int(0);
  };
  ASSERT_TRUE(Sql(*c).Exec("UPDATE requests SET state = 'rejected' WHERE id = ?", {id(1)}).ok());
  const std::vector<int64_t> ids = {id(0), id(1), id(2), 999999, id(2), id(3)};
  auto first = ApproveMany(*c, ids, "alice", 0);
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_EQ(first->size(), ids.size());
  const auto& d = *first;
  ASSERT_TRUE(d[0].ok());
  EXPECT_EQ(d[0]->new_state, kApproved);
  EXPECT_EQ(d[0]->approvals, 1);
  EXPECT_EQ(d[1].status().kind(), ErrorKind::kConflict);
  EXPECT_NE(d[1].status().message().find("is rejected, not pending"), std::string::npos);
  ASSERT_TRUE(d[2].ok());
  EXPECT_EQ(d[2]->new_state, kPending);  // one of two
  EXPECT_EQ(d[3].status().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(d[4].status().kind(), ErrorKind::kConflict);  // alice again, in the same call
  EXPECT_NE(d[4].status().message().find("already approved it"), std::string::npos);
  ASSERT_TRUE(d[5].ok());
  // alice cannot be the second operator; bob can.
  auto again = ApproveMany(*c, std::vector<int64_t>{id(2)}, "alice", 0);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0].status().kind(), ErrorKind::kConflict);
  auto bob = ApproveMany(*c, std::vector<int64_t>{id(2), id(3), id(0)}, "bob", 0);
  ASSERT_TRUE(bob.ok());
  ASSERT_TRUE((*bob)[0].ok());
  EXPECT_EQ((*bob)[0]->new_state, kApproved);
  EXPECT_EQ((*bob)[0]->approvals, 2);
  ASSERT_TRUE((*bob)[1].ok());
  EXPECT_EQ((*bob)[1]->new_state, kApproved);
  EXPECT_EQ((*bob)[2].status().kind(), ErrorKind::kConflict);  // r0 is approved already
  auto states = Sql(*c).Query("SELECT state, COUNT(*) FROM requests GROUP BY state ORDER BY state");
  ASSERT_TRUE(states.ok());
  ASSERT_EQ(states->size(), 2u);
  EXPECT_EQ((*states)[0].Str(0), "approved");
  EXPECT_EQ((*states)[0].Int(1), 3);
  auto n = Sql(*c).Query("SELECT COUNT(*) FROM approvals");
  EXPECT_EQ((*n)[0].Int(0), 5);  // alice: r0 r2 r3; bob: r2 r3
}

// Two sessions of the same operator approving the same dual-control requests at once: the
// request rows' locks serialise them, so each request gets alice's approval once and stays
// pending for a second operator.
TEST(StoreIT, ConcurrentApprovalsBySameOperatorCountOnce) {
  TestDb db;
  auto setup = db.Connect();
  ASSERT_TRUE(InsertRequests(*setup, Requests(200, [](int) { return 2; })).ok());
  auto rows = Sql(*setup).Query("SELECT id FROM requests ORDER BY id");
  ASSERT_TRUE(rows.ok());
  std::vector<int64_t> ids;
  for (const auto& r : *rows) ids.push_back(r.Int(0));
  std::atomic<int> ok{0}, refused{0}, failed{0};
  auto approve = [&] {
    auto c = db.Connect();
    Status st = RunTransaction(*c, [&](Connection& conn) -> Status {
      CP_ASSIGN_OR_RETURN(auto d, ApproveMany(conn, ids, "alice", 0));
      int o = 0, r = 0;
      for (const auto& x : d) (x.ok() ? o : r)++;
      ok += o;
      refused += r;
      return Status::Ok();
    });
    if (!st.ok()) ++failed;
  };
  std::thread a(approve), b(approve);
  a.join();
  b.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(ok.load(), 200);
  EXPECT_EQ(refused.load(), 200);
  auto n = Sql(*setup).Query("SELECT COUNT(*), COUNT(DISTINCT request_id) FROM approvals");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ((*n)[0].Int(0), 200);
  EXPECT_EQ((*n)[0].Int(1), 200);
  auto pending = Sql(*setup).Query("SELECT COUNT(*) FROM requests WHERE state = 'pending'");
  EXPECT_EQ((*pending)[0].Int(0), 200);
}

// The run-time account (the CLI's, the scheduler's) appends to the evidence tables and changes
// working state, and nothing more: whoever holds its password cannot rewrite the audit log,
// drop the triggers that guard it, or change the schema (the attacks AuditIT plays with the
// migration account's rights, which no CertPress process holds).
TEST(StoreIT, RunTimeAccountAppendsToTheAuditLogButCannotRewriteIt) {
  TestDb db;
  auto conn = Connection::Open(db.RuntimeConfig());
  ASSERT_TRUE(conn.ok()) << conn.status().message();
  Connection& c = **conn;
  for (int i = 0; i < 3; ++i) {
    Status st = RunTransaction(c, [&](Connection& t) {
      return AppendAudit(t, {"alice", "test.event", "obj:" + std::to_string(i), "x"});
    });
    ASSERT_TRUE(st.ok()) << st.message();
  }
  auto verified = VerifyAudit(c);
  ASSERT_TRUE(verified.ok()) << verified.status().message();
  EXPECT_TRUE(verified->intact);
  EXPECT_EQ(verified->entries, 3);
  // Working state stays writable.
  ASSERT_TRUE(Sql(c).Exec("UPDATE requests SET state = state WHERE id = 0").ok());

  const char* refused[] = {
      "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2",
      "DELETE FROM audit_log WHERE seq = 3",
      "TRUNCATE TABLE audit_log",
      "DROP TRIGGER audit_log_no_update",
      "DROP TRIGGER audit_log_no_delete",
      "ALTER TABLE audit_log ADD COLUMN note INT",
      "DROP TABLE audit_log",
      "RENAME TABLE audit_log TO audit_old",
      "CREATE TABLE audit_copy (seq BIGINT)",
      "CREATE TRIGGER t BEFORE INSERT ON requests FOR EACH ROW SET NEW.state = NEW.state",
      "DELETE FROM audit_checkpoints",
      "UPDATE audit_checkpoints SET seq = 0",
      "DELETE FROM audit_keys",
      "UPDATE decision_statements SET signature = ''",
      "DELETE FROM decision_statements",
      "DELETE FROM audit_head",
      "UPDATE schema_migrations SET version = version + 100",
      "GRANT ALL PRIVILEGES ON requests TO 'certpress'@'localhost'",
      // An operator's certificate is what their signatures verify against.
      "UPDATE operators SET cert_der = X'00', cert_sha256 = REPEAT(X'00', 32)",
      "DELETE FROM operators",
      "DROP TRIGGER approvals_signed_insert",
  };
  for (const char* sql : refused) {
    Status st = Sql(c).ExecScript(sql);
    EXPECT_FALSE(st.ok()) << sql;
    // Refused by the server's privileges (1142/1143/1044/1227/1370), not by a trigger.
    EXPECT_NE(st.message().find("denied"), std::string::npos) << sql << ": " << st.message();
  }
  // Operators may be disabled (their status); and a decision without its signed statement, a
  // forged "legacy" approval, is refused by the server's trigger.
  EXPECT_TRUE(Sql(c).Exec("UPDATE operators SET status = 'disabled' WHERE id = 0").ok());
  Status unsigned_approval = Sql(c).ExecScript(
      "INSERT INTO approvals (request_id, operator, decision) VALUES (1, 'bob', 'approve')");
  EXPECT_FALSE(unsigned_approval.ok());
  EXPECT_NE(unsigned_approval.message().find("a decision names its signed statement"),
            std::string::npos)
      << unsigned_approval.message();
  auto after = VerifyAudit(c);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->intact);
  EXPECT_EQ(after->entries, 3);
}

// Account names reach GRANT, which takes no placeholders: only plain names pass.
TEST(StoreIT, GrantRefusesAnAccountNameThatIsNotPlain) {
  TestDb db;
  auto c = db.Connect();
  ASSERT_TRUE(c);
  for (const char* user : {"certpress'@'%' WITH GRANT OPTION; --", "", "a b", "x`y"}) {
    Status st = GrantRuntimePrivileges(*c, user, "localhost");
    EXPECT_EQ(st.kind(), ErrorKind::kInvalidInput) << user;
  }
  EXPECT_EQ(GrantRuntimePrivileges(*c, "certpress", "local'host").kind(), ErrorKind::kInvalidInput);
  EXPECT_TRUE(GrantRuntimePrivileges(*c, "certpress", "localhost").ok());
}

// A run-time process that meets an unmigrated database asks for `db migrate`; it does not (and
// could not) create the migrations table itself.
TEST(StoreIT, SchemaVersionOnlyReads) {
  TestDb db;
  auto c = db.Connect();
  ASSERT_TRUE(c);
  ASSERT_TRUE(Sql(*c).ExecScript("DROP TABLE schema_migrations").ok());
  auto conn = Connection::Open(db.RuntimeConfig());
  ASSERT_TRUE(conn.ok()) << conn.status().message();
  auto v = SchemaVersion(**conn);
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(*v, 0);
  auto n = Sql(*c).Query(
      "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND "
      "table_name = 'schema_migrations'");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ((*n)[0].Int(0), 0);
}

class AuditIT : public ::testing::Test {
 protected:
  void SetUp() override {
    c_ = db_.Connect();
    for (int i = 0; i < 5; ++i) {
      Status st = RunTransaction(*c_, [&](Connection& conn) {
        return AppendAudit(
            conn, {"alice", "test.event", "obj:" + std::to_string(i), "n=" + std::to_string(i)});
      });
      ASSERT_TRUE(st.ok()) << st.message();
    }
    auto r = VerifyAudit(*c_);
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(r->intact) << r->problem;
    ASSERT_EQ(r->entries, 5);
    // The application cannot change history; an attacker with DDL rights first drops the
    // guard triggers, which is what these tests do.
    auto upd = Sql(*c_).Exec("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3");
    ASSERT_FALSE(upd.ok());
    EXPECT_NE(upd.status().message().find("append-only"), std::string::npos);
    ASSERT_TRUE(Sql(*c_).ExecScript("DROP TRIGGER audit_log_no_update").ok());
    ASSERT_TRUE(Sql(*c_).ExecScript("DROP TRIGGER audit_log_no_delete").ok());
  }
  TestDb db_;
  std::unique_ptr<Connection> c_;
};

TEST_F(AuditIT, VerifyCatchesAnEditedRow) {
  ASSERT_TRUE(Sql(*c_).Exec("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3").ok());
  auto r = VerifyAudit(*c_);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->intact);
  EXPECT_EQ(r->first_bad_seq, 3);
  EXPECT_NE(r->problem.find("altered"), std::string::npos);
}

TEST_F(AuditIT, VerifyCatchesADeletedRow) {
  ASSERT_TRUE(Sql(*c_).Exec("DELETE FROM audit_log WHERE seq = 2").ok());
  auto r = VerifyAudit(*c_);
  EXPECT_FALSE(r->intact);
  EXPECT_NE(r->problem.find("entry 2 is missing"), std::string::npos) << r->problem;
}

TEST_F(AuditIT, VerifyCatchesADeletedTail) {
  ASSERT_TRUE(Sql(*c_).Exec("DELETE FROM audit_log ORDER BY seq DESC LIMIT 1").ok());
  auto r = VerifyAudit(*c_);
  EXPECT_FALSE(r->intact);
  EXPECT_NE(r->problem.find("deleted from the end"), std::string::npos) << r->problem;
}

TEST_F(AuditIT, VerifyCatchesReorderedRows) {
  // Swap the contents of entries 2 and 3 (hashes and all), keeping the sequence numbers.
  ASSERT_TRUE(Sql(*c_).ExecScript("UPDATE audit_log SET seq = 100 WHERE seq = 2").ok());
  ASSERT_TRUE(Sql(*c_).ExecScript("UPDATE audit_log SET seq = 2 WHERE seq = 3").ok());
  ASSERT_TRUE(Sql(*c_).ExecScript("UPDATE audit_log SET seq = 3 WHERE seq = 100").ok());
  auto r = VerifyAudit(*c_);
  EXPECT_FALSE(r->intact);
  EXPECT_EQ(r->first_bad_seq, 2);
}

// What an administrator with every privilege did to the old, unkeyed chain: change an entry,
// recompute the plain SHA-256 chain from there and the head. The entries are keyed with a key
// the database does not hold, so the recomputed hash is not the keyed one.
std::string PlainChainHash(const std::string& prev, const Row& r) {
  std::string data = prev;
  auto put = [&](std::string_view v) {
    uint64_t n = v.size();
    for (int i = 7; i >= 0; --i) data += static_cast<char>((n >> (8 * i)) & 0xff);
    data += v;
  };
  for (size_t col = 0; col < 6; ++col) put(r.Str(col));
  uint8_t h[32];
  SHA256(reinterpret_cast<const uint8_t*>(data.data()), data.size(), h);
  return std::string(reinterpret_cast<char*>(h), 32);
}

// RecomputePlain rewrites entries |from|.. and the head with plain SHA-256; |unkey| also marks
// them unkeyed (a downgrade to the pre-key chain).
void RecomputePlain(Connection& c, int64_t from, bool unkey) {
  auto rows = Sql(c).Query(
      "SELECT seq, DATE_FORMAT(at, '%Y-%m-%d %H:%i:%s.%f'), actor, action, object, details, "
      "prev_hash FROM audit_log WHERE seq >= ? ORDER BY seq",
      {from});
  ASSERT_TRUE(rows.ok());
  std::string prev = (*rows)[0].Str(6);
  for (const auto& r : *rows) {
    const std::string h = PlainChainHash(prev, r);
    ASSERT_TRUE(Sql(c)
                    .Exec(unkey ? "UPDATE audit_log SET prev_hash = ?, hash = ?, key_id = NULL "
                                  "WHERE seq = ?"
                                : "UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?",
                          {Blob{prev}, Blob{h}, r.Int(0)})
                    .ok());
    prev = h;
  }
  ASSERT_TRUE(Sql(c).Exec("UPDATE audit_head SET hash = ? WHERE id = 1", {Blob{prev}}).ok());
}

TEST_F(AuditIT, AnEntryRecomputedWithoutTheKeyIsCaught) {
  ASSERT_TRUE(Sql(*c_).Exec("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3").ok());
  RecomputePlain(*c_, 3, /*unkey=*/false);
  auto r = VerifyAudit(*c_);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->intact);
  EXPECT_EQ(r->first_bad_seq, 3);
  EXPECT_NE(r->problem.find("altered"), std::string::npos) << r->problem;
}

TEST_F(AuditIT, AChainDowngradedToUnkeyedIsCaught) {
  ASSERT_TRUE(Sql(*c_).Exec("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3").ok());
  RecomputePlain(*c_, 1, /*unkey=*/true);
  auto r = VerifyAudit(*c_);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->intact);
  EXPECT_NE(r->problem.find("not keyed, though an audit key exists"), std::string::npos)
      << r->problem;
}

TEST_F(AuditIT, AppendingWithoutTheKeyIsRefused) {
  DbConfig config = db_.Config();
  config.audit_keys.reset();
  auto c = Connection::Open(config);
  ASSERT_TRUE(c.ok());
  int attempts = 0;
  Status st = RunTransaction(
      **c,
      [&](Connection& conn) {
        return AppendAudit(conn, {"bob", "test.event", "obj:x", ""});
      },
      RetryPolicy{}, &attempts);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("audit key is not loaded"), std::string::npos) << st.message();
  EXPECT_EQ(attempts, 1);  // not retried: another run would not load the key either
}

}  // namespace
}  // namespace certpress::store
