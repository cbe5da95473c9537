// `certpress ca ...`: the CA hierarchy. The orchestration of creating a CA lives here (key in
// the token, certificate through the issuer, records and audit in the store), following the
// issuance order of docs/ARCHITECTURE.md: prepare and lint, record the intent, sign, verify,
// persist.
#include <fstream>
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "batch/ca_keys.h"
#include "cardprofiles/cert_profile.h"
#include "signer/cert_info.h"
#include "signer/issuer.h"
#include "signer/name.h"
#include "store/audit.h"
#include "store/cas.h"
#include "store/certificates.h"

namespace certpress::app {

namespace {

Status CheckLabel(const std::string& label) {
  if (label.empty() || label.size() > 64) return InvalidInput("a CA label has 1 to 64 characters");
  for (char c : label) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) {
      return InvalidInput("CA label '" + label + "' may use only letters, digits, '-', '_', '.'");
    }
  }
  return Status::Ok();
}

// The validated options of a create command.
struct CreateArgs {
  std::string label;
  Name name;
  Bytes subject_der;
  KeyType key_type = KeyType::kEcP256;
  int days = 0;
};

CommandResult ParseCreateArgs(Context& ctx, CreateArgs* a) {
  a->label = ctx.Get<std::string>("label");
  if (Status s = CheckLabel(a->label); !s.ok()) return Usage(s.message());
  auto kt = ParseKeyType(ctx.Get<std::string>("key-type"));
  if (!kt.ok()) return Usage(kt.status().message());
  a->key_type = *kt;
  auto name = ParseName(ctx.Get<std::string>("name"));
  if (!name.ok()) return Usage(name.status().message());
  a->name = std::move(name).value();
  auto der = EncodeName(a->name);
  if (!der.ok()) return Usage(der.status().message());
  a->subject_der = std::move(der).value();
  a->days = ctx.Get<int>("days");
  if (a->days <= 0 || a->days > 36500) return Usage("--days must be between 1 and 36500");
  return Ok();
}

// IssueCaCertificate runs the issuance cycle for a CA certificate and records it: intent
// (serial and TBS hash) committed before signing, then the signed certificate, the CA row and
// the audit entry in one transaction.
Result<Bytes> IssueCaCertificate(store::Connection& db, const Issuer& issuer, int64_t issuer_id,
                                 const TbsInput& in, int64_t subject_ca_id,
                                 const std::string& subject_text, const store::AuditEvent& audit) {
  PreparedCert prepared;
  store::CertIntent intent;
  // A serial collision (vanishingly rare with 128 random bits) draws a new serial.
  for (int attempt = 0;; ++attempt) {
    CP_ASSIGN_OR_RETURN(prepared, issuer.Prepare(in));
    intent = {issuer_id,           prepared.serial.Hex(), std::nullopt,       subject_text,
              prepared.not_before, prepared.not_after,    prepared.tbs_sha256};
    Status st = store::RunTransaction(
        db, [&](store::Connection& c) { return store::RecordIntents(c, {&intent}); });
    if (st.ok()) break;
    if (st.kind() != ErrorKind::kConflict || attempt >= 3) return st;
  }
  CP_ASSIGN_OR_RETURN(Bytes der, issuer.Sign(prepared));
  Status st = store::RunTransaction(db, [&](store::Connection& c) -> Status {
    CP_RETURN_IF_ERROR(store::StoreCertificates(c, {{&intent, AsString(der)}}));
    CP_RETURN_IF_ERROR(
        store::SetCaCertificate(c, subject_ca_id, der, "", store::FormatUtc(prepared.not_after)));
    store::AuditEvent e = audit;
    e.details += " serial=" + prepared.serial.Hex();
    return store::AppendAudit(c, e);
  });
  if (!st.ok()) return st;
  return der;
}

// InsertPendingCa records the CA row (status pending, or awaiting-cert) and audits it.
Result<int64_t> InsertCaRow(store::Connection& db, store::CaRecord rec) {
  int64_t id = 0;
  CP_RETURN_IF_ERROR(store::RunTransaction(db, [&](store::Connection& c) -> Status {
    CP_ASSIGN_OR_RETURN(id, store::InsertCa(c, rec));
    return Status::Ok();
  }));
  return id;
}

// LoadCaKey builds the issuer-side view of an active CA of ours.
Result<CaKey> LoadCaKey(Context& ctx, const store::CaRecord& ca) {
  CP_ASSIGN_OR_RETURN(CryptoToken * token, ctx.Token());
  return batch::CaKeyFor(ca, *token);
}

