#include "kgs/mailer.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <thread>

#include "common/log.h"
#include "common/texts.h"
#include "common/utf8.h"
#include "store/activations.h"
#include "store/audit.h"

namespace certpress::kgs {

namespace {

std::string Rfc5322Date(time_t t) {
  struct tm tm;
  gmtime_r(&t, &tm);
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

// An address we put in an SMTP command and a header: no controls, spaces or angle brackets.
bool SafeAddress(std::string_view a) {
  if (a.empty() || a.find('@') == std::string_view::npos) return false;
  for (unsigned char ch : a) {
    if (ch <= 0x20 || ch == 0x7f || ch == '<' || ch == '>' || ch == '"' || ch == ',') return false;
  }
  return true;
}

// ---- libcurl ----

struct CurlDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Upload {
  std::string_view data;
  size_t pos = 0;
};

size_t ReadBody(char* buf, size_t size, size_t nitems, void* user) {
  auto* up = static_cast<Upload*>(user);
  const size_t n = std::min(size * nitems, up->data.size() - up->pos);
  std::memcpy(buf, up->data.data() + up->pos, n);
  up->pos += n;
  return n;
}

// Keeps the server's last reply line (CURLINFO_HEADER_IN: what the server said, never what we
// sent, so no message text and no credential passes here).
// The reply kept is the last refusal (4xx or 5xx, RFC 5321 4.2.1), else the last line: after
// a refusal libcurl may still say RSET or QUIT, whose answers explain nothing.
struct Replies {
  std::string last, refusal;
  const std::string& Best() const { return refusal.empty() ? last : refusal; }
};
int KeepReply(CURL*, curl_infotype type, char* data, size_t size, void* user) {
  if (type != CURLINFO_HEADER_IN) return 0;
  std::string line(data, size);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (line.empty()) return 0;
  auto* r = static_cast<Replies*>(user);
  r->last = line;
  if (line[0] == '4' || line[0] == '5') r->refusal = line;
  return 0;
}

struct SmtpOutcome {
  bool ok = false;
  bool permanent = false;  // 5xx: the server will not take it, whatever we retry
  std::string reply;
};

class SmtpClient {
 public:
  SmtpClient() {
    GlobalInit();
    h_.reset(curl_easy_init());
  }

  SmtpOutcome Send(const MailSettings& s, const std::string& from, const std::string& to,
                   const SecureString& message) {
    SmtpOutcome out;
    if (!h_) {
      out.reply = "curl_easy_init failed";
      return out;
    }
    CURL* h = h_.get();
    // Reset keeps the connection cache: the next mail reuses the SMTP session.
    curl_easy_reset(h);
    std::unique_ptr<curl_slist, SlistDeleter> rcpt(
        curl_slist_append(nullptr, ("<" + to + ">").c_str()));
    Upload up{message.view(), 0};
    Replies reply;
    char errbuf[CURL_ERROR_SIZE] = {0};
    const std::string mail_from = "<" + from + ">";
    curl_easy_setopt(h, CURLOPT_URL, s.smtp_url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from.c_str());
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt.get());
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, ReadBody);
    curl_easy_setopt(h, CURLOPT_READDATA, &up);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(up.data.size()));
    // RFC 3207 STARTTLS required (never silently plain), RFC 8314 implicit TLS by smtps://.
    curl_easy_setopt(h, CURLOPT_USE_SSL,
                     s.tls == SmtpTls::kNone ? static_cast<long>(CURLUSESSL_NONE)
                                             : static_cast<long>(CURLUSESSL_ALL));
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!s.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, s.ca_file.c_str());
    if (!s.username.empty()) {
      curl_easy_setopt(h, CURLOPT_USERNAME, s.username.c_str());
      curl_easy_setopt(h, CURLOPT_PASSWORD, s.password.str().c_str());
    }
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, static_cast<long>(s.timeout_seconds));
    curl_easy_setopt(h, CURLOPT_TIMEOUT, static_cast<long>(s.timeout_seconds) * 2);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);  // only for KeepReply; it prints nothing itself
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, KeepReply);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, &reply);
    const CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    // The password was copied into the handle; reset drops it.
    if (!s.username.empty()) curl_easy_setopt(h, CURLOPT_PASSWORD, "");
    if (rc == CURLE_OK) {
      out.ok = true;
      out.reply = reply.last;
      return out;
    }
    // After a refusal the session may be left mid-transaction (a 500 after DATA, and the
    // server then answers the next MAIL with 503 "nested MAIL command"): the next mail opens
    // a connection of its own.
    h_.reset(curl_easy_init());
    // A 5xx is final for this mail only where it is about this mail: its recipient (RCPT) or
    // its content (after DATA). Refusals of the session (530 "must issue STARTTLS" or
    // "authentication required", 534/535/538 AUTH, RFC 4954 6; a 5xx to MAIL FROM, a sender
    // the relay will not take) are our configuration's or the relay's: every mail would get
    // them, so they wait with backoff for someone to fix it, instead of failing the whole
    // outbox in one drain.
    const bool session_refused =
        rc == CURLE_LOGIN_DENIED || code == 530 || code == 534 || code == 535 || code == 538 ||
        std::string_view(errbuf).find("MAIL failed") != std::string_view::npos;
    out.permanent = code >= 500 && code < 600 && !session_refused;
    out.reply = std::string(curl_easy_strerror(rc));
    if (errbuf[0] != '\0') out.reply += ": " + std::string(errbuf);
    if (!reply.Best().empty()) out.reply += " (server: " + reply.Best() + ")";
    return out;
  }

 private:
  std::unique_ptr<CURL, CurlDeleter> h_;
};

