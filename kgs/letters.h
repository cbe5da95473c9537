// letters.h: PIN letters. Once a card is personalized and checked, the station queues a letter
// for its holder: the PIN and PUK are sealed at once (never logged, never stored in clear) and
// the letter waits, `created`, until `certpress pinletter print` lays it out as a PDF (cairo
// and pango, from the card profile's [letter] template; kgs/letter_pdf.h) in the print queue
// directory. Printing wipes the sealed secret in the same statement that marks the letter
// `printed`; `mailed` follows when an operator says it left. Every step is audited.
//
// Sealing follows sealed_keys.h: each letter draws its own 256-bit data key, which the token's
// key encryption key (an AES key that never leaves the HSM) wraps; the secret is sealed under
// the data key with AES-256-GCM, its additional data binding it to the letter, request and
// card, so a sealed secret moved to another row does not open. The letter row keeps the
// wrapped data key and the sealed secret, and loses both when printed.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "cardprofiles/profile.h"
#include "common/bytes.h"
#include "common/status.h"
#include "signer/operator_key.h"
#include "signer/token.h"
#include "store/audit.h"
#include "store/db.h"
#include "store/pin_letters.h"

namespace certpress::kgs {

// PinLetterInput is what a station hands over once a card is done (issue 13: "only then is the
// PIN letter released").
struct PinLetterInput {
  int64_t request_id = 0;
  std::string card_serial;  // as printed on the letter: 1-64 of [A-Za-z0-9:._-]
  std::string profile;      // the card profile, whose [letter] template lays the letter out
  std::string holder_name;  // UTF-8, 1-128 characters
  // The postal address below the name, 1-5 lines of UTF-8, each 1-64 characters (DIN 5008's
  // address zone has six lines: the name and five).
  std::vector<std::string> postal_address;
  // FIPS 201-3 4.3.1: numeric, at least 6 digits; SP 800-73-4 part 2 3.2: at most 8 bytes.
  SecureString pin;
  SecureString puk;  // 6-8 digits, or empty: a letter with the PIN only
};

// LetterRecipient is a letter's holder name and postal address as the card profile's
// [letter] recipient and address templates make them from a request's fields (its
// fields_json), lines that come out empty left out: what a station puts in PinLetterInput.
// A profile without the templates is invalid input that names it.
struct LetterRecipient {
  std::string holder_name;
  std::vector<std::string> postal_address;
};
Result<LetterRecipient> RecipientFromFields(const profiles::CardProfile& profile,
                                            const std::map<std::string, std::string>& fields);

// CheckLetterInput checks |in| as QueueLetter does; the message names the field, never a
// secret's value.
[[nodiscard]] Status CheckLetterInput(const PinLetterInput& in);

// PreparedLetter is a checked letter whose data key the token has already wrapped: the HSM
// work done, the database work still to do (StoreLetter).
class PreparedLetter {
 public:
  PreparedLetter(PreparedLetter&&) = default;
  PreparedLetter& operator=(PreparedLetter&&) = default;

