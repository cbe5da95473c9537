#include "store/schema.h"

#include <chrono>
#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/audit.h"
#include "store/sql.h"

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
           // (Schema 5 moved intents to serials: certificates holds signed ones only.)
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
      {2,
       "batch issuance: request columns, imports, approvals, data keys, private keys, runs",
       {
           R"(ALTER TABLE requests
                ADD COLUMN IF NOT EXISTS ca_id BIGINT NULL AFTER profile_hash,
                ADD COLUMN IF NOT EXISTS subject_der VARBINARY(4096) NULL AFTER subject,
                ADD COLUMN IF NOT EXISTS sans_json TEXT NULL AFTER subject_der,
                ADD COLUMN IF NOT EXISTS natural_key VARCHAR(200) NULL AFTER sans_json,
                ADD COLUMN IF NOT EXISTS import_id BIGINT NULL,
                ADD COLUMN IF NOT EXISTS source_line INT NULL,
                ADD COLUMN IF NOT EXISTS approvals_needed INT NOT NULL DEFAULT 1)",
           // Importing the same rows again creates nothing new (NULLs never collide, so
           // requests without a natural key, e.g. from CSRs, are unaffected).
           R"(ALTER TABLE requests
                ADD UNIQUE INDEX IF NOT EXISTS uq_requests_natural (profile, natural_key))",
           R"(CREATE TABLE IF NOT EXISTS imports (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                file_sha256 BINARY(32) NOT NULL,
                file_name VARCHAR(1024) NOT NULL,
                profile VARCHAR(64) NOT NULL,
                operator VARCHAR(128) NOT NULL,
                rows_total INT NOT NULL DEFAULT 0,
                rows_created INT NOT NULL DEFAULT 0,
                rows_existing INT NOT NULL DEFAULT 0,
                rows_bad INT NOT NULL DEFAULT 0,
                created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                UNIQUE KEY uq_imports_file (file_sha256, profile)
              ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin)",
           // One row per operator and request: the same operator cannot approve twice.
           R"(CREATE TABLE IF NOT EXISTS approvals (
                request_id BIGINT NOT NULL,
                operator VARCHAR(128) NOT NULL,
                decision VARCHAR(8) NOT NULL,
                reason TEXT NULL,
                at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                PRIMARY KEY (request_id, operator)
              ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin)",
           // Data keys, stored only wrapped by the key encryption key in the token.
           R"(CREATE TABLE IF NOT EXISTS data_keys (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                kek_label VARCHAR(64) NOT NULL,
                wrapped VARBINARY(256) NOT NULL,
                created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
              ) ENGINE=InnoDB)",
           // Server-generated private keys: PKCS#8, AES-256-GCM under a data key.
           R"(CREATE TABLE IF NOT EXISTS private_keys (
                request_id BIGINT NOT NULL,
                key_name VARCHAR(32) NOT NULL,
                data_key_id BIGINT NOT NULL,
                ciphertext BLOB NOT NULL,
                created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                PRIMARY KEY (request_id, key_name)
              ) ENGINE=InnoDB)",
           R"(CREATE TABLE IF NOT EXISTS runs (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                claimed_by VARCHAR(128) NOT NULL,
                started_at DATETIME(6) NOT NULL,
                finished_at DATETIME(6) NULL,
                claimed INT NOT NULL DEFAULT 0,
                issued INT NOT NULL DEFAULT 0,
                failed INT NOT NULL DEFAULT 0,
                certs_per_s DOUBLE NOT NULL DEFAULT 0,
                outcome VARCHAR(16) NOT NULL DEFAULT 'running',
                message TEXT NULL
              ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin)",
       }},
      {3,
       "claims: find expired leases by index",
       {
           // The claim looks for leases that ran out on every chunk; without this index it
           // read every request in flight to compare lease_until.
           R"(ALTER TABLE requests
                ADD INDEX IF NOT EXISTS ix_requests_lease (state, lease_until))",
       }},
      {4,
       "claims: one index for the queue and the leases",
       {
           // Every claim and every issue changes a request's state and lease; each index on
           // them costs a delete-mark and an insert per change, and purge later. One index
           // serves both reads: approved (and pending) requests have no lease, so
           // (state = 'approved', lease_until IS NULL) comes in id order, and expired leases
           // are a range of (state = 'issuing', lease_until). The profile, last, lets the
           // claim filter by profile and a run count its backlog from the index alone.
           R"(UPDATE requests SET lease_until = NULL
                WHERE state IN ('pending', 'approved') AND lease_until IS NOT NULL)",
           R"(ALTER TABLE requests
                ADD INDEX IF NOT EXISTS ix_requests_queue (state, lease_until, id, profile),
                DROP INDEX IF EXISTS ix_requests_state,
                DROP INDEX IF EXISTS ix_requests_lease)",
       }},
      {5,
       "serials: certificate intents in a table of their own",
       {
           // An intent (a serial and the TBS hash, committed before the HSM signs) used to be
           // a certificates row that the signed DER then grew in place; storing certificates
           // whole, as new rows, costs the server about a third less. serials keeps every
           // serial ever drawn, delivered or not (a crash between intent and storage leaves a
           // serial without a certificate), and its key is the last word on serial uniqueness
           // per issuer.
           R"(CREATE TABLE IF NOT EXISTS serials (
                issuer_id BIGINT NOT NULL,
                serial VARCHAR(40) NOT NULL,
                request_id BIGINT NULL,
                tbs_sha256 BINARY(32) NOT NULL,
                created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                PRIMARY KEY (issuer_id, serial),
                CONSTRAINT fk_serials_issuer FOREIGN KEY (issuer_id) REFERENCES cas (id)
              ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin)",
           // NOT EXISTS rather than IGNORE: a rerun after a failure copies what is missing,
           // and real errors stay errors.
           R"(INSERT INTO serials (issuer_id, serial, request_id, tbs_sha256, created_at)
                SELECT c.issuer_id, c.serial, c.request_id, c.tbs_sha256, c.created_at
                FROM certificates c WHERE NOT EXISTS (SELECT 1 FROM serials s
                  WHERE s.issuer_id = c.issuer_id AND s.serial = c.serial))",
           R"(DELETE FROM certificates WHERE status = 'intent')",
           // No certificate without its intent. Every row was just given one, so the key is
           // added without checking (with checks on, MariaDB copies the whole table, DER and
           // all, blocking writes meanwhile).
           "SET SESSION foreign_key_checks = 0",
           R"(ALTER TABLE certificates
                ADD CONSTRAINT fk_certificates_serial FOREIGN KEY IF NOT EXISTS (issuer_id, serial)
                REFERENCES serials (issuer_id, serial))",
           "SET SESSION foreign_key_checks = 1",
       }},
      {6,
       "operators: registered identities, signed decision statements, submitters",
       {
           // An operator is a name and a certificate. The name is canonical (lower case
           // [a-z0-9._-]), so 'alice' and 'ALICE' cannot be two operators, and a certificate
           // names one operator only.
           R"(CREATE TABLE IF NOT EXISTS operators (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                name VARCHAR(64) NOT NULL,
                cert_der BLOB NOT NULL,
                cert_sha256 BINARY(32) NOT NULL,
                subject VARCHAR(1024) NOT NULL,
                not_after DATETIME NOT NULL,
                status VARCHAR(16) NOT NULL DEFAULT 'active',
                created_by VARCHAR(128) NOT NULL,
                created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                UNIQUE KEY uq_operators_name (name),
                UNIQUE KEY uq_operators_cert (cert_sha256)
              ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin)",
           // Each approval or rejection is a statement the operator signed; it is kept so that
           // `audit verify` can check every decision again later.
           R"(CREATE TABLE IF NOT EXISTS decision_statements (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                operator_id BIGINT NOT NULL,
                statement MEDIUMBLOB NOT NULL,
                signature VARBINARY(1024) NOT NULL,
                created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                CONSTRAINT fk_statements_operator FOREIGN KEY (operator_id) REFERENCES operators (id)
              ) ENGINE=InnoDB)",
           R"(ALTER TABLE approvals
                ADD COLUMN IF NOT EXISTS statement_id BIGINT NULL)",
           R"(ALTER TABLE requests
                ADD COLUMN IF NOT EXISTS submitted_by VARCHAR(128) NULL)",
       }},
      {7,
       "audit: a keyed chain and signed checkpoints",
       {
           // The chain's HMAC keys, stored only wrapped by the token's key encryption key.
           R"(CREATE TABLE IF NOT EXISTS audit_keys (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                kek_label VARCHAR(64) NOT NULL,
                wrapped VARBINARY(256) NOT NULL,
                created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
              ) ENGINE=InnoDB)",
           R"(ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS key_id BIGINT NULL)",
           // Signed heads; also appended to a file outside the database (audit.checkpoint-file).
           R"(CREATE TABLE IF NOT EXISTS audit_checkpoints (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                seq BIGINT NOT NULL,
                hash BINARY(32) NOT NULL,
                at DATETIME NOT NULL,
                signature VARBINARY(1024) NOT NULL
              ) ENGINE=InnoDB)",
       }},
      {8,
       "audit: issued chunks as Merkle roots",
       {
           // Batch issuance audits a chunk as one entry carrying the RFC 6962 Merkle root of
           // its certificates; each certificate keeps its entry and leaf for inclusion proofs.
           R"(ALTER TABLE certificates
                ADD COLUMN IF NOT EXISTS audit_seq BIGINT NULL,
                ADD COLUMN IF NOT EXISTS leaf_index INT NULL)",
       }},
      {9,
       "activations and the mail outbox",
       {
           // Activation links and codes are stored only as HMAC-SHA256 under an activation key
           // that the database holds only wrapped by the token's key encryption key
           // (kgs/activations.h): a database dump reveals no usable link or code.
           R"(CREATE TABLE IF NOT EXISTS activation_keys (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                kek_label VARCHAR(64) NOT NULL,
                wrapped VARBINARY(256) NOT NULL,
                created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
              ) ENGINE=InnoDB)",
           // One row per link ever made for a request (a resend voids the old one). state:
           // queued (no link yet: it is minted when the mail is sent), sent, opened, used,
           // locked, void; expired is read from expires_at against NOW(6).
           R"(CREATE TABLE IF NOT EXISTS activations (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                request_id BIGINT NOT NULL,
                profile VARCHAR(64) NOT NULL,
                recipient_email VARCHAR(320) NOT NULL,
                recipient_name VARCHAR(256) NOT NULL,
                state VARCHAR(16) NOT NULL,
                code_needed TINYINT NOT NULL DEFAULT 0,
                key_id BIGINT NULL,
                token_hmac BINARY(32) NULL,
                code_key_id BIGINT NULL,
                code_hmac BINARY(32) NULL,
                validity_seconds BIGINT NOT NULL,
                max_attempts INT NOT NULL,
                attempts INT NOT NULL DEFAULT 0,
                expires_at DATETIME(6) NULL,
                sent_at DATETIME(6) NULL,
                opened_at DATETIME(6) NULL,
                used_at DATETIME(6) NULL,
                created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                UNIQUE KEY uq_activations_token (token_hmac),
                KEY ix_activations_request (request_id, state)
              ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin)",
           // The transactional outbox: written in the transaction that makes the mail due,
           // drained by the mailer (kgs/mailer.h). message_id is stable for the row's life.
           R"(CREATE TABLE IF NOT EXISTS mail_outbox (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                kind VARCHAR(16) NOT NULL,
                ref_id BIGINT NOT NULL,
                recipient_email VARCHAR(320) NOT NULL,
                recipient_name VARCHAR(256) NOT NULL,
                profile VARCHAR(64) NOT NULL,
                message_id VARCHAR(200) NOT NULL,
                state VARCHAR(16) NOT NULL,
                attempts INT NOT NULL DEFAULT 0,
                next_attempt_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                claimed_by VARCHAR(128) NULL,
                last_error TEXT NULL,
                sent_at DATETIME(6) NULL,
                created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                UNIQUE KEY uq_mail_outbox_message (message_id),
                KEY ix_mail_outbox_ref (kind, ref_id),
                KEY ix_mail_outbox_due (state, next_attempt_at, id)
              ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin)",
       }},
      {10,
       "cards: PIV cards personalized at stations, their certificates, revocations",
       {
           // One row per personalization of a card (a card failed and personalized again has
           // two). state: personalizing -> personalized -> letter-printed -> active, or failed.
           R"(CREATE TABLE IF NOT EXISTS cards (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                serial VARCHAR(64) NOT NULL,
                atr VARBINARY(64) NOT NULL,
                chuid_guid BINARY(16) NULL,
                profile VARCHAR(64) NOT NULL,
                request_id BIGINT NOT NULL,
                state VARCHAR(16) NOT NULL,
                station VARCHAR(128) NOT NULL,
                reader VARCHAR(256) NOT NULL,
                reason TEXT NULL,
                started_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                finished_at DATETIME(6) NULL,
                KEY ix_cards_serial (serial, id),
                KEY ix_cards_request (request_id),
                KEY ix_cards_state (state, id),
                CONSTRAINT fk_cards_request FOREIGN KEY (request_id) REFERENCES requests (id)
              ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin)",
           // The certificate in each PIV slot of a card (SP 800-73-4 Part 1 Table 3).
           R"(CREATE TABLE IF NOT EXISTS card_certificates (
                card_id BIGINT NOT NULL,
                slot CHAR(2) NOT NULL,
                issuer_id BIGINT NOT NULL,
                serial VARCHAR(40) NOT NULL,
                PRIMARY KEY (card_id, slot),
                CONSTRAINT fk_card_certificates_card FOREIGN KEY (card_id) REFERENCES cards (id),
                CONSTRAINT fk_card_certificates_serial FOREIGN KEY (issuer_id, serial)
                  REFERENCES serials (issuer_id, serial)
              ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin)",
           // Revoked serials with their CRLReason (RFC 5280 5.3.1) and time, ready for CRLs
           // and OCSP. Keyed by serial, not certificate: a serial signed but never stored (a
           // crash between the HSM and the store) is revoked too.
           R"(CREATE TABLE IF NOT EXISTS revocations (
                issuer_id BIGINT NOT NULL,
                serial VARCHAR(40) NOT NULL,
                reason_code TINYINT NOT NULL,
                revoked_at DATETIME(6) NOT NULL,
                revoked_by VARCHAR(128) NOT NULL,
                comment VARCHAR(512) NULL,
                PRIMARY KEY (issuer_id, serial),
                CONSTRAINT fk_revocations_serial FOREIGN KEY (issuer_id, serial)
                  REFERENCES serials (issuer_id, serial)
              ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin)",
       }},
      {11,
       "PIN letters: queued, printed and mailed, the secret sealed until printed",
       {
           // One letter per personalized card (kgs/letters.h). The PIN and PUK are kept only
           // sealed: AES-256-GCM under a data key of the letter's own (sealed), which is kept
           // only wrapped by the token's key encryption key (wrapped_key). Printing sets both
           // to NULL in the same UPDATE that marks the letter printed: what remains is the
           // address (its lines separated by LF), the card serial and the dates, never the
           // secret.
           R"(CREATE TABLE IF NOT EXISTS pin_letters (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                request_id BIGINT NOT NULL,
                card_serial VARCHAR(64) NOT NULL,
                profile VARCHAR(64) NOT NULL,
                holder_name VARCHAR(256) NOT NULL,
                address TEXT NOT NULL,
                has_puk TINYINT NOT NULL,
                state VARCHAR(16) NOT NULL,
                kek_label VARCHAR(64) NULL,
                wrapped_key VARBINARY(256) NULL,
                sealed VARBINARY(256) NULL,
                print_count INT NOT NULL DEFAULT 0,
                created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                printed_at DATETIME(6) NULL,
                mailed_at DATETIME(6) NULL,
                KEY ix_pin_letters_state (state, id),
                KEY ix_pin_letters_request (request_id),
                KEY ix_pin_letters_card (card_serial)
              ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin)",
       }},
      {12,
       "invitations",
       {
           // An invitation to apply for a certificate: its link token is stored only as an
           // HMAC under an activation key (token_key_id; kgs/activations.h), never in clear.
           // state: queued (mail not yet sent, no link yet), sent, applying (an application
           // is being submitted), used (request_id made), void (replaced). Expiry is
           // expires_at against the database clock.
           R"(CREATE TABLE IF NOT EXISTS invitations (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                profile VARCHAR(64) NOT NULL,
                ca_id BIGINT NOT NULL,
                email VARCHAR(254) NOT NULL,
                name VARCHAR(256) NOT NULL,
                state VARCHAR(16) NOT NULL,
                token_key_id BIGINT NULL,
                token_hmac VARBINARY(32) NULL,
                validity_seconds BIGINT NOT NULL,
                expires_at DATETIME(6) NULL,
                request_id BIGINT NULL,
                created_by VARCHAR(128) NOT NULL,
                created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                used_at DATETIME(6) NULL,
                UNIQUE KEY uq_invitations_token (token_hmac),
                KEY ix_invitations_state (state, id),
                CONSTRAINT fk_invitations_ca FOREIGN KEY (ca_id) REFERENCES cas (id)
              ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin)",
       }},
      {13,
       "letters: activation-code letters beside PIN letters",
       {
           // A soft certificate whose profile sends its activation code by post
           // (activation.code = "letter") gets a letter of kind 'activation-code' in its
           // issuing transaction: the code sealed as a PIN is (kgs/letters.h), card_serial
           // empty. Existing rows are PIN letters. The index finds a request's letters.
           R"(ALTER TABLE pin_letters
                ADD COLUMN IF NOT EXISTS kind VARCHAR(16) NOT NULL DEFAULT 'pin' AFTER id,
                DROP INDEX IF EXISTS ix_pin_letters_request,
                ADD INDEX IF NOT EXISTS ix_pin_letters_request_kind (request_id, kind, state))",
       }},
      {16,
       "token_keys",
       {
           // The token's own keys that CertPress makes on first use (the key encryption key,
           // the audit signing key, PIV management master keys): a process claims a label here
           // before it creates the key, so that processes sharing one HSM and one database
           // create it once (PKCS#11 has no cross-process lock; two creators made two keys
           // under one label). created_at NULL: claimed, not yet created (kgs/token_keys.h).
           R"(CREATE TABLE IF NOT EXISTS token_keys (
                label VARCHAR(64) NOT NULL PRIMARY KEY,
                kind VARCHAR(16) NOT NULL,
                claimed_by VARCHAR(128) NOT NULL,
                claimed_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                created_at DATETIME(6) NULL
              ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin)",
       }},
      {17,
       "activations: the channel of the activation code",
       {
           // How the activation's code reaches its holder (operator, letter), fixed when the
           // activation is made: a code sent by letter is never shown to an operator, whatever
           // profiles the showing process loaded (kgs::MintCode). NULL: no code.
           R"(ALTER TABLE activations
                ADD COLUMN IF NOT EXISTS code_channel VARCHAR(16) NULL AFTER code_needed)",
           // Activations made before: a request with an activation-code letter posts its code.
           R"(UPDATE activations a SET a.code_channel = 'letter' WHERE a.code_channel IS NULL
                AND EXISTS (SELECT 1 FROM pin_letters l WHERE l.request_id = a.request_id
                            AND l.kind = 'activation-code'))",
           R"(UPDATE activations SET code_channel = 'operator'
                WHERE code_channel IS NULL AND code_needed = 1)",
       }},
      {19,
       "decisions name their signed statement",
       {
           // Since schema 6 every approval and rejection is recorded under the statement its
           // operator signed; only older rows have none, and `audit verify` counts those as
           // legacy. The server refuses a new one without, so the run-time account cannot
           // forge a "legacy" approval (it has no TRIGGER privilege to drop these).
           R"(CREATE TRIGGER IF NOT EXISTS approvals_signed_insert BEFORE INSERT ON approvals
              FOR EACH ROW BEGIN
                IF NEW.statement_id IS NULL THEN
                  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'a decision names its signed statement';
                END IF;
              END)",
           R"(CREATE TRIGGER IF NOT EXISTS approvals_signed_update BEFORE UPDATE ON approvals
              FOR EACH ROW BEGIN
                IF NEW.statement_id IS NULL THEN
                  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'a decision names its signed statement';
                END IF;
              END)",
       }},
  };
  return kMigrations;
}

