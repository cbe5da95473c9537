#include "signer/p11_uri.h"

#include <cctype>

namespace certpress {

namespace {

Result<std::string> PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      return InvalidInput("malformed percent-escape in PKCS#11 URI");
    }
    out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
    i += 2;
  }
  return out;
}

// RFC 7512 2.3: pchar minus ';' and '/', plus unreserved; everything else is %-encoded.
std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == ':' || c == '[' ||
        c == ']' || c == '@' || c == '!' || c == '$' || c == '\'' || c == '(' || c == ')' ||
        c == '*' || c == '+' || c == ',' || c == '=' || c == '&') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

}  // namespace

Result<Pkcs11Uri> ParsePkcs11Uri(std::string_view uri) {
  constexpr std::string_view kScheme = "pkcs11:";
  if (uri.substr(0, kScheme.size()) != kScheme) {
    return InvalidInput("'" + std::string(uri) + "' is not a pkcs11: URI");
  }
  std::string_view rest = uri.substr(kScheme.size());
  std::string_view path = rest, query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    path = rest.substr(0, q);
    query = rest.substr(q + 1);
  }
  Pkcs11Uri out;
  auto each = [&](std::string_view part, char sep) -> Status {
    while (!part.empty()) {
      size_t end = part.find(sep);
      std::string_view attr = part.substr(0, end);
      part = end == std::string_view::npos ? std::string_view() : part.substr(end + 1);
      if (attr.empty()) continue;
      size_t eq = attr.find('=');
      if (eq == std::string_view::npos) {
        return InvalidInput("PKCS#11 URI attribute '" + std::string(attr) + "' has no value");
      }
      auto v = PercentDecode(attr.substr(eq + 1));
      if (!v.ok()) return v.status();
      std::string_view name = attr.substr(0, eq);
      if (name == "token")
        out.token = *v;
      else if (name == "object")
        out.object = *v;
      else if (name == "type")
        out.type = *v;
      else if (name == "id")
        out.id = *v;
      else if (name == "module-path")
        out.module_path = *v;
      else if (name == "pin-source")
        out.pin_source = *v;
    }
    return Status::Ok();
  };
  CP_RETURN_IF_ERROR(each(path, ';'));
  CP_RETURN_IF_ERROR(each(query, '&'));
  return out;
}

std::string FormatPkcs11Uri(const Pkcs11Uri& uri) {
  std::string out = "pkcs11:";
  bool first = true;
  auto add = [&](std::string_view name, const std::string& v) {
    if (v.empty()) return;
    if (!first) out += ';';
    first = false;
    out.append(name).append("=").append(PercentEncode(v));
  };
  add("token", uri.token);
  add("object", uri.object);
  add("type", uri.type);
  return out;
}

}  // namespace certpress
