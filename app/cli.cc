#include "app/cli.h"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "app/commands.h"

namespace certpress::app {

namespace {

// The options every command shares: where the config is, the database and the token.
po::options_description CommonOptions() {
  po::options_description d("Common options");
  d.add_options()("help,h", "show help for the command")(
      "config", po::value<std::string>()->default_value(""),
      "config file (default: $CERTPRESS_CONFIG)")(
      "db.socket", po::value<std::string>()->default_value(""), "MariaDB unix socket")(
      "db.host", po::value<std::string>()->default_value(""), "MariaDB host (if no socket)")(
      "db.port", po::value<unsigned>()->default_value(3306), "MariaDB port")(
      "db.hosts", po::value<std::string>()->default_value(""),
      "Galera nodes, space-separated sockets or host:port, in the order every process "
      "prefers them ($CERTPRESS_DB_NODES); replaces db.socket and db.host")(
      "db.name", po::value<std::string>()->default_value("certpress"), "database name")(
      "db.user", po::value<std::string>()->default_value("certpress"), "database user")(
      "db.password-file", po::value<std::string>()->default_value(""),
      "file holding the database password")(
      "db.user-host", po::value<std::string>()->default_value("localhost"),
      "host part of the run-time account, for the grants `db migrate` gives it")(
      "db.migrate-user", po::value<std::string>()->default_value(""),
      "account `db migrate` uses (DDL and GRANT OPTION); empty: db.user")(
      "db.migrate-password-file", po::value<std::string>()->default_value(""),
      "file holding the migration account's password")(
      "token.kind", po::value<std::string>()->default_value("pkcs11"), "pkcs11 or soft")(
      "token.module", po::value<std::string>()->default_value("/usr/lib/softhsm/libsofthsm2.so"),
      "PKCS#11 module")("token.label", po::value<std::string>()->default_value("certpress"),
                        "token label (tokens are found by label, never by slot)")(
      "token.pin-file", po::value<std::string>()->default_value(""),
      "file holding the token user PIN (or soft token password)")(
      "token.dir", po::value<std::string>()->default_value(""), "soft token key directory")(
      "token.session-copies", po::value<bool>()->default_value(true),
      "sign with session-object copies of CA keys inside the token (false where HSM policy "
      "forbids copies)")("profiles.dir",
                         po::value<std::string>()->default_value(CERTPRESS_PROFILES_DIR),
                         "directory of card and certificate profiles (*.toml)")(
      "operator", po::value<std::string>()->default_value(""),
      "operator name recorded in the audit log (default: cli:<login>)")(
      "operators.trust-anchors", po::value<std::string>()->default_value(""),
      "PEM file of the CA certificates the administrator trusts to issue operator "
      "certificates (`operator add`), besides CertPress's own CAs")(
      "audit.checkpoint-file", po::value<std::string>()->default_value(""),
      "file outside the database to which signed audit checkpoints are appended")(
      "audit.checkpoint-every", po::value<int>()->default_value(1000),
      "a batch run signs a checkpoint after this many audit entries (and at its end)")(
      "mail.smtp-url", po::value<std::string>()->default_value(""),
      "SMTP server: smtp://host:587 (STARTTLS) or smtps://host:465 (implicit TLS)")(
      "mail.tls", po::value<std::string>()->default_value("starttls"),
      "starttls (required), implicit (smtps://) or none (a local development server only)")(
      "mail.from", po::value<std::string>()->default_value("CertPress <certpress@localhost>"),
      "sender of activation mails: \"Name <address>\" or an address")(
      "mail.username", po::value<std::string>()->default_value(""),
      "SMTP AUTH user (none: no AUTH)")("mail.password-file",
                                        po::value<std::string>()->default_value(""),
                                        "file holding the SMTP AUTH password")(
      "mail.ca-file", po::value<std::string>()->default_value(""),
      "CA certificates that verify the SMTP server (default: the system's)")(
      "mail.max-attempts", po::value<int>()->default_value(8),
      "attempts before a mail ends failed")(
      "mail.backoff-seconds", po::value<int>()->default_value(30),
      "wait before the second attempt; doubles after each failed one (at most an hour)")(
      "web.public-url", po::value<std::string>()->default_value(""),
      "base URL of the pickup pages in links (default: $CERTPRESS_URL)")(
      "log-level", po::value<std::string>()->default_value(""),
      "trace, debug, info, warn or error (default: info for scheduler, warn otherwise)")(
      "log-format", po::value<std::string>()->default_value("text"),
      "text (key=value) or json (one object per line)")(
      "log-file", po::value<std::string>()->default_value(""),
      "append log lines to FILE (default: stderr)");
  return d;
}

// LogConfig reads the log options; |level| applies when --log-level is not given.
Result<log::Config> LogConfig(const po::variables_map& vm, log::Level level) {
  log::Config c;
  c.level = level;
  if (const auto& l = vm["log-level"].as<std::string>(); !l.empty()) {
    auto parsed = log::ParseLevel(l);
    if (!parsed.ok()) return parsed.status().Wrap("--log-level");
    c.level = *parsed;
  }
  auto format = log::ParseFormat(vm["log-format"].as<std::string>());
  if (!format.ok()) return format.status().Wrap("--log-format");
  c.format = *format;
  c.file = vm["log-file"].as<std::string>();
  return c;
}

// EnvName maps CERTPRESS_DB_PASSWORD_FILE to db.password-file, CERTPRESS_CONFIG to config.
std::string EnvName(const std::string& var, const po::options_description& desc) {
  static const std::string kPrefix = "CERTPRESS_";
  if (var.rfind(kPrefix, 0) != 0) return "";
  // scripts/stack writes the cluster's nodes as CERTPRESS_DB_NODES.
  if (var == "CERTPRESS_DB_NODES") return "db.hosts";
  // The state directory of scripts/stack, not an option (it would fill `pinletter list
  // --state`).
  if (var == "CERTPRESS_STATE") return "";
  std::string rest = var.substr(kPrefix.size());
  for (char& c : rest) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t us = rest.find('_');
  std::string name = rest;
  if (us != std::string::npos) {
    std::string section = rest.substr(0, us);
    std::string key = rest.substr(us + 1);
    for (char& c : key) c = c == '_' ? '-' : c;
    name = section + "." + key;
    if (desc.find_nothrow(name, false) == nullptr) {
      for (char& c : rest) c = c == '_' ? '-' : c;
      name = rest;
    }
  }
  return desc.find_nothrow(name, false) ? name : "";
}

void PrintTopHelp(const std::vector<Command>& cmds) {
  std::cout << "certpress: bulk X.509 issuance and smart card personalization\n\n"
               "Usage: certpress <command> [options]\n\nCommands:\n";
  for (const auto& c : cmds) {
    std::string n = c.name;
    n.resize(std::max<size_t>(n.size() + 2, 22), ' ');
    std::cout << "  " << n << c.summary << "\n";
  }
  std::cout << "\nRun `certpress <command> --help` for a command's options.\n";
}

}  // namespace

int Main(int argc, char** argv) {
  // PINs, passwords, data keys and unsealed private keys pass through this process's memory:
  // no core dump may carry them to disk. RLIMIT_CORE 0 stops the dump; PR_SET_DUMPABLE 0 also
  // keeps other processes of the same user from attaching or reading /proc/PID/mem.
  const struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  std::vector<Command> cmds;
  AddDbCommands(cmds);
  AddCaCommands(cmds);
  AddAuditCommands(cmds);
  AddBatchCommands(cmds);
  AddCertCommands(cmds);
  AddTokenCommands(cmds);
  AddOperatorCommands(cmds);
  AddRequestCommands(cmds);
  AddStationCommands(cmds);
  AddCardCommands(cmds);
  AddPinLetterCommands(cmds);
  AddLintCommands(cmds);
  AddActivationCommands(cmds);
  AddWebCommands(cmds);

  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    PrintTopHelp(cmds);
    return args.empty() ? kExitUsage : kExitOk;
  }
  // Longest match of the leading words against the command names.
  const Command* cmd = nullptr;
  size_t words = 0;
  for (const auto& c : cmds) {
    size_t n = 1 + static_cast<size_t>(std::count(c.name.begin(), c.name.end(), ' '));
    if (n > args.size() || n < words) continue;
    std::string joined = args[0];
    for (size_t i = 1; i < n; ++i) joined += " " + args[i];
    if (joined == c.name) {
      cmd = &c;
      words = n;
    }
  }
  if (cmd == nullptr) {
    std::string given = args[0] + (args.size() > 1 && args[1][0] != '-' ? " " + args[1] : "");
    std::cerr << "certpress: unknown command '" << given << "'; run `certpress --help`\n";
    return kExitUsage;
  }

