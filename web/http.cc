// http.cc: the parts of http.h that need no socket (the fuzz targets link them alone).
#include "web/http.h"

namespace certpress::web {

const std::string& Request::Header(const std::string& lower_name) const {
  static const std::string kNone;
  auto it = headers.find(lower_name);
  return it == headers.end() ? kNone : it->second;
}

const std::vector<std::pair<std::string, std::string>>& SecurityHeaders() {
  static const std::vector<std::pair<std::string, std::string>> kHeaders = {
      // CSP Level 3: nothing loads but our own stylesheet; forms post only to us; no framing
      // (clickjacking on the password form); no <base> rewriting.
      {"Content-Security-Policy",
       "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'"},
      // RFC 6797: HTTPS only from now on, for a year.
      {"Strict-Transport-Security", "max-age=31536000"},
      // RFC 9111 5.2.2.5: pages hold one-time links and forms; downloads hold keys.
      {"Cache-Control", "no-store"},
      // The token is in the path: never sent on as a Referer.
      {"Referrer-Policy", "no-referrer"},
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},  // for browsers without frame-ancestors
      {"Cross-Origin-Opener-Policy", "same-origin"},
      {"Cross-Origin-Resource-Policy", "same-origin"},
  };
  return kHeaders;
}

std::optional<LinkTarget> SplitLinkTarget(std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  for (const std::string_view route : {std::string_view("pickup"), std::string_view("apply")}) {
    const std::string prefix = "/" + std::string(route) + "/";
    if (path.substr(0, prefix.size()) != prefix) continue;
    LinkTarget out;
    out.route = std::string(route);
    out.token = std::string(path.substr(prefix.size()));
    out.has_query = path.size() != target.size();
    return out;
  }
  return std::nullopt;
}

}  // namespace certpress::web
