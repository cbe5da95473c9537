// progress.h: a progress line for long commands: a bar with rate and ETA on a terminal,
// plain log lines (at most every few seconds) otherwise.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace certpress::app {

class Progress {
 public:
  Progress(std::string what, std::string unit);
  // Update reports |done| of |total| (total 0: unknown) plus a free-form |note|.
  void Update(int64_t done, int64_t total, const std::string& note = "");
  // Finish ends the line on a terminal.
  void Finish();

 private:
  std::string what_, unit_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_;
  bool drawn_ = false;
};

}  // namespace certpress::app
