// card_states.h: a personalized card's life after the station (issue 13). The station leaves a
// card `personalized` with its PIN letter queued; printing the letter moves it to
// `letter-printed` in the same transaction (kgs/letters.h, PrintLetter); once the holder
// confirms receipt, an operator activates it (`certpress card activate`), and it is `active`.
// Each step is audited. A card is named by its serial; the store keeps one row per
// personalization (a card that failed and was personalized again has two), and the newest is
// the card as it is now.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "store/cards.h"
#include "store/db.h"

namespace certpress::kgs {

// CurrentCard reads card |serial| as it is now: its newest personalization, with its
// certificates. NotFound names the serial.
Result<store::CardRecord> CurrentCard(store::Connection& db, const std::string& serial);

// ActivateCard records that the holder of card |serial| confirmed receipt: the card moves from
// letter-printed to active, audited ("card.active") as |actor|. Any other state is refused as
// a conflict that says why and what comes first (its PIN letter printed; a failed card
// personalized again), and NotFound for a serial the store does not know.
[[nodiscard]] Status ActivateCard(store::Connection& db, const std::string& serial,
                                  const std::string& actor);

// The card states an operator may filter by (store/cards.h).
inline constexpr const char* kCardStates[] = {store::kCardPersonalizing, store::kCardPersonalized,
                                              store::kCardLetterPrinted, store::kCardActive,
                                              store::kCardFailed};

}  // namespace certpress::kgs
