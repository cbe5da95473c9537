// mailer.h: the outbox mailer. Mails are queued in the transaction that makes them due (the
// transactional outbox, store/activations.h); the mailer claims due rows, builds each message
// and sends it over SMTP with libcurl (RFC 5321; STARTTLS per RFC 3207 or implicit TLS per
// RFC 8314; AUTH when a user is configured), then marks it sent. A failure is retried with
// exponential backoff (the next attempt's time is in the row); a permanent refusal (5xx), or
// the last attempt, ends it failed with the server's reply.
//
// An activation mail's link token is minted just before sending (kgs/activations.h MintLink)
// and lives only in wiped memory until the message has gone: a crash between sending and
// marking sent resends the row with the same Message-ID (RFC 5322 3.6.4) and a fresh link, the
// first link then no longer working.
//
// The messages themselves are built by kgs/mail_message.h.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "cardprofiles/profile.h"
#include "common/bytes.h"
#include "common/status.h"
#include "kgs/activations.h"
#include "kgs/mail_message.h"
#include "store/activations.h"
#include "store/db.h"

namespace certpress::kgs {

enum class SmtpTls { kStartTls, kImplicit, kNone };
Result<SmtpTls> ParseSmtpTls(std::string_view text);

// UrlHost is the host of "scheme://[user@]host[:port][/...]" (an IPv6 literal without its
// brackets), lower case; "" when there is none.
std::string UrlHost(std::string_view url);
// IsLoopbackHost: "localhost", an address in 127.0.0.0/8, or ::1.
bool IsLoopbackHost(std::string_view host);

// Composer makes the mail of an outbox row of another kind than "activation" (an invitation
// from web/, say), minting whatever secret it links to: called just before sending, so that
// the clear secret lives only in memory. It gets the drain's profiles (the row's profile
// names the mail's language). A Conflict or NotFound voids the row (nothing left to send);
// another error stops the drain (the row is retried after its lease).
using Composer = std::function<Result<RenderedMail>(store::Connection&, const store::OutboxRow&,
                                                    const profiles::ProfileSet&)>;

struct MailSettings {
  std::string smtp_url;              // smtp://host:port (STARTTLS, none) or smtps://host:port
  SmtpTls tls = SmtpTls::kStartTls;  // kNone only for a local development server
  std::string from;                  // "CertPress <certpress@example.org>" or an address
  std::string username;              // AUTH when not empty
  SecureString password;
  std::string ca_file;     // CA certificates to verify the server (empty: system)
  std::string public_url;  // links: public_url + "/pickup/" + token
  std::string claimer;     // who holds claimed rows ("mailer:<host>:<pid>")
  int timeout_seconds = 30;
  int max_attempts = 8;           // then failed
  int backoff_base_seconds = 30;  // attempt n waits base * 2^(n-1), capped
  int backoff_max_seconds = 3600;
  int lease_seconds = 120;  // a claimed row returns to the queue after this
  // Composers of other mail kinds, by the outbox row's kind (store::QueueMail writes them).
  std::map<std::string, Composer> composers;
};

// CheckMailSettings says what is missing or inconsistent (an smtp:// URL with implicit TLS),
// and refuses what would put links in clear on a network: mail.tls = none for a host that is not
// loopback, a web.public-url that is not https:// (http:// only for a loopback host).
[[nodiscard]] Status CheckMailSettings(const MailSettings& s);

// ---- Sending ----

struct DrainReport {
  int sent = 0;
  int retried = 0;  // put back for a later attempt
  int failed = 0;   // ended failed
  int voided = 0;   // nothing left to send (activation used, replaced or locked)
};

// DrainOutbox sends due mails until none is due (|max_mails| > 0: at most that many). Errors
// of one mail are recorded in its row; an error is returned only when the database fails.
Result<DrainReport> DrainOutbox(store::Connection& db, const ActivationKeys& keys,
                                const profiles::ProfileSet& profiles, const MailSettings& settings,
                                int max_mails = 0);

// RunMailer drains the outbox every |poll_seconds| until |stop| is set (the scheduler runs it
// on a thread of its own), logging as component "mailer".
void RunMailer(store::Connection& db, const ActivationKeys& keys,
               const profiles::ProfileSet& profiles, const MailSettings& settings, int poll_seconds,
               const std::atomic<bool>& stop);

// The test hook: with CERTPRESS_TEST_MAILER_EXIT_AFTER_SEND set, the process exits (status
// 75) right after the server accepted a mail and before it is marked sent, as a crash would.
inline constexpr const char* kExitAfterSendHook = "CERTPRESS_TEST_MAILER_EXIT_AFTER_SEND";

}  // namespace certpress::kgs
