// Activation mails on the real stack: a batch issues soft certificates of an email-delivery
// profile, the mailer sends them over SMTP to a real aiosmtpd (one per test, on a port in
// 2530-2597, writing a Maildir of its own), Python's email package reads the Maildir, and the
// link in each mail is redeemed through the activation API (kgs/activations.h) with the
// activation code an operator was shown. Also: a server down at first, a crash between sending
// and marking sent, 50 concurrent redemptions, wrong codes, expiry, resend, and no secret in
// logs or a database dump.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "common/bytes.h"
#include "kgs/activations.h"
#include "kgs/audit_keys.h"
#include "kgs/mailer.h"
#include "signer/token.h"
#include "store/sql.h"
#include "tests/support/test_env.h"

namespace certpress {
namespace {

namespace fs = std::filesystem;
using certpress::testing::Cli;
using certpress::testing::Occurrences;
using certpress::testing::Quote;
using certpress::testing::RandomSuffix;
using certpress::testing::RunResult;
using certpress::testing::Sh;
using certpress::testing::TestDb;
using certpress::testing::TestToken;

// Smtpd is a python3-aiosmtpd server (Debian's, as scripts/stack runs it) writing a Maildir.
class Smtpd {
 public:
  Smtpd(std::string maildir, int port) : maildir_(std::move(maildir)), port_(port) {}
  ~Smtpd() { Stop(); }

  bool Start() {
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      const std::string listen = "127.0.0.1:" + std::to_string(port_);
      execl("/usr/bin/python3", "python3", "-m", "aiosmtpd", "-n", "-l", listen.c_str(), "-c",
            "aiosmtpd.handlers.Mailbox", maildir_.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    // Ready when it greets (220); a poll, not a timing assertion.
    for (int i = 0; i < 200; ++i) {
      if (Answers()) return true;
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      usleep(100 * 1000);
    }
    return false;
  }

  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  bool Answers() const {
    return Sh("timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(port_) +
              " && head -c 3 <&3' 2>/dev/null | grep -q 220")
               .exit_code == 0;
  }
  int port() const { return port_; }

 private:
  std::string maildir_;
  int port_;
  pid_t pid_ = -1;
};

// A free port in this suite's range, 2530-2597 (scripts/test's stack has 2598, the bench's
// 2599), held for this test process's life. ctest runs tests side by side, each in a process of
// its own: a port that was merely free when looked at could be taken by another test's server
// before ours bound it, and the servers answer alike, so a test once talked to another's
// server. Each port is claimed with an exclusive lock on a file of its own (flock, released by
// the kernel when the process ends), then checked unused.
int FreePort() {
  const int span = 68;
  const std::string dir = fs::temp_directory_path().string() + "/certpress-mailit-ports";
  std::error_code ec;
  fs::create_directories(dir, ec);
  const int start = static_cast<int>(std::stoul(RandomSuffix().substr(0, 4), nullptr, 16) % span);
  for (int i = 0; i < span; ++i) {
    const int port = 2530 + (start + i) % span;
    const int fd =
        open((dir + "/" + std::to_string(port)).c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) continue;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      close(fd);
      continue;
    }
    if (Sh("timeout 1 bash -c 'exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(port) +
           "' 2>/dev/null")
            .exit_code != 0) {
      return port;  // fd stays open: the lock is ours until the process ends
    }
    close(fd);
  }
  return 0;
}

// Names in several scripts, so that the display names need RFC 2047.
constexpr const char* kEmployees =
    "given_name,surname,email,employee_id,department,country\n"
    "Alice,Andersen,alice.andersen@example.org,E200001,Finance,DK\n"
    "Jørgen,Ærø-Østergård,jorgen@example.org,E200002,Risk,DK\n"
    "花子,山田,hanako@example.jp,E200003,R&D,JP\n";

class MailIT : public ::testing::Test {
 protected:
  MailIT() : cli_(db_, token_) {}

  void SetUp() override {
    auto root = Run({"ca", "create-root", "--label", "root", "--name",
                     "CN=Mail Test Root,O=CertPress Test,C=DK", "--key-type", "ec-p256"});
    ASSERT_EQ(root.exit_code, 0) << root.err;
    auto sub = Run({"ca", "create-sub", "--parent", "root", "--label", "issuing", "--name",
                    "CN=Mail Test Issuing CA,O=CertPress Test,C=DK", "--key-type", "ec-p256"});
    ASSERT_EQ(sub.exit_code, 0) << sub.err;
    maildir_ = Path("maildir");
    const int port = FreePort();
    ASSERT_NE(port, 0) << "no free port in 2530-2599";
    smtpd_ = std::make_unique<Smtpd>(maildir_, port);
    ASSERT_TRUE(smtpd_->Start()) << "aiosmtpd did not start on port " << port;
    // The mail settings go into the suite's config file, as an operator would write them.
    std::ofstream conf(cli_.config_path(), std::ios::app);
    conf << "[mail]\nsmtp-url = smtp://127.0.0.1:" << port
         << "\ntls = none\nfrom = CertPress Test <certpress@test.example>\nbackoff-seconds = 60\n"
         << "[web]\npublic-url = https://pickup.test.example:8443/\n";
  }

  RunResult Run(std::vector<std::string> args) { return cli_.Run(args); }
  std::string Path(const std::string& name) { return cli_.dir() + "/" + name; }

