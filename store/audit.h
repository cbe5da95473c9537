// audit.h: the append-only, keyed hash chain of the audit log. Entry n stores
// hash_n = HMAC-SHA256(K, hash_{n-1} || seq || at || actor || action || object || details), each
// field length-prefixed, so that changing, removing or reordering any entry breaks the chain,
// and nobody without K can compute a chain that verifies. K is one of the audit keys
// (DbConfig::audit_keys): the database holds them only wrapped by the token's key encryption
// key, so a database administrator cannot recompute the chain (kgs/audit_keys.h). Entries of
// schema 6 and before (key_id NULL) were chained with plain SHA-256; the first keyed entry
// covers their last hash, so they cannot change either once it exists.
//
// The head (sequence number and hash) is checkpointed with a signature by an audit key in the
// token, and the checkpoints are kept here and in a file outside the database
// (kgs/audit_keys.h), so that a truncated and re-grown chain, or an old database restored, is
// caught.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/db.h"

namespace certpress::store {

struct AuditEvent {
  std::string actor;    // operator name, or "system:<host>:<pid>" for daemons
  std::string action;   // "ca.create-root", "request.approve", ...
  std::string object;   // "ca:root-2026", "request:42"
  std::string details;  // free text or JSON; never secrets
};

// AppendAudit appends |event| inside the caller's open transaction: it locks the chain head,
// so the entry commits or rolls back with the change it describes.
[[nodiscard]] Status AppendAudit(Connection& conn, const AuditEvent& event);

// AppendAuditBatch appends many events with one head lock and multi-row inserts (the
// pipeline's persist stage writes one entry per issued request).
// |first_seq| (optional) receives the sequence number of the first event.
[[nodiscard]] Status AppendAuditBatch(Connection& conn, const std::vector<AuditEvent>& events,
                                      int64_t* first_seq = nullptr);
// AuditEntry reads the entry |seq| (its details: a chunk's Merkle root).
Result<std::optional<AuditEvent>> AuditEntry(Connection& conn, int64_t seq);

struct AuditReport {
  int64_t entries = 0;
  bool intact = true;
  bool keyed = false;  // the chain has keyed entries
  int64_t first_bad_seq = 0;
  std::string problem;
};

// VerifyAudit recomputes the chain from the first entry in one consistent snapshot (REPEATABLE
// READ, so appends running meanwhile are not read as tampering), with the connection's audit
// keys. It reports the first entry whose hash, predecessor link, key or sequence number is
// wrong, and a head that does not match the last entry (a deleted tail). |chain_at| (optional)
// receives the chain's hash at each sequence number it asks for (checkpoints).
Result<AuditReport> VerifyAudit(Connection& conn,
                                std::map<int64_t, std::string>* chain_at = nullptr);

// Audit keys as stored: wrapped by the token key |kek_label|.
struct WrappedAuditKey {
  int64_t id = 0;
  std::string kek_label;
  std::string wrapped;
};
Result<std::vector<WrappedAuditKey>> ListAuditKeys(Connection& conn);
Result<int64_t> StoreAuditKey(Connection& conn, const std::string& kek_label, ByteSpan wrapped);

// A checkpoint of the chain's head, signed by the audit signing key in the token.
struct Checkpoint {
  int64_t seq = 0;
  std::string hash;  // 32 raw bytes
  std::string at;    // UTC, "YYYY-MM-DD HH:MM:SS"
  std::string signature;
};
// AuditHead reads the chain's head (the last entry's sequence number and hash).
Result<Checkpoint> AuditHead(Connection& conn);
[[nodiscard]] Status StoreCheckpoint(Connection& conn, const Checkpoint& cp);
Result<std::vector<Checkpoint>> ListCheckpoints(Connection& conn);
// RepeatedEvents lists the objects for which |action| was audited more than once, with how
// often (for actions that can happen once per object).
Result<std::vector<std::pair<std::string, int64_t>>> RepeatedEvents(Connection& conn,
                                                                    std::string_view action);

// NowUtc returns the current UTC time as "YYYY-MM-DD HH:MM:SS.ffffff" (DATETIME(6) text).
std::string NowUtc();
// FormatUtc renders a time_t as "YYYY-MM-DD HH:MM:SS".
std::string FormatUtc(time_t t);

}  // namespace certpress::store
