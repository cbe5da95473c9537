// retry.h: giving failed requests another chance. A request that failed (its profile changed
// since it was made, a CSR the key policy now refuses, an outage that outlived its retries)
// is otherwise an end: `certpress retry --ids` brings it back. The request is rebuilt from
// its stored fields against the profile as it stands now, pinning the profile's current
// hash, so a retry never issues what the old profile said; a profile that needs approval gets
// a fresh one (the request goes back to pending with its approvals cleared), a profile that
// needs none sends it straight back to approved. Each retry is audited in its transaction.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cardprofiles/profile.h"
#include "common/status.h"
#include "store/db.h"

namespace certpress::ra {

struct RetryTally {
  int64_t approved = 0;              // back in the queue
  int64_t pending = 0;               // waiting for a fresh approval
  std::vector<std::string> refused;  // one message per id not retried, and why
};

// RetryFailed retries the failed requests |ids| as |actor|, a page of 500 per transaction.
// An id that does not exist, is not failed, whose profile is gone or whose fields or CSR the
// current profile refuses is reported in |refused| and left as it is; the rest go on.
Result<RetryTally> RetryFailed(store::Connection& db, const profiles::ProfileSet& profiles,
                               const std::vector<int64_t>& ids, const std::string& actor);

}  // namespace certpress::ra