  // Imports kEmployees into employee-soft, approves and issues them; returns the request ids
  // by email.
  std::map<std::string, int64_t> Issue() {
    std::map<std::string, int64_t> ids;
    EXPECT_TRUE(WriteFile(Path("employees.csv"), kEmployees).ok());
    auto imp =
        Run({"import", Path("employees.csv"), "--profile", "employee-soft", "--ca", "issuing"});
    EXPECT_EQ(imp.exit_code, 0) << imp.err;
    auto ok = cli_.Decide({"approve", "--all", "--profile", "employee-soft"}, "alice");
    EXPECT_EQ(ok.exit_code, 0) << ok.err;
    auto run = Run({"run-batch"});
    EXPECT_EQ(run.exit_code, 0) << run.err;
    EXPECT_NE(run.out.find("issued 3, failed 0"), std::string::npos) << run.out;
    auto c = db_.Connect();
    auto rows = store::Sql(*c).Query(
        "SELECT r.id, a.recipient_email FROM requests r JOIN activations a ON a.request_id = r.id");
    EXPECT_TRUE(rows.ok());
    if (rows.ok()) {
      for (const auto& r : *rows) ids[r.Str(1)] = r.Int(0);
    }
    return ids;
  }

  nlohmann::json Maildir() {
    auto r = Sh("python3 " CERTPRESS_SOURCE_DIR "/tests/support/maildir.py " + Quote(maildir_));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::array();
  }

  int64_t Scalar(const std::string& sql) {
    auto c = db_.Connect();
    auto rows = store::Sql(*c).Query(sql);
    EXPECT_TRUE(rows.ok()) << rows.status().message();
    return rows.ok() && !rows->empty() && !(*rows)[0].IsNull(0) ? (*rows)[0].Int(0) : -1;
  }
  void Exec(const std::string& sql) {
    auto c = db_.Connect();
    auto r = store::Sql(*c).Exec(sql);
    EXPECT_TRUE(r.ok()) << r.status().message();
  }

  // Code asks for request |id|'s activation code as an operator does.
  std::string Code(int64_t id) {
    auto r = Run({"activation", "code", "--request", std::to_string(id)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::smatch m;
    static const std::regex kCode("([0-9A-Z]{5}-[0-9A-Z]{5})");
    return std::regex_search(r.out, m, kCode) ? m[1].str() : "";
  }

  // The activation API, as the pickup server calls it: a connection with the token's audit
  // keys, and the activation keys unwrapped by the token.
  void OpenApi() {
    if (keys_) return;
    auto t = OpenToken(testing::ConfigFor(token_));
    ASSERT_TRUE(t.ok()) << t.status().message();
    hsm_ = std::move(t).value();
    api_db_ = Connect();
    ASSERT_TRUE(api_db_);
    auto k = kgs::ActivationKeys::Load(*api_db_, *hsm_, "certpress-kek", true);
    ASSERT_TRUE(k.ok()) << k.status().message();
    keys_ = *k;
  }
  std::unique_ptr<store::Connection> Connect() {
    auto c = db_.Connect();
    if (!c) return c;
    if (!audit_keys_) {
      auto a = kgs::LoadAuditKeys(*c, *hsm_, "certpress-kek", false);
      EXPECT_TRUE(a.ok()) << a.status().message();
      if (a.ok()) audit_keys_ = *a;
    }
    c->SetAuditKeys(audit_keys_);
    return c;
  }
  kgs::Redemption Redeem(const std::string& link, const std::string& code) {
    OpenApi();
    auto r = kgs::Redeem(*api_db_, *keys_, link, code, "test:web");
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : kgs::Redemption{};
  }

  // The token of the newest mail to |addr|.
  std::string TokenFor(const nlohmann::json& mails, const std::string& addr) {
    std::string token;
    for (const auto& m : mails) {
      if (m["to_addr"] == addr) token = m["token"];
    }
    return token;
  }

  TestDb db_;
  TestToken token_;
  Cli cli_;
  std::string maildir_;
  std::unique_ptr<Smtpd> smtpd_;
  std::unique_ptr<CryptoToken> hsm_;
  std::shared_ptr<const store::AuditKeys> audit_keys_;
  std::unique_ptr<store::Connection> api_db_;
  std::shared_ptr<const kgs::ActivationKeys> keys_;
};

TEST_F(MailIT, IssuedRequestsGetOneMailEachWithRightHeadersAndALinkThatRedeemsOnce) {
  auto ids = Issue();
  ASSERT_EQ(ids.size(), 3u);
  // Issued in the same transaction as the certificates: one queued activation and mail each,
  // and no link yet (it is minted when the mail is sent).
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM activations WHERE state = 'queued' AND token_hmac IS "
                   "NULL"),
            3);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM mail_outbox WHERE state = 'queued'"), 3);

  auto send = Run({"mail", "send"});
  ASSERT_EQ(send.exit_code, 0) << send.err;
  EXPECT_NE(send.out.find("3 sent"), std::string::npos) << send.out;

