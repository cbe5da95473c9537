// site.h: the server's pages. GET/POST /pickup/<token> (a soft certificate's PKCS#12, or a
// CSR-based request's certificate and chain), GET/POST /apply/<token> (an invitation's
// application form), / and /static/style.css. Every request is rate limited per address
// (POSTs, which derive keys, more strictly); every POST needs its CSRF token. No secret ever
// travels in a URL query: the link token is in the path (it is what the mail carries), the
// activation code and passwords are in POST bodies. A profile's pages (its pickup and
// application forms and what they lead to) speak the profile's language; pages not tied to a
// profile, including the one page for every link that cannot be used, speak the server's
// (SiteOptions::lang), so that page tells nothing about the profile behind a link.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "cardprofiles/profile.h"
#include "kgs/activations.h"
#include "signer/pkcs12.h"
#include "signer/token.h"
#include "web/db_pool.h"
#include "web/http.h"
#include "web/security.h"

namespace certpress::web {

struct SiteOptions {
  double rate_per_minute = 120;  // every request, per address
  double rate_burst = 60;
  double post_per_minute = 12;  // POSTs (a pickup derives a PKCS#12 key: expensive)
  double post_burst = 6;
  int pkcs12_iterations = 600000;  // PBKDF2-HMAC-SHA256 rounds (signer/pkcs12.h)
  Lang lang = Lang::kEn;           // pages not tied to a profile (web.language)
  std::string actor = "web";
};

class Site {
 public:
  Site(DbPool& db, CryptoToken& token, const profiles::ProfileSet& profiles,
       std::shared_ptr<const kgs::ActivationKeys> keys, SiteOptions options);

  Response Handle(const Request& req);

 private:
  Response Pickup(const Request& req, const std::string& token);
  Response Apply(const Request& req, const std::string& token);
  // InvalidLink is the one page for every link that cannot be used. A refusal that concerns an
  // existing link (|known|.id set: expired, used, locked, replaced) is audited; a malformed or
  // unknown token is only logged (never the token) and counted (unknown_links_): a request
  // anybody can send must not grow the append-only audit log nor queue on its head's lock.
  Response InvalidLink(const Request& req, const std::string& route,
                       const kgs::KnownLink& known = {});
  Response Unavailable(Lang lang, const std::string& what, const Status& why);
  Response Html(Lang lang, int status, std::string_view title, const std::string& body) const;
  // Lang of |profile|'s pages: its activation.language.
  static Lang LangOf(const profiles::CardProfile& profile);

  DbPool& db_;
  CryptoToken& token_;
  const profiles::ProfileSet& profiles_;
  std::shared_ptr<const kgs::ActivationKeys> keys_;
  SiteOptions options_;
  Csrf csrf_;
  RateLimiter all_;
  RateLimiter posts_;
  std::atomic<uint64_t> unknown_links_{0};
};

}  // namespace certpress::web
