// test_env.h: helpers for integration tests against the real stack (scripts/stack up): a
// private database per test suite, a private SoftHSM token per suite, and running the
// certpress binary the way an operator does.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "signer/token.h"
#include "store/db.h"

namespace certpress::testing {

// Env returns an environment variable or fails the test with a hint to run scripts/test.
std::string RequireEnv(const char* name);

// RandomSuffix returns 12 hex characters.
std::string RandomSuffix();

// TestDb creates database certpress_t_<random>, migrated by the migration account, with the
// run-time account granted its per-table privileges, and drops it on destruction.
class TestDb {
 public:
  TestDb();
  ~TestDb();
  const std::string& name() const { return name_; }
  // Config and Connect are the migration account's: it owns the schema, so store-level tests
  // can set up tables and, as an administrator with the database's rights would, tamper.
  store::DbConfig Config() const;
  std::unique_ptr<store::Connection> Connect() const;
  // RuntimeConfig is the run-time account's (`certpress`), as the CLI connects (Cli's config).
  store::DbConfig RuntimeConfig() const;

 private:
  std::string name_;
};

// TestToken initialises a fresh SoftHSM token with a random label and PIN in a SoftHSM store
// of its own, points SOFTHSM2_CONF at it while it lives (one TestToken at a time per process)
// and removes it on destruction.
class TestToken {
 public:
  TestToken();
  ~TestToken();
  const std::string& label() const { return label_; }
  const std::string& pin_file() const { return pin_file_; }
  std::string pin() const;
  std::string module() const;
  const std::string& softhsm_conf() const { return conf_; }

 private:
  std::string label_;
  std::string dir_;
  std::string conf_;
  std::string prev_conf_;
  std::string pin_file_;
};

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Sh runs a shell command line and captures its output.
RunResult Sh(const std::string& command);
// Quote single-quotes a shell word.
std::string Quote(const std::string& s);
// Occurrences counts the places |what| appears in |text|.
size_t Occurrences(const std::string& text, const std::string& what);

// CopyTestProfiles copies the shipped profiles to |dest| with the test hierarchy's issuing CA
// ("issuing") added to every card profile's cas (the shipped ones name the demo's CA only).
void CopyTestProfiles(const std::string& dest);

class TestToken;
// ConfigFor is the configuration with which our code opens |token| (OpenToken).
TokenConfig ConfigFor(const TestToken& token);

// ListPrivateKeys lists |token|'s private keys with OpenSC's pkcs11-tool, an independent
// reader in a process of its own (it sees token objects, never our session objects).
RunResult ListPrivateKeys(const TestToken& token);

// Cli runs build/certpress with a config file for |db| and |token| plus |args|; its profiles
// are CopyTestProfiles' (dir()/profiles).
class Cli {
 public:
  // |db_hosts| (optional) is written as db.hosts: Galera nodes in the order this CLI prefers.
  Cli(const TestDb& db, const TestToken& token, const std::string& db_hosts = "");
  ~Cli();
  RunResult Run(const std::vector<std::string>& args) const;
  // OperatorArgs enrolls operator |name| on first use (its key and password in dir()) and
  // returns the options with which `approve` and `reject` sign as that operator.
  std::vector<std::string> OperatorArgs(const std::string& name) const;
  // Decide runs `approve` or `reject` (|args|) signed by operator |op|.
  RunResult Decide(std::vector<std::string> args, const std::string& op) const;
  // SubmitAs runs `import` or `request submit` (|args|) as operator |op|, who signs the
  // submission (a profile that keeps submitters from approving wants it: employee-piv).
  RunResult SubmitAs(std::vector<std::string> args, const std::string& op) const {
    return Decide(std::move(args), op);
  }
  // CommandLine is the shell command Run runs, for tests that start it in the background.
  std::string CommandLine(const std::vector<std::string>& args) const;
  const std::string& config_path() const { return config_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::string config_;
  std::string softhsm_conf_;
};

}  // namespace certpress::testing
