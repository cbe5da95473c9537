// requests.h: the request repository: creation (CSV import, CSR submission), approvals,
// claiming batches with leases and fencing, and completion.
//
// States: pending -> approved -> issuing (claimed: claimed_by, fence, lease_until) -> issued
// (-> delivered later); rejected and failed end a request. A claim increments the fence; every
// later write for the claimed request checks it, so a scheduler whose lease expired and was
// taken over can no longer complete the request.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"
#include "store/audit.h"
#include "store/db.h"

namespace certpress::store {

inline constexpr const char* kPending = "pending";
inline constexpr const char* kApproved = "approved";
inline constexpr const char* kIssuing = "issuing";
inline constexpr const char* kIssued = "issued";
inline constexpr const char* kFailed = "failed";
inline constexpr const char* kRejected = "rejected";

struct NewRequest {
  std::string profile;
  std::array<uint8_t, 32> profile_hash{};
  int approvals_needed = 1;  // 0: created approved
  int64_t ca_id = 0;
  std::string subject;      // RFC 4514, for people
  Bytes subject_der;        // what the certificate will carry
  std::string sans_json;    // [["email","a@b"],...]
  std::string fields_json;  // the request's fields (PIN letter address, ...)
  Bytes csr_der;            // requester-held key, else empty
  std::optional<std::string> natural_key;
  std::optional<int64_t> import_id;
  int source_line = 0;
  std::string submitted_by;  // who imported or submitted it (the audit actor)
};

// InsertRequests inserts |rows| with one multi-row statement; rows whose (profile,
// natural_key) already exists are skipped. Returns how many were created.
Result<size_t> InsertRequests(Connection& conn, std::span<const NewRequest> rows);
// InsertRequest inserts one request and returns its id (a taken natural key is a conflict).
Result<int64_t> InsertRequest(Connection& conn, const NewRequest& row);

// Imports: one row per (file hash, profile); a re-import updates the counters.
Result<int64_t> BeginImport(Connection& conn, ByteSpan file_sha256, const std::string& file_name,
                            const std::string& profile, const std::string& op);
[[nodiscard]] Status FinishImport(Connection& conn, int64_t import_id, int64_t total,
                                  int64_t created, int64_t existing, int64_t bad);

struct Decision {
  int64_t request_id = 0;
  std::string new_state;  // state after the decision
  int approvals = 0;      // distinct approvals so far
};

// ApproveMany records |op|'s approval of each pending request of |ids| (inside the caller's
// transaction) under the signed statement |statement_id|, and moves a request to approved
// once approvals_needed distinct operators approved it; five statements whatever the number
// of ids, so that approving a bulk upload of 100,000 takes seconds. |op| is a registered
// operator's canonical name (ra/ checks the statement before calling). Each id, in order, gets
// its Decision or its refusal: a request that does not exist is not found; one that is not
// pending, or that |op| already approved (dual control needs another operator), is a conflict.
Result<std::vector<Result<Decision>>> ApproveMany(Connection& conn, std::span<const int64_t> ids,
                                                  const std::string& op, int64_t statement_id);
// Reject ends pending request |id| with |reason|; one rejection is enough.
Result<Decision> Reject(Connection& conn, int64_t id, const std::string& op,
                        const std::string& reason, int64_t statement_id);

// What an operator decides on: the request as it will be issued.
struct DecisionView {
  int64_t id = 0;
  std::string state;
  std::string profile;
  std::string profile_hash;  // 32 raw bytes
  int64_t ca_id = 0;
  std::string ca_label;
  std::string subject;
  std::string subject_der;
  std::string sans_json;
  std::string csr_der;
  std::string submitted_by;
};
// DecisionViews reads |ids| (those that exist, in id order); |lock| takes them FOR UPDATE
// inside the caller's transaction.
Result<std::vector<DecisionView>> DecisionViews(Connection& conn, std::span<const int64_t> ids,
                                                bool lock);
// PendingIds lists pending requests of |profile| (all profiles if empty), oldest first.
Result<std::vector<int64_t>> PendingIds(Connection& conn, const std::string& profile,
                                        int64_t after_id, int limit);

struct ClaimedRequest {
  int64_t id = 0;
  int64_t fence = 0;
  std::string profile;
  std::string profile_hash;  // 32 raw bytes
  int64_t ca_id = 0;
  std::string subject;
  std::string subject_der;
  std::string sans_json;
  std::string csr_der;
  int retries = 0;
  bool reclaimed = false;  // taken over from a claimer whose lease ran out
};

// When ClaimRequests looks for requests whose claimer's lease ran out.
enum class ExpiredLeases {
  kFirst,   // before approved ones (a crashed scheduler's work goes first)
  kIfRoom,  // only when the approved ones leave room in the claim (a backlog's end)
};

// ClaimRequests claims up to |limit| requests of |profiles| that are approved, or issuing
// with an expired lease (a crashed scheduler's), with SELECT ... FOR UPDATE SKIP LOCKED so
// that concurrent schedulers never claim the same row. Commits before returning: the claim
// is durable before any signing starts.
Result<std::vector<ClaimedRequest>> ClaimRequests(Connection& conn,
                                                  const std::vector<std::string>& profiles,
                                                  int limit, const std::string& claimer,
                                                  int lease_seconds,
                                                  ExpiredLeases expired = ExpiredLeases::kFirst);

// CountClaimable counts what ClaimRequests could claim now for |profiles|: approved requests
// and those whose claimer's lease ran out (from ix_requests_queue alone: 0.1 s per 300,000).
Result<int64_t> CountClaimable(Connection& conn, const std::vector<std::string>& profiles);

// OwnedClaims returns, locked FOR UPDATE inside the caller's transaction, which of |claims|
// (id, fence) this claimer still holds.
Result<std::vector<int64_t>> OwnedClaims(Connection& conn,
                                         const std::vector<std::pair<int64_t, int64_t>>& claims,
                                         const std::string& claimer);
// MarkIssued / MarkFailed complete owned requests (caller's transaction).
[[nodiscard]] Status MarkIssued(Connection& conn, const std::vector<int64_t>& ids);
[[nodiscard]] Status MarkFailed(Connection& conn, int64_t id, const std::string& reason);
// ReleaseClaims gives the requests this claimer still holds back (state approved), for a
// clean stop.
Result<int64_t> ReleaseClaims(Connection& conn, const std::string& claimer);

struct StateCount {
  std::string state;
  std::string profile;
  int64_t count = 0;
};
Result<std::vector<StateCount>> CountRequests(Connection& conn);

// InClause returns "(?,?,...)" with |n| placeholders.
std::string InClause(size_t n);

}  // namespace certpress::store
