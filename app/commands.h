// commands.h: the command table. Each command declares its own options and a run function.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "app/context.h"
#include "common/log.h"

namespace certpress::app {

struct Command {
  std::string name;     // "ca create-root"
  std::string summary;  // one line for `certpress --help`
  std::string usage;    // positional arguments, e.g. "LABEL"
  std::function<void(po::options_description&, po::positional_options_description&)> options;
  std::function<CommandResult(Context&)> run;
  // The log level unless --log-level says otherwise: info for long-running commands, warn for
  // short ones, whose results are their stdout line and whose errors are their stderr line.
  log::Level log_level = log::Level::kWarn;
};

void AddDbCommands(std::vector<Command>& out);
void AddCaCommands(std::vector<Command>& out);
void AddAuditCommands(std::vector<Command>& out);
void AddBatchCommands(std::vector<Command>& out);
void AddCertCommands(std::vector<Command>& out);
void AddTokenCommands(std::vector<Command>& out);
void AddOperatorCommands(std::vector<Command>& out);
void AddLintCommands(std::vector<Command>& out);
void AddWebCommands(std::vector<Command>& out);

// FailAbout fails with |s|, naming |file| where the problem is the file's content (invalid
// input); other failures (not found, conflict, HSM) speak for themselves.
inline CommandResult FailAbout(const Status& s, const std::string& file) {
  return Fail(s.kind() == ErrorKind::kInvalidInput ? s.Wrap(file) : s);
}
void AddRequestCommands(std::vector<Command>& out);
void AddStationCommands(std::vector<Command>& out);
void AddCardCommands(std::vector<Command>& out);  // card list, show, activate
void AddPinLetterCommands(std::vector<Command>& out);
void AddActivationCommands(std::vector<Command>& out);  // activation ..., mail ...

}  // namespace certpress::app
