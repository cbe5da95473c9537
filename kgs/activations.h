// activations.h: the one-time activation links (and codes) with which holders of soft
// certificates pick them up.
//
// A link token is 256 random bits, base64url (RFC 4648 section 5) without padding, 43
// characters. It is minted when its mail is sent (MintLink, called by the mailer), so the clear
// token exists only in memory between minting and sending; the database keeps only
// HMAC-SHA256(K, "certpress-activation-link-v1:" || token), K being an activation key that the
// database holds only wrapped by the token's key encryption key (as audit keys: a database dump
// gives no link and no way to test one). A link is valid for the profile's validity (default 7
// days) from minting, by the database clock; it is good for one successful pickup and locked
// after max_attempts (default 10) wrong activation codes.
//
// An activation code is a second secret on another channel (SP 800-63B 5.1.3: email alone is
// not an authenticator): 10 characters of Crockford's base32 (50 bits) shown as XXXXX-XXXXX,
// stored only as HMAC-SHA256(K, "certpress-activation-code-v1:" || request || ":" || code).
// Showing it again mints a new one (MintCode), audited.
//
// Thread-safety: ActivationKeys is immutable after Load and may be shared by threads; each
// thread uses its own store::Connection.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cardprofiles/profile.h"
#include "common/bytes.h"
#include "common/status.h"
#include "kgs/letters.h"
#include "signer/token.h"
#include "store/activations.h"
#include "store/db.h"

namespace certpress::kgs {

// ActivationKeys are the HMAC keys of links and codes, unwrapped by the token.
class ActivationKeys {
 public:
  // Load unwraps every activation key with the token's key encryption key |kek_label|;
  // with |create|, draws and stores the first one if there is none (audited).
  static Result<std::shared_ptr<const ActivationKeys>> Load(store::Connection& db,
                                                            CryptoToken& token,
                                                            const std::string& kek_label,
                                                            bool create = true);
  // ForTest builds a ring from clear keys (unit tests only).
  static std::shared_ptr<const ActivationKeys> ForTest(std::map<int64_t, SecureString> keys);

  int64_t current_id() const { return current_id_; }
  // Mac returns HMAC-SHA256 under key |key_id| of |label| ":" |data| (32 raw bytes), or empty
  // for an unknown key id.
  std::string Mac(int64_t key_id, std::string_view label, std::string_view data) const;
  // LinkMacs returns the token's HMAC under every key (a lookup tries them all).
  std::vector<std::string> LinkMacs(std::string_view link_token) const;

