// station.h: a card personalization station. It watches PC/SC readers (all of them, or those
// named), and each card inserted is personalized (kgs/personalize.h) on a thread of its own,
// with its own PC/SC context, transaction and database connection: several readers work in
// parallel and a card pulled out ends only its own work. A stop request (SIGTERM) stops the
// station taking new cards and waits for the cards in progress to finish; --once personalizes
// the cards present at start and returns. The shape of batch/pipeline.cc's Run with one card
// per item.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cardprofiles/profile.h"
#include "common/status.h"
#include "kgs/personalize.h"
#include "signer/token.h"
#include "store/db.h"

namespace certpress::kgs {

struct StationOptions {
  std::string profile;               // a piv card profile
  std::vector<std::string> readers;  // the readers to use; empty: every reader (--all-readers)
  std::optional<int64_t> request_id;
  std::optional<std::string> card_serial;
  bool once = false;
  std::string station;  // this station's name (the host by default)
  std::string claimer;  // host:pid:random
  std::string actor;
  int lease_seconds = 900;
  // The longest one command may take, each PC/SC exchange of it included: a card that does not
  // answer within it fails and is given up (kgs/pcsc.h GuardedCard), the station goes on.
  std::chrono::milliseconds card_timeout{30000};
  std::string attestation_root_pem;
  std::string kek_label = "certpress-kek";
  // How a done card's PIN letter is released: empty, the letter is queued sealed
  // (kgs/letters.h) in the transaction that marks the card personalized.
  ReleaseLetter release_letter;
  std::function<void(const std::string&, const SecureString&, const SecureString&)> test_secrets;
  const std::atomic<bool>* stop = nullptr;
  // Called (from the card's thread, one call at a time) as each card ends.
  std::function<void(const CardOutcome&)> on_result;
};

struct StationSummary {
  int personalized = 0;
  int failed = 0;
  int skipped = 0;    // no request to take, or another card than --card-serial named
  int abandoned = 0;  // cards a dead station left half-way, failed at start
};

// RunStation runs the station until |stop| (or, with |once|, until the cards present at start
// are done). Failures of single cards are in the summary, not the status; the status is an
// error only when the station itself cannot work (no PC/SC service, no database, no profile).
Result<StationSummary> RunStation(const profiles::ProfileSet& profiles, CryptoToken& token,
                                  const store::DbConfig& db, const StationOptions& options);

// QueuedLetters releases a card's PIN letter as kgs/letters.h queues it: the holder's name and
// address from the request's fields through |profile|'s letter templates, PIN and PUK sealed
// under a data key wrapped by |kek_label| in |token|, stored in the card's transaction.
ReleaseLetter QueuedLetters(const profiles::CardProfile& profile, CryptoToken& token,
                            std::string kek_label, std::string actor);

// OutcomeLine renders a card's result as one line: 'card 12345 reader "R" request 42
// personalized (9a=... 9c=...; 3.215 s, card 3.104 s, 61 APDUs)' or '... failed: reason'.
std::string OutcomeLine(const CardOutcome& outcome);

}  // namespace certpress::kgs
