// activations.h: rows of the activation links of soft certificates and of the mail outbox
// (schema 9). Secrets never reach these tables in clear: a link token and an activation code
// are stored only as HMAC-SHA256 values under an activation key, itself stored only wrapped by
// the token's key encryption key (kgs/activations.h computes them; this file only moves bytes).
// Every time that matters (expiry, the outbox's next attempt) is the database clock's NOW(6),
// so that machines with skewed clocks agree.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/db.h"

namespace certpress::store {

// Activation states. "expired" is not stored: a sent or opened link whose expires_at passed
// reads as expired (ActivationRow::expired).
inline constexpr const char* kActQueued = "queued";  // issued, mail not yet sent: no link yet
inline constexpr const char* kActSent = "sent";      // a link exists and was mailed
inline constexpr const char* kActOpened = "opened";  // the pickup page was shown
inline constexpr const char* kActUsed = "used";      // picked up (once)
inline constexpr const char* kActLocked = "locked";  // too many wrong codes
inline constexpr const char* kActVoid = "void";      // replaced by a resend
// The mail with its link failed for good (the server refused it, or every retry was spent):
// the link, which nobody received, stops working; `activation resend` sends a new one.
inline constexpr const char* kActUndelivered = "undelivered";

struct NewActivation {
  int64_t request_id = 0;
  std::string profile;
  std::string recipient_email;
  std::string recipient_name;
  bool code_needed = false;
  // How the code reaches the holder: profiles::CodeChannelName ("operator", "letter"); empty
  // when no code is needed.
  std::string code_channel;
  int64_t validity_seconds = 7 * 24 * 3600;
  int max_attempts = 10;
  // A resend carries the request's activation code over (its HMAC and key), and with it the
  // wrong attempts already spent on that code: a lock belongs to the code, not to the link.
  std::optional<std::string> code_hmac;
  std::optional<int64_t> code_key_id;
  int attempts = 0;
};

struct ActivationRow {
  int64_t id = 0;
  int64_t request_id = 0;
  std::string profile;
  std::string recipient_email;
  std::string recipient_name;
  std::string state;
  bool code_needed = false;
  bool code_set = false;
  std::string code_channel;  // as NewActivation's
  int64_t key_id = 0;        // the activation key of token_hmac (0: no link yet)
  std::string token_hmac;
  int64_t code_key_id = 0;
  std::string code_hmac;
  int64_t validity_seconds = 0;
  int max_attempts = 0;
  int attempts = 0;
  std::string expires_at;  // "YYYY-MM-DD HH:MM:SS" UTC, or empty before the link exists
  bool expired = false;    // expires_at <= NOW(6) when read
  std::string created_at;
};

// QueueActivations inserts |rows| (state queued) and, for each, its mail in the outbox (kind
// "activation"), in the caller's transaction: the issuing transaction, so a certificate is
// never issued without its mail nor a mail queued for a certificate that was not.
// |message_salt| (random hex) makes the outbox's Message-IDs unique across databases.
[[nodiscard]] Status QueueActivations(Connection& conn, std::span<const NewActivation> rows,
                                      const std::string& message_salt);

// RequestFieldsJson reads the fields (JSON object) of requests |ids|, by id.
Result<std::map<int64_t, std::string>> RequestFieldsJson(Connection& conn,
                                                         const std::vector<int64_t>& ids);

// FindActivationByToken reads, and locks with |lock| (FOR UPDATE), the activation whose
// token_hmac is one of |hmacs| (one per activation key).
Result<std::optional<ActivationRow>> FindActivationByToken(Connection& conn,
                                                           const std::vector<std::string>& hmacs,
                                                           bool lock);
Result<std::optional<ActivationRow>> FindActivationById(Connection& conn, int64_t id, bool lock);
// LatestActivation reads a request's newest activation (void ones too), locked with |lock|.
Result<std::optional<ActivationRow>> LatestActivation(Connection& conn, int64_t request_id,
                                                      bool lock);

// SetActivationLink stores a new link of activation |id|: its HMAC, valid from now for its
// validity, state sent; the previous link (if any) stops working. The wrong attempts are kept:
// the code is the same, so a new link (a mail retry) gives no new guesses at it.
[[nodiscard]] Status SetActivationLink(Connection& conn, int64_t id, int64_t key_id,
                                       const std::string& token_hmac);
// SetActivationCode stores the HMAC of a request's new activation code on its live activations.
Result<int64_t> SetActivationCode(Connection& conn, int64_t request_id, int64_t key_id,
                                  const std::string& code_hmac);
// HasCodeChannel says whether any activation of request |request_id| (live or not) has its
// code sent over |channel|.
Result<bool> HasCodeChannel(Connection& conn, int64_t request_id, std::string_view channel);
// SetActivationState moves activation |id| to |state| (opened_at / used_at stamped).
[[nodiscard]] Status SetActivationState(Connection& conn, int64_t id, const char* state);
// MarkActivationUndelivered is what the mailer does, in the transaction that fails an
// activation's mail for good: a queued or sent activation becomes undelivered and loses its
// link's HMAC. Returns whether it did (false: the activation had moved on, e.g. voided).
Result<bool> MarkActivationUndelivered(Connection& conn, int64_t id);

// CountWrongAttempt adds one to the wrong attempts; returns the new count.
Result<int> CountWrongAttempt(Connection& conn, int64_t id);

struct ActivationListing {
  int64_t id = 0;
  int64_t request_id = 0;
  std::string profile;
  std::string recipient_email;
  std::string recipient_name;
  std::string state;  // as stored, or "expired"
  std::string mail_state;
  int attempts = 0;
  std::string expires_at;
};
// ListActivations lists activations, newest first (|request_id| > 0: that request's only).
Result<std::vector<ActivationListing>> ListActivations(Connection& conn, int64_t request_id);

// The outbox.
inline constexpr const char* kMailQueued = "queued";
inline constexpr const char* kMailSending = "sending";
inline constexpr const char* kMailSent = "sent";
inline constexpr const char* kMailFailed = "failed";
inline constexpr const char* kMailVoid = "void";

struct OutboxRow {
  int64_t id = 0;
  std::string kind;  // "activation"
  int64_t ref_id = 0;
  std::string recipient_email;
  std::string recipient_name;
  std::string profile;
  std::string message_id;  // the local part; stable for the row's life
  int attempts = 0;
};

// QueueMail adds one mail (a resend) in the caller's transaction; returns its id.
Result<int64_t> QueueMail(Connection& conn, const OutboxRow& row, const std::string& message_salt);
// VoidMails voids unsent mails of |kind| about |ref_id|.
[[nodiscard]] Status VoidMails(Connection& conn, const std::string& kind, int64_t ref_id);

// ClaimMails takes up to |limit| due mails (queued, or sending whose lease ran out: a mailer
// that died mid-send) for |claimer| with a lease of |lease_seconds|, attempts + 1. SKIP LOCKED,
// so several mailers share the outbox.
Result<std::vector<OutboxRow>> ClaimMails(Connection& conn, const std::string& claimer, int limit,
                                          int lease_seconds);
// MarkMailSent ends a mail sent; only while |claimer| holds it.
[[nodiscard]] Status MarkMailSent(Connection& conn, int64_t id, const std::string& claimer);
// RetryMailLater puts a mail back for another attempt in |delay_seconds|, with the error.
[[nodiscard]] Status RetryMailLater(Connection& conn, int64_t id, const std::string& claimer,
                                    int64_t delay_seconds, const std::string& error);
// FailMail ends a mail failed with the server's reply.
[[nodiscard]] Status FailMail(Connection& conn, int64_t id, const std::string& claimer,
                              const std::string& error);
// VoidMail ends a mail that has nothing left to say (its activation was used or replaced).
[[nodiscard]] Status VoidMail(Connection& conn, int64_t id, const std::string& claimer,
                              const std::string& why);

struct MailListing {
  int64_t id = 0;
  std::string kind;
  int64_t ref_id = 0;
  std::string recipient_email;
  std::string state;
  int attempts = 0;
  std::string next_attempt_at;
  std::string last_error;
  std::string message_id;
};
Result<std::vector<MailListing>> ListMails(Connection& conn);

// Wrapped activation keys (as audit keys: kgs unwraps them).
struct WrappedActivationKey {
  int64_t id = 0;
  std::string kek_label;
  std::string wrapped;
};
Result<std::vector<WrappedActivationKey>> ListActivationKeys(Connection& conn);
Result<int64_t> StoreActivationKey(Connection& conn, const std::string& kek_label,
                                   ByteSpan wrapped);

}  // namespace certpress::store
