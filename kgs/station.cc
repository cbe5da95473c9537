#include "kgs/station.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "common/log.h"
#include "kgs/letters.h"
#include "kgs/pcsc.h"
#include "kgs/token_keys.h"
#include "store/cards.h"

namespace certpress::kgs {

namespace {

class Station {
 public:
  Station(const profiles::ProfileSet& profiles, const profiles::CardProfile& profile,
          CryptoToken& token, const store::DbConfig& db, const StationOptions& opt)
      : token_(token), db_(db), opt_(opt), issuers_(profiles, token) {
    popt_.profile = &profile;
    popt_.station = opt.station;
    popt_.claimer = opt.claimer;
    popt_.actor = opt.actor;
    popt_.lease_seconds = opt.lease_seconds;
    popt_.request_id = opt.request_id;
    popt_.card_serial = opt.card_serial;
    popt_.attestation_root_pem = opt.attestation_root_pem;
    popt_.command_timeout = opt.card_timeout;
    popt_.kek_label = opt.kek_label;
    popt_.release_letter = opt.release_letter
                               ? opt.release_letter
                               : QueuedLetters(profile, token, opt.kek_label, opt.actor);
    popt_.test_secrets = opt.test_secrets;
  }

  Result<StationSummary> Run() {
    CP_ASSIGN_OR_RETURN(PcscContext ctx, PcscContext::Establish());
    ReaderWatcher watcher(ctx, opt_.readers);
    log_.Info("station started",
              {{"station", opt_.station},
               {"profile", popt_.profile->name},
               {"readers", opt_.readers.empty() ? std::string("all") : Join(opt_.readers)}});
    bool first = true;
    while (!Stopping()) {
      auto events = watcher.Wait(std::chrono::milliseconds(first ? 0 : 500));
      if (!events.ok()) {
        Join();
        return events.status().Wrap("watching readers");
      }
      for (const ReaderEvent& e : *events) {
        if (e.kind == ReaderEvent::kReaderAdded) log_.Info("reader added", {{"reader", e.reader}});
        if (e.kind == ReaderEvent::kReaderRemoved) {
          log_.Info("reader removed", {{"reader", e.reader}});
        }
        if (e.kind == ReaderEvent::kCardRemoved) log_.Debug("card removed", {{"reader", e.reader}});
        if (e.kind == ReaderEvent::kCardInserted && !Stopping()) Start(e.reader);
      }
      Reap();
      // --once: the cards present at start (the first wait reports them all) and no more. The
      // first wait with a zero timeout may return before pcscd reported every reader's state,
      // so --once waits one more round for stragglers.
      if (opt_.once && !first) break;
      first = false;
    }
    Join();
    return summary_;
  }

 private:
  bool Stopping() const { return opt_.stop != nullptr && opt_.stop->load(); }

  static std::string Join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
    return s;
  }

  void Start(const std::string& reader) {
    std::lock_guard<std::mutex> lock(mu_);
    if (busy_.count(reader)) return;  // the card there is still being worked on
    busy_.insert(reader);
    threads_.emplace_back(reader, std::thread([this, reader] { Card(reader); }));
  }

  // Card personalizes the card in |reader| with a context, transaction and connection of its
  // own.
  void Card(const std::string& reader) {
    CardOutcome out;
    out.reader = reader;
    auto result = [&]() -> Status {
      // Context, connection and transaction on a thread of the card's own, every call bounded
      // by the card timeout: a card that hangs fails alone. It leaves reset (SCARD_RESET_CARD),
      // with no PIN verified and no key authenticated.
      CP_ASSIGN_OR_RETURN(auto card, GuardedCard::Open(reader, opt_.card_timeout));
      CP_ASSIGN_OR_RETURN(auto conn, store::Connection::Open(db_));
      out = PersonalizeCard(popt_, *card, card->atr(), reader, *conn, token_, issuers_);
      return Status::Ok();
    }();
    if (!result.ok()) out.status = result;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (out.skipped) {
        ++summary_.skipped;
      } else if (out.status.ok()) {
        ++summary_.personalized;
      } else {
        ++summary_.failed;
      }
      const log::Fields fields = {{"card", out.serial},     {"request", out.request_id},
                                  {"reader", reader},       {"apdus", out.apdus},
                                  {"seconds", out.seconds}, {"card_seconds", out.card_seconds}};
      if (out.skipped) {
        log_.Info("card skipped: " + out.status.message(), fields);
      } else if (out.status.ok()) {
        log_.Info("card personalized", fields);
      } else {
        log_.Warn("card failed: " + out.status.message(), fields);
      }
      if (opt_.on_result) opt_.on_result(out);
      busy_.erase(reader);
      done_.insert(reader);
    }
  }

