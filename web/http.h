// http.h: the server's view of one HTTP exchange, independent of Boost.Beast, so that the
// site's handlers (pickup, apply) are plain functions of a request and testable without a
// socket.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace certpress::web {

struct Request {
  std::string method;                          // "GET", "POST", ...
  std::string target;                          // as sent: path and query
  std::string path;                            // the target without its query
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::string remote;  // the peer's address ("127.0.0.1")

  // Header returns the value of header |lower_name|, or "".
  const std::string& Header(const std::string& lower_name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "text/html; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;  // besides the security headers
  std::string body;
  // The body holds key material (a PKCS#12): wiped once sent.
  bool wipe_body = false;
};

using Handler = std::function<Response(const Request&)>;

// LinkTarget is what a request target names on the link pages: "/pickup/TOKEN" or
// "/apply/TOKEN", TOKEN being the whole rest of the path (checked by its page).
struct LinkTarget {
  std::string route;  // "pickup" or "apply"
  std::string token;
  bool has_query = false;  // a query string followed the path (refused: no secret goes there)
};
// SplitLinkTarget reads a request target; nullopt when it names no link page.
std::optional<LinkTarget> SplitLinkTarget(std::string_view target);

// SecurityHeaders are sent with every response, errors included: no caching (pages carry
// one-time links and forms), no framing, no referrer (a pickup URL carries its token in the
// path), a CSP that allows our own stylesheet and forms posting to us and nothing else, and
// HSTS (RFC 6797).
const std::vector<std::pair<std::string, std::string>>& SecurityHeaders();

}  // namespace certpress::web