const log::Logger& MailLog() {
  static const log::Logger log = log::Get("mailer");
  return log;
}

int64_t Backoff(const MailSettings& s, int attempts) {
  int64_t d = s.backoff_base_seconds;
  for (int i = 1; i < attempts && d < s.backoff_max_seconds; ++i) d *= 2;
  return std::min<int64_t>(d, s.backoff_max_seconds);
}

enum class Sent { kSent, kRetried, kFailed, kVoided };

Status EndRow(store::Connection& db, const std::function<Status(store::Connection&)>& f) {
  return store::RunTransaction(db, f);
}

Result<Sent> SendOne(store::Connection& db, const ActivationKeys& keys,
                     const profiles::ProfileSet& profiles, const MailSettings& s, SmtpClient& smtp,
                     const store::OutboxRow& row) {
  auto void_it = [&](const std::string& why) -> Result<Sent> {
    CP_RETURN_IF_ERROR(EndRow(
        db, [&](store::Connection& c) { return store::VoidMail(c, row.id, s.claimer, why); }));
    return Sent::kVoided;
  };
  // A mail that failed for good is audited; an activation's link, which nobody received, is
  // withdrawn in the same transaction, so `activation list` says "undelivered" rather than
  // "sent" and the operator knows to fix the address and resend.
  auto fail_it = [&](const std::string& why) -> Result<Sent> {
    CP_RETURN_IF_ERROR(EndRow(db, [&](store::Connection& c) -> Status {
      CP_RETURN_IF_ERROR(store::FailMail(c, row.id, s.claimer, why));
      std::string detail = "kind=" + row.kind + " ref=" + std::to_string(row.ref_id) +
                           " attempts=" + std::to_string(row.attempts) + " error=" + why;
      if (row.kind == "activation") {
        CP_ASSIGN_OR_RETURN(bool withdrawn, store::MarkActivationUndelivered(c, row.ref_id));
        if (withdrawn) detail += " activation=undelivered";
      }
      return store::AppendAudit(
          c, {s.claimer, "mail.failed", "mail:" + std::to_string(row.id), detail});
    }));
    MailLog().Warn("mail failed", {{"mail", row.id}, {"attempts", row.attempts}, {"error", why}});
    return Sent::kFailed;
  };
  if (!SafeAddress(row.recipient_email)) return fail_it("not a usable recipient address");
  std::string from_name, from_address;
  SplitMailbox(s.from, &from_name, &from_address);

  RenderedMail rendered;
  if (row.kind != "activation") {
    // Another module's mail (invitations): its composer mints what it links to.
    auto composer = s.composers.find(row.kind);
    if (composer == s.composers.end()) return fail_it("unknown mail kind '" + row.kind + "'");
    auto composed = composer->second(db, row, profiles);
    if (!composed.ok()) {
      const ErrorKind k = composed.status().kind();
      if (k == ErrorKind::kConflict || k == ErrorKind::kNotFound) {
        return void_it(composed.status().message());
      }
      return composed.status();
    }
    rendered = std::move(composed).value();
  } else {
    CP_ASSIGN_OR_RETURN(auto act, store::FindActivationById(db, row.ref_id, false));
    if (!act) return void_it("activation missing");
    if (act->state == store::kActUsed || act->state == store::kActLocked ||
        act->state == store::kActVoid) {
      return void_it("activation " + act->state);
    }
    // The link is minted now, in memory only, and is gone when this function returns.
    auto minted = MintLink(db, keys, act->id);
    if (!minted.ok()) {
      if (minted.status().kind() == ErrorKind::kConflict) return void_it("activation not live");
      return minted.status();
    }
    profiles::ActivationSpec spec;
    if (auto card = profiles.Card(row.profile); card.ok()) spec = (*card)->activation;
    std::string base = s.public_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    SecureString link(base + "/pickup/" + minted->token.str());
    CP_ASSIGN_OR_RETURN(rendered, RenderMail(spec, row.recipient_name, link.view(),
                                             minted->expires_at.substr(0, 16) + " UTC"));
  }
  MailMessage m;
  m.from_name = from_name;
  m.from_address = from_address;
  m.to_name = row.recipient_name;
  m.to_address = row.recipient_email;
  m.subject = rendered.subject;
  const size_t at = from_address.find('@');
  m.message_id =
      row.message_id + "@" +
      (at == std::string::npos ? std::string("certpress.invalid") : from_address.substr(at + 1));
  m.date = Rfc5322Date(time(nullptr));
  m.text = std::move(rendered.text);
  m.html = std::move(rendered.html);
  const SecureString message = BuildMessage(m);
  const SmtpOutcome sent = smtp.Send(s, from_address, row.recipient_email, message);
  if (sent.ok) {
    if (std::getenv(kExitAfterSendHook) != nullptr) _exit(75);
    CP_RETURN_IF_ERROR(EndRow(
        db, [&](store::Connection& c) { return store::MarkMailSent(c, row.id, s.claimer); }));
    MailLog().Debug("mail sent", {{"mail", row.id}, {"kind", row.kind}, {"ref", row.ref_id}});
    return Sent::kSent;
  }
  if (sent.permanent || row.attempts >= s.max_attempts) return fail_it(sent.reply);
  const int64_t delay = Backoff(s, row.attempts);
  CP_RETURN_IF_ERROR(EndRow(db, [&](store::Connection& c) {
    return store::RetryMailLater(c, row.id, s.claimer, delay, sent.reply);
  }));
  MailLog().Info(
      "mail deferred",
      {{"mail", row.id}, {"attempts", row.attempts}, {"retry_in_s", delay}, {"error", sent.reply}});
  return Sent::kRetried;
}

}  // namespace