  auto mails = Maildir();
  ASSERT_EQ(mails.size(), 3u) << mails.dump(2);
  std::map<std::string, std::string> names = {{"alice.andersen@example.org", "Alice Andersen"},
                                              {"jorgen@example.org", "Jørgen Ærø-Østergård"},
                                              {"hanako@example.jp", "花子 山田"}};
  std::set<std::string> message_ids;
  for (const auto& m : mails) {
    const std::string addr = m["to_addr"];
    ASSERT_TRUE(names.count(addr)) << addr;
    // Decoded by Python's email package from what we wrote.
    EXPECT_EQ(m["to_name"], names[addr]);
    EXPECT_EQ(m["from_addr"], "certpress@test.example");
    EXPECT_EQ(m["from_name"], "CertPress Test");
    // employee-soft's own subject template, with the holder's name.
    EXPECT_EQ(m["subject"], "Your CertPress certificate is ready, " + names[addr]);
    EXPECT_EQ(m["content_type"], "multipart/alternative");
    ASSERT_EQ(m["parts"].size(), 2u);
    EXPECT_EQ(m["parts"][0]["type"], "text/plain");
    EXPECT_EQ(m["parts"][1]["type"], "text/html");
    EXPECT_EQ(m["parts"][0]["charset"], "utf-8");
    EXPECT_TRUE(m["defects"].empty()) << m["defects"].dump();
    // The envelope recipient is the header's.
    EXPECT_NE(m["rcpt_to"].get<std::string>().find(addr), std::string::npos) << m["rcpt_to"];
    // The text and HTML parts carry the same link; the holder's name is in both.
    const std::string token = m["token"];
    EXPECT_EQ(token.size(), 43u) << m["text"];
    EXPECT_EQ(m["html_token"], token);
    EXPECT_NE(m["text"].get<std::string>().find("https://pickup.test.example:8443/pickup/" + token),
              std::string::npos);
    EXPECT_NE(m["text"].get<std::string>().find("Hello " + names[addr]), std::string::npos);
    EXPECT_NE(m["html"].get<std::string>().find(names[addr]), std::string::npos);
    // A non-ASCII display name goes out as RFC 2047 encoded-words, nothing raw.
    const std::string raw = m["raw_headers"];
    EXPECT_EQ(raw.find("Ø"), std::string::npos);
    if (addr != "alice.andersen@example.org") {
      EXPECT_NE(raw.find("To: =?UTF-8?B?"), std::string::npos) << raw;
      EXPECT_NE(raw.find("Subject: =?UTF-8?B?"), std::string::npos) << raw;
    }
    message_ids.insert(m["message_id"].get<std::string>());
  }
  EXPECT_EQ(message_ids.size(), 3u);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM mail_outbox WHERE state = 'sent'"), 3);

  // employee-soft asks for a code shown to an operator; without it, the link does not redeem.
  const int64_t jorgen = ids["jorgen@example.org"];
  const std::string link = TokenFor(mails, "jorgen@example.org");
  auto wrong = Redeem(link, "00000-00000");
  EXPECT_FALSE(wrong.ok);
  EXPECT_EQ(wrong.refusal, kgs::Refusal::kWrongCode);
  EXPECT_EQ(wrong.attempts_left, 9);
  const std::string code = Code(jorgen);
  ASSERT_EQ(code.size(), 11u);
  // The API shows the holder's name and that a code is needed, no secret.
  OpenApi();
  auto found = kgs::FindActivation(*api_db_, *keys_, link, true, "test:web");
  ASSERT_TRUE(found.ok()) << found.status().message();
  EXPECT_EQ(found->request_id, jorgen);
  EXPECT_EQ(found->holder_name, "Jørgen Ærø-Østergård");
  EXPECT_TRUE(found->code_required);
  EXPECT_EQ(found->state, kgs::ActivationState::kOpened);

  int delivered = 0;
  OpenApi();
  auto good = kgs::Redeem(*api_db_, *keys_, link, " " + code.substr(0, 5) + " " + code.substr(6),
                          "test:web", [&](store::Connection&, const kgs::Activation& a) -> Status {
                            EXPECT_EQ(a.request_id, jorgen);
                            ++delivered;
                            return Status::Ok();
                          });
  ASSERT_TRUE(good.ok()) << good.status().message();
  EXPECT_TRUE(good->ok);
  EXPECT_EQ(delivered, 1);
  // Once only.
  auto again = Redeem(link, code);
  EXPECT_FALSE(again.ok);
  EXPECT_EQ(again.refusal, kgs::Refusal::kInvalidLink);
  auto list = Run({"activation", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  auto j = nlohmann::json::parse(list.out);
  std::map<int64_t, std::string> states;
  for (const auto& a : j) states[a["request"].get<int64_t>()] = a["state"];
  EXPECT_EQ(states[jorgen], "used");
  EXPECT_EQ(states[ids["hanako@example.jp"]], "sent");
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'activation.pickup'"), 1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'activation.refused'"), 2);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'activation.code'"), 1);
  // The audit chain still verifies with what the API appended.
  auto verify = Run({"audit", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

TEST_F(MailIT, FiftyConcurrentRedemptionsOfOneLinkGiveExactlyOnePickup) {
  auto ids = Issue();
  ASSERT_EQ(Run({"mail", "send"}).exit_code, 0);
  const std::string link = TokenFor(Maildir(), "alice.andersen@example.org");
  ASSERT_FALSE(link.empty());
  const std::string code = Code(ids["alice.andersen@example.org"]);
  OpenApi();
  std::atomic<int> picked{0}, refused{0}, errors{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&] {
      auto conn = store::Connection::Open(api_db_->config());
      if (!conn.ok()) {
        ++errors;
        return;
      }
      while (!go.load()) std::this_thread::yield();
      auto r =
          kgs::Redeem(**conn, *keys_, link, code, "test:web",
                      [&](store::Connection&, const kgs::Activation&) { return Status::Ok(); });
      if (!r.ok()) {
        ++errors;
      } else if (r->ok) {
        ++picked;
      } else {
        ++refused;
      }
    });
  }
  go.store(true);
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(picked.load(), 1);
  EXPECT_EQ(refused.load(), 49);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM activations WHERE state = 'used'"), 1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'activation.pickup'"), 1);
}

TEST_F(MailIT, TenWrongCodesLockTheLinkAndTheRightCodeNoLongerOpensIt) {
  auto ids = Issue();
  ASSERT_EQ(Run({"mail", "send"}).exit_code, 0);
  const std::string link = TokenFor(Maildir(), "hanako@example.jp");
  const std::string code = Code(ids["hanako@example.jp"]);
  for (int i = 1; i <= 9; ++i) {
    auto r = Redeem(link, "WRONG-CODE" + std::to_string(i));
    EXPECT_EQ(r.refusal, kgs::Refusal::kWrongCode) << i;
    EXPECT_EQ(r.attempts_left, 10 - i);
  }
  auto tenth = Redeem(link, "AAAAA-AAAAA");
  EXPECT_EQ(tenth.refusal, kgs::Refusal::kLocked);
  auto right = Redeem(link, code);
  EXPECT_FALSE(right.ok);
  EXPECT_EQ(right.refusal, kgs::Refusal::kLocked);
  OpenApi();
  EXPECT_EQ(kgs::FindActivation(*api_db_, *keys_, link, false, "t").status().kind(),
            ErrorKind::kNotFound);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'activation.lock'"), 1);
  auto list = Run({"activation", "list", "--request", std::to_string(ids["hanako@example.jp"])});
  EXPECT_NE(list.out.find("locked"), std::string::npos) << list.out;
  // An operator's resend gives a new link and, because the link was locked, a new code (shown
  // once): the lock belongs to the code. Review: the old code was carried over with fresh
  // attempts, so whoever locked the link got ten more guesses at it after a helpdesk resend.
  auto resend =
      Run({"activation", "resend", "--request", std::to_string(ids["hanako@example.jp"])});
  ASSERT_EQ(resend.exit_code, 0) << resend.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(resend.out, m, std::regex("([0-9A-Z]{5}-[0-9A-Z]{5})")))
      << resend.out;
  const std::string new_code = m[1].str();
  EXPECT_NE(new_code, code);
  ASSERT_EQ(Run({"mail", "send"}).exit_code, 0);
  const std::string fresh = TokenFor(Maildir(), "hanako@example.jp");
  ASSERT_NE(fresh, link);
  // The old link was replaced (void): refused like any link that is not live.
  EXPECT_EQ(Redeem(link, code).refusal, kgs::Refusal::kInvalidLink);
  // The old code does not open the new link (it counts a wrong attempt); the new one does.
  auto old_code = Redeem(fresh, code);
  EXPECT_FALSE(old_code.ok);
  EXPECT_EQ(old_code.refusal, kgs::Refusal::kWrongCode);
  EXPECT_TRUE(Redeem(fresh, new_code).ok);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'activation.code' AND details "
                   "LIKE '%resend of a locked activation%'"),
            1);
  // Neither code reached the audit log.
  for (const std::string& secret : {code, new_code}) {
    EXPECT_EQ(Scalar("SELECT COUNT(*) FROM audit_log WHERE INSTR(details, '" + secret + "') > 0"),
              0);
  }
}

