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

// The sizes of the requests columns that input fills. They are checked where input enters
// (CheckRequestLimits, called by the CSV importer and CSR submission with the file and
// position), never met by truncation: strict SQL mode refuses an over-long value, and no
// statement here uses INSERT IGNORE, which would silently cut it.
inline constexpr size_t kNaturalKeyMaxChars = 200;    // natural_key VARCHAR(200)
inline constexpr size_t kSubjectMaxChars = 2048;      // subject VARCHAR(2048)
inline constexpr size_t kSubjectDerMaxBytes = 4096;   // subject_der VARBINARY(4096)
inline constexpr size_t kSansJsonMaxBytes = 65535;    // sans_json TEXT
inline constexpr size_t kFieldsJsonMaxBytes = 65535;  // fields_json (MEDIUMTEXT; kept small)
// A CSR larger than this is refused at submission (csr_der is a BLOB of 65,535 bytes; an
// RSA-4096 CSR with many SANs is under 4 KiB, so 32 KiB leaves room and refuses nonsense).
inline constexpr size_t kCsrMaxBytes = 32 * 1024;

// CheckRequestLimits checks |row| against the column sizes above. The error names the value
// and its size and the limit; |what| (optional) gets which value: "natural_key", "subject",
// "sans", "fields" or "csr".
[[nodiscard]] Status CheckRequestLimits(const NewRequest& row, std::string* what = nullptr);

struct InsertOutcome {
  size_t created = 0;
  size_t existing = 0;  // same profile and natural key, same content: already present
  // Rows whose (profile, natural key) is taken by a request with different content: the
  // index in |rows| and why. Nothing is stored for them.
  std::vector<std::pair<size_t, std::string>> conflicts;
};

// InsertRequests stores |rows| (inside the caller's transaction). A row whose (profile,
// natural_key) already exists is compared with the stored request: identical (CA, subject,
// SANs, fields, CSR) counts as existing, anything else is a conflict; nothing is silently
// skipped. A row over a column's size is invalid input for the whole call (check at intake).
Result<InsertOutcome> InsertRequests(Connection& conn, std::span<const NewRequest> rows);
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
// PastApproval is a request in a state reached only through approval (approved, issuing,
// issued, and what follows), with the number of distinct approvals its row says it needed.
struct PastApproval {
  DecisionView view;
  int approvals_needed = 0;
};
// PastApprovals pages through such requests with ids above |after_id|, in id order.
Result<std::vector<PastApproval>> PastApprovals(Connection& conn, int64_t after_id, int limit);
struct ApprovalRow {
  int64_t request_id = 0;
  std::string op;
  int64_t statement_id = 0;  // 0: none (an unsigned decision of schema < 6)
};
// ApprovalsOf lists the approvals (not rejections) recorded for |ids|.
Result<std::vector<ApprovalRow>> ApprovalsOf(Connection& conn, std::span<const int64_t> ids);
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
// Requests taken over from an expired lease are audited in the claim's transaction
// ("request.lease-takeover", one entry per claim listing the ids and former claimers) as
// |actor| (the claimer if empty).
Result<std::vector<ClaimedRequest>> ClaimRequests(Connection& conn,
                                                  const std::vector<std::string>& profiles,
                                                  int limit, const std::string& claimer,
                                                  int lease_seconds,
                                                  ExpiredLeases expired = ExpiredLeases::kFirst,
                                                  const std::string& actor = "");

// RenewLeases extends, to |lease_seconds| from now, the lease of every request |claimer|
// still holds (state issuing, claimed_by unchanged: a takeover changes claimed_by and the
// fence, so a request taken over is never renewed). Runs in its own short transaction;
// returns how many leases it extended.
Result<int64_t> RenewLeases(Connection& conn, const std::string& claimer, int lease_seconds);

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
// FailedRequest is what a retry rebuilds a failed request from.
struct FailedRequest {
  int64_t id = 0;
  std::string state;
  std::string profile;
  int64_t ca_id = 0;
  std::string fields_json;
  std::string csr_der;
  std::string reason;
};
// LoadRequestsForRetry reads, locked FOR UPDATE in the caller's transaction, the requests of
// |ids| that exist (any state: the caller refuses those not failed).
Result<std::vector<FailedRequest>> LoadRequestsForRetry(Connection& conn,
                                                        std::span<const int64_t> ids);
// ResetForRetry puts failed request |id| back with |row|'s rebuilt content and pinned profile
// hash: approved when row.approvals_needed is 0, else pending with its approvals cleared (a
// fresh decision is needed). A request that is no longer failed is a conflict.
[[nodiscard]] Status ResetForRetry(Connection& conn, int64_t id, const NewRequest& row);

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
