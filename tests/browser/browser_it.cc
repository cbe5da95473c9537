// Runs tests/browser/pickup.test.mjs (headless Chromium through playwright-core) against a
// private stack of its own: a test database and token, the test hierarchy's CAs, aiosmtpd
// writing a Maildir on port 18462, and `certpress serve` on 18461 (this suite's ports; the
// stack's aiosmtpd has its own). ctest label: browser.
// CERTPRESS_SCREENSHOTS=DIR keeps the pages' screenshots (docs/screenshots is made this way).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "common/bytes.h"
#include "tests/support/test_env.h"

namespace certpress {
namespace {

using certpress::testing::Cli;
using certpress::testing::Quote;
using certpress::testing::RequireEnv;
using certpress::testing::Sh;
using certpress::testing::TestDb;
using certpress::testing::TestToken;

constexpr int kSmtpPort = 18462;
constexpr int kWebPort = 18461;

// Child is a process of the test's, stopped with SIGTERM when the test ends.
class Child {
 public:
  explicit Child(const std::string& command) {
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~Child() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  bool Alive() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }

 private:
  pid_t pid_ = -1;
};

bool PortAnswers(int port) {
  return Sh("timeout 1 bash -c 'exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(port) +
            "' 2>/dev/null")
             .exit_code == 0;
}

TEST(BrowserIT, InvitationApplicationApprovalPickupInHeadlessChromium) {
  ASSERT_FALSE(PortAnswers(kSmtpPort) || PortAnswers(kWebPort))
      << "port " << kSmtpPort << " or " << kWebPort << " is taken";
  ASSERT_EQ(
      Sh("test -d " CERTPRESS_SOURCE_DIR "/tests/browser/node_modules/playwright-core").exit_code,
      0)
      << "run `npm ci` in tests/browser (scripts/bootstrap does)";
  TestDb db;
  TestToken token;
  Cli cli(db, token);
  auto root = cli.Run({"ca", "create-root", "--label", "root", "--name",
                       "CN=Browser Test Root,O=CertPress Test,C=DK", "--key-type", "ec-p256"});
  ASSERT_EQ(root.exit_code, 0) << root.err;
  auto sub = cli.Run({"ca", "create-sub", "--parent", "root", "--label", "issuing", "--name",
                      "CN=Browser Test Issuing CA,O=CertPress Test,C=DK", "--key-type", "ec-p256"});
  ASSERT_EQ(sub.exit_code, 0) << sub.err;
  // employee-soft in German (activation.language), for the German mail and pickup page.
  auto soft = ReadFile(cli.dir() + "/profiles/employee-soft.toml");  // the test's copy
  ASSERT_TRUE(soft.ok());
  std::string de = *soft;
  for (size_t at = de.find("employee-soft"); at != std::string::npos;
       at = de.find("employee-soft", at + 16)) {
    de.replace(at, 13, "employee-soft-de");
  }
  const size_t subject = de.find("subject = \"Your CertPress");
  ASSERT_NE(subject, std::string::npos);
  de.replace(subject, de.find('\n', subject) - subject, "language = \"de\"");
  ASSERT_TRUE(WriteFile(cli.dir() + "/profiles/browser-de.toml", de).ok());
  // A server certificate from a CSR, delivered by activation email: the file upload and the
  // certificate's downloads.
  ASSERT_TRUE(WriteFile(cli.dir() + "/profiles/browser-csr.toml", R"(
[card.server-csr]
description = "Server certificate"
token = "csr"
approvals = 1
delivery = "activation-email"
cas = ["issuing"]
ca = "issuing"
subject = [["CN", "{cn}"], ["O", "CertPress Test"]]
sans = [["dns", "{cn}"]]

[card.server-csr.fields]
cn = { required = true, kind = "dns", max_length = 64 }
email = { required = true, kind = "email", max_length = 128 }

[card.server-csr.activation]
name = "{cn}"
code = "operator"

[[card.server-csr.keys]]
name = "tls"
allowed_algorithms = ["ec-p256"]
source = "requester"
certificate = "tls-server"
)")
                  .ok());
  const std::string url = "https://127.0.0.1:" + std::to_string(kWebPort);
  {
    std::ofstream conf(cli.config_path(), std::ios::app);
    conf << "[mail]\nsmtp-url = smtp://127.0.0.1:" << kSmtpPort
         << "\ntls = none\nfrom = CertPress <certpress@test.example>\n"
         << "[web]\npublic-url = " << url << "\n";
  }
  const std::string maildir = cli.dir() + "/maildir";
  Child smtpd("/usr/bin/python3 -m aiosmtpd -n -l 127.0.0.1:" + std::to_string(kSmtpPort) +
              " -c aiosmtpd.handlers.Mailbox " + Quote(maildir));
  Child server(cli.CommandLine({"serve", "--web.listen", "127.0.0.1:" + std::to_string(kWebPort),
                                "--web.state-dir", cli.dir() + "/web", "--web.tls-profile",
                                "tls-server-internal", "--web.pkcs12-iterations", "100000",
                                "--web.post-rate-limit", "600", "--web.post-burst", "100"}) +
               " > " + Quote(cli.dir() + "/serve.out") + " 2>&1");
  for (int i = 0; i < 300 && !(PortAnswers(kSmtpPort) && PortAnswers(kWebPort)); ++i) {
    ASSERT_TRUE(server.Alive()) << ReadFile(cli.dir() + "/serve.out").value();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(PortAnswers(kWebPort));

  // The command line and a SQL door for the script.
  const std::string cli_sh = cli.dir() + "/cli.sh";
  ASSERT_TRUE(WriteFile(cli_sh, "#!/bin/sh\nexec " + cli.CommandLine({}) + " \"$@\"\n", 0700).ok());
  const std::string sql_sh = cli.dir() + "/sql.sh";
  ASSERT_TRUE(WriteFile(sql_sh,
                        "#!/bin/sh\nexec mariadb --no-defaults --socket=" +
                            Quote(RequireEnv("CERTPRESS_DB_SOCKET")) + " -u certpress -p\"$(cat " +
                            Quote(RequireEnv("CERTPRESS_STATE") + "/secrets/db-password") +
                            ")\" -N -B " + Quote(db.name()) + " -e \"$1\"\n",
                        0700)
                  .ok());
  std::string op_json = "[";
  for (const auto& a : cli.OperatorArgs("alice")) {
    op_json += (op_json.size() > 1 ? "," : "") + std::string("\"") + a + "\"";
  }
  op_json += "]";
  const char* shots = std::getenv("CERTPRESS_SCREENSHOTS");
  const std::string cmd =
      "cd " CERTPRESS_SOURCE_DIR "/tests/browser && CP_URL=" + Quote(url) +
      " CP_CLI=" + Quote(cli_sh) + " CP_SQL=" + Quote(sql_sh) + " CP_MAILDIR=" + Quote(maildir) +
      " CP_WORK=" + Quote(cli.dir()) + " CP_OPERATOR=" + Quote(op_json) +
      " CP_SCREENSHOTS=" + Quote(shots ? shots : "") + " timeout 600 node pickup.test.mjs";
  auto r = Sh(cmd);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("browser flow: ok"), std::string::npos) << r.out << r.err;
}

}  // namespace
}  // namespace certpress
