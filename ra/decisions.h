// decisions.h: operators' decisions on pending requests. Approve and reject a list of ids, or
// every pending request of a profile, a page of 500 per transaction, each decision audited
// in the transaction that makes it; dual control (approvals_needed distinct operators) is the
// store's ApproveMany. Each id gets its own answer: a refusal (not found, not pending, already
// approved by this operator) is reported while the rest go on.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/db.h"

namespace certpress::ra {

struct DecisionRequest {
  bool approve = true;
  std::string op;              // the deciding operator
  std::string reason;          // required to reject
  std::vector<int64_t> ids;    // these requests, or
  std::string all_of_profile;  // every pending request of this profile (ids empty)
};

struct DecisionTally {
  int64_t approved = 0;  // now approved
  int64_t waiting = 0;   // approved by |op|, waiting for another operator
  int64_t rejected = 0;
  std::vector<std::string> refused;  // one message per refused id
};

// Decide applies |req|. |on_page| (optional) sees the running tally after each page.
Result<DecisionTally> Decide(store::Connection& db, const DecisionRequest& req,
                             const std::function<void(const DecisionTally&)>& on_page = {});

// ParseIds reads "1,2,7-9" (ranges of at most a million ids).
Result<std::vector<int64_t>> ParseIds(const std::string& text);

}  // namespace certpress::ra
