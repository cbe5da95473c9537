// cmd_station.cc: `certpress station`: a card personalization station (kgs/station.h).
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <mutex>

#include "app/commands.h"
#include "batch/pipeline.h"
#include "common/bytes.h"
#include "kgs/station.h"

namespace certpress::app {

namespace {

std::atomic<bool> g_station_stop{false};

extern "C" void OnStationSignal(int) {
  g_station_stop.store(true);
}

CommandResult Station(Context& ctx) {
  kgs::StationOptions o;
  o.profile = ctx.Get<std::string>("profile");
  if (ctx.vm().count("reader")) o.readers = ctx.Get<std::vector<std::string>>("reader");
  const bool all = ctx.Flag("all-readers");
  if (all == !o.readers.empty()) return Usage("give --reader NAME (one or more) or --all-readers");
  if (ctx.Has("request")) o.request_id = ctx.Get<int64_t>("request");
  if (ctx.Has("card-serial")) o.card_serial = ctx.Get<std::string>("card-serial");
  o.once = ctx.Flag("once");
  o.lease_seconds = ctx.Get<int>("lease");
  if (o.lease_seconds < 60) return Usage("--lease must be at least 60 seconds");
  const int card_timeout = ctx.Get<int>("card-timeout");
  if (card_timeout < 1 || card_timeout > 600) {
    return Usage("--card-timeout must be 1 to 600 seconds");
  }
  o.card_timeout = std::chrono::seconds(card_timeout);
  o.claimer = batch::DefaultClaimer();
  o.station = ctx.Get<std::string>("station-name");
  if (o.station.empty()) o.station = o.claimer.substr(0, o.claimer.find(':'));
  o.actor = "station:" + o.claimer;
  o.kek_label = kKekLabel;
  o.stop = &g_station_stop;

  auto profiles = ctx.Profiles();
  if (!profiles.ok()) return Fail(profiles.status());
  auto profile = (*profiles)->Card(o.profile);
  if (!profile.ok()) return Fail(profile.status());
  const std::string& root = (*profile)->piv.attestation_root;
  if (!root.empty()) {
    std::filesystem::path p(root);
    if (p.is_relative()) p = std::filesystem::path(ctx.Get<std::string>("profiles.dir")) / p;
    auto pem = ReadFile(p.string());
    if (!pem.ok()) return Fail(pem.status().Wrap("the profile's attestation root"));
    o.attestation_root_pem = std::move(pem).value();
  }
  auto token = ctx.Token();
  if (!token.ok()) return Fail(token.status());
  if (auto conn = ctx.Db(); !conn.ok()) return Fail(conn.status());
  auto db = ctx.DbSettings();
  if (!db.ok()) return Fail(db.status());

  std::mutex out_mu;
  o.on_result = [&](const kgs::CardOutcome& r) {
    std::lock_guard<std::mutex> lock(out_mu);
    ctx.out << kgs::OutcomeLine(r) << std::endl;
  };
  std::signal(SIGTERM, OnStationSignal);
  std::signal(SIGINT, OnStationSignal);
  auto summary = kgs::RunStation(**profiles, **token, *db, o);
  if (!summary.ok()) return Fail(summary.status());
  if (summary->abandoned > 0) {
    ctx.out << summary->abandoned << " card(s) left half-way by a stopped station failed\n";
  }
  if (summary->failed > 0) {
    return Fail(CardError(std::to_string(summary->failed) + " card(s) failed (listed above)"));
  }
  return Ok();
}

}  // namespace

void AddStationCommands(std::vector<Command>& out) {
  out.push_back(
      {"station", "personalize PIV cards inserted in PC/SC readers until SIGTERM", "",
       [](po::options_description& d, po::positional_options_description&) {
         d.add_options()("profile", po::value<std::string>()->required(), "the PIV card profile")(
             "reader", po::value<std::vector<std::string>>()->composing(),
             "a reader to use (repeat for several)")("all-readers", po::bool_switch(),
                                                     "use every reader, as they come and go")(
             "request", po::value<int64_t>(), "personalize for this approved request")(
             "card-serial", po::value<std::string>(), "personalize only the card with this serial")(
             "once", po::bool_switch(), "personalize the cards present now, then exit")(
             "station-name", po::value<std::string>()->default_value(""),
             "this station's name in the store (default: the host name)")(
             "lease", po::value<int>()->default_value(900),
             "seconds a card's request stays reserved for this station")(
             "card-timeout", po::value<int>()->default_value(30),
             "seconds a card may take to answer one command (RSA key generation included) "
             "before it is given up and fails");
       },
       Station, log::Level::kInfo});
}

}  // namespace certpress::app
