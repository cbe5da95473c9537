// Several schedulers on a MariaDB Galera cluster (scripts/stack up --cluster 3; ctest label
// `cluster`, run by scripts/test in a stage of its own): exactly-once issuance with writers on
// different nodes, and through the loss of a node (kill -9) and its return by IST.
// docs/SCALING.md says why every process lists the nodes in one order.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "common/bytes.h"
#include "store/db.h"
#include "store/sql.h"
#include "tests/support/test_env.h"

namespace certpress {
namespace {

using certpress::testing::Cli;
using certpress::testing::Quote;
using certpress::testing::RequireEnv;
using certpress::testing::RunResult;
using certpress::testing::Sh;
using certpress::testing::TestDb;
using certpress::testing::TestToken;

std::vector<std::string> Nodes() {
  std::vector<std::string> nodes = store::ParseNodes(RequireEnv("CERTPRESS_DB_NODES"));
  EXPECT_GE(nodes.size(), 3u) << "the cluster tests need scripts/stack up --cluster 3";
  return nodes;
}

// Join lists |nodes| starting at |first| (every process of the cluster test prefers the order
// it is given; rotating it puts a process on another node).
std::string Rotated(const std::vector<std::string>& nodes, size_t first) {
  std::string out;
  for (size_t i = 0; i < nodes.size(); ++i) {
    out += (i ? " " : "") + nodes[(first + i) % nodes.size()];
  }
  return out;
}

// NodeStatus reads a global status value of the node behind |socket| as root.
int64_t NodeStatus(const std::string& socket, const std::string& name) {
  auto r = Sh("mariadb --no-defaults -uroot --connect-timeout=2 -Nse " +
              Quote("SHOW GLOBAL STATUS LIKE '" + name + "'") + " --socket=" + Quote(socket) +
              " | cut -f2");
  if (r.exit_code != 0 || r.out.empty()) return -1;
  return std::stoll(r.out);
}

std::string NodeState(const std::string& socket) {
  auto r = Sh("mariadb --no-defaults -uroot --connect-timeout=2 -Nse " +
              Quote("SHOW STATUS LIKE 'wsrep_local_state_comment'") + " --socket=" + Quote(socket) +
              " | cut -f2");
  std::string s = r.out;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

int64_t IssuedIn(const std::string& out) {
  const size_t at = out.find("issued ");
  return at == std::string::npos ? -1 : std::stoll(out.substr(at + 7));
}

class ClusterIT : public ::testing::Test {
 protected:
  ClusterIT() : nodes_(Nodes()), cli_(db_, token_, Rotated(nodes_, 0)) {}

  void SetUp() override {
    auto root = Run({"ca", "create-root", "--label", "root", "--name",
                     "CN=Cluster Test Root,O=CertPress Test,C=DK", "--key-type", "ec-p256"});
    ASSERT_EQ(root.exit_code, 0) << root.err;
    auto sub = Run({"ca", "create-sub", "--parent", "root", "--label", "issuing", "--name",
                    "CN=Cluster Test Issuing CA,O=CertPress Test,C=DK", "--key-type", "ec-p256"});
    ASSERT_EQ(sub.exit_code, 0) << sub.err;
    // The audit signing key is made before two schedulers start: each would otherwise create
    // one in the same token at its first checkpoint (two keys of one label), and a login in
    // one process while the other writes the token fails (CKR_USER_PIN_NOT_INITIALIZED).
    auto cp = Run({"audit", "checkpoint"});
    ASSERT_EQ(cp.exit_code, 0) << cp.err;
  }

  RunResult Run(std::vector<std::string> args) { return cli_.Run(args); }
  std::string Path(const std::string& name) { return cli_.dir() + "/" + name; }

  void ImportAndApprove(int rows, int first) {
    const std::string file = Path("employees-" + std::to_string(first) + ".csv");
    auto gen = Sh(std::string(CERTPRESS_SOURCE_DIR "/scripts/gen-employees ") +
                  std::to_string(rows) + " " + std::to_string(first) + " > " + Quote(file));
    ASSERT_EQ(gen.exit_code, 0) << gen.err;
    auto imp = Run({"import", file, "--profile", "employee-soft", "--ca", "issuing"});
    ASSERT_EQ(imp.exit_code, 0) << imp.err;
    ASSERT_NE(imp.out.find(std::to_string(rows) + " created"), std::string::npos) << imp.out;
    auto ok = cli_.Decide({"approve", "--all", "--profile", "employee-soft"}, "alice");
    ASSERT_EQ(ok.exit_code, 0) << ok.err;
  }

  int64_t Scalar(const std::string& sql) {
    store::DbConfig c = db_.Config();
    c.nodes = nodes_;  // whichever node is up
    auto conn = store::Connection::Open(c);
    EXPECT_TRUE(conn.ok()) << conn.status().message();
    if (!conn.ok()) return -1;
    auto rows = store::Sql(**conn).Query(sql);
    EXPECT_TRUE(rows.ok()) << rows.status().message();
    return rows.ok() && !rows->empty() ? (*rows)[0].Int(0) : -1;
  }

  // Every request has exactly one issued certificate, no serial repeats, nothing is left
  // claimed or failed.
  void ExpectExactlyOnce(int64_t requests) {
    EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'issued'"), requests);
    EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state <> 'issued'"), 0);
    // (CA and operator certificates have no request.)
    EXPECT_EQ(Scalar("SELECT COUNT(*) FROM certificates WHERE status = 'issued' AND request_id "
                     "IS NOT NULL"),
              requests);
    EXPECT_EQ(Scalar("SELECT COUNT(DISTINCT request_id) FROM certificates WHERE status = "
                     "'issued'"),
              requests);
    EXPECT_EQ(Scalar("SELECT COUNT(*) - COUNT(DISTINCT issuer_id, serial) FROM certificates"), 0);
    EXPECT_EQ(Scalar("SELECT COUNT(*) - COUNT(DISTINCT issuer_id, serial) FROM serials"), 0);
  }

  // A scheduler with |cli|'s config, started in the background. A second one starts a second
  // later: SoftHSM2 rewrites its token file at a login, and a process logging in at the same
  // moment reads no user PIN (CKR_USER_PIN_NOT_INITIALIZED); an HSM shared by two machines
  // would not, but these share one SoftHSM2 token directory.
  std::string Background(const Cli& cli, const std::string& out) {
    return cli.CommandLine({"run-batch", "--threads", "2"}) + " > " + Quote(Path(out)) + " 2>&1";
  }

  TestDb db_;
  TestToken token_;
  std::vector<std::string> nodes_;
  Cli cli_;
};

// Two schedulers on two different nodes claim from the same queue: Galera certifies their
// claims against each other (SKIP LOCKED does not reach across nodes), so a claim or persist
// that loses is aborted with 1213, at COMMIT or while its rows are fetched, and run again.
// Both finish, and every request is issued exactly once.
TEST_F(ClusterIT, TwoSchedulersOnTwoNodesIssueFiftyThousandRequestsExactlyOnce) {
  ImportAndApprove(50000, 1);
  Cli second(db_, token_, Rotated(nodes_, 1));  // node 2 first
  auto r =
      Sh("(" + Background(cli_, "a.out") + " & pa=$!; sleep 1; " + Background(second, "b.out") +
         " & pb=$!; wait $pa; ea=$?; wait $pb; eb=$?; exit $((ea * 16 + eb)))");
  const std::string a = *ReadFile(Path("a.out")), b = *ReadFile(Path("b.out"));
  ASSERT_EQ(r.exit_code, 0) << a << b;
  ASSERT_GE(IssuedIn(a), 0) << a;
  ASSERT_GE(IssuedIn(b), 0) << b;
  EXPECT_EQ(IssuedIn(a) + IssuedIn(b), 50000) << a << b;
  ExpectExactlyOnce(50000);
  auto audit = Run({"audit", "verify"});
  EXPECT_EQ(audit.exit_code, 0) << audit.out << audit.err;
}

// kill -9 of the node both schedulers write through: they reconnect to the next node of
// db.hosts, their transactions in flight are run again there, and they finish. Nothing is
// lost or issued twice. The node is started again, rejoins by IST (not a full copy), and the
// next run, whose config lists it first, writes through it again.
TEST_F(ClusterIT, NodeKilledMidRunSurvivorsFinishAndTheNodeRejoinsByIst) {
  const std::string state = RequireEnv("CERTPRESS_STATE");
  ImportAndApprove(20000, 1);
  Cli second(db_, token_, Rotated(nodes_, 0));
  const std::string cmd =
      "(" + Background(cli_, "a.out") + " & pa=$!; sleep 1; " + Background(second, "b.out") +
      " & pb=$!; wait $pa; ea=$?; wait $pb; eb=$?; echo $ea $eb > " + Quote(Path("exit")) + ")";
  std::thread runs([&] { Sh(cmd); });
  int64_t issued = 0;
  for (int i = 0; i < 600 && issued < 3000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    issued = Scalar("SELECT COUNT(*) FROM requests WHERE state = 'issued'");
  }
  ASSERT_GE(issued, 3000);
  auto kill = Sh("kill -9 $(cat " + Quote(state + "/galera/node1/mysqld.pid") + ")");
  ASSERT_EQ(kill.exit_code, 0) << kill.err;
  runs.join();
  const std::string a = *ReadFile(Path("a.out")), b = *ReadFile(Path("b.out"));
  EXPECT_EQ(*ReadFile(Path("exit")), "0 0\n") << a << b;
  ASSERT_LT(issued, 20000) << "the runs finished before the node was killed";
  EXPECT_EQ(IssuedIn(a) + IssuedIn(b), 20000) << a << b;
  ExpectExactlyOnce(20000);

  // Back by IST: the stack restarts what is down, after recovering the node's position.
  const std::string log_file = state + "/galera/node1/mariadb.log";
  const size_t ist_before = testing::Occurrences(*ReadFile(log_file), "Receiving IST");
  auto up = Sh("CERTPRESS_STATE=" + Quote(state) +
               " " CERTPRESS_SOURCE_DIR
               "/scripts/stack up "
               "--cluster " +
               std::to_string(nodes_.size()));
  ASSERT_EQ(up.exit_code, 0) << up.err;
  EXPECT_EQ(NodeState(nodes_[0]), "Synced");
  EXPECT_EQ(NodeStatus(nodes_[0], "wsrep_cluster_size"), static_cast<int64_t>(nodes_.size()));
  EXPECT_GT(testing::Occurrences(*ReadFile(log_file), "Receiving IST"), ist_before)
      << "node 1 did not rejoin by IST";

  // The next run writes through node 1 again: its commits count there.
  ImportAndApprove(2000, 20001);
  const int64_t commits_before = NodeStatus(nodes_[0], "wsrep_local_commits");
  auto again = Run({"run-batch"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_GT(NodeStatus(nodes_[0], "wsrep_local_commits"), commits_before + 4);
  ExpectExactlyOnce(22000);
  auto audit = Run({"audit", "verify"});
  EXPECT_EQ(audit.exit_code, 0) << audit.out << audit.err;
}

}  // namespace
}  // namespace certpress
