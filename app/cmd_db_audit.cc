// `certpress db migrate` and `certpress audit verify`.
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "ra/decisions.h"
#include "store/audit.h"
#include "store/schema.h"

namespace certpress::app {

namespace {

CommandResult Migrate(Context& ctx) {
  auto db = ctx.Db(/*any_schema=*/true);
  if (!db.ok()) return Fail(db.status());
  auto r = store::Migrate(**db);
  if (!r.ok()) return Fail(r.status());
  ctx.out << "schema at version " << r->to_version << " (" << r->applied
          << " migration(s) applied)\n";
  return Ok();
}

CommandResult AuditVerify(Context& ctx) {
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  auto r = store::VerifyAudit(**db);
  if (!r.ok()) return Fail(r.status());
  // Every approval and rejection: its signed statement, checked again.
  auto d = ra::VerifyDecisions(**db);
  if (!d.ok()) return Fail(d.status());
  const bool decisions_ok = d->problems.empty();
  if (ctx.Flag("json")) {
    nlohmann::json j = {{"intact", r->intact && decisions_ok},
                        {"entries", r->entries},
                        {"decision_statements", d->statements},
                        {"signed_decisions", d->decisions},
                        {"unsigned_legacy_decisions", d->unsigned_legacy}};
    if (!r->intact) {
      j["first_bad_seq"] = r->first_bad_seq;
      j["problem"] = r->problem;
    }
    if (!decisions_ok) j["decision_problems"] = d->problems;
    ctx.out << j.dump(2) << "\n";
  } else {
    if (r->intact) ctx.out << "audit log intact: " << r->entries << " entries\n";
    if (decisions_ok) {
      ctx.out << "decisions intact: " << d->decisions << " signed by operators in " << d->statements
              << " statements";
      if (d->unsigned_legacy) ctx.out << " (" << d->unsigned_legacy << " older, unsigned)";
      ctx.out << "\n";
    }
  }
  if (!r->intact) {
    return Fail(DatabaseError("audit log broken at entry " + std::to_string(r->first_bad_seq) +
                              ": " + r->problem));
  }
  if (!decisions_ok) {
    for (const auto& p : d->problems) std::cerr << p << "\n";
    return Fail(DatabaseError(std::to_string(d->problems.size()) +
                              " signed decision(s) do not verify (listed above)"));
  }
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
}

}  // namespace certpress::app