  // Reap joins the threads of finished cards.
  void Reap() {
    std::vector<std::thread> finished;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = threads_.begin(); it != threads_.end();) {
        if (done_.count(it->first) && !busy_.count(it->first)) {
          done_.erase(it->first);
          finished.push_back(std::move(it->second));
          it = threads_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& t : finished) t.join();
  }

  void Join() {
    std::vector<std::pair<std::string, std::thread>> all;
    {
      std::lock_guard<std::mutex> lock(mu_);
      all.swap(threads_);
    }
    for (auto& [reader, t] : all) t.join();
  }

  CryptoToken& token_;
  const store::DbConfig& db_;
  const StationOptions& opt_;
  PersonalizeOptions popt_;
  IssuerCache issuers_;
  log::Logger log_ = log::Get("station");
  std::mutex mu_;
  std::set<std::string> busy_, done_;
  std::vector<std::pair<std::string, std::thread>> threads_;
  StationSummary summary_;
};

}  // namespace

Result<StationSummary> RunStation(const profiles::ProfileSet& profiles, CryptoToken& token,
                                  const store::DbConfig& db, const StationOptions& options) {
  CP_ASSIGN_OR_RETURN(const profiles::CardProfile* profile, profiles.Card(options.profile));
  if (profile->token != profiles::TokenKind::kPiv) {
    return InvalidInput("profile '" + options.profile + "' is not a PIV card profile (token = " +
                        std::string(profiles::TokenKindName(profile->token)) + ")");
  }
  CP_ASSIGN_OR_RETURN(auto conn, store::Connection::Open(db));
  CP_RETURN_IF_ERROR(EnsureTokenKey(*conn, token, profile->piv.master_key,
                                    TokenKeyKind::kHmacMaster, {.actor = options.actor})
                         .Wrap("the PIV management master key"));
  // Cards a dead station left half-way end failed (certificates revoked, requests back).
  CP_ASSIGN_OR_RETURN(int abandoned, store::FailAbandonedCards(*conn, options.actor));
  Station station(profiles, *profile, token, db, options);
  CP_ASSIGN_OR_RETURN(StationSummary summary, station.Run());
  summary.abandoned = abandoned;
  return summary;
}

ReleaseLetter QueuedLetters(const profiles::CardProfile& profile, CryptoToken& token,
                            std::string kek_label, std::string actor) {
  return [&profile, &token, kek_label = std::move(kek_label), actor = std::move(actor)](
             store::Connection& tx, const LetterInput& in, const SecureString& pin,
             const SecureString& puk) -> Status {
    auto json = nlohmann::json::parse(in.fields_json, nullptr, /*allow_exceptions=*/false);
    if (!json.is_object()) return Internal("request's fields are not a JSON object");
    std::map<std::string, std::string> fields;
    for (const auto& [k, v] : json.items()) {
      if (v.is_string()) fields[k] = v.get<std::string>();
    }
    CP_ASSIGN_OR_RETURN(LetterRecipient who, RecipientFromFields(profile, fields));
    PinLetterInput letter;
    letter.request_id = in.request_id;
    letter.card_serial = in.card_serial;
    letter.profile = in.profile;
    letter.holder_name = who.holder_name;
    letter.postal_address = who.postal_address;
    letter.pin = pin.Clone();
    letter.puk = puk.Clone();
    CP_ASSIGN_OR_RETURN(PreparedLetter prepared, PrepareLetter(token, kek_label, letter));
    auto id = StoreLetter(tx, prepared, actor);
    return id.ok() ? Status::Ok() : id.status();
  };
}

std::string OutcomeLine(const CardOutcome& o) {
  std::string line = "card " + (o.serial.empty() ? "?" : o.serial) + " reader \"" + o.reader + "\"";
  if (o.request_id != 0) line += " request " + std::to_string(o.request_id);
  if (o.skipped) {
    return line +
           " skipped: " + (o.status.ok() ? "another card than the one named" : o.status.message());
  }
  if (o.status.ok()) {
    std::string certs;
    for (const auto& [slot, serial] : o.certs)
      certs += (certs.empty() ? "" : " ") + slot + "=" + serial;
    // The card's own share (I/O and on-card work) beside the total: the rest is the
    // station's (HSM, database, checks).
    char tail[128];
    std::snprintf(tail, sizeof tail, "; %.3f s, card %.3f s, %lld APDUs", o.seconds, o.card_seconds,
                  static_cast<long long>(o.apdus));
    return line + " personalized (" + certs + tail + ")";
  }
  return line + " failed: " + o.status.message() +
         (o.revoked > 0 ? " (" + std::to_string(o.revoked) + " certificate(s) revoked)" : "");
}

}  // namespace certpress::kgs
