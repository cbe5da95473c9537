// `certpress token init`: initialise a PKCS#11 token and set its user PIN from PIN files, so
// that no PIN appears on a command line (softhsm2-util and pkcs11-tool take them as arguments
// or from a terminal only).
#include "app/commands.h"
#include "store/audit.h"

namespace certpress::app {

namespace {

CommandResult TokenInit(Context& ctx) {
  auto config = ctx.TokenSettings();
  if (!config.ok()) return Fail(config.status());
  if (config->kind != "pkcs11") {
    return Usage(
        "token init is for PKCS#11 tokens (token.kind = pkcs11); a soft token is a "
        "directory of key files and needs none");
  }
  const std::string so_file = ctx.Get<std::string>("so-pin-file");
  if (so_file.empty()) return Usage("--so-pin-file is required");
  auto so_pin = ReadSecretFile(so_file);
  if (!so_pin.ok()) return Fail(so_pin.status().Wrap("reading the security officer PIN"));
  // Audited when a database is configured and usable. A first installation initialises its
  // token before any database exists (scripts/stack does), so none is not an error: it is said.
  Status st = InitToken(*config, *so_pin);
  if (!st.ok()) return Fail(st);
  // The database is opened after the token exists: the audit chain's keys are unwrapped by it.
  store::Connection* db = nullptr;
  std::string unaudited;
  if (ctx.Get<std::string>("db.socket").empty() && ctx.Get<std::string>("db.host").empty() &&
      ctx.Get<std::string>("db.hosts").empty()) {
    unaudited = "no database configured";
  } else if (auto conn = ctx.Db(); conn.ok()) {
    db = *conn;
  } else {
    unaudited = conn.status().message();
  }
  ctx.out << "token '" << config->label << "' initialised, user PIN set from "
          << ctx.Get<std::string>("token.pin-file") << "\n";
  if (db == nullptr) {
    std::cerr << "certpress: token init not audited: " << unaudited << "\n";
    return Ok();
  }
  st = store::RunTransaction(*db, [&](store::Connection& c) {
    return store::AppendAudit(
        c, {ctx.Actor(), "token.init", "token:" + config->label, "module=" + config->module});
  });
  if (!st.ok()) return Fail(st.Wrap("token initialised, but auditing it failed"));
  return Ok();
}

}  // namespace

void AddTokenCommands(std::vector<Command>& out) {
  out.push_back({"token init",
                 "initialise the first free PKCS#11 token as token.label, with PINs from files", "",
                 [](po::options_description& d, po::positional_options_description&) {
                   d.add_options()("so-pin-file", po::value<std::string>()->default_value(""),
                                   "file holding the security officer PIN to set; the user PIN "
                                   "comes from token.pin-file");
                 },
                 TokenInit});
}

}  // namespace certpress::app
