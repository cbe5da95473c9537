// `certpress ca ...`: the CA hierarchy. Options in, ca/authorities.h does the work (keys in
// the token, certificates through the issuance core, records and audit), results out.
#include <map>
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "ca/authorities.h"
#include "signer/cert_info.h"
#include "signer/name.h"
#include "store/cas.h"

namespace certpress::app {

namespace {

// ParseNewCa reads the options every create command shares.
CommandResult ParseNewCa(Context& ctx, ca::NewCa* a) {
  a->label = ctx.Get<std::string>("label");
  auto kt = ParseKeyType(ctx.Get<std::string>("key-type"));
  if (!kt.ok()) return Usage(kt.status().message());
  a->key_type = *kt;
  auto name = ParseName(ctx.Get<std::string>("name"));
  if (!name.ok()) return Usage(name.status().message());
  a->name = std::move(name).value();
  if (auto der = EncodeName(a->name); !der.ok()) return Usage(der.status().message());
  a->days = ctx.Get<int>("days");
  a->actor = ctx.Actor();
  // Label and validity are the library's rules; checked here too, as usage errors.
  if (Status s = ca::CheckCaLabel(a->label); !s.ok()) return Usage(s.message());
  if (a->days <= 0 || a->days > 36500) return Usage("--days must be between 1 and 36500");
  return Ok();
}

CommandResult CreateRoot(Context& ctx) {
  ca::NewCa a;
  if (auto r = ParseNewCa(ctx, &a); !r.status.ok()) return r;
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  auto token = ctx.Token();
  if (!token.ok()) return Fail(token.status());
  auto der = ca::CreateRoot(**db, **token, a);
  if (!der.ok()) return Fail(der.status());
  ctx.out << ToPem(*der);
  return Ok();
}

CommandResult CreateSub(Context& ctx) {
  ca::NewCa a;
  if (auto r = ParseNewCa(ctx, &a); !r.status.ok()) return r;
  const std::string parent_label = ctx.Get<std::string>("parent");
  const std::string csr_out = ctx.Get<std::string>("csr-out");
  const int path_len = ctx.Get<int>("path-len");
  if (parent_label.empty() == csr_out.empty()) {
    return Usage(
        "give either --parent (signed online by a CA of ours) or --csr-out "
        "(a CSR for an offline root)");
  }
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  auto token = ctx.Token();
  if (!token.ok()) return Fail(token.status());
  if (!csr_out.empty()) {
    auto csr = ca::CreateSubForOfflineRoot(**db, **token, a, "csr=" + csr_out);
    if (!csr.ok()) return Fail(csr.status());
    Status st = WriteFile(csr_out, ToPem(*csr, "CERTIFICATE REQUEST"), 0644);
    if (!st.ok()) return Fail(st);
    ctx.out << "wrote " << csr_out << "; have the offline CA sign it, then run "
            << "`certpress ca import-cert --label " << a.label << " CERT.pem`\n";
    return Ok();
  }
  std::optional<int> pl;
  if (path_len >= 0) pl = path_len;
  auto der = ca::CreateSub(**db, **token, a, parent_label, pl);
  if (!der.ok()) return Fail(der.status());
  ctx.out << ToPem(*der);
  return Ok();
}

CommandResult ImportCert(Context& ctx) {
  const std::string label = ctx.Get<std::string>("label");
  const std::string file = ctx.Get<std::string>("file");
  auto text = ReadFile(file);
  if (!text.ok()) return Fail(text.status());
  auto certs = ParsePemCertificates(*text);
  if (!certs.ok()) return Fail(certs.status().Wrap(file));
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  auto token = ctx.Token();
  if (!token.ok()) return Fail(token.status());
  auto cert = ca::ImportCaCertificate(**db, **token, label, *certs, ctx.Actor());
  if (!cert.ok()) return FailAbout(cert.status(), file);
  ctx.out << "CA '" << label << "' is active: " << cert->subject << " (issued by " << cert->issuer
          << ")\n";
  return Ok();
}

CommandResult List(Context& ctx) {
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  auto cas = store::ListCas(**db);
  if (!cas.ok()) return Fail(cas.status());
  std::map<int64_t, std::string> labels;
  for (const auto& c : *cas) labels[c.id] = c.label;
  if (ctx.Flag("json")) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& c : *cas) {
      nlohmann::json j = {{"label", c.label},          {"status", c.status},
                          {"subject", c.subject},      {"key_type", c.key_type},
                          {"key_uri", c.key_uri},      {"not_after", c.not_after},
                          {"created_at", c.created_at}};
      j["parent"] = c.parent_id ? nlohmann::json(labels[*c.parent_id]) : nlohmann::json(nullptr);
      if (!c.cert_der.empty()) {
        auto info = ParseCertificate(AsBytes(c.cert_der));
        if (info.ok()) j["serial"] = info->serial_hex;
      }
      arr.push_back(j);
    }
    ctx.out << arr.dump(2) << "\n";
    return Ok();
  }
  ctx.out << "LABEL                STATUS         KEY       NOT AFTER            PARENT"
             "               SUBJECT\n";
  for (const auto& c : *cas) {
    char line[512];
    std::snprintf(line, sizeof line, "%-20s %-14s %-9s %-20s %-20s ", c.label.c_str(),
                  c.status.c_str(), c.key_type.c_str(),
                  c.not_after.empty() ? "-" : c.not_after.c_str(),
                  c.parent_id ? labels[*c.parent_id].c_str() : "-");
    ctx.out << line << c.subject << "\n";
  }
  return Ok();
}