// Review: minting a new link for the same activation (a mail retry) reset the wrong attempts,
// and a resend of a live activation carried its code over with fresh attempts. Both keep the
// count: the code is the same, so are the guesses already spent on it.
TEST_F(MailIT, ANewLinkForTheSameCodeKeepsItsWrongAttempts) {
  auto ids = Issue();
  ASSERT_EQ(Run({"mail", "send"}).exit_code, 0);
  const int64_t request = ids["hanako@example.jp"];
  const std::string link = TokenFor(Maildir(), "hanako@example.jp");
  const std::string code = Code(request);
  for (int i = 1; i <= 4; ++i) {
    EXPECT_EQ(Redeem(link, "WRONG-CODE" + std::to_string(i)).refusal, kgs::Refusal::kWrongCode);
  }
  const int64_t act =
      Scalar("SELECT MAX(id) FROM activations WHERE request_id = " + std::to_string(request));
  // The mailer sends the row again (as after a crash between the server's 250 and the row's
  // sent): it mints the activation's link again.
  Exec(
      "UPDATE mail_outbox SET state = 'queued', next_attempt_at = NOW(6) WHERE kind = "
      "'activation' AND ref_id = " +
      std::to_string(act));
  ASSERT_EQ(Run({"mail", "send"}).exit_code, 0);
  const std::string again = TokenFor(Maildir(), "hanako@example.jp");
  ASSERT_NE(again, link);
  EXPECT_EQ(Scalar("SELECT attempts FROM activations WHERE id = " + std::to_string(act)), 4);
  auto wrong = Redeem(again, "WRONG-CODE5");
  EXPECT_EQ(wrong.refusal, kgs::Refusal::kWrongCode);
  EXPECT_EQ(wrong.attempts_left, 5);
  // A resend of the live activation keeps the code and its count.
  ASSERT_EQ(Run({"activation", "resend", "--request", std::to_string(request)}).exit_code, 0);
  EXPECT_EQ(Scalar("SELECT attempts FROM activations WHERE request_id = " +
                   std::to_string(request) + " ORDER BY id DESC LIMIT 1"),
            5);
  ASSERT_EQ(Run({"mail", "send"}).exit_code, 0);
  const std::string fresh = TokenFor(Maildir(), "hanako@example.jp");
  ASSERT_NE(fresh, again);
  EXPECT_EQ(Redeem(fresh, "WRONG-CODE6").attempts_left, 4);
  EXPECT_TRUE(Redeem(fresh, code).ok);
}

TEST_F(MailIT, AnExpiredLinkFailsByTheDatabaseClock) {
  auto ids = Issue();
  ASSERT_EQ(Run({"mail", "send"}).exit_code, 0);
  const std::string link = TokenFor(Maildir(), "alice.andersen@example.org");
  const std::string code = Code(ids["alice.andersen@example.org"]);
  // Seven days by default, from the moment the mail went out.
  EXPECT_EQ(Scalar("SELECT TIMESTAMPDIFF(HOUR, sent_at, expires_at) FROM activations WHERE "
                   "recipient_email = 'alice.andersen@example.org'"),
            168);
  Exec(
      "UPDATE activations SET expires_at = NOW(6) - INTERVAL 1 SECOND WHERE recipient_email = "
      "'alice.andersen@example.org'");
  auto r = Redeem(link, code);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.refusal, kgs::Refusal::kInvalidLink);
  OpenApi();
  auto found = kgs::FindActivation(*api_db_, *keys_, link, true, "t");
  EXPECT_EQ(found.status().kind(), ErrorKind::kNotFound);
  // The same words as for a link that never existed.
  auto unknown = kgs::FindActivation(*api_db_, *keys_, std::string(43, 'A'), true, "t");
  EXPECT_EQ(found.status().message(), unknown.status().message());
  auto list = Run({"activation", "list"});
  EXPECT_NE(list.out.find("expired"), std::string::npos) << list.out;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'activation.refused' AND "
                   "details LIKE '%reason=expired%'"),
            1);
}

