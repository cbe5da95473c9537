// pin_letters.h: the letter repository (schema 11; kind, schema 13). A letter is queued
// `created` with its secret sealed (a card's PIN and PUK, or a soft certificate's activation
// code) (kgs/letters.h seals and opens them; this file only keeps bytes), becomes
// `printed` when its PDF is written to the print queue, in the same UPDATE that drops the
// sealed secret and its wrapped key, and `mailed` when an operator says it left. Each change
// is conditional on the state before it, so a letter cannot skip or repeat a step.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"
#include "store/db.h"

namespace certpress::store {

inline constexpr const char* kLetterCreated = "created";
inline constexpr const char* kLetterPrinted = "printed";
inline constexpr const char* kLetterMailed = "mailed";
// An activation-code letter replaced before it was printed (its code no longer works); its
// sealed code is wiped.
inline constexpr const char* kLetterVoid = "void";

// What a letter carries: a card's PIN (and PUK), or the activation code of a soft
// certificate whose profile sends its code by post (activation.code = "letter"; issue 12).
inline constexpr const char* kKindPin = "pin";
inline constexpr const char* kKindActivationCode = "activation-code";

struct PinLetterRecord {
  int64_t id = 0;
  std::string kind = kKindPin;  // kKindPin or kKindActivationCode
  int64_t request_id = 0;
  std::string card_serial;  // empty for an activation-code letter (no card)
  std::string profile;
  std::string holder_name;
  std::vector<std::string> address;  // postal address lines below the name
  bool has_puk = false;
  std::string state;  // kLetterCreated, kLetterPrinted or kLetterMailed
  // The sealed secret and the letter's data key wrapped by |kek_label|; empty once wiped.
  std::string kek_label;
  std::string wrapped_key;
  std::string sealed;
  int print_count = 0;
  std::string created_at;  // "YYYY-MM-DD HH:MM:SS", UTC; printed_at, mailed_at empty if not yet
  std::string printed_at;
  std::string mailed_at;

  bool sealed_present() const { return !sealed.empty(); }
};

// InsertPinLetter stores a new `created` letter without its secret; returns its id. The
// caller stores the sealed secret with SetLetterSecret in the same transaction (the id is
// part of what the seal is bound to).
Result<int64_t> InsertPinLetter(Connection& conn, const PinLetterRecord& letter);
// InsertLetters inserts |letters| (`created`, their kek_label and wrapped_key set, the sealed
// secret not yet) with one multi-row INSERT per 1,000 and returns their ids in the same order,
// read back by request and kind (a Galera cluster's auto-increment steps by its size: ids are
// never assumed consecutive). The caller seals each secret bound to its id and stores them with
// SetLettersSealed in the same transaction. At most one letter per request and kind per call,
// and none of that request and kind may be waiting for its secret already.
Result<std::vector<int64_t>> InsertLetters(Connection& conn,
                                           const std::vector<PinLetterRecord>& letters);
// SetLettersSealed stores the sealed secrets (id, sealed) of `created` letters that have none
// yet, one UPDATE per 500; any other letter is a conflict.
[[nodiscard]] Status SetLettersSealed(Connection& conn,
                                      const std::vector<std::pair<int64_t, std::string>>& sealed);
// SetLetterSecret stores the sealed secret of a `created` letter.
[[nodiscard]] Status SetLetterSecret(Connection& conn, int64_t id, const std::string& kek_label,
                                     ByteSpan wrapped_key, ByteSpan sealed);

// FindPinLetter reads letter |id| (NotFound if there is none); |for_update| locks the row
// until the caller's transaction ends.
Result<PinLetterRecord> FindPinLetter(Connection& conn, int64_t id, bool for_update = false);
// ListPinLetters lists letters in id order, all or those in |state|, at most |limit|, with ids
// above |after_id|.
Result<std::vector<PinLetterRecord>> ListPinLetters(Connection& conn, const std::string& state,
                                                    int64_t after_id = 0, int limit = 1000);

// MarkLetterPrinted moves a `created` letter to `printed`, counts the print and wipes the
// sealed secret and its wrapped key (set to NULL) in one statement. A letter in another state
// is a conflict.
[[nodiscard]] Status MarkLetterPrinted(Connection& conn, int64_t id);
// VoidUnprintedLetters voids the `created` letters of |kind| of request |request_id| and wipes
// their sealed secret; returns nothing to say how many (none is fine).
[[nodiscard]] Status VoidUnprintedLetters(Connection& conn, int64_t request_id,
                                          const std::string& kind);
// MarkLetterMailed moves a `printed` letter to `mailed`; any other state is a conflict.
[[nodiscard]] Status MarkLetterMailed(Connection& conn, int64_t id);

}  // namespace certpress::store
