#include "web/security.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace certpress::web {

std::string Base64Url(ByteSpan data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (data.size() - i == 1) {
    const uint32_t v = uint32_t{data[i]} << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (data.size() - i == 2) {
    const uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

std::string RandomToken(size_t bytes) {
  Bytes b(bytes);
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) {
    // No randomness means no safe token: stop rather than hand out a guessable one.
    throw std::runtime_error("RAND_bytes failed");
  }
  std::string out = Base64Url(b);
  OPENSSL_cleanse(b.data(), b.size());
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> FormDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      if (i + 2 >= s.size()) {
        return InvalidInput("a form value ends inside a %XX escape");
      }
      const int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return InvalidInput("a form value has a bad %XX escape");
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

Result<std::map<std::string, std::string>> ParseForm(std::string_view body) {
  std::map<std::string, std::string> out;
  while (!body.empty()) {
    const size_t amp = body.find('&');
    std::string_view pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    CP_ASSIGN_OR_RETURN(std::string name, FormDecode(pair.substr(0, eq)));
    CP_ASSIGN_OR_RETURN(
        std::string value,
        FormDecode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1)));
    if (!out.emplace(std::move(name), std::move(value)).second) {
      return InvalidInput("a form field is repeated");
    }
  }
  return out;
}

std::string CookieValue(const Request& req, std::string_view name) {
  std::string_view all = req.Header("cookie");
  while (!all.empty()) {
    const size_t semi = all.find(';');
    std::string_view item = all.substr(0, semi);
    all = semi == std::string_view::npos ? std::string_view() : all.substr(semi + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    const size_t eq = item.find('=');
    if (eq != std::string_view::npos && item.substr(0, eq) == name) {
      return std::string(item.substr(eq + 1));
    }
  }
  return "";
}

Csrf::Csrf() : key_(RandomToken(32)) {}

std::string Csrf::Sign(std::string_view cookie) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.str().data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(cookie.data()), cookie.size(), mac, &len);
  return Base64Url(ByteSpan(mac, len));
}

namespace {
// A cookie of ours is 32 random bytes in base64url: 43 characters of its alphabet.
bool WellFormedCookie(std::string_view v) {
  return v.size() == 43 && std::all_of(v.begin(), v.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
         });
}
}  // namespace

Csrf::Issued Csrf::Issue(const Request& req) const {
  Issued out;
  std::string cookie = CookieValue(req, kCookie);
  if (!WellFormedCookie(cookie)) {
    cookie = RandomToken(32);
    out.set_cookie =
        std::string(kCookie) + "=" + cookie + "; Path=/; Secure; HttpOnly; SameSite=Strict";
  }
  out.form_value = Sign(cookie);
  return out;
}

bool Csrf::Check(const Request& req, std::string_view form_value) const {
  const std::string cookie = CookieValue(req, kCookie);
  if (!WellFormedCookie(cookie)) return false;
  // Origin (RFC 6454 7): a browser names the posting page's origin; another site's is refused.
  // Under Referrer-Policy: no-referrer, browsers send "Origin: null" on form posts (Fetch,
  // "serializing a request origin"), so there Fetch Metadata speaks: Sec-Fetch-Site, when
  // sent, must be same-origin.
  const std::string& origin = req.Header("origin");
  if (!origin.empty() && origin != "null" && origin != "https://" + req.Header("host")) {
    return false;
  }
  const std::string& site = req.Header("sec-fetch-site");
  if (!site.empty() && site != "same-origin") return false;
  return ConstantTimeEquals(Sign(cookie), form_value);
}

RateLimiter::RateLimiter(double per_minute, double burst)
    : per_second_(per_minute / 60.0), burst_(std::max(1.0, burst)) {}

bool RateLimiter::Allow(const std::string& address, int* retry_after) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  if (buckets_.size() > 100000) {
    // Forget addresses whose buckets have filled up again: they lose nothing by it.
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      const double secs = std::chrono::duration<double>(now - it->second.at).count();
      it = it->second.tokens + secs * per_second_ >= burst_ ? buckets_.erase(it) : std::next(it);
    }
  }
  auto [it, fresh] = buckets_.try_emplace(address, Bucket{burst_, now});
  Bucket& b = it->second;
  if (!fresh) {
    const double secs = std::chrono::duration<double>(now - b.at).count();
    b.tokens = std::min(burst_, b.tokens + secs * per_second_);
    b.at = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return true;
  }
  if (retry_after) {
    *retry_after =
        per_second_ > 0 ? static_cast<int>(std::ceil((1.0 - b.tokens) / per_second_)) : 3600;
  }
  return false;
}

}  // namespace certpress::web
