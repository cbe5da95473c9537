// audit.h: the append-only, hash-chained audit log. Entry n stores
// hash_n = SHA-256(hash_{n-1} || seq || at || actor || action || object || details), each field
// length-prefixed, so that changing, removing or reordering any entry breaks the chain.
#pragma once

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
[[nodiscard]] Status AppendAuditBatch(Connection& conn, const std::vector<AuditEvent>& events);

struct AuditReport {
  int64_t entries = 0;
  bool intact = true;
  int64_t first_bad_seq = 0;
  std::string problem;
};

// VerifyAudit recomputes the chain from the first entry. It reports the first entry whose
// hash, predecessor link or sequence number is wrong, and a head that does not match the last
// entry (a deleted tail).
Result<AuditReport> VerifyAudit(Connection& conn);

// NowUtc returns the current UTC time as "YYYY-MM-DD HH:MM:SS.ffffff" (DATETIME(6) text).
std::string NowUtc();
// FormatUtc renders a time_t as "YYYY-MM-DD HH:MM:SS".
std::string FormatUtc(time_t t);

}  // namespace certpress::store
