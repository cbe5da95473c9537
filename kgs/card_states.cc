#include "kgs/card_states.h"

namespace certpress::kgs {

Result<store::CardRecord> CurrentCard(store::Connection& db, const std::string& serial) {
  CP_ASSIGN_OR_RETURN(auto cards, store::CardsBySerial(db, serial));
  if (cards.empty()) return NotFound("no card with serial '" + serial + "' in the store");
  return std::move(cards.back());
}

Status ActivateCard(store::Connection& db, const std::string& serial, const std::string& actor) {
  return store::RunTransaction(db, [&](store::Connection& c) -> Status {
    CP_ASSIGN_OR_RETURN(store::CardRecord card, CurrentCard(c, serial));
    const std::string name = "card " + serial;
    if (card.state == store::kCardLetterPrinted) {
      return store::MoveCardState(
          c, card.id, store::kCardLetterPrinted, store::kCardActive, actor,
          "request=" + std::to_string(card.request_id) + " receipt confirmed");
    }
    if (card.state == store::kCardActive) {
      return Conflict(name + " is already active (since " + card.updated_at + " UTC)");
    }
    if (card.state == store::kCardPersonalized) {
      return Conflict(name + " is personalized but its PIN letter has not been printed yet: " +
                      "print it (`certpress pinletter print`) and mail it first; a card is " +
                      "activated once its holder has both");
    }
    if (card.state == store::kCardPersonalizing) {
      return Conflict(name + " is still being personalized at station " + card.station);
    }
    if (card.state == store::kCardFailed) {
      return Conflict(name + " failed (" + card.reason +
                      ") and cannot be activated: personalize it again at a station");
    }
    return Conflict(name + " is " + card.state + ", not letter-printed");
  });
}

}  // namespace certpress::kgs
