#include "scheduler/cron.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string>
#include <vector>

namespace certpress::scheduler {

namespace {

struct FieldDef {
  const char* name;
  int lo, hi;
  const char* const* names;  // value names, indexed from lo (or null)
};

constexpr const char* kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                   "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr const char* kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

const FieldDef kFields[5] = {
    {"minute", 0, 59, nullptr}, {"hour", 0, 23, nullptr},     {"day-of-month", 1, 31, nullptr},
    {"month", 1, 12, kMonths},  {"day-of-week", 0, 7, kDays},
};

Result<int> Value(std::string_view s, const FieldDef& f) {
  if (f.names != nullptr && s.size() == 3 && std::isalpha(static_cast<unsigned char>(s[0]))) {
    std::string lower(s);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    int count = f.names == kMonths ? 12 : 7;
    for (int i = 0; i < count; ++i) {
      if (lower == f.names[i]) return f.lo + i;
    }
    return InvalidInput(std::string(f.name) + ": unknown name '" + std::string(s) + "'");
  }
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) {
    return InvalidInput(std::string(f.name) + ": '" + std::string(s) + "' is not a number");
  }
  if (v < f.lo || v > f.hi) {
    return InvalidInput(std::string(f.name) + ": " + std::to_string(v) + " is outside " +
                        std::to_string(f.lo) + "-" + std::to_string(f.hi));
  }
  return v;
}

// ParseField sets bits[v] for each value the field names.
Status ParseField(std::string_view text, const FieldDef& f, std::vector<bool>* bits) {
  bits->assign(static_cast<size_t>(f.hi + 1), false);
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(start, comma - start);
    if (item.empty()) return InvalidInput(std::string(f.name) + ": empty list element");
    int step = 1;
    const bool has_step = item.find('/') != std::string_view::npos;
    if (size_t slash = item.find('/'); slash != std::string_view::npos) {
      std::string_view st = item.substr(slash + 1);
      auto [p, ec] = std::from_chars(st.data(), st.data() + st.size(), step);
      if (ec != std::errc() || p != st.data() + st.size() || step < 1 || step > f.hi) {
        return InvalidInput(std::string(f.name) + ": bad step '" + std::string(st) + "'");
      }
      item = item.substr(0, slash);
    }
    int lo, hi;
    if (item == "*") {
      lo = f.lo;
      hi = f.hi == 7 ? 6 : f.hi;  // '*' in day-of-week is 0-6
    } else if (size_t dash = item.find('-'); dash != std::string_view::npos) {
      CP_ASSIGN_OR_RETURN(lo, Value(item.substr(0, dash), f));
      CP_ASSIGN_OR_RETURN(hi, Value(item.substr(dash + 1), f));
      if (hi < lo)
        return InvalidInput(std::string(f.name) + ": range '" + std::string(item) +
                            "' runs backwards");
    } else {
      CP_ASSIGN_OR_RETURN(lo, Value(item, f));
      hi = lo;
      // "5/15" means from 5 to the end, every 15 (as Vixie cron reads it).
      if (has_step) hi = f.hi == 7 ? 6 : f.hi;
    }
    for (int v = lo; v <= hi; v += step) (*bits)[static_cast<size_t>(v)] = true;
    start = comma + 1;
  }
  return Status::Ok();
}

}  // namespace

Result<CronSchedule> CronSchedule::Parse(std::string_view expr) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < expr.size()) {
    while (i < expr.size() && std::isspace(static_cast<unsigned char>(expr[i]))) ++i;
    size_t j = i;
    while (j < expr.size() && !std::isspace(static_cast<unsigned char>(expr[j]))) ++j;
    if (j > i) parts.push_back(expr.substr(i, j - i));
    i = j;
  }
  if (parts.size() != 5) {
    return InvalidInput("cron expression '" + std::string(expr) + "' has " +
                        std::to_string(parts.size()) +
                        " fields; expected 5 (minute hour day-of-month month day-of-week)");
  }
  CronSchedule c;
  std::vector<bool> bits;
  CP_RETURN_IF_ERROR(ParseField(parts[0], kFields[0], &bits));
  for (int v = 0; v < 60; ++v) c.minutes_[v] = bits[v];
  CP_RETURN_IF_ERROR(ParseField(parts[1], kFields[1], &bits));
  for (int v = 0; v < 24; ++v) c.hours_[v] = bits[v];
  CP_RETURN_IF_ERROR(ParseField(parts[2], kFields[2], &bits));
  for (int v = 1; v <= 31; ++v) c.days_[v] = bits[v];
  CP_RETURN_IF_ERROR(ParseField(parts[3], kFields[3], &bits));
  for (int v = 1; v <= 12; ++v) c.months_[v] = bits[v];
  CP_RETURN_IF_ERROR(ParseField(parts[4], kFields[4], &bits));
  for (int v = 0; v <= 6; ++v) c.weekdays_[v] = bits[v];
  if (bits[7]) c.weekdays_[0] = true;  // 7 is Sunday too
  c.dom_star_ = parts[2] == "*";
  c.dow_star_ = parts[4] == "*";
  return c;
}

time_t CronSchedule::Next(time_t after) const {
  time_t t = after - after % 60 + 60;  // the next whole minute
  // Step a day, an hour or a minute at a time, whichever is the smallest unit that fails;
  // five years bound the search (an expression like "0 0 30 2 *" never matches).
  const time_t limit = after + 5L * 366 * 86400;
  while (t <= limit) {
    struct tm tm;
    gmtime_r(&t, &tm);
    bool dom = days_[tm.tm_mday], dow = weekdays_[tm.tm_wday];
    // Vixie cron: with both day fields restricted, either may match.
    bool day_ok = (dom_star_ || dow_star_) ? (dom && dow) : (dom || dow);
    if (!months_[tm.tm_mon + 1] || !day_ok) {
      t += 86400 - (tm.tm_hour * 3600 + tm.tm_min * 60);
      continue;
    }
    if (!hours_[tm.tm_hour]) {
      t += 3600 - tm.tm_min * 60;
      continue;
    }
    if (!minutes_[tm.tm_min]) {
      t += 60;
      continue;
    }
    return t;
  }
  return 0;
}

}  // namespace certpress::scheduler
