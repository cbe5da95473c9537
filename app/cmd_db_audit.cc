// `certpress db migrate` and `certpress audit verify`.
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "batch/report.h"
#include "ca/issuance.h"
#include "kgs/audit_keys.h"
#include "signer/serial.h"
#include "store/audit.h"
#include "store/certificates.h"
#include "store/schema.h"

namespace certpress::app {

namespace {

CommandResult Migrate(Context& ctx) {
  // DDL runs as the migration account; the run-time account then gets per-table grants, so a
  // CertPress process (or whoever has its password) can append to the audit log but never
  // rewrite it, drop its triggers or change the schema.
  auto settings = ctx.MigrationDbSettings();
  if (!settings.ok()) return Fail(settings.status());
  const std::string runtime_user = ctx.Get<std::string>("db.user");
  const bool separate = settings->user != runtime_user;
  auto conn = store::Connection::Open(*settings);
  if (!conn.ok())
    return Fail(conn.status().Wrap("connecting as migration account '" + settings->user + "'"));
  auto r = store::Migrate(**conn);
  if (!r.ok()) return Fail(r.status());
  ctx.out << "schema at version " << r->to_version << " (" << r->applied
          << " migration(s) applied)\n";
  if (separate) {
    Status g =
        store::GrantRuntimePrivileges(**conn, runtime_user, ctx.Get<std::string>("db.user-host"));
    if (!g.ok()) return Fail(g.Wrap("the schema is current, but granting the run-time account"));
    ctx.out << "run-time account '" << runtime_user << "' granted its privileges\n";
  } else {
    log::Get("db").Warn(
        "db.migrate-user is not set: the run-time account migrates, so it keeps "
        "the rights to change the schema and the audit log's triggers");
  }
  if (r->migrations.empty()) return Ok();
  // Audited now that the schema is current: the chain's keys live in tables it creates.
  auto current = ctx.Db();
  if (!current.ok()) return Fail(current.status());
  Status st = store::AuditMigrations(**current, *r, ctx.Actor());
  if (!st.ok()) return Fail(st.Wrap("the migrations are applied, but auditing them failed"));
  return Ok();
}

CommandResult AuditVerify(Context& ctx) {
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  auto token = ctx.Token();
  if (!token.ok()) return Fail(token.status().Wrap("the audit keys are in the token"));
  // Without profiles the approvals are recounted against the requests' own rows only.
  auto profiles = ctx.Profiles();
  if (!profiles.ok()) {
    log::Get("audit").Warn("profiles not loaded: approvals are checked against each request's row",
                           {{"error", profiles.status().message()}});
  }
  auto t = batch::VerifyAuditTrail(**db, **token, ctx.Get<std::string>("audit.checkpoint-file"),
                                   profiles.ok() ? *profiles : nullptr);
  if (!t.ok()) return Fail(t.status());
  const store::AuditReport& r = t->chain;
  const ra::DecisionAudit& d = t->decisions;
  const bool others_ok = t->problems.empty();
  if (ctx.Flag("json")) {
    nlohmann::json j = {{"intact", t->intact()},
                        {"entries", r.entries},
                        {"decision_statements", d.statements},
                        {"signed_decisions", d.decisions},
                        {"unsigned_legacy_decisions", d.unsigned_legacy},
                        {"approved_requests_checked", d.approved_requests},
                        {"keyed", r.keyed},
                        {"checkpoints", t->checkpoints.in_db},
                        {"checkpoints_in_file", t->checkpoints.in_file}};
    if (!r.intact) {
      j["first_bad_seq"] = r.first_bad_seq;
      j["problem"] = r.problem;
    }
    if (!others_ok) j["problems"] = t->problems;
    ctx.out << j.dump(2) << "\n";
  } else {
    if (r.intact) {
      ctx.out << "audit log intact: " << r.entries << " entries"
              << (r.keyed ? ", keyed" : ", not keyed yet") << "; " << t->checkpoints.in_db
              << " signed checkpoint(s), " << t->checkpoints.in_file << " in the checkpoint file\n";
    }
    if (others_ok) {
      ctx.out << "decisions intact: " << d.decisions << " signed by operators in " << d.statements
              << " statements; " << d.approved_requests
              << " approved request(s) recounted from them";
      if (d.unsigned_legacy) ctx.out << " (" << d.unsigned_legacy << " older, unsigned)";
      ctx.out << "\n";
    }
  }
  if (!r.intact) {
    return Fail(DatabaseError("audit log broken at entry " + std::to_string(r.first_bad_seq) +
                              ": " + r.problem));
  }
  if (!others_ok) {
    for (const auto& p : t->problems) std::cerr << p << "\n";
    return Fail(DatabaseError(std::to_string(t->problems.size()) +
                              " signed decision(s) or checkpoint(s) do not verify (listed above)"));
  }
  return Ok();
}

CommandResult AuditProve(Context& ctx) {
  auto serial = SerialFromHex(ctx.Get<std::string>("serial"));
  if (!serial.ok()) return Usage(serial.status().message());
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  auto cert = store::FindIssuedBySerial(**db, serial->Hex());
  if (!cert.ok()) return Fail(cert.status());
  auto proof = ca::ProveInclusion(**db, cert->issuer_id, serial->Hex());
  if (!proof.ok()) return Fail(proof.status());
  nlohmann::json path = nlohmann::json::array();
  for (const auto& h : proof->path) path.push_back(HexEncode(h));
  nlohmann::json j = {{"serial", serial->Hex()},
                      {"audit_seq", proof->audit_seq},
                      {"leaf_index", proof->leaf_index},
                      {"tree_size", proof->tree_size},
                      {"leaf", HexEncode(proof->leaf)},
                      {"root", HexEncode(proof->root)},
                      {"path", path},
                      {"verified", proof->verified}};
  ctx.out << j.dump(2) << "\n";
  if (!proof->verified) {
    return Fail(DatabaseError("certificate " + serial->Hex() +
                              " is not in the Merkle tree of "
                              "audit entry " +
                              std::to_string(proof->audit_seq) +
                              " (its row, or a row beside it, was changed)"));
  }
  return Ok();
}

CommandResult AuditCheckpoint(Context& ctx) {
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  auto token = ctx.Token();
  if (!token.ok()) return Fail(token.status());
  auto cp = kgs::WriteCheckpoint(**db, **token, ctx.Get<std::string>("audit.checkpoint-file"));
  if (!cp.ok()) return Fail(cp.status());
  ctx.out << "checkpoint at entry " << cp->seq << ": " << HexEncode(AsBytes(cp->hash)) << "\n";
  return Ok();
}

}  // namespace

void AddDbCommands(std::vector<Command>& out) {
  out.push_back({"db migrate", "create or upgrade the database schema", "", nullptr, Migrate});
}

void AddAuditCommands(std::vector<Command>& out) {
  out.push_back({"audit verify", "check the hash chain of the audit log", "",
                 [](po::options_description& d, po::positional_options_description&) {
                   d.add_options()("json", po::bool_switch(), "machine-readable output");
                 },
                 AuditVerify});
  out.push_back({"audit prove",
                 "print and check the RFC 6962 inclusion proof of an issued certificate in its "
                 "chunk's audit entry",
                 "",
                 [](po::options_description& d, po::positional_options_description&) {
                   d.add_options()("serial", po::value<std::string>()->required(),
                                   "the certificate's serial (hex)");
                 },
                 AuditProve});
  out.push_back({"audit checkpoint",
                 "sign the audit chain's head with the token's audit key and record it (also in "
                 "audit.checkpoint-file)",
                 "", nullptr, AuditCheckpoint});
}

}  // namespace certpress::app