  po::options_description own("Options for `certpress " + cmd->name + "`");
  po::positional_options_description pos;
  if (cmd->options) cmd->options(own, pos);
  po::options_description all;
  all.add(own).add(CommonOptions());

  po::variables_map vm;
  try {
    std::vector<std::string> rest(args.begin() + static_cast<long>(words), args.end());
    // Flags first: Boost keeps the first value stored, so flags beat the environment, which
    // beats the config file.
    po::store(po::command_line_parser(rest).options(all).positional(pos).run(), vm);
    if (vm.count("help")) {
      std::cout << "Usage: certpress " << cmd->name << (cmd->usage.empty() ? "" : " ") << cmd->usage
                << " [options]\n"
                << cmd->summary << "\n\n"
                << all << "\n";
      return kExitOk;
    }
    po::store(po::parse_environment(all, [&all](const std::string& v) { return EnvName(v, all); }),
              vm);
    std::string config = vm["config"].as<std::string>();
    if (!config.empty()) {
      std::ifstream in(config);
      if (!in) {
        std::cerr << "certpress: cannot read config file " << config << "\n";
        return kExitUsage;
      }
      po::store(po::parse_config_file(in, all, /*allow_unregistered=*/true), vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "certpress " << cmd->name << ": " << e.what() << "\n"
              << "Run `certpress " << cmd->name << " --help` for usage.\n";
    return kExitUsage;
  }

  auto log_config = LogConfig(vm, cmd->log_level);
  if (!log_config.ok()) {
    std::cerr << "certpress " << cmd->name << ": " << log_config.status().message() << "\n"
              << "Run `certpress " << cmd->name << " --help` for usage.\n";
    return kExitUsage;
  }
  if (Status st = log::Configure(*log_config); !st.ok()) {
    std::cerr << "certpress " << cmd->name << ": " << st.message() << "\n";
    return kExitFailure;
  }

  Context ctx(std::move(vm));
  CommandResult r;
  try {
    r = cmd->run(ctx);
  } catch (const std::exception& e) {
    // Nothing below app/ throws on purpose; this catches library surprises (bad_alloc,
    // boost::bad_any_cast) so that the user still gets one line and exit code 1.
    r = Fail(Internal(e.what()));
  }
  // Also after a failure: a command that refused some items may have audited the others.
  ctx.CheckpointIfAudited();
  if (r.status.ok()) return kExitOk;
  std::cerr << "certpress " << cmd->name << ": " << r.status.message() << "\n";
  return r.usage ? kExitUsage : kExitFailure;
}

}  // namespace certpress::app