CommandResult CreateRoot(Context& ctx) {
  CreateArgs a;
  if (auto r = ParseCreateArgs(ctx, &a); !r.status.ok()) return r;
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  auto existing = store::FindCa(**db, a.label);
  if (!existing.ok()) return Fail(existing.status());
  if (*existing) return Fail(Conflict("a CA labelled '" + a.label + "' already exists"));
  auto token = ctx.Token();
  if (!token.ok()) return Fail(token.status());
  auto spki = (*token)->GenerateKey(a.label, a.key_type);
  if (!spki.ok()) return Fail(spki.status());

  store::CaRecord rec;
  rec.label = a.label;
  rec.subject = FormatName(a.name);
  rec.key_uri = (*token)->KeyUri(a.label);
  rec.key_type = std::string(KeyTypeName(a.key_type));
  rec.status = "pending";
  auto id = InsertCaRow(**db, rec);
  if (!id.ok()) return Fail(id.status());

  // A root signs itself: it is its own issuer.
  CaKey self{*token, a.label, a.key_type, a.subject_der, *spki, 0};
  auto issuer = Issuer::Create(profiles::RootCaProfile(a.days), self);
  if (!issuer.ok()) return Fail(issuer.status());
  auto der = IssueCaCertificate(**db, *issuer, *id, TbsInput{a.subject_der, *spki, {}, 0}, *id,
                                rec.subject,
                                {ctx.Actor(), "ca.create-root", "ca:" + a.label,
                                 "subject=" + rec.subject + " key=" + rec.key_uri});
  if (!der.ok()) return Fail(der.status().Wrap("issuing the root certificate"));
  ctx.out << ToPem(*der);
  return Ok();
}