 private:
  friend Result<PreparedLetter> PrepareLetter(CryptoToken&, const std::string&,
                                              const PinLetterInput&);
  friend Result<int64_t> StoreLetter(store::Connection&, const PreparedLetter&, const std::string&);
  PreparedLetter() = default;
  int64_t request_id_ = 0;
  std::string card_serial_, profile_, holder_name_;
  std::vector<std::string> address_;
  SecureString secret_;  // "PIN\nPUK" (or "PIN\n")
  bool has_puk_ = false;
  std::string kek_label_;
  SecureString key_;  // the letter's data key
  Bytes wrapped_key_;
};

// PrepareLetter checks |in| (CheckLetterInput) and draws the letter's data key, wrapped by the
// token's key encryption key |kek_label| (created in the token on first use). Copies the PIN
// and PUK into wiped memory; |in| may be dropped afterwards.
Result<PreparedLetter> PrepareLetter(CryptoToken& token, const std::string& kek_label,
                                     const PinLetterInput& in);

// StoreLetter records |letter| inside the caller's open transaction (so a station can queue
// the letter in the transaction that marks its card personalized): the `created` row, the
// secret sealed under the data key and bound to the new letter id, and the audit entry
// "pinletter.create" by |actor| (request, card serial and profile; never the secret). Safe to
// run again after a rollback (RunTransaction retries); each run seals afresh. Returns the
// letter id.
Result<int64_t> StoreLetter(store::Connection& db, const PreparedLetter& letter,
                            const std::string& actor);

// QueueLetter is PrepareLetter, then StoreLetter in a transaction of its own: a `created`
// letter with its PIN and PUK sealed. Returns the letter id.
[[nodiscard]] Result<int64_t> QueueLetter(store::Connection& db, CryptoToken& token,
                                          const std::string& kek_label, const PinLetterInput& in,
                                          const std::string& actor);

// PrintOptions says where letters are printed, with which key they open, and as whom.
struct PrintOptions {
  // The print queue directory, created (mode 0700) if missing; each letter is written there
  // as pinletter-<id>.pdf, mode 0600, for the print spooler to take.
  std::string queue_dir;
  // The print spooler's command (run by /bin/sh with the PDF's path as its last argument, e.g.
  // "lp -d letters --"). Set: each letter is handed to it and, once it exits 0 (the spooler
  // holds its own copy), the PDF is overwritten and removed, so no file in the queue directory
  // keeps a PIN; a spooler that fails leaves the letter created, its file removed. Empty: the
  // PDF stays in the queue directory for whatever takes files from it (which must remove it).
  std::string spooler;
  std::string actor;
  // The card profiles: each letter is laid out from its profile's [letter] template.
  const profiles::ProfileSet* profiles = nullptr;
  // The letter's date, "YYYY-MM-DD" (empty: today, UTC).
  std::string date;
};

struct PrintedLetter {
  int64_t id = 0;
  std::string path;      // where the PDF is (queue directory), or was (spooled)
  bool spooled = false;  // handed to PrintOptions::spooler and removed
};

// PrintLetter prints the `created` letter |id|: its data key is unwrapped by the token, its
// secret opened (the AAD checked), the PDF laid out and written to the queue directory; then,
// in the transaction that held the letter's row locked throughout, the letter is marked
// `printed`, its sealed secret and wrapped key are set to NULL, and "pinletter.print" is
// audited. A PIN letter's card moves from personalized to letter-printed in that transaction
// (store::CardLetterPrinted, audited). The PDF in memory and the opened secret are wiped. A letter
// already printed or mailed is a conflict that names when, and says that a reprint must be asked
// for explicitly. If the database fails after the file was written the letter stays `created` with
// its secret, and printing it again writes the same file anew.
Result<PrintedLetter> PrintLetter(store::Connection& db, CryptoToken& token, int64_t id,
                                  const PrintOptions& options);

struct PrintTally {
  std::vector<PrintedLetter> printed;
  std::vector<std::string> failed;  // one message per letter that could not be printed
};
// PrintAll prints every `created` letter, in id order; a letter that fails is reported in the
// tally and the others go on. Only a failure to list the letters fails the whole call.
Result<PrintTally> PrintAll(store::Connection& db, CryptoToken& token, const PrintOptions& options);

// ReprintLetter is an operator's explicit request to print letter |id| again. The operator
// |op| (a registered, active operator's canonical name) proves it is them by signing a reprint
// statement with |key|, checked against their registered certificate. Since a letter's PIN and
// PUK are wiped when it is printed, a reprint of a printed or mailed letter is refused, as
// EJBCA and MyID refuse a PIN mailer whose PIN they no longer hold: the refusal is audited
// ("pinletter.reprint-refused", with the signed statement) and its message says what to do
// instead (reset the card's PIN, which queues a new letter). A `created` letter is refused too:
// it has never been printed, so it is printed without --reprint. Always returns an error
// status; an error of kind kConflict is the audited refusal.
[[nodiscard]] Status ReprintLetter(store::Connection& db, int64_t id, const std::string& op,
                                   StatementKey& key);

// MarkMailed moves the `printed` letter |id| to `mailed` and audits "pinletter.mail" as
// |actor|; a letter in any other state is a conflict naming its state.
[[nodiscard]] Status MarkMailed(store::Connection& db, int64_t id, const std::string& actor);

// SampleLetter lays out a letter of |profile| with a made-up card, PIN and PUK (an activation
// code, for a profile that posts its codes), marked SAMPLE beside the box: for designing a
// profile's [letter] template. |recipient| is the holder to show (checked as QueueLetter checks
// it); empty: a made-up one.
Result<SecureString> SampleLetter(const profiles::CardProfile& profile,
                                  const LetterRecipient& recipient = {});

// QueueLetterForCard is what a station calls once a card passed every check, inside the
// transaction |tx| that marks the card personalized (so the card is personalized exactly when
// its letter exists): the holder's name and address from the request's |fields_json| with
// |profile|'s [letter] templates (RecipientFromFields), then PrepareLetter (one HSM call) and
// StoreLetter. |puk| may be empty. Returns the letter id.
Result<int64_t> QueueLetterForCard(store::Connection& tx, CryptoToken& token,
                                   const std::string& kek_label,
                                   const profiles::CardProfile& profile, int64_t request_id,
                                   const std::string& card_serial, const std::string& fields_json,
                                   const SecureString& pin, const SecureString& puk,
                                   const std::string& actor);

// ---- Activation-code letters (issue 12) ----
//
// A soft profile with activation.code = "letter" sends its activation code by post: when a
// request of it is issued, the issuing transaction stores the activation (the code's HMAC
// only, kgs/activations.h) and a letter of kind activation-code with the code sealed, which
// `pinletter print` lays out like a PIN letter (the code in the box, the request number where
// a PIN letter has the card serial) and wipes as it does a PIN.
//
// The bulk path issues thousands of requests a second, so a batch run does not draw a data key
// per letter (an HSM round trip each): CodeLetterKey is drawn and wrapped once per run, each
// letter row keeps that wrapped key beside its own sealed code (AES-256-GCM with a random IV,
// its additional data binding it to the letter's id and request), and printing unwraps it as
// it does a PIN letter's. Wiping a printed letter removes its sealed code; the run's key
// survives in the rows of its other letters, which it cannot open for them without their own
// sealed code.

// CodeLetter is one activation-code letter to store.
struct CodeLetter {
  int64_t request_id = 0;
  std::string profile;
  std::string holder_name;
  std::vector<std::string> postal_address;
  SecureString code;  // "XXXXX-XXXXX", as the holder types it
};

// CodeLetterKey is one data key for many activation-code letters, wrapped by the token's key
// encryption key. Immutable after Draw; may be shared by threads.
class CodeLetterKey {
 public:
  // Draw draws the key and has the token's key encryption key |kek_label| wrap it (one HSM
  // call).
  static Result<CodeLetterKey> Draw(CryptoToken& token, const std::string& kek_label);
  CodeLetterKey(CodeLetterKey&&) = default;
  CodeLetterKey& operator=(CodeLetterKey&&) = default;