 private:
  int64_t current_id_ = 0;
  std::map<int64_t, SecureString> keys_;
};

// What a profile says about its activations (cardprofiles' ActivationSpec), resolved for
// issuance: RenderActivation renders recipient and holder name from a request's fields.
Result<store::NewActivation> RenderActivation(const profiles::CardProfile& profile,
                                              int64_t request_id,
                                              const std::map<std::string, std::string>& fields);

// DrawnCode is a new activation code for one request: formatted for the holder, and the HMAC
// the activation keeps of it.
struct DrawnCode {
  SecureString formatted;  // "XXXXX-XXXXX"
  std::string hmac;        // HMAC-SHA256 under |key_id| (32 raw bytes)
  int64_t key_id = 0;
};
// DrawCode draws a code for |request_id| (RAND_bytes, then one HMAC: no HSM call, no database).
Result<DrawnCode> DrawCode(const ActivationKeys& keys, int64_t request_id);

// PlanActivations renders the activation of every request in |issued| (request id and card
// profile) whose profile delivers by activation email; the request fields are read in one
// query. Where the profile sends the activation code by post (code = "letter"), the code is
// drawn here with |keys| (its HMAC goes on the activation row) and its letter rendered from
// the profile's [letter] templates, for the caller to store with StoreCodeLetters in the same
// transaction. A request whose recipient or postal address does not render (or a letter
// profile without |keys|) is in |failed| with the reason, so the caller fails it alone.
struct PlannedActivations {
  std::vector<store::NewActivation> rows;
  std::vector<CodeLetter> letters;  // one per row whose code goes by letter
  std::map<int64_t, Status> failed;
};
Result<PlannedActivations> PlanActivations(
    store::Connection& conn,
    const std::vector<std::pair<int64_t, const profiles::CardProfile*>>& issued,
    const ActivationKeys* keys = nullptr);

// QueueActivations stores |rows| and their mails in the caller's (issuing) transaction: a
// certificate is never issued without its mail, nor a mail queued for one that was not.
[[nodiscard]] Status QueueActivations(store::Connection& conn,
                                      const std::vector<store::NewActivation>& rows);

// ---- The pickup API (web/ calls these) ----

enum class ActivationState {
  kQueued,
  kSent,
  kOpened,
  kUsed,
  kExpired,
  kLocked,
  kVoid,
  kUndelivered,  // its mail failed for good; `activation resend` sends a new link
};
std::string_view ActivationStateName(ActivationState s);

// Activation: what the pickup page may show. Never a secret.
struct Activation {
  int64_t id = 0;
  int64_t request_id = 0;
  std::string profile;
  std::string holder_name;
  std::string recipient;  // email address
  ActivationState state = ActivationState::kSent;
  bool code_required = false;
  std::string expires_at;  // UTC "YYYY-MM-DD HH:MM:SS"
  int attempts_left = 0;
};

// KnownLink is a link that exists but cannot be used: the activation and why ("expired",
// "used", "locked", "void", "undelivered", "queued"). Set beside a NotFound so that the caller
// audits refusals of real links and only logs unknown ones (an unauthenticated request with a
// made-up token must not grow the audit log nor take its head's lock).
struct KnownLink {
  int64_t id = 0;  // 0: the token matched no activation
  std::string reason;
};

// FindActivation looks up a live link by its clear token: sent or opened, not expired by the
// database clock. Unknown, used, expired, locked and replaced links all give the same NotFound
// ("this activation link is not valid"), so a page built on it does not tell a guesser which;
// |known| (when given) tells the caller which it was. With |mark_opened|, a sent link becomes
// opened (audited once, "activation.open").
Result<Activation> FindActivation(store::Connection& db, const ActivationKeys& keys,
                                  std::string_view link_token, bool mark_opened,
                                  const std::string& actor, KnownLink* known = nullptr);

// Why a redemption was refused. For the audit log, tests and rate limiting; a page shows
// kInvalidLink's text for every reason but kWrongCode (the holder of a live link may learn
// that the code was wrong, and how many tries remain).
enum class Refusal { kNone, kInvalidLink, kWrongCode, kLocked };
std::string_view RefusalName(Refusal r);

struct Redemption {
  bool ok = false;  // picked up; the activation is now used
  Refusal refusal = Refusal::kNone;
  int attempts_left = 0;  // after a wrong code
  Activation activation;  // set when ok
};

// Deliver runs inside Redeem's transaction after every check passed and the activation was
// marked used, before the pickup's audit entry and the commit (so it should do its slow work
// before any audit append of its own: an append holds the audit head until the commit): build the
// PKCS#12 there and destroy the stored key. If it fails, the whole transaction rolls back: the link
// stays unused and the error is returned. It may run more than once (a deadlock retries the
// transaction), so it must be re-runnable.
using Deliver = std::function<Status(store::Connection&, const Activation&)>;

// Redeem checks a link and its code in one transaction and marks it used exactly once: the
// activation row is locked (SELECT ... FOR UPDATE), so of many concurrent redemptions of one
// link exactly one succeeds. The code's HMAC is compared in constant time (CRYPTO_memcmp). A
// wrong code counts an attempt; the max_attempts-th locks the link (the refusal then is
// kLocked). Expiry is judged by the database clock. Pickups, refusals of existing links and
// locks are audited as |actor| ("activation.pickup", "activation.refused", "activation.lock"),
// never with a secret; a token that matches no activation is only logged, not audited.
// A refusal is an OK result with ok = false; an error is a database, token or |deliver| failure.
// |code| is ignored where the profile needs none.
Result<Redemption> Redeem(store::Connection& db, const ActivationKeys& keys,
                          std::string_view link_token, std::string_view code,
                          const std::string& actor, const Deliver& deliver = {});

// ---- Operator and mailer side ----

// MintLink draws a new link token for activation |activation_id| and stores its HMAC (state
// sent, expiry from now by the database clock), in its own transaction; the previous link of
// the activation stops working. The caller mails it and drops it. Conflict if the activation
// is no longer live (used, locked or void).
struct MintedLink {
  SecureString token;
  std::string expires_at;  // UTC "YYYY-MM-DD HH:MM:SS"
};
Result<MintedLink> MintLink(store::Connection& db, const ActivationKeys& keys,
                            int64_t activation_id);

// MintCode draws a new activation code for request |request_id|, stores its HMAC on the
// request's live activations and audits it ("activation.code", |actor|); the previous code
// stops working. Returned formatted "XXXXX-XXXXX" for showing once. Conflict if the request has
// no live activation that needs a code, or if its code is sent by letter (the activation's
// stored code_channel, schema 17): such a code is never shown, whatever profiles are loaded.
Result<SecureString> MintCode(store::Connection& db, const ActivationKeys& keys, int64_t request_id,
                              const std::string& actor);

// NewCodeLetter is `activation code --request ID --letter` for a profile that posts its code:
// a new code for request |request_id| (the previous one, and its letter, stop working), stored
// as an HMAC on the request's live activations, and a new activation-code letter with it,
// sealed under a data key of its own (one HSM call), in one transaction, audited
// ("activation.code", |actor|). The holder's name and address come from the request's fields
// with |profile|'s [letter] templates. Returns the new letter's id. Conflict if the request has
// no live activation that needs a code.
Result<int64_t> NewCodeLetter(store::Connection& db, CryptoToken& token,
                              const std::string& kek_label, const ActivationKeys& keys,
                              const profiles::CardProfile& profile, int64_t request_id,
                              const std::string& actor);

// NormalizeCode upper-cases a typed code and drops spaces and hyphens; Crockford's
// look-alikes (O->0, I and L->1) are mapped.
std::string NormalizeCode(std::string_view typed);

// What Resend needs to give a locked activation a new code.
struct ResendCodes {
  const ActivationKeys* keys = nullptr;            // draws the code
  const profiles::ProfileSet* profiles = nullptr;  // the request's profile: the code's channel
  CryptoToken* token = nullptr;                    // seals a code letter
  std::string kek_label;
};
struct Resent {
  int64_t activation_id = 0;
  bool new_code = false;  // the old activation was locked: the new one has a new code
  SecureString code;      // code = "operator": the new code, for the operator to pass on once
  int64_t letter_id = 0;  // code = "letter": the letter that carries the new code
};

// Resend voids the request's current activation (its link stops working, its unsent mail is
// voided) and queues a new activation with a new mail. The activation code is carried over
// with the wrong attempts already spent on it, unless the old activation was locked: a lock
// belongs to its code (else whoever locked the link would get max_attempts more guesses at the
// same code after every helpdesk resend), so a locked activation's resend draws a new code
// with |codes| (shown to the operator, or queued in a new code letter with NewCodeLetter,
// after the resend's transaction; until then no code opens the new link). InvalidInput if a
// new code is needed and |codes| lacks what it takes. Audited ("activation.resend",
// "activation.code").
Result<Resent> Resend(store::Connection& db, int64_t request_id, const std::string& actor,
                      const ResendCodes& codes = {});

// ListActivations: request, recipient, state (queued, sent, opened, used, expired, locked,
// void, undelivered) and the mail's state; never a secret.
Result<std::vector<store::ActivationListing>> ListActivations(store::Connection& db,
                                                              int64_t request_id = 0);

}  // namespace certpress::kgs