Status CreateMigrationsTable(Connection& conn) {
  return Sql(conn).ExecScript(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INT NOT NULL PRIMARY KEY,"
      " name VARCHAR(200) NOT NULL,"
      " applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB");
}

// What the run-time account may do, per table. A table not named here holds working state and
// gets kWorkingState. Evidence is append-only for that account: with no UPDATE, DELETE, DROP,
// ALTER, TRIGGER or GRANT it can neither rewrite an entry nor remove the triggers that refuse
// it (they stop an account that does have the rights; the keyed chain and the signed
// checkpoints catch one that drops them).
constexpr const char* kWorkingState = "SELECT, INSERT, UPDATE, DELETE";
struct TablePrivileges {
  const char* table;
  const char* privileges;
};
constexpr TablePrivileges kRestricted[] = {
    {"schema_migrations", "SELECT"},
    {"schema_lock", "SELECT"},  // the migration lock (Migrate): migrators only
    {"audit_log", "SELECT, INSERT"},
    // The head row is written by the migration; appenders move it on.
    {"audit_head", "SELECT, UPDATE"},
    {"audit_keys", "SELECT, INSERT"},
    {"audit_checkpoints", "SELECT, INSERT"},
    {"decision_statements", "SELECT, INSERT"},
    // An operator's certificate is what their signatures are checked against: registered once,
    // never rewritten by the run-time account (it may only disable or re-enable).
    {"operators", "SELECT, INSERT, UPDATE (status)"},
    {"activation_keys", "SELECT, INSERT"},
    // Claimed, then marked created; a dead creator's claim is taken over (UPDATE); never deleted.
    {"token_keys", "SELECT, INSERT, UPDATE"},
};

