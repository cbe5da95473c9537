// web_form_fuzz: libFuzzer target for what the pickup server reads from a request besides
// multipart bodies (tests/fuzz/multipart_fuzz.cc): urlencoded form bodies (ParseForm), the
// request target's link route and token (SplitLinkTarget), and cookies (CookieValue).
//
// The first input byte picks the parser; the rest is its input. Properties: a form that parses
// encodes back (every octet as %XX) to a body that parses to the same fields, and decoding
// never grows a value; a link target's token is the whole rest of the path after its route,
// and a query string is noticed; a cookie's value is a piece of the header.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "web/security.h"

using namespace certpress::web;

namespace {

void Fail(const char* what) {
  std::fprintf(stderr, "web_form_fuzz: property violated: %s\n", what);
  std::abort();
}

std::string EncodeAll(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    out += '%';
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0: {
      auto form = ParseForm(in);
      if (!form.ok()) return 0;
      std::string again;
      for (const auto& [name, value] : *form) {
        if (name.size() > in.size() || value.size() > in.size()) Fail("decoding grew a field");
        again += (again.empty() ? "" : "&") + EncodeAll(name) + "=" + EncodeAll(value);
      }
      auto reread = ParseForm(again);
      if (!reread.ok()) Fail("a re-encoded form does not parse");
      // Empty names are kept as given; a form that parsed reads back the same.
      if (*reread != *form) Fail("a re-encoded form reads differently");
      break;
    }
    case 1: {
      auto link = SplitLinkTarget(in);
      if (!link) return 0;
      const std::string_view path = in.substr(0, in.find('?'));
      if (link->route != "pickup" && link->route != "apply") Fail("an unknown route");
      if ("/" + link->route + "/" + link->token != path) Fail("the token is not the path's rest");
      if (link->has_query != (path.size() != in.size())) Fail("a query went unnoticed");
      break;
    }
    case 2: {
      Request req;
      req.headers["cookie"] = std::string(in);
      const std::string v = CookieValue(req, "__Host-certpress-csrf");
      if (!v.empty() && in.find(v) == std::string_view::npos)
        Fail("a cookie value not in the header");
      break;
    }
  }
  return 0;
}