CommandResult Export(Context& ctx) {
  const std::string label = ctx.Get<std::string>("label");
  const std::string format = ctx.Get<std::string>("format");
  const bool chain = ctx.Flag("chain");
  if (format != "pem" && format != "der") return Usage("--format must be pem or der");
  if (format == "der" && chain)
    return Usage("--chain needs --format pem (DER holds one certificate)");
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  auto ca = store::FindCa(**db, label);
  if (!ca.ok()) return Fail(ca.status());
  if (!*ca) return Fail(NotFound("no CA labelled '" + label + "'"));
  auto ders = ca::CaChain(**db, (*ca)->id);
  if (!ders.ok()) return Fail(ders.status());
  std::string out;
  if (format == "der") {
    out = (*ders)[0];
  } else {
    for (size_t i = 0; i < (chain ? ders->size() : 1); ++i) out += ToPem(AsBytes((*ders)[i]));
  }
  const std::string file = ctx.Get<std::string>("out");
  if (file.empty()) {
    ctx.out << out;
    return Ok();
  }
  Status st = WriteFile(file, out, 0644);
  if (!st.ok()) return Fail(st);
  return Ok();
}

void CreateOptions(po::options_description& d) {
  d.add_options()("label", po::value<std::string>()->required(),
                  "CA label (also the key label in the token)")(
      "name", po::value<std::string>()->required(),
      "subject DN, RFC 4514 (\"CN=Example Root,O=Example,C=DK\")")(
      "key-type", po::value<std::string>()->default_value("ec-p384"), KeyTypeNames().c_str())(
      "days", po::value<int>()->default_value(3650), "validity in days");
}

}  // namespace

void AddCaCommands(std::vector<Command>& out) {
  out.push_back(
      {"ca create-root", "create a self-signed root CA with its key in the token", "",
       [](po::options_description& d, po::positional_options_description&) { CreateOptions(d); },
       CreateRoot});
  out.push_back({"ca create-sub",
                 "create a sub-CA signed by a CA of ours (--parent) or a CSR for an offline root "
                 "(--csr-out)",
                 "",
                 [](po::options_description& d, po::positional_options_description&) {
                   CreateOptions(d);
                   d.add_options()("parent", po::value<std::string>()->default_value(""),
                                   "label of the signing CA")(
                       "csr-out", po::value<std::string>()->default_value(""),
                       "write a PKCS#10 CSR here instead of signing online")(
                       "path-len", po::value<int>()->default_value(0),
                       "basicConstraints pathLenConstraint (-1: none)");
                 },
                 CreateSub});
  out.push_back({"ca import-cert", "activate a sub-CA with the certificate an offline CA signed",
                 "FILE",
                 [](po::options_description& d, po::positional_options_description& p) {
                   d.add_options()("label", po::value<std::string>()->required(), "CA label")(
                       "file", po::value<std::string>()->required(),
                       "PEM: the certificate, then its chain up to the root");
                   p.add("file", 1);
                 },
                 ImportCert});
  out.push_back({"ca list", "list CAs", "",
                 [](po::options_description& d, po::positional_options_description&) {
                   d.add_options()("json", po::bool_switch(), "machine-readable output");
                 },
                 List});
  out.push_back({"ca export", "write a CA certificate (and its chain)", "LABEL",
                 [](po::options_description& d, po::positional_options_description& p) {
                   d.add_options()("label", po::value<std::string>()->required(), "CA label")(
                       "chain", po::bool_switch(), "append the issuers up to the root")(
                       "format", po::value<std::string>()->default_value("pem"), "pem or der")(
                       "out", po::value<std::string>()->default_value(""),
                       "output file (default: stdout)");
                   p.add("label", 1);
                 },
                 Export});
}

}  // namespace certpress::app
