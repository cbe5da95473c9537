// `certpress retry`: failed requests back into the queue, rebuilt against the current profile
// (ra/retry.h holds the rule; this file parses and prints).
#include "app/commands.h"
#include "ra/decisions.h"
#include "ra/retry.h"

namespace certpress::app {

namespace {

CommandResult Retry(Context& ctx) {
  auto ids = ra::ParseIds(ctx.Get<std::string>("ids"));
  if (!ids.ok()) return Usage("--ids: " + ids.status().message());
  if (ids->empty()) return Usage("--ids names no request");
  auto profiles = ctx.Profiles();
  if (!profiles.ok()) return Fail(profiles.status());
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  auto tally = ra::RetryFailed(**db, **profiles, *ids, ctx.Actor());
  if (!tally.ok()) return Fail(tally.status());
  for (const auto& r : tally->refused) std::cerr << r << "\n";
  ctx.out << tally->approved << " back to approved, " << tally->pending
          << " pending a fresh approval, " << tally->refused.size() << " refused\n";
  if (!tally->refused.empty()) {
    return Fail(
        Conflict(std::to_string(tally->refused.size()) + " request(s) not retried (listed above)"));
  }
  return Ok();
}

}  // namespace

void AddRequestCommands(std::vector<Command>& out) {
  out.push_back({"retry", "give failed requests another run, rebuilt against the current profile",
                 "",
                 [](po::options_description& d, po::positional_options_description&) {
                   d.add_options()("ids", po::value<std::string>()->required(),
                                   "failed request ids: 1,2,7-9");
                 },
                 Retry});
}

}  // namespace certpress::app
