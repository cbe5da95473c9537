#include "tests/support/test_env.h"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <openssl/rand.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/bytes.h"
#include "signer/token.h"
#include "store/schema.h"

namespace certpress::testing {

namespace fs = std::filesystem;

std::string RequireEnv(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    ADD_FAILURE() << name << " is not set: integration tests need the private stack "
                  << "(run scripts/test, or scripts/stack up && source .certpress/env)";
    return "";
  }
  return v;
}

std::string RandomSuffix() {
  unsigned char b[6];
  RAND_bytes(b, sizeof b);
  return HexEncode(ByteSpan(b, sizeof b));
}

size_t Occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TokenConfig ConfigFor(const TestToken& token) {
  TokenConfig c;
  c.kind = "pkcs11";
  c.module = token.module();
  c.label = token.label();
  c.pin = SecureString(token.pin());
  return c;
}

RunResult ListPrivateKeys(const TestToken& token) {
  return Sh("pkcs11-tool --module " + Quote(token.module()) + " --token-label " +
            Quote(token.label()) + " --login --pin " + Quote(token.pin()) +
            " --list-objects --type privkey");
}

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

RunResult Sh(const std::string& command) {
  fs::path dir = fs::temp_directory_path() / ("cp-sh-" + RandomSuffix());
  fs::create_directories(dir);
  std::string out = (dir / "out").string(), err = (dir / "err").string();
  std::string line = "( " + command + " ) >" + Quote(out) + " 2>" + Quote(err) + " </dev/null";
  int status = std::system(line.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = ReadFile(out).ok() ? *ReadFile(out) : "";
  r.err = ReadFile(err).ok() ? *ReadFile(err) : "";
  fs::remove_all(dir);
  return r;
}

static std::string AdminSql(const std::string& sql) {
  // Root on the unix socket (unix_socket authentication, as an operator on the machine).
  return "mariadb --no-defaults -uroot --socket=" + Quote(RequireEnv("CERTPRESS_DB_SOCKET")) +
         " -e " + Quote(sql);
}

TestDb::TestDb() : name_("certpress_t_" + RandomSuffix()) {
  RunResult r =
      Sh(AdminSql("CREATE DATABASE `" + name_ + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto conn = Connect();
  if (conn) {
    auto m = store::Migrate(*conn);
    EXPECT_TRUE(m.ok()) << m.status().message();
    Status g = store::GrantRuntimePrivileges(*conn, "certpress", "localhost");
    EXPECT_TRUE(g.ok()) << g.message();
  }
}

TestDb::~TestDb() {
  Sh(AdminSql("DROP DATABASE IF EXISTS `" + name_ + "`"));
}

store::DbConfig TestDb::Config() const {
  store::DbConfig c = RuntimeConfig();
  c.user = "certpress_migrate";
  auto pw = ReadSecretFile(RequireEnv("CERTPRESS_STATE") + "/secrets/db-migrate-password");
  EXPECT_TRUE(pw.ok()) << pw.status().message();
  if (pw.ok()) c.password = std::move(pw).value();
  return c;
}

store::DbConfig TestDb::RuntimeConfig() const {
  store::DbConfig c;
  c.socket = RequireEnv("CERTPRESS_DB_SOCKET");
  c.name = name_;
  c.user = "certpress";
  auto pw = ReadSecretFile(RequireEnv("CERTPRESS_STATE") + "/secrets/db-password");
  EXPECT_TRUE(pw.ok()) << pw.status().message();
  if (pw.ok()) c.password = std::move(pw).value();
  // Store-level tests chain audit entries with a key of their own (the CLI's come from the
  // token, kgs/audit_keys.h).
  static const auto keys = [] {
    auto k = std::make_shared<store::AuditKeys>();
    k->current_id = 1;
    k->keys.emplace(1, SecureString("store-test-audit-key-" + RandomSuffix()));
    return std::shared_ptr<const store::AuditKeys>(k);
  }();
  c.audit_keys = keys;
  return c;
}

std::unique_ptr<store::Connection> TestDb::Connect() const {
  auto c = store::Connection::Open(Config());
  EXPECT_TRUE(c.ok()) << c.status().message();
  return c.ok() ? std::move(c).value() : nullptr;
}

TestToken::TestToken() : label_("cp-t-" + RandomSuffix()) {
  // Each token lives in its own SoftHSM store: ctest runs tests in parallel, and SoftHSM's
  // slot scan (C_GetSlotList) fails when another process
  // deletes a token in the same directory between listing the slots and reading one.
  dir_ = (fs::temp_directory_path() / label_).string();
  fs::create_directories(dir_ + "/tokens");
  conf_ = dir_ + "/softhsm2.conf";
  EXPECT_TRUE(WriteFile(conf_,
                        "directories.tokendir = " + dir_ +
                            "/tokens\nobjectstore.backend = file\nlog.level = ERROR\n",
                        0600)
                  .ok());
  pin_file_ = dir_ + "/pin";
  std::string pin = RandomSuffix();
  EXPECT_TRUE(WriteFile(pin_file_, pin + "\n", 0600).ok());
  // The module reads SOFTHSM2_CONF at C_Initialize, in this process and in the tools it runs;
  // the token object finalises the module when it goes, so tokens one after another work.
  if (const char* prev = std::getenv("SOFTHSM2_CONF")) prev_conf_ = prev;
  setenv("SOFTHSM2_CONF", conf_.c_str(), 1);
  // certpress's own InitToken, so that no PIN goes through a command line. It runs in this
  // process, and SoftHSM2 reads SOFTHSM2_CONF only when it is first initialised: the module
  // must not be loaded yet (an earlier token still open), or the token would land in that
  // token's store.
  if (void* loaded = dlopen(module().c_str(), RTLD_NOW | RTLD_NOLOAD)) {
    dlclose(loaded);
    ADD_FAILURE() << "a TestToken was made while another token still holds the PKCS#11 module";
  }
  TokenConfig c;
  c.module = module();
  c.label = label_;
  c.pin = SecureString(pin);
  Status st = InitToken(c, SecureString(pin + "so"));
  EXPECT_TRUE(st.ok()) << st.message();
}

TestToken::~TestToken() {
  if (prev_conf_.empty())
    unsetenv("SOFTHSM2_CONF");
  else
    setenv("SOFTHSM2_CONF", prev_conf_.c_str(), 1);
  fs::remove_all(dir_);
}

std::string TestToken::pin() const {
  auto p = ReadSecretFile(pin_file_);
  return p.ok() ? p->str() : "";
}

std::string TestToken::module() const {
  const char* m = std::getenv("CERTPRESS_TOKEN_MODULE");
  return m ? m : "/usr/lib/softhsm/libsofthsm2.so";
}

void CopyTestProfiles(const std::string& dest) {
  fs::create_directories(dest);
  const std::string shipped = "cas = [\"demo-issuing\"]";
  for (const auto& e : fs::directory_iterator(CERTPRESS_SOURCE_DIR "/profiles")) {
    if (e.path().extension() != ".toml") continue;
    std::ifstream in(e.path());
    std::stringstream text;
    text << in.rdbuf();
    std::string toml = text.str();
    for (size_t at = toml.find(shipped); at != std::string::npos; at = toml.find(shipped, at)) {
      // "slow": the RSA-4096 issuing CA of the lease test (IntakeIT).
      toml.replace(at, shipped.size(), "cas = [\"demo-issuing\", \"issuing\", \"slow\"]");
      at += shipped.size();
    }
    std::ofstream out(dest + "/" + e.path().filename().string());
    out << toml;
  }
}

Cli::Cli(const TestDb& db, const TestToken& token, const std::string& db_hosts)
    : softhsm_conf_(token.softhsm_conf()) {
  dir_ = (fs::temp_directory_path() / ("cp-cli-" + RandomSuffix())).string();
  fs::create_directories(dir_);
  CopyTestProfiles(dir_ + "/profiles");
  config_ = dir_ + "/certpress.conf";
  std::ofstream f(config_);
  f << "[db]\nsocket = " << RequireEnv("CERTPRESS_DB_SOCKET") << "\nname = " << db.name()
    << "\nuser = certpress\npassword-file = " << RequireEnv("CERTPRESS_STATE")
    << "/secrets/db-password\nmigrate-user = certpress_migrate\nmigrate-password-file = "
    << RequireEnv("CERTPRESS_STATE")
    << "/secrets/db-migrate-password\n[token]\nkind = pkcs11\nmodule = " << token.module()
    << "\nlabel = " << token.label() << "\npin-file = " << token.pin_file() << "\n"
    << "[profiles]\ndir = " << dir_ << "/profiles\n"
    << "[audit]\ncheckpoint-file = " << dir_ << "/audit-checkpoints.jsonl\n";
  if (!db_hosts.empty()) f << "[db]\nhosts = " << db_hosts << "\n";
}

Cli::~Cli() {
  fs::remove_all(dir_);
}

std::string Cli::CommandLine(const std::vector<std::string>& args) const {
  // Only the config file speaks: the stack's CERTPRESS_* variables must not leak in.
  std::string cmd =
      "env -u CERTPRESS_DB_SOCKET -u CERTPRESS_DB_NODES -u CERTPRESS_TOKEN_LABEL "
      "-u CERTPRESS_TOKEN_PIN_FILE -u CERTPRESS_TOKEN_MODULE SOFTHSM2_CONF=" +
      Quote(softhsm_conf_) + " CERTPRESS_CONFIG=" + Quote(config_) + " " CERTPRESS_BIN;
  for (const auto& a : args) cmd += " " + Quote(a);
  return cmd;
}

RunResult Cli::Run(const std::vector<std::string>& args) const {
  return Sh(CommandLine(args));
}

std::vector<std::string> Cli::OperatorArgs(const std::string& name) const {
  const std::string key = dir_ + "/operator-" + name + ".key";
  const std::string pw = dir_ + "/operator-" + name + ".pw";
  if (!fs::exists(key)) {
    EXPECT_TRUE(WriteFile(pw, "pw-of-" + name + "-" + RandomSuffix() + "\n", 0600).ok());
    auto r = Run({"operator", "enroll", name, "--key-out", key, "--password-file", pw});
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  return {"--operator", name, "--key", key, "--key-password-file", pw};
}

RunResult Cli::Decide(std::vector<std::string> args, const std::string& op) const {
  for (auto& a : OperatorArgs(op)) args.push_back(std::move(a));
  return Run(args);
}

}  // namespace certpress::testing