CommandResult CreateSub(Context& ctx) {
  CreateArgs a;
  if (auto r = ParseCreateArgs(ctx, &a); !r.status.ok()) return r;
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
  auto existing = store::FindCa(**db, a.label);
  if (!existing.ok()) return Fail(existing.status());
  if (*existing) return Fail(Conflict("a CA labelled '" + a.label + "' already exists"));
  std::optional<store::CaRecord> parent;
  if (!parent_label.empty()) {
    auto p = store::FindCa(**db, parent_label);
    if (!p.ok()) return Fail(p.status());
    if (!*p) return Fail(NotFound("no CA labelled '" + parent_label + "'"));
    parent = **p;
  }
  auto token = ctx.Token();
  if (!token.ok()) return Fail(token.status());
  CaKey parent_key;
  if (parent) {
    auto k = LoadCaKey(ctx, *parent);
    if (!k.ok()) return Fail(k.status().Wrap("parent CA '" + parent_label + "'"));
    parent_key = std::move(k).value();
  }
  auto spki = (*token)->GenerateKey(a.label, a.key_type);
  if (!spki.ok()) return Fail(spki.status());

  store::CaRecord rec;
  rec.label = a.label;
  if (parent) rec.parent_id = parent->id;
  rec.subject = FormatName(a.name);
  rec.key_uri = (*token)->KeyUri(a.label);
  rec.key_type = std::string(KeyTypeName(a.key_type));
  rec.status = parent ? "pending" : "awaiting-cert";

  if (!parent) {
    auto csr = BuildCsr(**token, a.label, a.key_type, a.subject_der, *spki);
    if (!csr.ok()) return Fail(csr.status().Wrap("building the CSR"));
    Status st = WriteFile(csr_out, ToPem(*csr, "CERTIFICATE REQUEST"), 0644);
    if (!st.ok()) return Fail(st);
    st = store::RunTransaction(**db, [&](store::Connection& c) -> Status {
      CP_ASSIGN_OR_RETURN(int64_t id, store::InsertCa(c, rec));
      (void)id;
      return store::AppendAudit(
          c, {ctx.Actor(), "ca.create-sub.csr", "ca:" + a.label,
              "subject=" + rec.subject + " key=" + rec.key_uri + " csr=" + csr_out});
    });
    if (!st.ok()) return Fail(st);
    ctx.out << "wrote " << csr_out << "; have the offline CA sign it, then run "
            << "`certpress ca import-cert --label " << a.label << " CERT.pem`\n";
    return Ok();
  }

  auto id = InsertCaRow(**db, rec);
  if (!id.ok()) return Fail(id.status());
  std::optional<int> pl;
  if (path_len >= 0) pl = path_len;
  auto issuer = Issuer::Create(profiles::SubCaProfile(a.days, pl), parent_key);
  if (!issuer.ok()) return Fail(issuer.status());
  auto der = IssueCaCertificate(
      **db, *issuer, parent->id, TbsInput{a.subject_der, *spki, {}, 0}, *id, rec.subject,
      {ctx.Actor(), "ca.create-sub", "ca:" + a.label,
       "parent=" + parent->label + " subject=" + rec.subject + " key=" + rec.key_uri});
  if (!der.ok()) return Fail(der.status().Wrap("issuing the sub-CA certificate"));
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
  const CertInfo& cert = (*certs)[0];
  std::vector<CertInfo> chain(certs->begin() + 1, certs->end());

  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  auto ca = store::FindCa(**db, label);
  if (!ca.ok()) return Fail(ca.status());
  if (!*ca) return Fail(NotFound("no CA labelled '" + label + "'"));
  if ((*ca)->status != "awaiting-cert") {
    return Fail(
        Conflict("CA '" + label + "' is " + (*ca)->status + ", not awaiting a certificate"));
  }
  auto token = ctx.Token();
  if (!token.ok()) return Fail(token.status());
  auto spki = (*token)->PublicKey(label);
  if (!spki.ok()) return Fail(spki.status());
  if (*spki != cert.spki) {
    return Fail(
        InvalidInput(file + ": the certificate's public key is not the key of CA '" + label + "'"));
  }
  if (!cert.is_ca) return Fail(InvalidInput(file + ": the certificate is not a CA certificate"));

  // The issuer is either a CA of ours or the chain given in the file, ending in a root.
  std::optional<int64_t> parent_id;
  std::vector<CertInfo> trust;
  auto all = store::ListCas(**db);
  if (!all.ok()) return Fail(all.status());
  for (const auto& other : *all) {
    if (other.cert_der.empty()) continue;
    auto oc = ParseCertificate(AsBytes(other.cert_der));
    if (oc.ok() && oc->subject_der == cert.issuer_der && VerifySignedBy(cert, *oc)) {
      parent_id = other.id;
      trust.push_back(*oc);
    }
  }
  for (const auto& c : chain) trust.push_back(c);
  Status verified = VerifyChain(cert, trust);
  if (!verified.ok()) {
    return Fail(verified.Wrap(file + ": include the issuing chain up to the root after the "
                                     "certificate"));
  }
  std::string chain_pem;
  for (const auto& c : chain) chain_pem += ToPem(c.der);
  Status st = store::RunTransaction(**db, [&](store::Connection& c) -> Status {
    if (parent_id) {
      CP_RETURN_IF_ERROR(
          c.Exec("UPDATE cas SET parent_id = ? WHERE id = ?", {*parent_id, (*ca)->id}).status());
    }
    CP_RETURN_IF_ERROR(
        c.Exec("UPDATE cas SET subject = ? WHERE id = ?", {cert.subject, (*ca)->id}).status());
    CP_RETURN_IF_ERROR(store::SetCaCertificate(c, (*ca)->id, cert.der, chain_pem,
                                               store::FormatUtc(cert.not_after)));
    return store::AppendAudit(c, {ctx.Actor(), "ca.import-cert", "ca:" + label,
                                  "issuer=" + cert.issuer + " serial=" + cert.serial_hex});
  });
  if (!st.ok()) return Fail(st);
  ctx.out << "CA '" << label << "' is active: " << cert.subject << " (issued by " << cert.issuer
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
  auto ders = CaChain(**db, (*ca)->id);
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
      "key-type", po::value<std::string>()->default_value("ec-p384"),
      "ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096")(
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

Result<std::vector<std::string>> CaChain(store::Connection& db, int64_t ca_id) {
  std::vector<std::string> ders;
  CP_ASSIGN_OR_RETURN(std::optional<store::CaRecord> cur, store::FindCaById(db, ca_id));
  if (!cur) return NotFound("no CA with id " + std::to_string(ca_id));
  std::string extra_pem;
  for (int depth = 0; cur && depth < 16; ++depth) {
    if (cur->cert_der.empty()) {
      return InvalidInput("CA '" + cur->label + "' has no certificate yet");
    }
    ders.push_back(cur->cert_der);
    if (!cur->chain_pem.empty()) extra_pem = cur->chain_pem;
    if (!cur->parent_id) break;
    CP_ASSIGN_OR_RETURN(cur, store::FindCaById(db, *cur->parent_id));
  }
  if (!extra_pem.empty()) {
    CP_ASSIGN_OR_RETURN(auto extra, ParsePemCertificates(extra_pem));
    for (const auto& c : extra) {
      std::string d(c.der.begin(), c.der.end());
      if (std::find(ders.begin(), ders.end(), d) == ders.end()) ders.push_back(d);
    }
  }
  return ders;
}

}  // namespace certpress::app