TEST_F(MailIT, AMailServerDownAtFirstIsRetriedWithBackoffAndNothingIsLost) {
  Issue();
  smtpd_->Stop();
  auto first = Run({"mail", "send"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find("0 sent, 3 deferred"), std::string::npos) << first.out;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM mail_outbox WHERE state = 'queued' AND attempts = 1 AND "
                   "last_error <> '' AND next_attempt_at > NOW(6) + INTERVAL 30 SECOND"),
            3);
  // Not due yet: nothing is tried.
  auto early = Run({"mail", "send"});
  EXPECT_NE(early.out.find("0 sent, 0 deferred"), std::string::npos) << early.out;
  // Down once more, due again: the second wait is twice the first (exponential backoff).
  Exec("UPDATE mail_outbox SET next_attempt_at = NOW(6)");
  ASSERT_EQ(Run({"mail", "send"}).exit_code, 0);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM mail_outbox WHERE attempts = 2 AND next_attempt_at > "
                   "NOW(6) + INTERVAL 90 SECOND"),
            3);
  ASSERT_TRUE(smtpd_->Start());
  Exec("UPDATE mail_outbox SET next_attempt_at = NOW(6)");
  auto later = Run({"mail", "send"});
  ASSERT_EQ(later.exit_code, 0) << later.err;
  EXPECT_NE(later.out.find("3 sent"), std::string::npos) << later.out;
  auto mails = Maildir();
  ASSERT_EQ(mails.size(), 3u);
  std::set<std::string> to;
  for (const auto& m : mails) to.insert(m["to_addr"].get<std::string>());
  EXPECT_EQ(to.size(), 3u);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM mail_outbox WHERE state = 'sent'"), 3);
}

TEST_F(MailIT, AMailRefusedForGoodEndsFailedWithTheServersReplyAndItsLinkUndelivered) {
  auto ids = Issue();
  // A server that refuses every recipient for good: 550 (RFC 5321 4.2.2).
  smtpd_->Stop();
  const std::string script = Path("refuse.py");
  ASSERT_TRUE(WriteFile(script,
                        "import asyncio, sys\n"
                        "from aiosmtpd.controller import Controller\n"
                        "class H:\n"
                        "    async def handle_RCPT(self, server, session, envelope, address, "
                        "opts):\n"
                        "        return '550 5.1.1 mailbox unavailable'\n"
                        "c = Controller(H(), hostname='127.0.0.1', port=int(sys.argv[1]))\n"
                        "c.start()\n"
                        "import time\n"
                        "time.sleep(3600)\n")
                  .ok());
  pid_t pid = fork();
  if (pid == 0) {
    execl("/usr/bin/python3", "python3", script.c_str(), std::to_string(smtpd_->port()).c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  for (int i = 0; i < 100 && !smtpd_->Answers(); ++i) usleep(100 * 1000);
  auto r = Run({"mail", "send"});
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("3 failed"), std::string::npos) << r.out;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM mail_outbox WHERE state = 'failed' AND attempts = 1 AND "
                   "last_error LIKE '%550 5.1.1 mailbox unavailable%'"),
            3);
  // The activations say so, their links (which nobody received) are gone, and it is audited.
  auto list = Run({"activation", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  auto arr = nlohmann::json::parse(list.out);
  ASSERT_EQ(arr.size(), 3u) << list.out;
  for (const auto& a : arr) {
    EXPECT_EQ(a["state"], "undelivered") << list.out;
    EXPECT_EQ(a["mail"], "failed") << list.out;
  }
  auto text = Run({"activation", "list"});
  EXPECT_NE(text.out.find("3 undelivered: "), std::string::npos) << text.out;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM activations WHERE token_hmac IS NOT NULL"), 0);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'mail.failed' AND details LIKE "
                   "'%550 5.1.1%activation=undelivered%'"),
            3);
  // Once the address is fixed, a resend queues a new activation and mail for that request.
  const int64_t one = ids.begin()->second;
  auto resend = Run({"activation", "resend", "--request", std::to_string(one)});
  ASSERT_EQ(resend.exit_code, 0) << resend.err;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM activations WHERE request_id = " + std::to_string(one) +
                   " AND state = 'queued'"),
            1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM activations WHERE request_id = " + std::to_string(one) +
                   " AND state = 'void'"),
            1);
}

// Relay is tests/support/smtpd_tls.py: a server that demands TLS (STARTTLS or implicit) and
// AUTH, as a real relay does, writing a Maildir and an AUTH log.
class Relay {
 public:
  Relay(const std::vector<std::string>& args, int port) : port_(port) {
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      std::vector<const char*> argv = {"python3",
                                       CERTPRESS_SOURCE_DIR "/tests/support/smtpd_tls.py"};
      for (const auto& a : args) argv.push_back(a.c_str());
      argv.push_back(nullptr);
      execv("/usr/bin/python3", const_cast<char* const*>(argv.data()));
      _exit(127);
    }
  }
  ~Relay() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  // Listening: a TCP connect succeeds (a poll, not a timing assertion).
  bool Ready() const {
    for (int i = 0; i < 200; ++i) {
      if (Sh("timeout 1 bash -c 'exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(port_) +
             "' 2>/dev/null")
              .exit_code == 0) {
        return true;
      }
      usleep(100 * 1000);
    }
    return false;
  }

 private:
  int port_;
  pid_t pid_ = -1;
};

