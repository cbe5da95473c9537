// audit_keys.h: what makes the audit log trustworthy to an auditor, held by the token and not
// the database. (1) The chain's HMAC keys: drawn at random, stored only wrapped by the token's
// key encryption key, unwrapped by processes that hold the token, so a database administrator
// cannot recompute the chain after changing an entry. (2) Checkpoints: the chain's head
// (sequence number and hash) signed by the audit signing key, a P-256 key generated in the
// token that never leaves it, kept in the database and appended to a file outside it, so that
// a truncated and re-grown chain, or an old database restored, is caught (store/audit.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "signer/token.h"
#include "store/audit.h"
#include "store/db.h"

namespace certpress::kgs {

inline constexpr const char* kAuditSigningKey = "certpress-audit";

// LoadAuditKeys unwraps every audit key with the token; with |create|, draws and stores the
// first one if there is none.
Result<std::shared_ptr<const store::AuditKeys>> LoadAuditKeys(store::Connection& db,
                                                              CryptoToken& token,
                                                              const std::string& kek_label,
                                                              bool create);

// WriteCheckpoint signs the chain's current head with the audit signing key (generated in the
// token on first use), stores it, and appends it to |file| (one JSON object per line; none if
// |file| is empty).
Result<store::Checkpoint> WriteCheckpoint(store::Connection& db, CryptoToken& token,
                                          const std::string& file);

struct CheckpointAudit {
  int64_t in_db = 0;
  int64_t in_file = 0;
  std::vector<std::string> problems;
};
// VerifyCheckpoints checks every checkpoint in the database and in |file|: its signature by
// the audit signing key, and that the chain (|chain_at|: seq -> hash, as VerifyAudit read it)
// has that hash at that sequence number. A file checkpoint beyond the chain's end, or one the
// chain contradicts, means the chain was cut and re-grown or an old database restored.
Result<CheckpointAudit> VerifyCheckpoints(store::Connection& db, CryptoToken& token,
                                          const std::string& file,
                                          const std::map<int64_t, std::string>& chain_at,
                                          int64_t chain_entries);
// ParseCheckpointLine reads one line of audit.checkpoint-file (a JSON object: seq, hash and
// signature in hex, time "YYYY-MM-DD HH:MM:SS"), refusing any other shape; FormatCheckpointLine
// writes one. tests/fuzz/checkpoint_fuzz.cc holds them to each other.
Result<store::Checkpoint> ParseCheckpointLine(std::string_view line);
std::string FormatCheckpointLine(const store::Checkpoint& cp);
// CheckpointSeqs lists the sequence numbers whose chain hash VerifyCheckpoints will need.
Result<std::vector<int64_t>> CheckpointSeqs(store::Connection& db, const std::string& file);

}  // namespace certpress::kgs
