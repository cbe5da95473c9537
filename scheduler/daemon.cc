#include "scheduler/daemon.h"

#include <chrono>
#include <ctime>
#include <thread>

namespace certpress::scheduler {

namespace {
std::string Utc(time_t t) {
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}
}  // namespace

Status RunDaemon(const DaemonOptions& opt, const std::function<Status()>& run_once,
                 const std::atomic<bool>& stop, std::ostream& log) {
  if (!opt.cron && opt.interval_seconds < 1) {
    return InvalidInput("the interval must be at least one second");
  }
  auto next_after = [&](time_t t) -> time_t {
    return opt.cron ? opt.cron->Next(t) : t + opt.interval_seconds;
  };
  time_t next = opt.run_now ? time(nullptr) : next_after(time(nullptr));
  if (next == 0) return InvalidInput("the cron expression never matches");
  log << "scheduler: started; next run at " << Utc(next) << std::endl;
  int runs = 0;
  while (!stop.load()) {
    if (time(nullptr) < next) {
      // Short sleeps keep a SIGTERM answered within a fraction of a second.
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    log << "scheduler: run " << runs + 1 << " starting at " << Utc(time(nullptr)) << std::endl;
    Status st = run_once();
    if (!st.ok()) log << "scheduler: run failed: " << st.message() << std::endl;
    ++runs;
    if (st.kind() == ErrorKind::kLoginRefused) {
      log << "scheduler: stopping: the token refused the PIN, and another try could lock it"
          << std::endl;
      return st;
    }
    if (opt.max_runs > 0 && runs >= opt.max_runs) break;
    next = next_after(time(nullptr));
    if (next == 0) return InvalidInput("the cron expression has no further match");
    if (!stop.load()) log << "scheduler: next run at " << Utc(next) << std::endl;
  }
  log << "scheduler: stopped" << (stop.load() ? " by signal" : "") << std::endl;
  return Status::Ok();
}

}  // namespace certpress::scheduler
