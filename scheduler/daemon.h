// daemon.h: the scheduler loop: run a batch at start (optionally), then every interval or at
// each time a cron expression names, until asked to stop. A stop request lets the running
// batch finish its chunks in flight (the pipeline claims nothing new and releases what it
// holds) and then returns.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <ostream>

#include "common/status.h"
#include "scheduler/cron.h"

namespace certpress::scheduler {

struct DaemonOptions {
  int interval_seconds = 3600;  // used when there is no cron schedule
  std::optional<CronSchedule> cron;
  bool run_now = false;
  int max_runs = 0;  // 0: until stopped
};

// RunDaemon calls |run_once| on schedule and logs each run to |log|. A failed run is logged
// and the schedule goes on (the next run retries what is left), except when the token refused
// its PIN (ErrorKind::kLoginRefused): trying again every run would lock a real HSM's PIN and
// stop all issuance, so RunDaemon returns that error at once. Returns when |stop| is set.
Status RunDaemon(const DaemonOptions& options, const std::function<Status()>& run_once,
                 const std::atomic<bool>& stop, std::ostream& log);

}  // namespace certpress::scheduler
