// `certpress operator ...`: registered operators (ra/operators.h). Options in, results out.
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "ra/operators.h"
#include "signer/cert_info.h"
#include "signer/operator_key.h"
#include "store/operators.h"

namespace certpress::app {

namespace {

CommandResult Enroll(Context& ctx) {
  const std::string name = ctx.Get<std::string>("name");
  const std::string key_out = ctx.Get<std::string>("key-out");
  const std::string cert_out = ctx.Get<std::string>("cert-out");
  if (auto canonical = ra::CanonicalOperatorName(name); !canonical.ok()) {
    return Usage(canonical.status().message());
  }
  auto password = ReadSecretFile(ctx.Get<std::string>("password-file"));
  if (!password.ok()) return Fail(password.status().Wrap("reading the key password"));
  if (password->size() < 8) return Usage("the key password needs at least 8 characters");
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  auto token = ctx.Token();
  if (!token.ok()) return Fail(token.status());
  auto enrolled = ra::EnrollOperator(**db, **token, name, ctx.Get<int>("days"), ctx.Actor());
  if (!enrolled.ok()) return Fail(enrolled.status());
  auto pem = EncryptedKeyPem(enrolled->key.get(), *password);
  if (!pem.ok()) return Fail(pem.status());
  if (Status st = WriteNewFile(key_out, pem->view(), 0600); !st.ok()) return Fail(st);
  if (!cert_out.empty()) {
    if (Status st = WriteFile(cert_out, ToPem(enrolled->cert_der), 0644); !st.ok()) return Fail(st);
  }
  auto info = ParseCertificate(enrolled->cert_der);
  ctx.out << "operator " << *ra::CanonicalOperatorName(name)
          << " enrolled: " << (info.ok() ? info->subject : "") << "; key in " << key_out << "\n";
  return Ok();
}

CommandResult Add(Context& ctx) {
  const std::string file = ctx.Get<std::string>("cert");
  auto text = ReadFile(file);
  if (!text.ok()) return Fail(text.status());
  auto certs = ParsePemCertificates(*text);
  if (!certs.ok()) return Fail(certs.status().Wrap(file));
  std::vector<CertInfo> anchors;
  if (const std::string f = ctx.Get<std::string>("operators.trust-anchors"); !f.empty()) {
    auto pem = ReadFile(f);
    if (!pem.ok()) return Fail(pem.status().Wrap("operators.trust-anchors"));
    auto parsed = ParsePemCertificates(*pem);
    if (!parsed.ok()) return Fail(parsed.status().Wrap(f));
    anchors = std::move(parsed).value();
  }
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  auto token = ctx.Token();
  if (!token.ok()) return Fail(token.status());
  auto rec = ra::RegisterOperator(**db, **token, ctx.Get<std::string>("name"), *certs, anchors,
                                  ctx.Actor());
  if (!rec.ok()) return FailAbout(rec.status(), file);
  ctx.out << "operator " << rec->name << " added: " << rec->subject << "\n";
  return Ok();
}

CommandResult List(Context& ctx) {
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  auto ops = store::ListOperators(**db);
  if (!ops.ok()) return Fail(ops.status());
  if (ctx.Flag("json")) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& o : *ops) {
      arr.push_back({{"name", o.name},
                     {"status", o.status},
                     {"subject", o.subject},
                     {"not_after", o.not_after},
                     {"cert_sha256", HexEncode(AsBytes(o.cert_sha256))},
                     {"created_by", o.created_by},
                     {"created_at", o.created_at}});
    }
    ctx.out << arr.dump(2) << "\n";
    return Ok();
  }
  ctx.out << "NAME                 STATUS    NOT AFTER            SUBJECT\n";
  for (const auto& o : *ops) {
    char line[256];
    std::snprintf(line, sizeof line, "%-20s %-9s %-20s ", o.name.c_str(), o.status.c_str(),
                  o.not_after.c_str());
    ctx.out << line << o.subject << "\n";
  }
  return Ok();
}

CommandResult Disable(Context& ctx) {
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  const std::string name = ctx.Get<std::string>("name");
  if (Status st = ra::DisableOperator(**db, name, ctx.Actor()); !st.ok()) return Fail(st);
  ctx.out << "operator " << *ra::CanonicalOperatorName(name) << " disabled\n";
  return Ok();
}

void NameOption(po::options_description& d, po::positional_options_description& p) {
  d.add_options()("name", po::value<std::string>()->required(),
                  "operator name: letters, digits, '.', '_', '-' (case does not count)");
  p.add("name", 1);
}

}  // namespace

void AddOperatorCommands(std::vector<Command>& out) {
  out.push_back({"operator enroll",
                 "make a key and a certificate from CertPress's operator CA and register it",
                 "NAME",
                 [](po::options_description& d, po::positional_options_description& p) {
                   NameOption(d, p);
                   d.add_options()("key-out", po::value<std::string>()->required(),
                                   "new file for the encrypted private key (PKCS#8, mode 0600)")(
                       "password-file", po::value<std::string>()->required(),
                       "file holding the key's password (at least 8 characters)")(
                       "cert-out", po::value<std::string>()->default_value(""),
                       "also write the certificate (PEM) here")(
                       "days", po::value<int>()->default_value(730), "certificate validity");
                 },
                 Enroll});
  out.push_back({"operator add", "register an operator with a certificate from a trusted CA",
                 "NAME",
                 [](po::options_description& d, po::positional_options_description& p) {
                   NameOption(d, p);
                   d.add_options()("cert", po::value<std::string>()->required(),
                                   "PEM: the certificate, then its intermediates (the root "
                                   "is trusted only from operators.trust-anchors or a CA of "
                                   "ours)");
                 },
                 Add});
  out.push_back({"operator list", "list registered operators", "",
                 [](po::options_description& d, po::positional_options_description&) {
                   d.add_options()("json", po::bool_switch(), "machine-readable output");
                 },
                 List});
  out.push_back(
      {"operator disable", "stop an operator from deciding anything", "NAME", NameOption, Disable});
}

}  // namespace certpress::app
