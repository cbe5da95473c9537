// report.h: what a run and the system say to an operator: a run's one-line summary, and the
// status report (requests per state and profile, the last runs) that `certpress status`
// prints and the web console will show.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "batch/pipeline.h"
#include "common/status.h"
#include "kgs/audit_keys.h"
#include "ra/decisions.h"
#include "signer/token.h"
#include "store/audit.h"
#include "store/db.h"
#include "store/runs.h"

namespace certpress::batch {

// SummaryLine: "run 7: issued 500, failed 0, claimed 500 in 0.21 s (2381 certificates/s)",
// with ", released N" when claims were given back.
std::string SummaryLine(const BatchSummary& summary);

struct StatusReport {
  // Every state, zero when no request is in it.
  std::map<std::string, int64_t> by_state;
  std::map<std::string, std::map<std::string, int64_t>> by_profile;  // profile -> state -> n
  std::vector<store::RunRecord> runs;                                // newest first
};

// LoadStatus reads the status report, with the |last_runs| newest runs.
Result<StatusReport> LoadStatus(store::Connection& db, int last_runs = 5);

// AuditTrail is everything `audit verify` checks, in one report: the keyed chain (in one
// snapshot), its signed checkpoints in the database and in |checkpoint_file|, and every
// operator's signed decision.
struct AuditTrail {
  store::AuditReport chain;
  kgs::CheckpointAudit checkpoints;
  ra::DecisionAudit decisions;
  std::vector<std::string> problems;  // checkpoints and decisions that do not verify

  bool intact() const { return chain.intact && problems.empty(); }
};
// |profiles| (may be null) tells how many approvals a request of a profile needs.
Result<AuditTrail> VerifyAuditTrail(store::Connection& db, CryptoToken& token,
                                    const std::string& checkpoint_file,
                                    const profiles::ProfileSet* profiles);

}  // namespace certpress::batch
