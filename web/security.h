// security.h: what every page of the server needs against the usual web attacks: CSRF tokens
// (signed double-submit cookies), per-address rate limiting, form and cookie parsing, HTML
// escaping and constant-time comparison.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/bytes.h"
#include "common/status.h"
#include "common/utf8.h"  // HtmlEscape, for the pages
#include "web/http.h"

namespace certpress::web {

// RandomToken returns |bytes| random bytes (RAND_bytes) as unpadded base64url (RFC 4648 5).
std::string RandomToken(size_t bytes);
std::string Base64Url(ByteSpan data);

// ConstantTimeEquals compares without a data-dependent early exit (CRYPTO_memcmp); unequal
// lengths are unequal.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// ParseForm reads an application/x-www-form-urlencoded body (the HTML form encoding): '+' is
// a space, %XX an octet. A malformed escape or a repeated name is invalid input.
Result<std::map<std::string, std::string>> ParseForm(std::string_view body);

// CookieValue returns the value of cookie |name| in the request's Cookie header, or "".
std::string CookieValue(const Request& req, std::string_view name);

// Csrf protects every POST with a signed double-submit cookie (OWASP CSRF cheat sheet): a
// random cookie __Host-certpress-csrf (Secure, HttpOnly, SameSite=Strict, Path=/; the
// __Host- prefix keeps a sibling host from planting one) and, in each form, HMAC-SHA256 of
// that cookie under a key that lives only in this process. A cross-site page can neither read
// the cookie nor compute the form value. An Origin header, when the browser sends one, must
// name this server (or be "null", as under no-referrer), and Sec-Fetch-Site must be
// same-origin.
class Csrf {
 public:
  static constexpr std::string_view kCookie = "__Host-certpress-csrf";
  static constexpr std::string_view kField = "csrf";

  Csrf();  // a fresh random key
  struct Issued {
    std::string form_value;  // for the hidden field
    std::string set_cookie;  // a Set-Cookie value, when the request had no usable cookie
  };
  // Issue gives the form value for the request's cookie, or a new cookie and its value.
  Issued Issue(const Request& req) const;
  // Check is true when the form's value matches the cookie and the origin is ours.
  bool Check(const Request& req, std::string_view form_value) const;

 private:
  std::string Sign(std::string_view cookie) const;
  SecureString key_;
};

// RateLimiter is a token bucket per client address: |burst| requests at once, refilled at
// |per_minute|. Thread-safe; idle addresses are forgotten so the table stays small.
class RateLimiter {
 public:
  RateLimiter(double per_minute, double burst);
  // Allow takes one token from |address|'s bucket; false (and the seconds until the next
  // token in |retry_after|) when it is empty.
  bool Allow(const std::string& address, int* retry_after = nullptr);

 private:
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point at;
  };
  double per_second_;
  double burst_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace certpress::web
