#include "app/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

namespace certpress::app {

Progress::Progress(std::string what, std::string unit)
    : what_(std::move(what)),
      unit_(std::move(unit)),
      tty_(isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

void Progress::Update(int64_t done, int64_t total, const std::string& note) {
  auto now = std::chrono::steady_clock::now();
  double elapsed = std::chrono::duration<double>(now - start_).count();
  double since = std::chrono::duration<double>(now - last_).count();
  if (tty_ ? since < 0.1 : since < 5.0) return;
  last_ = now;
  double rate = elapsed > 0 ? done / elapsed : 0;
  char eta[32] = "?";
  if (total > 0 && rate > 0) {
    // Requests approved during a run can take |done| past the |total| counted at its start.
    std::snprintf(eta, sizeof eta, "%.0fs", std::max<int64_t>(total - done, 0) / rate);
  }
  if (tty_) {
    int width = 30;
    int filled = total > 0 ? static_cast<int>(width * done / std::max<int64_t>(total, 1)) : 0;
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(static_cast<size_t>(width), ' ');
    std::fprintf(stderr, "\r%s [%s] %lld/%lld %s, %.0f %s/s, ETA %s %s  ", what_.c_str(),
                 bar.c_str(), static_cast<long long>(done), static_cast<long long>(total),
                 unit_.c_str(), rate, unit_.c_str(), eta, note.c_str());
    drawn_ = true;
  } else {
    std::string of = total > 0 ? "/" + std::to_string(total) : "";
    std::fprintf(stderr, "%s: %lld%s %s, %.0f %s/s, ETA %s %s\n", what_.c_str(),
                 static_cast<long long>(done), of.c_str(), unit_.c_str(), rate, unit_.c_str(), eta,
                 note.c_str());
  }
  std::fflush(stderr);
}

void Progress::Finish() {
  if (tty_ && drawn_) std::fprintf(stderr, "\n");
}

}  // namespace certpress::app