TEST_F(MailIT, StartTlsAndImplicitTlsWithAuthReachARelayThatDemandsThemAndNothingLess) {
  Issue();
  // The relay's certificate from a CA of the test's own, and a second CA that did not issue it.
  const std::string d = Path("relay");
  fs::create_directories(d);  // the relay makes its Maildir (tmp, new, cur) itself
  ASSERT_TRUE(
      WriteFile(d + "/ext.cnf", "subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n")
          .ok());
  const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes ";
  for (const char* ca : {"ca", "other-ca"}) {
    auto r = Sh("cd " + Quote(d) + " && openssl req -x509" + ec + "-keyout " + ca + ".key -out " +
                ca + ".pem -days 2 -subj '/CN=Relay Test " + ca +
                "' -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign "
                "2>&1");
    ASSERT_EQ(r.exit_code, 0) << r.out;
  }
  auto leaf = Sh("cd " + Quote(d) + " && openssl req" + ec +
                 "-keyout relay.key -out relay.csr -subj /CN=127.0.0.1 2>&1 && openssl x509 -req "
                 "-in relay.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf "
                 "-out relay.pem 2>&1");
  ASSERT_EQ(leaf.exit_code, 0) << leaf.out;
  ASSERT_TRUE(WriteFile(d + "/right.pw", "relay-secret-7\n", 0600).ok());
  ASSERT_TRUE(WriteFile(d + "/wrong.pw", "relay-secret-8\n", 0600).ok());
  const int port = FreePort();
  ASSERT_NE(port, 0);
  Relay relay({std::to_string(port), "starttls", d + "/relay.pem", d + "/relay.key", d + "/maildir",
               "mailer", "relay-secret-7", d + "/auth.log"},
              port);
  ASSERT_TRUE(relay.Ready());
  auto send = [&](const std::string& url, const std::string& tls, const std::string& ca,
                  const std::string& pw) {
    // Whatever an earlier round deferred is due again now.
    Exec("UPDATE mail_outbox SET next_attempt_at = NOW(6) WHERE state = 'queued'");
    return Run({"mail", "send", "--mail.smtp-url", url, "--mail.tls", tls, "--mail.username",
                "mailer", "--mail.password-file", d + "/" + pw, "--mail.ca-file",
                d + "/" + ca + ".pem"});
  };
  const std::string starttls = "smtp://127.0.0.1:" + std::to_string(port);
  auto count_mails = [&] {
    return std::distance(fs::directory_iterator(d + "/maildir/new"), fs::directory_iterator{});
  };

  // A relay whose certificate the configured CAs did not issue gets nothing, not even AUTH.
  auto untrusted = send(starttls, "starttls", "other-ca", "right.pw");
  EXPECT_NE(untrusted.out.find("0 sent, 3 deferred"), std::string::npos) << untrusted.out;
  EXPECT_FALSE(fs::exists(d + "/auth.log"));
  // Without TLS at all, the relay refuses (530) and nothing is sent in clear.
  auto plain = send(starttls, "none", "ca", "right.pw");
  EXPECT_FALSE(fs::exists(d + "/auth.log"));
  // A wrong password: 535, over TLS, and the mails wait.
  auto wrong = send(starttls, "starttls", "ca", "wrong.pw");
  EXPECT_NE(wrong.out.find("0 sent, 3 deferred"), std::string::npos) << wrong.out;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM mail_outbox WHERE state = 'queued' AND last_error LIKE "
                   "'%535%'"),
            3)
      << Run({"mail", "list"}).out;
  // Right: STARTTLS, then AUTH, then the three mails.
  auto right = send(starttls, "starttls", "ca", "right.pw");
  EXPECT_NE(right.out.find("3 sent"), std::string::npos) << right.out;
  EXPECT_EQ(count_mails(), 3);
  auto log = ReadFile(d + "/auth.log");
  ASSERT_TRUE(log.ok());
  EXPECT_NE(log->find("auth refused mailer"), std::string::npos) << *log;
  EXPECT_NE(log->find("auth ok mailer"), std::string::npos) << *log;
  EXPECT_EQ(log->find("starttls tls=False"), std::string::npos) << *log;

  // Implicit TLS (smtps://, RFC 8314) to a relay that speaks TLS from the first byte.
  const int port2 = FreePort();
  ASSERT_NE(port2, 0);
  Relay implicit({std::to_string(port2), "implicit", d + "/relay.pem", d + "/relay.key",
                  d + "/maildir", "mailer", "relay-secret-7", d + "/auth.log"},
                 port2);
  ASSERT_TRUE(implicit.Ready());
  const int64_t one = Scalar("SELECT MIN(request_id) FROM activations");
  ASSERT_EQ(Run({"activation", "resend", "--request", std::to_string(one)}).exit_code, 0);
  auto smtps = send("smtps://127.0.0.1:" + std::to_string(port2), "implicit", "ca", "right.pw");
  EXPECT_NE(smtps.out.find("1 sent"), std::string::npos) << smtps.out;
  EXPECT_EQ(count_mails(), 4);
  log = ReadFile(d + "/auth.log");
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(Occurrences(*log, "auth ok mailer"), 2u) << *log;
  EXPECT_EQ(Occurrences(*log, "auth ok mailer PLAIN implicit"), 1u) << *log;
  // The password never reached the output or the database.
  EXPECT_EQ((right.out + right.err + smtps.out + smtps.err).find("relay-secret"),
            std::string::npos);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM mail_outbox WHERE last_error LIKE '%relay-secret%'"), 0);
}

