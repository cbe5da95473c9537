#include "store/schema.h"

#include <string>
#include <vector>

namespace certpress::store {

namespace {

struct Migration {
  int version;
  const char* name;
  std::vector<const char*> statements;
};

// Append only: a released migration is never edited; a change is a new migration.
const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> kMigrations = {
      {1,
       "cas, certificates, requests, audit log",
       {
           R"(CREATE TABLE IF NOT EXISTS cas (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                label VARCHAR(64) NOT NULL,
                parent_id BIGINT NULL,
                subject VARCHAR(2048) NOT NULL,
                key_uri VARCHAR(512) NOT NULL,
                key_type VARCHAR(16) NOT NULL,
                status VARCHAR(16) NOT NULL,
                cert_der MEDIUMBLOB NULL,
                chain_pem MEDIUMTEXT NULL,
                not_after DATETIME NULL,
                created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                UNIQUE KEY uq_cas_label (label),
                CONSTRAINT fk_cas_parent FOREIGN KEY (parent_id) REFERENCES cas (id)
              ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin)",
           // A requests first cut; the batch issuance migration extends it.
           R"(CREATE TABLE IF NOT EXISTS requests (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                profile VARCHAR(64) NOT NULL,
                profile_hash BINARY(32) NOT NULL,
                state VARCHAR(16) NOT NULL,
                subject VARCHAR(2048) NULL,
                fields_json MEDIUMTEXT NULL,
                csr_der BLOB NULL,
                claimed_by VARCHAR(128) NULL,
                fence BIGINT NOT NULL DEFAULT 0,
                lease_until DATETIME(6) NULL,
                retries INT NOT NULL DEFAULT 0,
                reason TEXT NULL,
                created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                KEY ix_requests_state (state, id)
              ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin)",
           // status: 'intent' (serial and TBS recorded, not yet signed) or 'issued'. The
           // UNIQUE (issuer_id, serial) is the last word on serial uniqueness per issuer.
           R"(CREATE TABLE IF NOT EXISTS certificates (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                issuer_id BIGINT NOT NULL,
                serial VARCHAR(40) NOT NULL,
                request_id BIGINT NULL,
                status VARCHAR(16) NOT NULL,
                subject VARCHAR(2048) NOT NULL,
                not_before DATETIME NOT NULL,
                not_after DATETIME NOT NULL,
                tbs_sha256 BINARY(32) NOT NULL,
                der MEDIUMBLOB NULL,
                created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                issued_at DATETIME(6) NULL,
                UNIQUE KEY uq_certificates_issuer_serial (issuer_id, serial),
                KEY ix_certificates_request (request_id),
                CONSTRAINT fk_certificates_issuer FOREIGN KEY (issuer_id) REFERENCES cas (id)
              ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin)",
           // Append-only, hash-chained: hash = SHA-256(prev_hash || entry); see audit.cc.
           R"(CREATE TABLE IF NOT EXISTS audit_log (
                seq BIGINT NOT NULL PRIMARY KEY,
                at DATETIME(6) NOT NULL,
                actor VARCHAR(128) NOT NULL,
                action VARCHAR(64) NOT NULL,
                object VARCHAR(256) NOT NULL,
                details TEXT NOT NULL,
                prev_hash BINARY(32) NOT NULL,
                hash BINARY(32) NOT NULL
              ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin)",
           // One row: the chain head. Appenders lock it, which orders appends and lets verify
           // notice a deleted tail.
           R"(CREATE TABLE IF NOT EXISTS audit_head (
                id TINYINT NOT NULL PRIMARY KEY,
                seq BIGINT NOT NULL,
                hash BINARY(32) NOT NULL
              ) ENGINE=InnoDB)",
           "INSERT IGNORE INTO audit_head (id, seq, hash) VALUES (1, 0, REPEAT(X'00', 32))",
           // The application never updates or deletes audit rows; make the server refuse it.
           R"(CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
              FOR EACH ROW SIGNAL SQLSTATE '45000'
              SET MESSAGE_TEXT = 'audit_log is append-only')",
           R"(CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
              FOR EACH ROW SIGNAL SQLSTATE '45000'
              SET MESSAGE_TEXT = 'audit_log is append-only')",
       }},
  };
  return kMigrations;
}

}  // namespace

int LatestSchemaVersion() {
  return Migrations().back().version;
}

Result<int> SchemaVersion(Connection& conn) {
  CP_RETURN_IF_ERROR(conn.ExecScript(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INT NOT NULL PRIMARY KEY,"
      " name VARCHAR(200) NOT NULL,"
      " applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB"));
  CP_ASSIGN_OR_RETURN(auto rows,
                      conn.Query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
  return static_cast<int>(rows.at(0).Int(0));
}

Result<MigrateReport> Migrate(Connection& conn) {
  CP_ASSIGN_OR_RETURN(auto lock, conn.Query("SELECT GET_LOCK('certpress.migrate', 60)"));
  if (lock.empty() || lock[0].Int(0) != 1) {
    return Unavailable("another process holds the migration lock");
  }
  MigrateReport report;
  Status st = [&]() -> Status {
    CP_ASSIGN_OR_RETURN(report.from_version, SchemaVersion(conn));
    report.to_version = report.from_version;
    for (const auto& m : Migrations()) {
      if (m.version <= report.from_version) continue;
      for (const char* sql : m.statements) {
        Status s = conn.ExecScript(sql);
        if (!s.ok()) return s.Wrap("migration " + std::to_string(m.version) + " (" + m.name + ")");
      }
      auto ins = conn.Exec("INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                           {int64_t{m.version}, std::string_view(m.name)});
      if (!ins.ok()) return ins.status().Wrap("recording migration " + std::to_string(m.version));
      report.to_version = m.version;
      ++report.applied;
    }
    return Status::Ok();
  }();
  conn.Query("SELECT RELEASE_LOCK('certpress.migrate')").status().IgnoreError();
  if (!st.ok()) return st;
  return report;
}

}  // namespace certpress::store