// Account names go into GRANT, which takes no placeholders: accept only what MariaDB account
// and table names of ours look like, so nothing from a config file can end the statement.
bool PlainName(std::string_view s, bool allow_wildcard) {
  if (s.empty() || s.size() > 80) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.' || (allow_wildcard && c == '%');
    if (!ok) return false;
  }
  return true;
}

}  // namespace

int LatestSchemaVersion() {
  return Migrations().back().version;
}

Status GrantRuntimePrivileges(Connection& conn, const std::string& user, const std::string& host) {
  if (!PlainName(user, false)) {
    return InvalidInput("db.user: '" + user +
                        "' is not a plain account name (letters, digits, _ - .)");
  }
  if (!PlainName(host, true)) {
    return InvalidInput("db.user-host: '" + host +
                        "' is not a plain host name (letters, digits, _ - . %)");
  }
  const std::string account = "'" + user + "'@'" + host + "'";
  CP_ASSIGN_OR_RETURN(auto tables,
                      Sql(conn).Query("SELECT table_name FROM information_schema.tables"
                                      " WHERE table_schema = DATABASE() AND"
                                      " table_type = 'BASE TABLE'"));
  for (const auto& row : tables) {
    const std::string table = row.Str(0);
    if (!PlainName(table, false)) return InvalidInput("unexpected table name '" + table + "'");
    const char* privileges = kWorkingState;
    bool restricted = false;
    for (const auto& r : kRestricted) {
      if (table == r.table) {
        privileges = r.privileges;
        restricted = true;
      }
    }
    const std::string on = " ON `" + table + "` ";
    if (restricted) {
      // Take back anything an older grant gave (GRANT first so that REVOKE has a row to
      // change: REVOKE of a grant that does not exist is an error).
      CP_RETURN_IF_ERROR(Sql(conn).ExecScript("GRANT SELECT" + on + "TO " + account));
      CP_RETURN_IF_ERROR(Sql(conn).ExecScript("REVOKE ALL PRIVILEGES" + on + "FROM " + account));
    }
    Status s = Sql(conn).ExecScript(std::string("GRANT ") + privileges + on + "TO " + account);
    if (!s.ok()) return s.Wrap("granting " + account + " its privileges on " + table);
  }
  return Status::Ok();
}

