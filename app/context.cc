#include "app/context.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

#include "common/bytes.h"
#include "common/log.h"
#include "kgs/audit_keys.h"
#include "store/schema.h"

namespace certpress::app {

Result<store::Connection*> Context::Db(bool any_schema) {
  if (!db_) {
    CP_ASSIGN_OR_RETURN(store::DbConfig c, DbSettings());
    auto conn = store::Connection::Open(c);
    if (!conn.ok()) return conn.status();
    db_ = std::move(conn).value();
    schema_checked_ = false;
  }
  if (!any_schema && !schema_checked_) {
    CP_ASSIGN_OR_RETURN(int version, store::SchemaVersion(*db_));
    const int want = store::LatestSchemaVersion();
    if (version < want) {
      return InvalidInput("the database schema is at version " + std::to_string(version) +
                          " and this certpress needs version " + std::to_string(want) +
                          ": run `certpress db migrate`");
    }
    if (version > want) {
      return InvalidInput("the database schema is at version " + std::to_string(version) +
                          ", newer than this certpress knows (" + std::to_string(want) +
                          "): upgrade certpress");
    }
    schema_checked_ = true;
  }
  if (!any_schema && !audit_keys_) {
    // The audit chain's keys are unwrapped by the token. A command that cannot open the token
    // still reads; the first audit entry it would write fails with why (store/audit.h).
    if (auto token = Token(); token.ok()) {
      auto keys = kgs::LoadAuditKeys(*db_, **token, kKekLabel, /*create=*/true);
      if (keys.ok()) {
        audit_keys_ = std::move(keys).value();
        db_->SetAuditKeys(audit_keys_);
      }
    }
  }
  return db_.get();
}

Result<const profiles::ProfileSet*> Context::Profiles() {
  if (profiles_) return profiles_.get();
  auto set = profiles::LoadProfiles(Get<std::string>("profiles.dir"));
  if (!set.ok()) return set.status();
  profiles_ = std::make_unique<profiles::ProfileSet>(std::move(set).value());
  return profiles_.get();
}

Result<store::DbConfig> Context::DbSettings() const {
  store::DbConfig c;
  c.socket = Get<std::string>("db.socket");
  c.host = Get<std::string>("db.host");
  c.port = Get<unsigned>("db.port");
  c.name = Get<std::string>("db.name");
  c.user = Get<std::string>("db.user");
  c.nodes = store::ParseNodes(Get<std::string>("db.hosts"));
  if (c.socket.empty() && c.host.empty() && c.nodes.empty()) {
    return InvalidInput(
        "no database configured: set db.socket (or db.host, or db.hosts) in the config, "
        "CERTPRESS_DB_SOCKET, or --db.socket");
  }
  const std::string pw_file = Get<std::string>("db.password-file");
  if (!pw_file.empty()) {
    auto pw = ReadSecretFile(pw_file);
    if (!pw.ok()) return pw.status().Wrap("reading the database password");
    c.password = std::move(pw).value();
  }
  c.audit_keys = audit_keys_;
  return c;
}

Result<store::DbConfig> Context::MigrationDbSettings() const {
  CP_ASSIGN_OR_RETURN(store::DbConfig c, DbSettings());
  const std::string user = Get<std::string>("db.migrate-user");
  if (user.empty()) return c;
  c.user = user;
  c.password = SecureString();
  const std::string pw_file = Get<std::string>("db.migrate-password-file");
  if (!pw_file.empty()) {
    auto pw = ReadSecretFile(pw_file);
    if (!pw.ok()) return pw.status().Wrap("reading the migration account's password");
    c.password = std::move(pw).value();
  }
  return c;
}

Result<TokenConfig> Context::TokenSettings() const {
  TokenConfig c;
  c.kind = Get<std::string>("token.kind");
  c.module = Get<std::string>("token.module");
  c.label = Get<std::string>("token.label");
  c.dir = Get<std::string>("token.dir");
  c.session_copies = Get<bool>("token.session-copies");
  const std::string pin_file = Get<std::string>("token.pin-file");
  if (pin_file.empty()) {
    return InvalidInput("no token PIN configured: set token.pin-file or CERTPRESS_TOKEN_PIN_FILE");
  }
  auto pin = ReadSecretFile(pin_file);
  if (!pin.ok()) return pin.status().Wrap("reading the token PIN");
  c.pin = std::move(pin).value();
  return c;
}

void Context::CheckpointIfAudited() {
  if (!db_ || db_->AuditAppended() == 0 || !token_) return;
  auto cp = kgs::WriteCheckpoint(*db_, *token_, Get<std::string>("audit.checkpoint-file"));
  if (!cp.ok()) {
    log::Get("audit").Warn("audit checkpoint not written", {{"error", cp.status().message()}});
  }
}

Result<CryptoToken*> Context::Token() {
  if (token_) return token_.get();
  CP_ASSIGN_OR_RETURN(TokenConfig c, TokenSettings());
  auto t = OpenToken(c);
  if (!t.ok()) return t.status();
  token_ = std::move(t).value();
  return token_.get();
}

Result<std::shared_ptr<const kgs::ActivationKeys>> Context::ActivationKeys() {
  if (activation_keys_) return activation_keys_;
  CP_ASSIGN_OR_RETURN(store::Connection * db, Db());
  CP_ASSIGN_OR_RETURN(CryptoToken * token, Token());
  CP_ASSIGN_OR_RETURN(activation_keys_, kgs::ActivationKeys::Load(*db, *token, kKekLabel));
  return activation_keys_;
}

Result<kgs::MailSettings> Context::MailSettings() const {
  kgs::MailSettings s;
  s.smtp_url = Get<std::string>("mail.smtp-url");
  CP_ASSIGN_OR_RETURN(s.tls, kgs::ParseSmtpTls(Get<std::string>("mail.tls")));
  s.from = Get<std::string>("mail.from");
  s.username = Get<std::string>("mail.username");
  s.ca_file = Get<std::string>("mail.ca-file");
  s.max_attempts = Get<int>("mail.max-attempts");
  s.backoff_base_seconds = Get<int>("mail.backoff-seconds");
  if (s.max_attempts < 1 || s.backoff_base_seconds < 1) {
    return InvalidInput("mail.max-attempts and mail.backoff-seconds must be at least 1");
  }
  const std::string pw_file = Get<std::string>("mail.password-file");
  if (!pw_file.empty()) {
    auto pw = ReadSecretFile(pw_file);
    if (!pw.ok()) return pw.status().Wrap("reading the SMTP password");
    s.password = std::move(pw).value();
  }
  s.public_url = Get<std::string>("web.public-url");
  if (s.public_url.empty()) {
    if (const char* url = std::getenv("CERTPRESS_URL"); url != nullptr) s.public_url = url;
  }
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  s.claimer = "mailer:" + std::string(host) + ":" + std::to_string(getpid());
  return s;
}

std::string Context::Actor() const {
  if (vm_.count("operator") && !vm_["operator"].as<std::string>().empty()) {
    return vm_["operator"].as<std::string>();
  }
  struct passwd* pw = getpwuid(getuid());
  return std::string("cli:") + (pw ? pw->pw_name : std::to_string(getuid()));
}

}  // namespace certpress::app
