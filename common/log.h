// log.h: logging for long-running commands (the scheduler now, the station and the web server
// later): levels, a logger per component, structured fields, text or JSON lines, to stderr or a
// file. A thin wrapper over spdlog, which does the sinks, the locking and the flushing; nothing
// else includes spdlog headers.
//
// NEVER LOG A SECRET. No message and no field may hold a PIN, PUK, password, token or key, nor
// text derived from one. This API takes no SecureString (the Field constructor for one is
// deleted) so that a secret cannot arrive here without an explicit `.str()`, which review
// refuses. Log ids (run, request, card), counts, names and status messages; status messages
// name files and labels, never their contents.
//
// A line is one of
//   text: 2025-03-01T12:00:00.123Z info scheduler: run finished run=17 issued=50 error="a b"
//   json: {"time":"2025-03-01T12:00:00.123Z","level":"info","component":"scheduler",
//          "msg":"run finished","run":17,"issued":50}
// (the JSON form on one line). Times are RFC 3339 UTC with milliseconds. In text, a string
// value with spaces, quotes, '=' or control characters is quoted and escaped as a JSON string,
// and control characters in the message are escaped, so one call is always one line.
#pragma once

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "common/bytes.h"
#include "common/status.h"

namespace certpress::log {

enum class Level { kTrace, kDebug, kInfo, kWarn, kError };
enum class Format { kText, kJson };

// LevelName returns "trace", "debug", "info", "warn" or "error".
std::string_view LevelName(Level level);
// ParseLevel reads a LevelName; anything else is an InvalidInput naming the choices.
Result<Level> ParseLevel(std::string_view text);
// ParseFormat reads "text" or "json"; anything else is an InvalidInput naming the choices.
Result<Format> ParseFormat(std::string_view text);

struct Config {
  Level level = Level::kWarn;
  Format format = Format::kText;
  std::string file;  // appended to; empty: stderr
};

// Configure sets the level, format and destination of every logger, those already obtained
// from Get included. Until it is called, lines at warn and above go to stderr as text. Call it
// before starting threads that log; lines written while it runs may go to either destination.
// Fails (and changes nothing) if the file cannot be opened for appending.
Status Configure(const Config& config);

// Field is one structured value of a line: Field{"run", 17}, {"claimer", name}. Keys are
// lower_snake_case. A Field refers to its key and string value without copying them: build
// fields in the logging call itself, as a braced list.
struct Field {
  using Value = std::variant<int64_t, uint64_t, double, bool, std::string_view>;

  template <std::integral T>
  requires(!std::same_as<T, bool>) Field(std::string_view k, T v) : key(k) {
    if constexpr (std::is_signed_v<T>) {
      value = static_cast<int64_t>(v);
    } else {
      value = static_cast<uint64_t>(v);
    }
  }
  Field(std::string_view k, bool v) : key(k), value(v) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  // Secrets are never logged (the rule at the top of this file).
  Field(std::string_view k, const SecureString& v) = delete;

  std::string_view key;
  Value value;
};

using Fields = std::initializer_list<Field>;

// Logger writes the lines of one component ("scheduler", "batch", "station", "web"). Cheap to
// copy; safe to use from several threads at once.
class Logger {
 public:
  explicit Logger(std::string component) : component_(std::move(component)) {}

  const std::string& component() const { return component_; }
  // Enabled reports whether a line at |level| would be written, for callers that would
  // otherwise compute fields for nothing.
  bool Enabled(Level level) const;

  void Log(Level level, std::string_view msg, Fields fields = {}) const;
  void Trace(std::string_view msg, Fields fields = {}) const { Log(Level::kTrace, msg, fields); }
  void Debug(std::string_view msg, Fields fields = {}) const { Log(Level::kDebug, msg, fields); }
  void Info(std::string_view msg, Fields fields = {}) const { Log(Level::kInfo, msg, fields); }
  void Warn(std::string_view msg, Fields fields = {}) const { Log(Level::kWarn, msg, fields); }
  void Error(std::string_view msg, Fields fields = {}) const { Log(Level::kError, msg, fields); }

 private:
  std::string component_;
};

// Get returns the logger of |component|.
Logger Get(std::string_view component);

// FormatLine renders one line (without its newline) the way the configured sink writes it;
// |time_ms| is milliseconds since the Unix epoch. For tests.
std::string FormatLine(Format format, int64_t time_ms, Level level, std::string_view component,
                       std::string_view msg, Fields fields);

}  // namespace certpress::log
