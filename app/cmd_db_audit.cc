// `certpress db migrate` and `certpress audit verify`.
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "store/audit.h"
#include "store/schema.h"

namespace certpress::app {

namespace {

CommandResult Migrate(Context& ctx) {
  auto db = ctx.Db(/*any_schema=*/true);
  if (!db.ok()) return Fail(db.status());
  auto r = store::Migrate(**db, ctx.Actor());
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
  if (ctx.Flag("json")) {
    nlohmann::json j = {{"intact", r->intact}, {"entries", r->entries}};
    if (!r->intact) {
      j["first_bad_seq"] = r->first_bad_seq;
      j["problem"] = r->problem;
    }
    ctx.out << j.dump(2) << "\n";
  } else if (r->intact) {
    ctx.out << "audit log intact: " << r->entries << " entries\n";
  }
  if (!r->intact) {
    return Fail(DatabaseError("audit log broken at entry " + std::to_string(r->first_bad_seq) +
                              ": " + r->problem));
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
