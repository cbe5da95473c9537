#include "scheduler/daemon.h"

#include <chrono>
#include <ctime>
#include <thread>

#include "common/log.h"

namespace certpress::scheduler {

namespace {

// Utc renders a scheduled time as RFC 3339 UTC, the log's own time format.
std::string Utc(time_t t) {
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// LogOutcome logs how run |n| ended: its run id and counts, at error if it failed.
void LogOutcome(const log::Logger& log, int n, const Result<batch::BatchSummary>& r, bool stopped) {
  if (!r.ok()) {
    log.Error("run failed", {{"n", n}, {"error", r.status().message()}});
    return;
  }
  const batch::BatchSummary& s = *r;
  if (!s.fatal.ok()) {
    log.Error("run failed", {{"n", n},
                             {"run", s.run_id},
                             {"outcome", "failed"},
                             {"claimed", s.claimed},
                             {"issued", s.issued},
                             {"failed", s.failed},
                             {"released", s.released},
                             {"error", s.fatal.message()}});
    return;
  }
  log.Info("run finished", {{"n", n},
                            {"run", s.run_id},
                            {"outcome", stopped ? "stopped" : "done"},
                            {"expected", s.expected},
                            {"claimed", s.claimed},
                            {"issued", s.issued},
                            {"failed", s.failed},
                            {"released", s.released},
                            {"seconds", s.seconds}});
}

}  // namespace

Status RunDaemon(const DaemonOptions& opt, const RunOnce& run_once, const std::atomic<bool>& stop) {
  const log::Logger log = log::Get("scheduler");
  if (!opt.cron && opt.interval_seconds < 1) {
    return InvalidInput("the interval must be at least one second");
  }
  auto next_after = [&](time_t t) -> time_t {
    return opt.cron ? opt.cron->Next(t) : t + opt.interval_seconds;
  };
  time_t next = opt.run_now ? time(nullptr) : next_after(time(nullptr));
  if (next == 0) return InvalidInput("the cron expression never matches");
  log.Info("started", {{"next_run", Utc(next)}});
  int runs = 0;
  while (!stop.load()) {
    if (time(nullptr) < next) {
      // Short sleeps keep a SIGTERM answered within a fraction of a second.
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    ++runs;
    log.Info("run starting", {{"n", runs}});
    const Result<batch::BatchSummary> r = run_once();
    LogOutcome(log, runs, r, stop.load());
    const Status& failure = r.ok() ? r->fatal : r.status();
    if (failure.kind() == ErrorKind::kLoginRefused) {
      log.Error("stopping: the token refused the PIN, and another try could lock it",
                {{"n", runs}, {"error", failure.message()}});
      return failure;
    }
    if (opt.max_runs > 0 && runs >= opt.max_runs) break;
    next = next_after(time(nullptr));
    if (next == 0) return InvalidInput("the cron expression has no further match");
    if (!stop.load()) log.Info("next run", {{"at", Utc(next)}});
  }
  log.Info(stop.load() ? "stopped by signal" : "stopped", {{"runs", runs}});
  return Status::Ok();
}

}  // namespace certpress::scheduler
