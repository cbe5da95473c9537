// cards.h: the card repository: PIV cards personalized at stations (schema 10), the
// certificate in each slot, and revocations with their reason (RFC 5280 5.3.1 CRLReason).
//
// A card's life: personalizing (a station took a request for it) -> personalized (every check
// passed) -> letter-printed -> active (the holder confirmed receipt), or failed (pulled out,
// a check failed, the station stopped). A failed card's certificates are revoked in the same
// transaction and its request goes back to approved, so the card (or another) can be
// personalized again and the request is not lost.
#pragma once

#include <array>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"
#include "store/db.h"

namespace certpress::store {

inline constexpr const char* kCardPersonalizing = "personalizing";
inline constexpr const char* kCardPersonalized = "personalized";
inline constexpr const char* kCardLetterPrinted = "letter-printed";
inline constexpr const char* kCardActive = "active";
inline constexpr const char* kCardFailed = "failed";

// CRLReason codes (RFC 5280 5.3.1).
enum class RevocationReason : int {
  kUnspecified = 0,
  kKeyCompromise = 1,
  kAffiliationChanged = 3,
  kSuperseded = 4,
  kCessationOfOperation = 5,
  kPrivilegeWithdrawn = 9,
};

// A request a station took for a card: what the certificates need.
struct CardRequest {
  int64_t id = 0;
  int64_t fence = 0;
  std::string profile;
  std::string profile_hash;  // 32 raw bytes
  int64_t ca_id = 0;
  std::string subject;
  std::string subject_der;
  std::string sans_json;
  std::string fields_json;  // for the PIN letter (name, postal address)
};

struct NewCard {
  std::string serial;
  Bytes atr;
  std::string profile;
  std::string station;  // the station's name (host by default)
  std::string reader;
  // The card proved its factory state (management key and PIN as shipped: it was reset). Only
  // then may a serial with a live personalization (personalized, letter-printed, active) be
  // taken again; that personalization is retired first (RetireCardIn).
  bool factory_reset = false;
};

// BeginCard takes a request of |card.profile| for a card in one transaction: the one named by
// |request_id| (approved, or issuing with an expired lease) or else the oldest approved one
// (then the oldest whose station's lease ran out), moved to issuing under |claimer| with a
// lease of |lease_seconds|, a cards row in state personalizing, and the audit entry
// "card.start". NotFound when no request is there to take. A serial that has a live
// personalization is refused (Conflict, nothing claimed) unless |card.factory_reset|; then that
// personalization ends failed with its certificates revoked (its keys went with the reset),
// audited "card.reset". Returns the request and sets |card_id|.
Result<CardRequest> BeginCard(Connection& conn, const NewCard& card,
                              std::optional<int64_t> request_id, const std::string& claimer,
                              int lease_seconds, const std::string& actor, int64_t* card_id);

// HoldCard checks, inside the caller's transaction, that card |card_id| is still personalizing
// and its request |request_id| still issuing under |claimer| with |fence| (a station that took
// the request after this one's lease ran out raised the fence and failed this card), locking
// both rows, and renews the request's lease to |lease_seconds| from now. Conflict if either
// was lost: the caller stops the card.
[[nodiscard]] Status HoldCard(Connection& tx, int64_t card_id, int64_t request_id, int64_t fence,
                              const std::string& claimer, int lease_seconds);

// AddCardCertificate records that slot |slot| of card |card_id| holds serial |serial_hex| of
// |issuer_id| (inside the caller's transaction, with the certificate itself).
[[nodiscard]] Status AddCardCertificate(Connection& conn, int64_t card_id, std::string_view slot,
                                        int64_t issuer_id, std::string_view serial_hex);

// FinishCard marks card |card_id| personalized with its CHUID GUID, completes its request
// (issued; refused as a conflict if |claimer| no longer holds it under |fence|), runs
// |also| (the PIN letter, stored in the same transaction; may be empty) and audits
// "card.personalized", in one transaction.
[[nodiscard]] Status FinishCard(Connection& conn, int64_t card_id, int64_t request_id,
                                int64_t fence, const std::string& claimer, ByteSpan chuid_guid,
                                const std::string& actor,
                                const std::function<Status(Connection&)>& also = nullptr);

// FailCard marks card |card_id| failed with |reason|, revokes every serial drawn for its request
// since the card started (stored certificates get status 'revoked'; |revocation| is the
// CRLReason), gives the request back (approved) if |claimer| still holds it, and audits
// "card.fail" with the revoked serials, in one transaction. Returns how many serials it
// revoked. A card no longer personalizing is left alone (0).
Result<int> FailCard(Connection& conn, int64_t card_id, const std::string& reason,
                     RevocationReason revocation, const std::string& claimer,
                     const std::string& actor);

// FailAbandonedCards fails (as FailCard) the cards still personalizing whose request's lease ran
// out: a station that died mid-card. Returns how many.
Result<int> FailAbandonedCards(Connection& conn, const std::string& actor);

// SetCardState moves a card on (personalized -> letter-printed -> active) and audits it; a card
// in another state than |from| is a conflict.
[[nodiscard]] Status SetCardState(Connection& conn, int64_t card_id, std::string_view from,
                                  std::string_view to, const std::string& actor);

// MoveCardState is SetCardState inside the caller's open transaction; |details| is added to
// the audit entry ("card.<to>").
[[nodiscard]] Status MoveCardState(Connection& tx, int64_t card_id, std::string_view from,
                                   std::string_view to, const std::string& actor,
                                   const std::string& details = "");

// CardLetterPrinted moves the card |serial| personalized for |request_id| (its newest such
// row) from personalized to letter-printed inside the caller's transaction, the one that marks
// its PIN letter printed, audited "card.letter-printed". Returns the card's state afterwards:
// a card already further on (a new PIN letter for an active card) is left as it is; empty if
// the store has no such card (a letter queued by hand, without a station).
Result<std::string> CardLetterPrinted(Connection& tx, std::string_view serial, int64_t request_id,
                                      const std::string& actor);

struct CardRecord {
  int64_t id = 0;
  std::string serial;
  std::string atr;
  std::string chuid_guid;  // 16 raw bytes, or empty
  std::string profile;
  int64_t request_id = 0;
  std::string state;
  std::string station;
  std::string reader;
  std::string reason;
  std::string started_at;  // "YYYY-MM-DD HH:MM:SS" UTC
  std::string updated_at;
  struct Cert {
    std::string slot;
    int64_t issuer_id = 0;
    std::string serial_hex;
    bool revoked = false;
    int reason_code = -1;
  };
  std::vector<Cert> certs;
};

// CardsBySerial lists the personalizations of card |serial|, oldest first, with certificates.
Result<std::vector<CardRecord>> CardsBySerial(Connection& conn, std::string_view serial);
// ListCards lists cards (one row per personalization) in id order, all or those in |state|,
// at most |limit| with ids above |after_id|; without their certificates.
Result<std::vector<CardRecord>> ListCards(Connection& conn, const std::string& state,
                                          int64_t after_id = 0, int limit = 1000);
// FindCard reads card |card_id| with its certificates.
Result<std::optional<CardRecord>> FindCard(Connection& conn, int64_t card_id);

struct Revocation {
  int64_t issuer_id = 0;
  std::string serial_hex;
  int reason_code = 0;
  std::string revoked_at;
};
// RevocationsOf lists the revoked serials of |issuer_id| (0: every issuer), in serial order.
Result<std::vector<Revocation>> ListRevocations(Connection& conn, int64_t issuer_id);

}  // namespace certpress::store
