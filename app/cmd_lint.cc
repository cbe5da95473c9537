// `certpress lint FILE... [--json] [--only RULE,...] [--profile P]` and `certpress lint --list`:
// the issuance lint (signer/lint.h) as a tool for any certificate or PKCS#10 request. Parsing
// options and printing only; reading, linting and rendering are signer/lint_files.h's.
#include <sstream>

#include "app/commands.h"
#include "signer/lint_files.h"

namespace certpress::app {

namespace {

// ProfileOptions resolves --profile: a certificate profile by name, or a card profile (then
// every certificate profile its keys name, a certificate following any one of them).
Result<LintOptions> ProfileOptions(Context& ctx, const std::string& name) {
  CP_ASSIGN_OR_RETURN(const profiles::ProfileSet* set, ctx.Profiles());
  std::vector<const profiles::CertProfile*> certs;
  if (auto cert = set->Certificate(name); cert.ok()) {
    certs.push_back(*cert);
  } else if (auto card = set->Card(name); card.ok()) {
    for (const auto& key : (*card)->keys) {
      CP_ASSIGN_OR_RETURN(const profiles::CertProfile* c, set->Certificate(key.cert_profile));
      certs.push_back(c);
    }
  } else {
    return NotFound("no certificate or card profile '" + name + "'");
  }
  return LintOptionsForProfiles(certs, LintOptions{});
}

CommandResult Lint(Context& ctx) {
  const bool json = ctx.Flag("json");
  if (ctx.Flag("list")) {
    ctx.out << (json ? LintRulesJson() : LintRulesText());
    return Ok();
  }
  const auto files =
      ctx.Has("file") ? ctx.Get<std::vector<std::string>>("file") : std::vector<std::string>{};
  if (files.empty()) return Usage("give one or more FILEs to lint, or --list");
  std::vector<std::string> only;
  std::stringstream names(ctx.Get<std::string>("only"));
  for (std::string name; std::getline(names, name, ',');) {
    if (name.empty()) continue;
    if (FindLintRule(name) == nullptr) {
      return Usage("--only: no rule '" + name + "' (`certpress lint --list` lists them)");
    }
    only.push_back(name);
  }
  LintOptions options;
  if (const std::string profile = ctx.Get<std::string>("profile"); !profile.empty()) {
    auto o = ProfileOptions(ctx, profile);
    if (!o.ok()) return Usage("--profile: " + o.status().message());
    options = std::move(*o);
  }
  std::vector<LintItem> items;
  for (const auto& file : files) {
    auto linted = LintFile(file, options, only);
    if (!linted.ok()) return Usage(linted.status().message());
    for (auto& item : *linted) items.push_back(std::move(item));
  }
  ctx.out << (json ? LintJson(items) : LintText(items));
  if (LintFailed(items)) {
    size_t failed = 0;
    for (const auto& i : items) failed += i.report.worst >= LintStatus::kError ? 1 : 0;
    return Fail(InvalidInput(std::to_string(failed) + " of " + std::to_string(items.size()) +
                             " certificate(s) or request(s) have an error or fatal result"));
  }
  return Ok();
}

}  // namespace

void AddLintCommands(std::vector<Command>& out) {
  out.push_back(
      {"lint", "lint certificates and PKCS#10 requests (PEM or DER) with zlint-named rules",
       "FILE...",
       [](po::options_description& d, po::positional_options_description& p) {
         d.add_options()("file", po::value<std::vector<std::string>>(),
                         "certificate or request files (PEM, several per file, or DER)")(
             "json", po::bool_switch(), "one JSON object per certificate (an array for several)")(
             "only", po::value<std::string>()->default_value(""),
             "run only these rules (comma-separated names)")(
             "profile", po::value<std::string>()->default_value(""),
             "add a certificate or card profile's limits (validity, internal names, "
             "extended key usage)")("list", po::bool_switch(),
                                    "list every rule with its source and date");
         p.add("file", -1);
       },
       Lint});
}

}  // namespace certpress::app
