// personalize.h: one PIV card's personalization, from a blank (factory) card to one that holds
// keys made on it, certificates issued for them through the issuance core, a CHUID and CCC, a
// random PIN and PUK and its own management key, and that has passed every check:
//
//   select -> serial -> take a request (store: card personalizing, request issuing)
//   -> management key (factory; the algorithm from GET METADATA where the card says)
//   -> per key slot: generate on the card (or import an archived server key to 9D)
//      -> public key checked -> attestation verified (profile)
//   -> the card's certificates through the issuance core together (ca::Prepare, the intents
//      recorded in one transaction before signing, ca::Sign, stored in one) -> PUT DATA
//   -> CHUID (fresh GUID, expiry) and CCC -> retry counters, then PIN and PUK
//   -> the factory management key replaced by one derived in the HSM from the card's serial
//   -> checks: every certificate read back, every key signs a fresh challenge that verifies
//      against its certificate, the new PIN verifies, a wrong PIN lowers the counter
//   -> the PIN letter released (ReleaseLetter) -> card personalized, request issued.
//
// Any failure, a card pulled out included, ends the card `failed`: its certificates are revoked
// and the request goes back to approved (store/cards.h). PIN and PUK live in SecureStrings and
// go only to the card and to the letter hook, never to a log or the store.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "cardprofiles/profile.h"
#include "common/bytes.h"
#include "common/status.h"
#include "kgs/apdu.h"
#include "signer/issuer.h"
#include "signer/token.h"
#include "store/db.h"

namespace certpress::kgs {

// What a personalized card's letter needs; the PIN and PUK come alongside, as secrets.
struct LetterInput {
  int64_t card_id = 0;
  std::string card_serial;
  int64_t request_id = 0;
  std::string profile;
  std::string fields_json;  // the holder's name and postal address
};

// ReleaseLetter queues the PIN letter (sealed; kgs/letters.h) inside the transaction that
// marks the card personalized, |tx|: called once every check passed; the card is personalized
// exactly when its letter exists. An error fails the card.
using ReleaseLetter = std::function<Status(store::Connection&, const LetterInput&,
                                           const SecureString& pin, const SecureString& puk)>;

// IssuerCache builds each (CA, certificate profile) issuer once for all cards; thread-safe.
class IssuerCache {
 public:
  IssuerCache(const profiles::ProfileSet& profiles, CryptoToken& token)
      : profiles_(profiles), token_(token) {}
  Result<const Issuer*> Get(store::Connection& db, int64_t ca_id, const std::string& cert_profile);

 private:
  const profiles::ProfileSet& profiles_;
  CryptoToken& token_;
  std::mutex mu_;
  std::map<std::pair<int64_t, std::string>, std::unique_ptr<Issuer>> issuers_;
};

struct PersonalizeOptions {
  const profiles::CardProfile* profile = nullptr;
  std::string station;  // the station's name in the store
  std::string claimer;  // host:pid:random, holds the request's lease
  std::string actor;    // audit actor
  int lease_seconds = 900;
  std::chrono::milliseconds command_timeout{30000};  // one command, all its exchanges
  std::optional<int64_t> request_id;        // the operator's choice, else the next approved one
  std::optional<std::string> card_serial;   // personalize only the card with this serial
  std::string attestation_root_pem;         // the profile's trusted attestation root(s)
  std::string kek_label = "certpress-kek";  // for archived (server-made) keys
  ReleaseLetter release_letter;             // none: no letter (tests of the card alone)
  // Test-only: a card's PIN and PUK are handed here too (integration tests that must log in
  // with OpenSC before the letter module exists). Never set by the product.
  std::function<void(const std::string& serial, const SecureString& pin, const SecureString& puk)>
      test_secrets;
};

struct CardOutcome {
  std::string reader;
  std::string serial;  // the card's serial, or empty if it could not be read
  int64_t card_id = 0;
  int64_t request_id = 0;
  Status status;         // Ok: personalized
  bool skipped = false;  // not this station's card (--card-serial) or no request to take
  int revoked = 0;       // certificates revoked when the card failed
  std::map<std::string, std::string> certs;  // slot -> serial hex
  int64_t apdus = 0;
  double seconds = 0;       // wall time of the whole card
  double card_seconds = 0;  // of it, waiting for the card (I/O and on-card work)
};

// PersonalizeCard personalizes the card behind |transport| (its ATR |atr|, in |reader|),
// with |db| for the store and |token| for issuance and key derivation.
CardOutcome PersonalizeCard(const PersonalizeOptions& options, CardTransport& transport,
                            const Bytes& atr, const std::string& reader, store::Connection& db,
                            CryptoToken& token, IssuerCache& issuers);

// ManagementKeyFor derives card |serial|'s management key of |length| bytes in the token:
// HMAC-SHA256(master, "certpress PIV management key v1" || 0 || serial), its first bytes
// (SP 800-108 KDF in counter mode with one block suffices for up to 32 bytes).
Result<SecureString> ManagementKeyFor(CryptoToken& token, const std::string& master_label,
                                      const std::string& serial, size_t length);

}  // namespace certpress::kgs