std::string UrlHost(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return "";
  std::string_view rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (const size_t at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
  if (!rest.empty() && rest.front() == '[') {  // an IPv6 literal (RFC 3986 3.2.2)
    const size_t close = rest.find(']');
    return close == std::string_view::npos ? "" : std::string(rest.substr(1, close - 1));
  }
  std::string host(rest.substr(0, rest.find(':')));
  for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return host;
}

bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost" || host == "localhost.") return true;
  const std::string h(host);
  unsigned char v4[4], v6[16];
  // 127.0.0.0/8 (RFC 1122 3.2.1.3) and ::1 (RFC 4291 2.5.3); inet_pton takes only the full
  // dotted quad, so "127.1" or "0x7f.0.0.1" are not loopback here.
  if (inet_pton(AF_INET, h.c_str(), v4) == 1) return v4[0] == 127;
  if (inet_pton(AF_INET6, h.c_str(), v6) == 1) {
    static const unsigned char kLoop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return std::memcmp(v6, kLoop, 16) == 0;
  }
  return false;
}

Result<SmtpTls> ParseSmtpTls(std::string_view text) {
  if (text == "starttls") return SmtpTls::kStartTls;
  if (text == "implicit") return SmtpTls::kImplicit;
  if (text == "none") return SmtpTls::kNone;
  return InvalidInput("mail.tls must be starttls, implicit or none, not '" + std::string(text) +
                      "'");
}

