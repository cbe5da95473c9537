// cron.h: five-field cron expressions for the scheduler ("0 * * * *" = hourly).
#pragma once

#include <bitset>
#include <ctime>
#include <string_view>

#include "common/status.h"

namespace certpress::scheduler {

class CronSchedule {
 public:
  // Parse reads "minute hour day-of-month month day-of-week" with the usual forms: '*',
  // numbers, ranges 'a-b', steps '*/n' and 'a-b/n', comma lists, month names jan-dec and day
  // names sun-sat (case-insensitive), day-of-week 0-7 with 0 and 7 both Sunday. As in Vixie
  // cron, when both day-of-month and day-of-week are restricted (neither is '*') a day
  // matches if either matches. Errors name the field and the offending text.
  static Result<CronSchedule> Parse(std::string_view expr);

  // Next returns the first whole minute strictly after |after| that matches, in UTC.
  time_t Next(time_t after) const;

 private:
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1..31
  std::bitset<13> months_;   // 1..12
  std::bitset<7> weekdays_;  // 0..6, Sunday = 0
  bool dom_star_ = true;
  bool dow_star_ = true;
};

}  // namespace certpress::scheduler
