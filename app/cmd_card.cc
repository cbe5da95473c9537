// `certpress card ...`: personalized cards and their states (kgs/card_states.h holds the
// rules; this file parses options, calls it and prints).
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "common/bytes.h"
#include "kgs/card_states.h"

namespace certpress::app {

namespace {

nlohmann::json CardJson(const store::CardRecord& c, bool with_certs) {
  nlohmann::json j = {
      {"id", c.id},
      {"serial", c.serial},
      {"state", c.state},
      {"profile", c.profile},
      {"request_id", c.request_id},
      {"station", c.station},
      {"reader", c.reader},
      {"chuid_guid", c.chuid_guid.empty() ? nlohmann::json(nullptr)
                                          : nlohmann::json(HexEncode(AsBytes(c.chuid_guid)))},
      {"reason", c.reason.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.reason)},
      {"started_at", c.started_at},
      {"updated_at", c.updated_at}};
  if (with_certs) {
    nlohmann::json certs = nlohmann::json::array();
    for (const auto& cert : c.certs) {
      certs.push_back({{"slot", cert.slot},
                       {"issuer_id", cert.issuer_id},
                       {"serial", cert.serial_hex},
                       {"revoked", cert.revoked},
                       {"reason_code", cert.revoked ? nlohmann::json(cert.reason_code)
                                                    : nlohmann::json(nullptr)}});
    }
    j["certificates"] = std::move(certs);
  }
  return j;
}

std::string Dump(const nlohmann::json& j) {
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

CommandResult List(Context& ctx) {
  const std::string state = ctx.Get<std::string>("state");
  if (!state.empty()) {
    bool known = false;
    for (const char* s : kgs::kCardStates) known = known || state == s;
    if (!known) {
      return Usage("--state must be personalizing, personalized, letter-printed, active or failed");
    }
  }
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  std::vector<store::CardRecord> all;
  for (int64_t after = 0;;) {
    auto page = store::ListCards(**db, state, after, 1000);
    if (!page.ok()) return Fail(page.status());
    if (page->empty()) break;
    after = page->back().id;
    for (auto& c : *page) all.push_back(std::move(c));
  }
  if (ctx.Flag("json")) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& c : all) arr.push_back(CardJson(c, false));
    ctx.out << Dump(arr) << "\n";
    return Ok();
  }
  ctx.out << "ID      SERIAL            STATE           REQUEST  PROFILE          STATION          "
             "UPDATED (UTC)\n";
  for (const auto& c : all) {
    char line[512];
    std::snprintf(line, sizeof line, "%-7lld %-17s %-15s %-8lld %-16s %-16s %s",
                  static_cast<long long>(c.id), c.serial.c_str(), c.state.c_str(),
                  static_cast<long long>(c.request_id), c.profile.c_str(), c.station.c_str(),
                  c.updated_at.c_str());
    ctx.out << line << "\n";
  }
  return Ok();
}

CommandResult Show(Context& ctx) {
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  const std::string serial = ctx.Get<std::string>("serial");
  auto cards = store::CardsBySerial(**db, serial);
  if (!cards.ok()) return Fail(cards.status());
  if (cards->empty()) return Fail(NotFound("no card with serial '" + serial + "' in the store"));
  const store::CardRecord& now = cards->back();
  if (ctx.Flag("json")) {
    nlohmann::json j = CardJson(now, true);
    nlohmann::json history = nlohmann::json::array();
    for (const auto& c : *cards) history.push_back(CardJson(c, false));
    j["personalizations"] = std::move(history);
    ctx.out << Dump(j) << "\n";
    return Ok();
  }
  ctx.out << "card " << now.serial << ": " << now.state << " (since " << now.updated_at
          << " UTC)\n";
  ctx.out << "  profile " << now.profile << ", request " << now.request_id << ", station "
          << now.station << ", reader " << now.reader << "\n";
  if (!now.chuid_guid.empty())
    ctx.out << "  CHUID GUID " << HexEncode(AsBytes(now.chuid_guid)) << "\n";
  if (!now.reason.empty()) ctx.out << "  reason: " << now.reason << "\n";
  for (const auto& cert : now.certs) {
    ctx.out << "  slot " << cert.slot << ": certificate " << cert.serial_hex << " (issuer "
            << cert.issuer_id << ")"
            << (cert.revoked ? ", revoked (reason " + std::to_string(cert.reason_code) + ")" : "")
            << "\n";
  }
  if (cards->size() > 1) {
    ctx.out << "  personalized " << cards->size() << " times; earlier:";
    for (size_t i = 0; i + 1 < cards->size(); ++i) {
      ctx.out << " " << (*cards)[i].state << " (" << (*cards)[i].started_at << ")";
    }
    ctx.out << "\n";
  }
  return Ok();
}

CommandResult Activate(Context& ctx) {
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  const std::string serial = ctx.Get<std::string>("serial");
  if (Status st = kgs::ActivateCard(**db, serial, ctx.Actor()); !st.ok()) return Fail(st);
  ctx.out << "card " << serial << " is active\n";
  return Ok();
}

void SerialOption(po::options_description& d) {
  d.add_options()("serial", po::value<std::string>()->required(), "the card's serial")(
      "json", po::bool_switch(), "machine-readable output");
}

}  // namespace

void AddCardCommands(std::vector<Command>& out) {
  out.push_back({"card list", "personalized cards and their state", "",
                 [](po::options_description& d, po::positional_options_description&) {
                   d.add_options()("json", po::bool_switch(), "machine-readable output")(
                       "state", po::value<std::string>()->default_value(""),
                       "only cards in this state: personalizing, personalized, letter-printed, "
                       "active or failed");
                 },
                 List});
  out.push_back(
      {"card show", "one card: state, request, certificates per slot, history", "",
       [](po::options_description& d, po::positional_options_description&) { SerialOption(d); },
       Show});
  out.push_back({"card activate",
                 "the holder confirmed receipt: a card whose PIN letter was printed becomes "
                 "active (audited)",
                 "",
                 [](po::options_description& d, po::positional_options_description&) {
                   d.add_options()("serial", po::value<std::string>()->required(),
                                   "the card's serial");
                 },
                 Activate});
}

}  // namespace certpress::app
