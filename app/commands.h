// commands.h: the command table. Each command declares its own options and a run function.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "app/context.h"

namespace certpress::app {

struct Command {
  std::string name;     // "ca create-root"
  std::string summary;  // one line for `certpress --help`
  std::string usage;    // positional arguments, e.g. "LABEL"
  std::function<void(po::options_description&, po::positional_options_description&)> options;
  std::function<CommandResult(Context&)> run;
};

void AddDbCommands(std::vector<Command>& out);
void AddCaCommands(std::vector<Command>& out);
void AddAuditCommands(std::vector<Command>& out);
void AddBatchCommands(std::vector<Command>& out);
void AddCertCommands(std::vector<Command>& out);
void AddTokenCommands(std::vector<Command>& out);

// ResolveCa returns the id of the active CA named by --ca, else by the profile; errors say
// which is missing.
Result<int64_t> ResolveCa(Context& ctx, const profiles::CardProfile& profile);

// CaChain returns the DER certificate of CA |ca_id| followed by its issuers up to the root
// (and the chain imported with an offline root, without repeats). A CA that has no
// certificate yet is an error.
Result<std::vector<std::string>> CaChain(store::Connection& db, int64_t ca_id);

}  // namespace certpress::app