Status CheckMailSettings(const MailSettings& s) {
  if (s.smtp_url.empty()) return InvalidInput("no SMTP server: set mail.smtp-url");
  const bool smtps = s.smtp_url.rfind("smtps://", 0) == 0;
  const bool smtp = s.smtp_url.rfind("smtp://", 0) == 0;
  if (!smtps && !smtp) {
    return InvalidInput("mail.smtp-url must start with smtp:// or smtps://: " + s.smtp_url);
  }
  if (s.tls == SmtpTls::kImplicit && !smtps) {
    return InvalidInput("mail.tls = implicit needs an smtps:// URL (RFC 8314 port 465)");
  }
  if (s.tls != SmtpTls::kImplicit && smtps) {
    return InvalidInput("an smtps:// URL is implicit TLS: set mail.tls = implicit");
  }
  // Mail in clear carries the pickup links (and the relay's password, with AUTH): tls = none is
  // for a development server on this machine only, never across a network.
  if (s.tls == SmtpTls::kNone && !IsLoopbackHost(UrlHost(s.smtp_url))) {
    return InvalidInput(
        "mail.tls = none is only for an SMTP server on this machine (127.0.0.1, "
        "::1, localhost), not '" +
        UrlHost(s.smtp_url) + "' in mail.smtp-url: set mail.tls = starttls or " + "implicit");
  }
  std::string name, address;
  SplitMailbox(s.from, &name, &address);
  if (!SafeAddress(address)) return InvalidInput("mail.from is not an address: '" + s.from + "'");
  if (s.public_url.empty()) {
    return InvalidInput("no base for pickup links: set web.public-url (or CERTPRESS_URL)");
  }
  // The links are bearer secrets: a plain-http base would send them (and the PKCS#12 password
  // typed on the page) in clear. http only for a server on this machine.
  const bool https = s.public_url.rfind("https://", 0) == 0;
  const bool http = s.public_url.rfind("http://", 0) == 0;
  if (!https && !(http && IsLoopbackHost(UrlHost(s.public_url)))) {
    return InvalidInput(
        "web.public-url must be an https:// URL (http:// only for 127.0.0.1, ::1 "
        "or localhost), not '" +
        s.public_url + "'");
  }
  if (UrlHost(s.public_url).empty()) {
    return InvalidInput("web.public-url has no host: '" + s.public_url + "'");
  }
  if (s.claimer.empty()) return InvalidInput("the mailer needs a claimer name");
  return Status::Ok();
}

Result<DrainReport> DrainOutbox(store::Connection& db, const ActivationKeys& keys,
                                const profiles::ProfileSet& profiles, const MailSettings& settings,
                                int max_mails) {
  CP_RETURN_IF_ERROR(CheckMailSettings(settings));
  DrainReport rep;
  SmtpClient smtp;
  int done = 0;
  while (max_mails <= 0 || done < max_mails) {
    // One mail per claim: a crash leaves only the mail in flight waiting for its lease, and
    // several mailers share the queue mail by mail. A claim is one short transaction; the
    // SMTP exchange costs far more.
    CP_ASSIGN_OR_RETURN(auto rows,
                        store::ClaimMails(db, settings.claimer, 1, settings.lease_seconds));
    if (rows.empty()) break;
    for (const auto& row : rows) {
      ++done;
      auto r = SendOne(db, keys, profiles, settings, smtp, row);
      if (!r.ok()) return r.status().Wrap("mail " + std::to_string(row.id));
      switch (*r) {
        case Sent::kSent:
          ++rep.sent;
          break;
        case Sent::kRetried:
          ++rep.retried;
          break;
        case Sent::kFailed:
          ++rep.failed;
          break;
        case Sent::kVoided:
          ++rep.voided;
          break;
      }
    }
  }
  return rep;
}

void RunMailer(store::Connection& db, const ActivationKeys& keys,
               const profiles::ProfileSet& profiles, const MailSettings& settings, int poll_seconds,
               const std::atomic<bool>& stop) {
  const log::Logger& log = MailLog();
  log.Info("mailer started", {{"poll_s", poll_seconds}});
  while (!stop.load()) {
    auto r = DrainOutbox(db, keys, profiles, settings);
    if (!r.ok()) {
      log.Error("draining the outbox failed", {{"error", r.status().message()}});
    } else if (r->sent + r->retried + r->failed + r->voided > 0) {
      log.Info("outbox drained", {{"sent", r->sent},
                                  {"retried", r->retried},
                                  {"failed", r->failed},
                                  {"voided", r->voided}});
    }
    for (int i = 0; i < poll_seconds * 5 && !stop.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  log.Info("mailer stopped", {});
}

}  // namespace certpress::kgs
