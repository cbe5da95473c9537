// log.cc: the one place that includes spdlog. Lines are rendered here (text or JSON) and
// handed to one spdlog logger whose pattern is the bare message; spdlog owns the sink (stderr
// or a file), serialises writers and flushes each line, so a line is complete in the file
// when the call returns (a collector tailing it, or a test reading it after SIGTERM, sees it).
#include "common/log.h"

#include <spdlog/logger.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <array>
#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

namespace certpress::log {

namespace {

constexpr std::array<std::string_view, 5> kLevelNames = {"trace", "debug", "info", "warn", "error"};
// The members every JSON line has; a field of the same name is written as "_<name>".
constexpr std::array<std::string_view, 4> kReserved = {"time", "level", "component", "msg"};

spdlog::level::level_enum SpdLevel(Level level) {
  switch (level) {
    case Level::kTrace:
      return spdlog::level::trace;
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
  }
  return spdlog::level::err;
}

std::shared_ptr<spdlog::logger> MakeSink(const std::string& file) {
  spdlog::sink_ptr sink;
  if (file.empty()) {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  } else {
    sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(file, /*truncate=*/false);
  }
  auto out = std::make_shared<spdlog::logger>("certpress", std::move(sink));
  out->set_pattern("%v");
  // Levels are filtered in Logger::Enabled; spdlog writes and flushes whatever it is given.
  out->set_level(spdlog::level::trace);
  out->flush_on(spdlog::level::trace);
  return out;
}

// The process-wide configuration. The level and format are read on every call without a
// lock; the sink is swapped under |mu| and copied out of it by each writer.
struct State {
  std::atomic<int> level{static_cast<int>(Level::kWarn)};
  std::atomic<int> format{static_cast<int>(Format::kText)};
  std::mutex mu;
  std::shared_ptr<spdlog::logger> out = MakeSink("");
};

State& TheState() {
  static State* state = new State();  // never destroyed: threads may log during exit
  return *state;
}

std::string Rfc3339Millis(int64_t time_ms) {
  const time_t secs = static_cast<time_t>(time_ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(time_ms % 1000));
  return buf;
}

// Dump serialises without throwing: invalid UTF-8 becomes U+FFFD rather than an exception.
std::string Dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

nlohmann::ordered_json JsonValue(const Field::Value& v) {
  return std::visit([](const auto& x) { return nlohmann::ordered_json(x); }, v);
}

bool NeedsQuotes(std::string_view s) {
  if (s.empty()) return true;
  for (unsigned char c : s) {
    if (c <= ' ' || c == '"' || c == '=' || c == 0x7f) return true;
  }
  return false;
}

// TextValue renders a field value for the text format: numbers and bare words as they are,
// other strings as JSON strings.
std::string TextValue(const Field::Value& v) {
  if (const auto* s = std::get_if<std::string_view>(&v)) {
    return NeedsQuotes(*s) ? Dump(nlohmann::ordered_json(*s)) : std::string(*s);
  }
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  return Dump(JsonValue(v));
}

// AppendEscaped keeps a text message on one line: control characters become \n, \r, \t or
// \u00XX. Other bytes (UTF-8 included) pass through.
void AppendEscaped(std::string& out, std::string_view msg) {
  for (unsigned char c : msg) {
    if (c >= ' ' && c != 0x7f) {
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    }
  }
}

}  // namespace

std::string_view LevelName(Level level) {
  return kLevelNames[static_cast<size_t>(level)];
}

Result<Level> ParseLevel(std::string_view text) {
  for (size_t i = 0; i < kLevelNames.size(); ++i) {
    if (text == kLevelNames[i]) return static_cast<Level>(i);
  }
  return InvalidInput("log level must be trace, debug, info, warn or error, not '" +
                      std::string(text) + "'");
}

Result<Format> ParseFormat(std::string_view text) {
  if (text == "text") return Format::kText;
  if (text == "json") return Format::kJson;
  return InvalidInput("log format must be text or json, not '" + std::string(text) + "'");
}

Status Configure(const Config& config) {
  // spdlog would create missing directories; a mistyped path should fail instead.
  if (!config.file.empty()) {
    const std::filesystem::path dir = std::filesystem::path(config.file).parent_path();
    std::error_code ec;
    if (!dir.empty() && !std::filesystem::is_directory(dir, ec)) {
      return InvalidInput("cannot open log file " + config.file + ": no directory " + dir.string());
    }
  }
  std::shared_ptr<spdlog::logger> out;
  try {
    out = MakeSink(config.file);
  } catch (const std::exception& e) {
    // spdlog reports a file it cannot open by throwing spdlog_ex.
    return InvalidInput("cannot open log file " + config.file + ": " + e.what());
  }
  State& st = TheState();
  {
    std::lock_guard<std::mutex> lock(st.mu);
    st.out = std::move(out);
  }
  st.level.store(static_cast<int>(config.level));
  st.format.store(static_cast<int>(config.format));
  return Status::Ok();
}

std::string FormatLine(Format format, int64_t time_ms, Level level, std::string_view component,
                       std::string_view msg, Fields fields) {
  if (format == Format::kJson) {
    nlohmann::ordered_json j;
    j["time"] = Rfc3339Millis(time_ms);
    j["level"] = LevelName(level);
    j["component"] = component;
    j["msg"] = msg;
    for (const Field& f : fields) {
      std::string key(f.key);
      for (std::string_view r : kReserved) {
        if (f.key == r) key = "_" + key;
      }
      j[key] = JsonValue(f.value);
    }
    return Dump(j);
  }
  std::string line = Rfc3339Millis(time_ms);
  line += ' ';
  line += LevelName(level);
  line += ' ';
  line += component;
  line += ": ";
  AppendEscaped(line, msg);
  for (const Field& f : fields) {
    line += ' ';
    line += f.key;
    line += '=';
    line += TextValue(f.value);
  }
  return line;
}

bool Logger::Enabled(Level level) const {
  return static_cast<int>(level) >= TheState().level.load(std::memory_order_relaxed);
}

void Logger::Log(Level level, std::string_view msg, Fields fields) const {
  if (!Enabled(level)) return;
  State& st = TheState();
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  const std::string line =
      FormatLine(static_cast<Format>(st.format.load()), now_ms, level, component_, msg, fields);
  std::shared_ptr<spdlog::logger> out;
  {
    std::lock_guard<std::mutex> lock(st.mu);
    out = st.out;
  }
  try {
    out->log(SpdLevel(level), spdlog::string_view_t(line.data(), line.size()));
  } catch (const std::exception&) {
    // A log line that cannot be written (disk full) must not take the run down with it.
  }
}

Logger Get(std::string_view component) {
  return Logger(std::string(component));
}

}  // namespace certpress::log