TEST_F(MailIT, AServerErrorAfterDataDoesNotSpoilTheNextMailOnTheConnection) {
  Issue();
  // aiosmtpd's Mailbox creates a Maildir's folders only when the directory does not exist:
  // given an empty one, it answers every DATA with 500 and keeps the transaction open, and a
  // client that goes on with the same session gets "503 nested MAIL command" instead.
  smtpd_->Stop();
  const std::string broken = Path("broken-maildir");
  fs::create_directories(broken);
  Smtpd server(broken, smtpd_->port());
  ASSERT_TRUE(server.Start());
  auto r = Run({"mail", "send"});
  server.Stop();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("3 failed"), std::string::npos) << r.out;
  // Matched on the reply's words, not on bare codes: the server's 500 text quotes a Maildir
  // file name of random digits, which once contained "503".
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM mail_outbox WHERE state = 'failed' AND last_error LIKE "
                   "'%(server: 500 Error%' AND last_error NOT LIKE '%nested MAIL%'"),
            3)
      << Run({"mail", "list"}).out;
}

TEST_F(MailIT, OtherMailKindsGoThroughTheOutboxWithTheirComposer) {
  // As web/'s invitations will: a row of kind "invitation" and a composer for it.
  Issue();
  OpenApi();
  int64_t first = 0, second = 0;
  Status queued = store::RunTransaction(*api_db_, [&](store::Connection& c) -> Status {
    store::OutboxRow row;
    row.kind = "invitation";
    row.recipient_email = "new.hire@example.org";
    row.recipient_name = "Nøvak Hire";
    row.profile = "employee-soft";
    row.ref_id = 7;
    CP_ASSIGN_OR_RETURN(first, store::QueueMail(c, row, "t1"));
    row.ref_id = 8;  // its invitation was withdrawn: the composer says Conflict
    CP_ASSIGN_OR_RETURN(second, store::QueueMail(c, row, "t2"));
    return Status::Ok();
  });
  ASSERT_TRUE(queued.ok()) << queued.message();
  Exec("UPDATE mail_outbox SET state = 'void' WHERE kind = 'activation'");
  kgs::MailSettings s;
  s.smtp_url = "smtp://127.0.0.1:" + std::to_string(smtpd_->port());
  s.tls = kgs::SmtpTls::kNone;
  s.from = "CertPress <certpress@test.example>";
  s.public_url = "https://pickup.test.example";
  s.claimer = "mailer:test";
  s.composers["invitation"] = [](store::Connection&, const store::OutboxRow& row,
                                 const profiles::ProfileSet&) -> Result<kgs::RenderedMail> {
    if (row.ref_id == 8) return Conflict("invitation withdrawn");
    kgs::RenderedMail m;
    m.subject = "You are invited";
    m.text = SecureString("Apply here: https://pickup.test.example/invite/abc\n");
    m.html = SecureString("<p>Apply</p>\n");
    return m;
  };
  profiles::ProfileSet none;
  auto r = kgs::DrainOutbox(*api_db_, *keys_, none, s);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->sent, 1);
  EXPECT_EQ(r->voided, 1);
  auto mails = Maildir();
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_EQ(mails[0]["subject"], "You are invited");
  EXPECT_EQ(mails[0]["to_name"], "Nøvak Hire");
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM mail_outbox WHERE id = " + std::to_string(second) +
                   " AND state = 'void' AND last_error = 'invitation withdrawn'"),
            1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM mail_outbox WHERE id = " + std::to_string(first) +
                   " AND state = 'sent'"),
            1);
}

TEST_F(MailIT, ACrashAfterSendingYieldsAtMostADuplicateWithTheSameMessageId) {
  auto ids = Issue();
  // The hook exits right after the server took the first mail, before the row says sent.
  auto crash = Sh("CERTPRESS_TEST_MAILER_EXIT_AFTER_SEND=1 " + cli_.CommandLine({"mail", "send"}));
  EXPECT_EQ(crash.exit_code, 75) << crash.err;
  auto after_crash = Maildir();
  ASSERT_EQ(after_crash.size(), 1u);
  const std::string crashed_to = after_crash[0]["to_addr"];
  const std::string crashed_id = after_crash[0]["message_id"];
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM mail_outbox WHERE state = 'sending'"), 1);
  // Its claim is held until the lease runs out; then the next mailer sends it again.
  auto held = Run({"mail", "send"});
  EXPECT_NE(held.out.find("2 sent"), std::string::npos) << held.out;
  Exec("UPDATE mail_outbox SET next_attempt_at = NOW(6) WHERE state = 'sending'");
  auto resend = Run({"mail", "send"});
  EXPECT_NE(resend.out.find("1 sent"), std::string::npos) << resend.out;
  auto mails = Maildir();
  ASSERT_EQ(mails.size(), 4u);
  std::map<std::string, int> per_id;
  for (const auto& m : mails) ++per_id[m["message_id"].get<std::string>()];
  EXPECT_EQ(per_id.size(), 3u);
  EXPECT_EQ(per_id[crashed_id], 2);
  // The holder has two mails; the newer link works, the first one was replaced.
  std::vector<std::string> tokens;
  for (const auto& m : mails) {
    if (m["to_addr"] == crashed_to) tokens.push_back(m["token"]);
  }
  ASSERT_EQ(tokens.size(), 2u);
  ASSERT_NE(tokens[0], tokens[1]);
  const std::string code = Code(ids[crashed_to]);
  OpenApi();
  const bool first_live = kgs::FindActivation(*api_db_, *keys_, tokens[0], false, "t").ok();
  const bool second_live = kgs::FindActivation(*api_db_, *keys_, tokens[1], false, "t").ok();
  EXPECT_NE(first_live, second_live) << "exactly one of the two links works";
  EXPECT_TRUE(Redeem(first_live ? tokens[0] : tokens[1], code).ok);
}

