// schema.h: versioned schema migrations. Each migration runs once, in order, and its version
// is recorded in schema_migrations; running Migrate again changes nothing.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "store/db.h"

namespace certpress::store {

struct MigrateReport {
  int from_version = 0;
  int to_version = 0;
  int applied = 0;
  std::vector<std::pair<int, std::string>> migrations;  // version and name of each applied
};

// Migrate brings the schema to the latest version. Concurrent callers, on one server or on
// several Galera nodes, are serialised by a lease in table schema_lock (not GET_LOCK, which
// Galera does not replicate); its DDL runs in Galera's total order isolation. MariaDB commits DDL
// implicitly, so each migration is written to be re-runnable (IF NOT EXISTS) and its version row is
// written in the same step after its DDL. The caller audits what was applied (`db migrate` does,
// once the schema is current and the audit keys, which need it, are loaded).
Result<MigrateReport> Migrate(Connection& conn);
// AuditMigrations audits each migration |report| applied ("db.migrate", object "schema:N") as
// |actor|, in one transaction; the connection needs the audit keys (store/audit.h).
[[nodiscard]] Status AuditMigrations(Connection& conn, const MigrateReport& report,
                                     const std::string& actor);
// GrantRuntimePrivileges gives the run-time account user@host exactly what CertPress needs on
// the current database's tables, and takes back what an earlier grant gave beyond it: SELECT,
// INSERT, UPDATE, DELETE on working tables; SELECT and INSERT only on the audit log, its keys
// and checkpoints and the signed decision statements (audit_head: SELECT, UPDATE);
// schema_migrations read-only. Never DROP, ALTER, CREATE, TRIGGER, GRANT or TRUNCATE. Run by
// `db migrate` on the migration account's connection (it needs GRANT OPTION).
[[nodiscard]] Status GrantRuntimePrivileges(Connection& conn, const std::string& user,
                                            const std::string& host);
// SchemaVersion returns the highest applied version (0 for an empty database). It only reads,
// so the run-time account can ask.
Result<int> SchemaVersion(Connection& conn);
// LatestSchemaVersion is the version this build migrates to.
int LatestSchemaVersion();

}  // namespace certpress::store
