// daemon.h: the scheduler loop: run a batch at start (optionally), then every interval or at
// each time a cron expression names, until asked to stop. A stop request lets the running
// batch finish its chunks in flight (the pipeline claims nothing new and releases what it
// holds) and then returns. It logs as component "scheduler" (common/log.h): its start, each
// run's start and outcome with the run id and counts, failures, and its stop.
#pragma once

#include <atomic>
#include <functional>
#include <optional>

#include "batch/pipeline.h"
#include "common/status.h"
#include "scheduler/cron.h"

namespace certpress::scheduler {

struct DaemonOptions {
  int interval_seconds = 3600;  // used when there is no cron schedule
  std::optional<CronSchedule> cron;
  bool run_now = false;
  int max_runs = 0;  // 0: until stopped
};

// RunOnce runs one batch and returns its summary (whose |fatal| says whether an outage stopped
// it), or an error if the run could not start (token, database, profiles).
using RunOnce = std::function<Result<batch::BatchSummary>()>;

// RunDaemon calls |run_once| on schedule and logs each run. A failed run is logged and the
// schedule goes on (the next run retries what is left), except when the token refused its PIN
// (ErrorKind::kLoginRefused): trying again every run would lock a real HSM's PIN and stop all
// issuance, so RunDaemon returns that error at once. Returns when |stop| is set.
Status RunDaemon(const DaemonOptions& options, const RunOnce& run_once,
                 const std::atomic<bool>& stop);

}  // namespace certpress::scheduler
