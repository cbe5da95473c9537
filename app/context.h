// context.h: what a command gets: its parsed options and lazily opened resources.
#pragma once

#include <boost/program_options.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "cardprofiles/profile.h"
#include "common/status.h"
#include "kgs/activations.h"
#include "kgs/mailer.h"
#include "signer/token.h"
#include "store/db.h"

namespace certpress::app {

namespace po = boost::program_options;

// UsageError marks a Status that should exit with code 2 (bad usage) rather than 1.
struct CommandResult {
  Status status;
  bool usage = false;
};

inline CommandResult Ok() {
  return {};
}
inline CommandResult Fail(Status s) {
  return {std::move(s), false};
}
inline CommandResult Usage(std::string m) {
  return {InvalidInput(std::move(m)), true};
}

class Context {
 public:
  explicit Context(po::variables_map vm) : vm_(std::move(vm)) {}

  const po::variables_map& vm() const { return vm_; }
  template <class T>
  T Get(const char* name) const {
    return vm_[name].as<T>();
  }
  bool Has(const char* name) const { return vm_.count(name) > 0 && !vm_[name].defaulted(); }
  bool Flag(const char* name) const { return vm_.count(name) > 0 && vm_[name].as<bool>(); }

  // Db opens the database connection on first use. Unless |any_schema| (for `db migrate`), a
  // database whose schema is not the one this build writes is refused with what to do, rather
  // than failing later on a missing column or index.
  Result<store::Connection*> Db(bool any_schema = false);
  // Token opens the configured crypto token on first use.
  Result<CryptoToken*> Token();
  // TokenSettings returns the token settings, the user PIN read from token.pin-file.
  Result<TokenConfig> TokenSettings() const;
  // Profiles loads the card and certificate profiles (profiles.dir) on first use.
  Result<const profiles::ProfileSet*> Profiles();
  // DbConfig returns the database settings (for modules that open their own connections).
  Result<store::DbConfig> DbSettings() const;
  // MigrationDbSettings: DbSettings with the migration account (db.migrate-user) instead of the
  // run-time one; nullopt-like empty user when none is configured.
  Result<store::DbConfig> MigrationDbSettings() const;
  // ActivationKeys unwraps the activation keys with the token (drawing the first on first use).
  Result<std::shared_ptr<const kgs::ActivationKeys>> ActivationKeys();
  // MailSettings reads mail.* and web.public-url (default: $CERTPRESS_URL); the password from
  // mail.password-file. |claimer| names who holds the rows this process claims.
  Result<kgs::MailSettings> MailSettings() const;
  // Actor names who is acting, for the audit log.
  std::string Actor() const;
  // CheckpointIfAudited signs a checkpoint of the audit chain's head (kgs::WriteCheckpoint)
  // when the command appended audit entries through Db(): every decision, registration, letter
  // print and card change is then covered by a signature in the checkpoint file, not only the
  // runs (a tail cut after the last checkpoint is what the file cannot catch). A failure is
  // logged; the command's own outcome stands.
  void CheckpointIfAudited();

  std::ostream& out = std::cout;

 private:
  po::variables_map vm_;
  std::unique_ptr<store::Connection> db_;
  bool schema_checked_ = false;
  std::unique_ptr<CryptoToken> token_;
  std::unique_ptr<profiles::ProfileSet> profiles_;
  std::shared_ptr<const store::AuditKeys> audit_keys_;
  std::shared_ptr<const kgs::ActivationKeys> activation_keys_;
};

// The key encryption key's label in the token: it wraps data keys and audit keys.
inline constexpr const char* kKekLabel = "certpress-kek";

}  // namespace certpress::app