 private:
  friend Result<std::vector<int64_t>> StoreCodeLetters(store::Connection&, const CodeLetterKey&,
                                                       const std::vector<CodeLetter>&,
                                                       const std::string&, store::AuditEvent*);
  CodeLetterKey() = default;
  std::string kek_label_;
  SecureString key_;
  Bytes wrapped_;
};

// CheckRecipient checks a letter's holder name and postal address as QueueLetter does (the
// text rules, 1-5 lines, and that each line fits the envelope window); the message names the
// line.
[[nodiscard]] Status CheckRecipient(const std::string& holder_name,
                                    const std::vector<std::string>& postal_address);

// StoreCodeLetters records |letters| (checked with CheckRecipient by the caller) in the
// caller's open transaction, the issuing one: `created` letters of kind activation-code, each
// code sealed under |key| and bound to its letter id and request; three statements for up to
// a thousand letters. Sets |*audit| to the one "pinletter.create" entry that records them
// (their ids and requests, never a code) for the caller to append with its own (a chunk
// appends its audit entries as one batch). Returns the letter ids in |letters|' order. Safe to
// run again after a rollback.
Result<std::vector<int64_t>> StoreCodeLetters(store::Connection& tx, const CodeLetterKey& key,
                                              const std::vector<CodeLetter>& letters,
                                              const std::string& actor, store::AuditEvent* audit);

// The AES-GCM additional data of a letter's wrapped data key, and of its sealed secret (a PIN
// letter's, bound to its card; an activation-code letter's, bound to its kind).
inline constexpr std::string_view kLetterKeyAad = "certpress-letter-dek-v1";
std::string LetterSecretAad(int64_t letter_id, int64_t request_id, std::string_view card_serial,
                            std::string_view kind = store::kKindPin);

}  // namespace certpress::kgs
