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

Result<AuditTrail> VerifyAuditTrail(store::Connection& db, CryptoToken& token,
                                    const std::string& checkpoint_file,
                                    const profiles::ProfileSet* profiles) {
  AuditTrail t;
  // The chain's hash is kept at each place a checkpoint names, as the walk passes it.
  CP_ASSIGN_OR_RETURN(auto seqs, kgs::CheckpointSeqs(db, checkpoint_file));
  std::map<int64_t, std::string> chain_at;
  for (int64_t s : seqs) chain_at[s];
  CP_ASSIGN_OR_RETURN(t.chain, store::VerifyAudit(db, &chain_at));
  CP_ASSIGN_OR_RETURN(
      t.checkpoints, kgs::VerifyCheckpoints(db, token, checkpoint_file, chain_at, t.chain.entries));
  CP_ASSIGN_OR_RETURN(t.decisions, ra::VerifyDecisions(db, profiles));
  t.problems = t.decisions.problems;
  // A letter's secret is wiped in the transaction that prints it: a second print can only
  // come from a sealed secret put back into the row (which the run-time account can write),
  // i.e. a second copy of a PIN or code.
  CP_ASSIGN_OR_RETURN(auto reprinted, store::RepeatedEvents(db, "pinletter.print"));
  for (const auto& [object, n] : reprinted) {
    t.problems.push_back(object + " was printed " + std::to_string(n) +
                         " times: its secret is wiped when printed, so it was put back");
  }
  t.problems.insert(t.problems.end(), t.checkpoints.problems.begin(), t.checkpoints.problems.end());
  return t;
}

}  // namespace certpress::batch
