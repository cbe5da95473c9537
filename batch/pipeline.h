// pipeline.h: the TBB issuance pipeline. One run claims approved requests in chunks and takes
// each chunk through
//
//   claim (serial) -> keys (parallel) -> encode (parallel) -> record intent (serial)
//   -> sign (parallel) -> package (parallel) -> persist (serial, in order)
//
// Tokens are chunks of a few hundred requests, so database round trips are per chunk, and
// the parallel stages also split a chunk across workers. Per-request failures ride in the
// token as a Status (nothing throws through TBB); the request ends `failed` with its reason
// while the chunk goes on. An HSM or database outage stops the run: no new chunks are
// claimed, chunks in flight are abandoned, and this run's claims are released (or, if the
// database is gone, left to expire and be claimed again).
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "cardprofiles/profile.h"
#include "common/status.h"
#include "signer/token.h"
#include "store/db.h"

namespace certpress::batch {

struct BatchOptions {
  std::string claimer;  // unique per run: host:pid:random
  std::string actor;    // for the audit log
  int threads = 0;      // 0: one per core
  // 512: each chunk costs three commits and a dozen statements; against 256 it issued 8%
  // more per second (CSRs and server keys alike), against 1024 no more (docs/BENCHMARKS.md).
  int chunk_size = 512;
  int tokens = 0;     // chunks in flight; 0: 3 per thread
  int64_t limit = 0;  // requests to claim at most; 0: all
  int lease_seconds = 300;
  std::string kek_label = "certpress-kek";
  // Where the run's audit checkpoints are appended besides the database (none if empty): one at
  // the end of the run, and one whenever the run has appended |checkpoint_every| audit entries
  // since its last (a long run's head is pinned as it goes, not only when it ends).
  std::string checkpoint_file;
  int checkpoint_every = 1000;
  const std::atomic<bool>* stop = nullptr;  // finish in-flight chunks, claim no more
  // After each persisted chunk, with the counts so far.
  std::function<void(const struct BatchSummary&)> on_progress;
};

struct BatchSummary {
  int64_t run_id = 0;
  // What the run expects to claim: the claimable requests when it started, at most |limit|
  // (other schedulers may take some of them). For progress and its ETA.
  int64_t expected = 0;
  int64_t claimed = 0;
  int64_t issued = 0;
  int64_t failed = 0;
  int64_t released = 0;  // claims given back on a stop or an outage
  double seconds = 0;
  Status fatal;  // the outage that stopped the run, if any
};

// RunBatch runs one batch with its own database connections.
Result<BatchSummary> RunBatch(const profiles::ProfileSet& profiles, CryptoToken& token,
                              const store::DbConfig& db, const BatchOptions& options);

// DefaultClaimer returns "host:pid:random".
std::string DefaultClaimer();

}  // namespace certpress::batch
