// decisions.h: operators' decisions on pending requests. Each page of up to 500 requests is
// one statement, signed with the operator's key, that names every request by id and by the
// hash of what it will issue (profile and its hash, signing CA, subject, SANs, CSR); the
// statement is verified against the operator's registered certificate before anything counts,
// each request is checked to still be what was signed, and the statement is kept for later
// verification (`audit verify`). Dual control counts distinct registered operators; where the
// profile says so the operator who submitted a request may not approve it. Each id gets its own
// answer: a refusal (not found, not pending, changed since listed, already approved by this
// operator, own submission) is reported while the rest go on.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cardprofiles/profile.h"
#include "common/status.h"
#include "signer/operator_key.h"
#include "store/db.h"
#include "store/requests.h"

namespace certpress::ra {

struct DecisionRequest {
  bool approve = true;
  std::string op;               // the deciding operator (a registered name)
  StatementKey* key = nullptr;  // the operator's key; not needed for a dry run
  std::string reason;           // required to reject
  std::vector<int64_t> ids;     // these requests, or
  std::string all_of_profile;   // every pending request of this profile (ids empty)
  const profiles::ProfileSet* profiles = nullptr;  // for the submitter rule
  bool dry_run = false;                            // list what would be signed; decide nothing
};

// Listed is one request as the operator decides on it.
struct Listed {
  int64_t id = 0;
  std::string profile;
  std::string ca;  // the signing CA's label
  std::string subject;
  std::string sans_json;
  std::string content_hash;  // hex SHA-256 of what will be issued
};

struct DecisionTally {
  int64_t approved = 0;  // now approved
  int64_t waiting = 0;   // approved by |op|, waiting for another operator
  int64_t rejected = 0;
  std::vector<std::string> refused;  // one message per refused id
  std::vector<Listed> listed;        // a dry run's listing
};

// Decide applies |req|. |on_page| (optional) sees the running tally after each page.
Result<DecisionTally> Decide(store::Connection& db, const DecisionRequest& req,
                             const std::function<void(const DecisionTally&)>& on_page = {});

// ParseIds reads "1,2,7-9" (ranges of at most a million ids).
Result<std::vector<int64_t>> ParseIds(const std::string& text);

// ContentHash is the hex SHA-256 of what request |v| will issue: profile, profile hash,
// signing CA, subject, SANs and CSR, each length-prefixed.
std::string ContentHash(const store::DecisionView& v);

// A decision statement, as signed.
struct Statement {
  std::string decision;  // "approve" or "reject"
  std::string op;
  std::string time;  // UTC, "YYYY-MM-DD HH:MM:SS"
  std::string reason;
  std::vector<std::pair<int64_t, std::string>> requests;  // id, content hash (hex)
};
std::string FormatStatement(const Statement& s);
Result<Statement> ParseStatement(std::string_view text);

struct DecisionAudit {
  int64_t statements = 0;
  int64_t decisions = 0;          // approvals and rejections covered by verified statements
  int64_t unsigned_legacy = 0;    // decisions recorded before operators signed (schema < 6)
  int64_t approved_requests = 0;  // requests past approval whose approvals were recounted
  std::vector<std::string> problems;
};
// VerifyDecisions checks every stored statement again: its signature against the operator's
// registered certificate, its operator, and that every decision recorded under it is one the
// statement names, with the same decision. Then it recounts, for every request past approval,
// the distinct operators whose verified statements approved its present content, against
// what it needed (its row, and |profiles|' profile where the request still pins it; null:
// the row alone), with the submitter rule.
Result<DecisionAudit> VerifyDecisions(store::Connection& db,
                                      const profiles::ProfileSet* profiles = nullptr);

}  // namespace certpress::ra
