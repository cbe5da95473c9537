#include "batch/report.h"

#include <cstdio>

#include "store/requests.h"

namespace certpress::batch {

std::string SummaryLine(const BatchSummary& r) {
  char timing[96];
  std::snprintf(timing, sizeof timing, " in %.2f s (%.0f certificates/s)", r.seconds,
                r.seconds > 0 ? r.issued / r.seconds : 0.0);
  std::string line = "run " + std::to_string(r.run_id) + ": issued " + std::to_string(r.issued) +
                     ", failed " + std::to_string(r.failed) + ", claimed " +
                     std::to_string(r.claimed) + timing;
  if (r.released) line += ", released " + std::to_string(r.released);
  return line;
}

Result<StatusReport> LoadStatus(store::Connection& db, int last_runs) {
  StatusReport report;
  for (const char* s : {store::kPending, store::kApproved, store::kIssuing, store::kIssued,
                        store::kFailed, store::kRejected, "delivered"}) {
    report.by_state[s] = 0;
  }
  CP_ASSIGN_OR_RETURN(auto counts, store::CountRequests(db));
  for (const auto& c : counts) {
    report.by_state[c.state] += c.count;
    report.by_profile[c.profile][c.state] += c.count;
  }
  CP_ASSIGN_OR_RETURN(report.runs, store::RecentRuns(db, last_runs));
  return report;
}

}  // namespace certpress::batch