Result<int> SchemaVersion(Connection& conn) {
  // Read-only: the run-time account may not create tables, and a database without the table
  // is simply at version 0.
  CP_ASSIGN_OR_RETURN(auto exists, Sql(conn).Query("SELECT COUNT(*) FROM information_schema.tables"
                                                   " WHERE table_schema = DATABASE() AND"
                                                   " table_name = 'schema_migrations'"));
  if (exists.empty() || exists[0].Int(0) == 0) return 0;
  CP_ASSIGN_OR_RETURN(auto rows, Sql(conn).Query("SELECT version FROM schema_migrations"));
  std::set<int64_t> applied;
  for (const auto& r : rows) applied.insert(r.Int(0));
  // The schema is at the last version all of whose predecessors are applied too: a database
  // that misses a middle migration is not at the latest version, whatever its highest row says.
  int version = 0;
  for (const auto& m : Migrations()) {
    if (!applied.count(m.version)) break;
    version = m.version;
  }
  return version;
}

namespace {

// The migration lock is a row of a table of our own, held by committing a lease on it, not
// GET_LOCK (a named lock is local to one server, and on MariaDB's list of Galera limitations)
// nor a row locked FOR UPDATE (Galera certifies writes only at commit: a row lock on one node
// does not stop a transaction on another). A committed lease is seen by every node once it
// commits; two nodes that take it at once are told apart by certification, which fails one
// of them (1213, retried below, when it finds the lease taken). A migrator that dies leaves a
// lease that runs out after kMigrationLeaseSeconds.
constexpr int kMigrationLeaseSeconds = 300;
constexpr int kMigrationLockWaitSeconds = 60;

Status TakeMigrationLock(Connection& conn, const std::string& holder) {
  CP_RETURN_IF_ERROR(
      Sql(conn).ExecScript("CREATE TABLE IF NOT EXISTS schema_lock ("
                           " id TINYINT NOT NULL PRIMARY KEY,"
                           " holder VARCHAR(200) NULL,"
                           " lease_until DATETIME(6) NULL) ENGINE=InnoDB"));
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(kMigrationLockWaitSeconds);
  Status last;
  while (std::chrono::steady_clock::now() < deadline) {
    Status st = [&]() -> Status {
      CP_RETURN_IF_ERROR(
          Sql(conn)
              .Exec("INSERT INTO schema_lock (id) VALUES (1) ON DUPLICATE KEY UPDATE id = id")
              .status());
      CP_ASSIGN_OR_RETURN(
          ExecResult r,
          Sql(conn).Exec("UPDATE schema_lock SET holder = ?, lease_until = UTC_TIMESTAMP(6) + "
                         "INTERVAL ? SECOND WHERE id = 1 AND (holder IS NULL OR lease_until < "
                         "UTC_TIMESTAMP(6))",
                         {std::string_view(holder), int64_t{kMigrationLeaseSeconds}}));
      if (r.affected_rows == 1) return Status::Ok();
      return Unavailable("another process holds the migration lock (table schema_lock)");
    }();
    if (st.ok() || !IsRetryable(st)) return st;
    last = st;
    if (conn.ThreadId() == 0 || !Sql(conn).ExecScript("DO 1").ok()) {
      Status rc = conn.Reconnect();
      if (!rc.ok()) last = rc;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return last;
}

void ReleaseMigrationLock(Connection& conn, const std::string& holder) {
  Sql(conn)
      .Exec("UPDATE schema_lock SET holder = NULL, lease_until = NULL WHERE id = 1 AND holder = ?",
            {std::string_view(holder)})
      .status()
      .IgnoreError();
}

// UseTotalOrderDdl makes this session's DDL run in Galera's total order isolation (TOI, the
// default wsrep_OSU_method): each statement is replicated before it runs and runs on every
// node at the same point of the write order, so the schema changes everywhere at once (RSU
// would change one node only). A server without Galera has no wsrep_OSU_method.
Status UseTotalOrderDdl(Connection& conn) {
  CP_ASSIGN_OR_RETURN(auto rows, Sql(conn).Query("SHOW VARIABLES LIKE 'wsrep_OSU_method'"));
  if (rows.empty() || rows[0].Str(1) == "TOI") return Status::Ok();
  return Sql(conn).ExecScript("SET SESSION wsrep_OSU_method = 'TOI'");
}

std::string LockHolder(Connection& conn) {
  std::random_device rd;
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", rd());
  return "migrate:" + conn.Node() + ":" + std::to_string(conn.ThreadId()) + ":" + buf;
}

}  // namespace

Result<MigrateReport> Migrate(Connection& conn) {
  const std::string holder = LockHolder(conn);
  CP_RETURN_IF_ERROR(TakeMigrationLock(conn, holder));
  MigrateReport report;
  Status st = [&]() -> Status {
    CP_RETURN_IF_ERROR(UseTotalOrderDdl(conn));
    CP_RETURN_IF_ERROR(CreateMigrationsTable(conn));
    CP_ASSIGN_OR_RETURN(report.from_version, SchemaVersion(conn));
    report.to_version = report.from_version;
    for (const auto& m : Migrations()) {
      // Every migration the database has not recorded runs, in order (statements are written
      // to be re-runnable), not only those above its highest version.
      if (m.version <= report.from_version) continue;
      CP_ASSIGN_OR_RETURN(auto done, Sql(conn).Query("SELECT 1 FROM schema_migrations WHERE "
                                                     "version = ?",
                                                     {int64_t{m.version}}));
      if (!done.empty()) continue;
      for (const char* sql : m.statements) {
        Status s = Sql(conn).ExecScript(sql);
        if (s.ok()) continue;
        s = s.Wrap("migration " + std::to_string(m.version) + " (" + m.name + ")");
        if (s.message().find("error 1419 ") != std::string::npos) {
          // Binary logging is on (always on Galera): creating a trigger needs SUPER (BINLOG
          // ADMIN) or log_bin_trust_function_creators=ON on the server (docs/SCALING.md).
          return DatabaseError(s.message() +
                               " (binary logging is on: give the migration account SUPER or "
                               "BINLOG ADMIN, or set log_bin_trust_function_creators=ON)");
        }
        return s;
      }
      auto ins = Sql(conn).Exec("INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                                {int64_t{m.version}, std::string_view(m.name)});
      if (!ins.ok()) return ins.status().Wrap("recording migration " + std::to_string(m.version));
      report.to_version = m.version;
      ++report.applied;
      report.migrations.emplace_back(m.version, m.name);
    }
    return Status::Ok();
  }();
  ReleaseMigrationLock(conn, holder);
  if (!st.ok()) return st;
  return report;
}

Status AuditMigrations(Connection& conn, const MigrateReport& report, const std::string& actor) {
  if (report.migrations.empty()) return Status::Ok();
  std::vector<AuditEvent> events;
  for (const auto& [version, name] : report.migrations) {
    events.push_back({actor, "db.migrate", "schema:" + std::to_string(version), name});
  }
  return RunTransaction(conn, [&](Connection& c) { return AppendAuditBatch(c, events); });
}

}  // namespace certpress::store
