// runs.h: the run repository: one row per batch run (who ran it, when, how many requests it
// claimed, issued and failed, how it ended), for `certpress status` and operators' reports.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "store/db.h"

namespace certpress::store {

// StartRun records a run of |claimer| starting now; returns its id.
Result<int64_t> StartRun(Connection& conn, const std::string& claimer);

struct RunOutcome {
  int64_t claimed = 0;
  int64_t issued = 0;
  int64_t failed = 0;
  int64_t certs_per_s = 0;
  std::string outcome;  // "done", "stopped" or "failed"
  std::string message;  // why it failed, else empty
};
// FinishRun records how run |id| ended.
[[nodiscard]] Status FinishRun(Connection& conn, int64_t id, const RunOutcome& outcome);

struct RunRecord {
  int64_t id = 0;
  std::string claimed_by;
  std::string started_at;  // "YYYY-MM-DD HH:MM:SS", UTC
  RunOutcome result;       // outcome "running" while it runs
};
// RecentRuns returns the newest |limit| runs, newest first.
Result<std::vector<RunRecord>> RecentRuns(Connection& conn, int limit);

}  // namespace certpress::store