TEST_F(MailIT, NoLinkTokenCodeOrPasswordInLogsOutputOrADatabaseDump) {
  // A planted SMTP password (the local server offers no AUTH, so it is never sent either).
  const std::string planted = "planted-smtp-password-" + RandomSuffix();
  ASSERT_TRUE(WriteFile(Path("smtp.pw"), planted + "\n", 0600).ok());
  auto ids = Issue();
  const std::string log = Path("mail.log");
  auto send = Run({"mail", "send", "--log-level", "trace", "--log-file", log,
                   "--mail.password-file", Path("smtp.pw")});
  ASSERT_EQ(send.exit_code, 0) << send.err;
  const std::string code = Code(ids["jorgen@example.org"]);
  auto mails = Maildir();
  ASSERT_EQ(mails.size(), 3u);
  std::vector<std::string> secrets = {planted, code, code.substr(0, 5) + code.substr(6)};
  for (const auto& m : mails) secrets.push_back(m["token"]);
  // Redeem one, with a wrong code first, through the API.
  const std::string link = TokenFor(mails, "jorgen@example.org");
  EXPECT_EQ(Redeem(link, "ZZZZZ-ZZZZZ").refusal, kgs::Refusal::kWrongCode);
  EXPECT_TRUE(Redeem(link, code).ok);
  auto list = Run({"activation", "list", "--json", "--log-level", "trace", "--log-file", log});
  auto mail_list = Run({"mail", "list", "--json", "--log-level", "trace", "--log-file", log});
  auto dump = Sh("mariadb-dump --no-defaults -uroot --socket=" +
                 Quote(testing::RequireEnv("CERTPRESS_DB_SOCKET")) + " --skip-triggers " +
                 Quote(db_.name()));
  ASSERT_EQ(dump.exit_code, 0) << dump.err;
  ASSERT_NE(dump.out.find("activations"), std::string::npos);
  auto log_text = ReadFile(log);
  ASSERT_TRUE(log_text.ok());
  EXPECT_NE(log_text->find("mailer"), std::string::npos) << "the log was written";
  for (const auto& s : secrets) {
    ASSERT_FALSE(s.empty());
    EXPECT_EQ(Occurrences(dump.out, s), 0u) << "in the dump: " << s;
    EXPECT_EQ(Occurrences(*log_text, s), 0u) << "in the log: " << s;
    for (const auto* out : {&send, &list, &mail_list}) {
      EXPECT_EQ(Occurrences(out->out + out->err, s), 0u) << s;
    }
  }
  // The HMACs are there instead, and the activation key only wrapped: unwrapped here with the
  // token (as kgs does), neither its bytes nor their hex are anywhere in the dump or the log.
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM activations WHERE LENGTH(token_hmac) = 32"), 3);
  auto c = db_.Connect();
  auto wrapped = store::Sql(*c).Query("SELECT kek_label, wrapped FROM activation_keys");
  ASSERT_TRUE(wrapped.ok() && wrapped->size() == 1);
  auto key = hsm_->SecretDecrypt((*wrapped)[0].Str(0), (*wrapped)[0].Blob(1),
                                 AsBytes("certpress-activation-key-v1"));
  ASSERT_TRUE(key.ok()) << key.status().message();
  ASSERT_EQ(key->size(), 32u);
  const std::string hex = HexEncode(AsBytes(key->view()));
  std::string upper = hex;
  for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  // Raw bytes would be escaped in a plain dump; --hex-blob shows every blob as 0xHEX.
  auto hex_dump = Sh("mariadb-dump --no-defaults -uroot --socket=" +
                     Quote(testing::RequireEnv("CERTPRESS_DB_SOCKET")) +
                     " --skip-triggers --hex-blob " + Quote(db_.name()));
  ASSERT_EQ(hex_dump.exit_code, 0) << hex_dump.err;
  ASSERT_NE(hex_dump.out.find("0x"), std::string::npos);
  for (const std::string& k : {key->str(), hex, upper}) {
    EXPECT_EQ(Occurrences(dump.out + hex_dump.out, k), 0u) << "the activation key is in a dump";
    EXPECT_EQ(Occurrences(*log_text, k), 0u) << "the activation key is in the log";
  }
  for (const auto& secret : secrets) {
    EXPECT_EQ(Occurrences(hex_dump.out, secret), 0u) << secret;
  }
}

TEST_F(MailIT, TheSchedulerSendsTheMailsOfWhatItIssues) {
  EXPECT_TRUE(WriteFile(Path("employees.csv"), kEmployees).ok());
  ASSERT_EQ(Run({"import", Path("employees.csv"), "--profile", "employee-soft", "--ca", "issuing"})
                .exit_code,
            0);
  ASSERT_EQ(cli_.Decide({"approve", "--all", "--profile", "employee-soft"}, "alice").exit_code, 0);
  const std::string cmd =
      cli_.CommandLine({"scheduler", "--run-now", "--interval", "3600", "--mail-poll", "1"}) +
      " >" + Quote(Path("sched.out")) + " 2>" + Quote(Path("sched.err")) + " & echo $!";
  auto started = Sh(cmd);
  ASSERT_EQ(started.exit_code, 0);
  const pid_t pid = static_cast<pid_t>(std::stol(started.out));
  size_t n = 0;
  for (int i = 0; i < 600 && n < 3; ++i) {  // a poll for the mails, up to a minute
    usleep(100 * 1000);
    n = Maildir().size();
  }
  kill(pid, SIGTERM);
  for (int i = 0; i < 300 && kill(pid, 0) == 0; ++i) usleep(100 * 1000);
  auto err = ReadFile(Path("sched.err"));
  EXPECT_EQ(n, 3u) << (err.ok() ? *err : "");
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM mail_outbox WHERE state = 'sent'"), 3);
}

}  // namespace
}  // namespace certpress
