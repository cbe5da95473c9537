#include "signer/name.h"

#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "common/ossl.h"
#include "common/utf8.h"
#include "signer/der.h"

namespace certpress {

struct AttributeTypeInfo {
  std::string_view short_name;  // as OpenSSL prints it with -nameopt RFC2253
  std::string_view alias1;
  std::string_view alias2;
  std::string_view oid;
  char rule;              // 'D' DirectoryString, 'P' PrintableString, 'I' IA5String
  size_t ub;              // RFC 5280 Appendix A upper bound, in characters (0: none)
  mutable Bytes oid_der;  // filled once at static init
};

namespace {

std::array<AttributeTypeInfo, 18>& Table() {
  static std::array<AttributeTypeInfo, 18> table = [] {
    std::array<AttributeTypeInfo, 18> t = {{
        {"CN", "commonName", "", "2.5.4.3", 'D', 64, {}},
        {"SN", "surname", "", "2.5.4.4", 'D', 32768, {}},
        {"serialNumber", "", "", "2.5.4.5", 'P', 64, {}},
        {"C", "countryName", "", "2.5.4.6", 'P', 2, {}},
        {"L", "localityName", "", "2.5.4.7", 'D', 128, {}},
        {"ST", "stateOrProvinceName", "S", "2.5.4.8", 'D', 128, {}},
        {"street", "streetAddress", "", "2.5.4.9", 'D', 128, {}},
        {"O", "organizationName", "", "2.5.4.10", 'D', 64, {}},
        {"OU", "organizationalUnitName", "", "2.5.4.11", 'D', 64, {}},
        {"title", "T", "", "2.5.4.12", 'D', 64, {}},
        {"postalCode", "", "", "2.5.4.17", 'D', 40, {}},
        {"GN", "givenName", "G", "2.5.4.42", 'D', 32768, {}},
        {"initials", "", "", "2.5.4.43", 'D', 32768, {}},
        {"pseudonym", "", "", "2.5.4.65", 'D', 128, {}},
        {"organizationIdentifier", "", "", "2.5.4.97", 'D', 64, {}},
        {"UID", "userId", "", "0.9.2342.19200300.100.1.1", 'D', 256, {}},
        {"DC", "domainComponent", "", "0.9.2342.19200300.100.1.25", 'I', 63, {}},
        {"emailAddress", "E", "email", "1.2.840.113549.1.9.1", 'I', 255, {}},
    }};
    for (auto& a : t) a.oid_der = der::EncodeOid(a.oid).value();
    return t;
  }();
  return table;
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

const AttributeTypeInfo* LookupType(std::string_view name) {
  for (const auto& a : Table()) {
    if (IEquals(name, a.short_name) || (!a.alias1.empty() && IEquals(name, a.alias1)) ||
        (!a.alias2.empty() && IEquals(name, a.alias2)) || name == a.oid) {
      return &a;
    }
  }
  return nullptr;
}

int HexNibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// CheckValue validates one attribute value: UTF-8, no control characters, the string type's
// alphabet and the upper bound.
Status CheckValue(const AttributeTypeInfo& t, std::string_view v) {
  const std::string what = "attribute " + std::string(t.short_name);
  if (v.empty()) return InvalidInput(what + " has an empty value");
  size_t bad = 0;
  if (!ValidateUtf8(v, &bad)) {
    return InvalidInput(what + ": invalid UTF-8 at byte " + std::to_string(bad + 1));
  }
  // The same text rule as every request field (common/utf8.h): no C0, DEL or C1 controls and
  // no bidirectional formatting characters, which make a name display as something it is not.
  Status text = CheckFieldText(v, &bad);
  if (!text.ok()) {
    return InvalidInput(what + ": " + text.message() + " (character " + std::to_string(bad + 1) +
                        ")");
  }
  if (t.rule == 'P' && !IsPrintableString(v)) {
    return InvalidInput(what + " must be a PrintableString (A-Z a-z 0-9 '()+,-./:=? and space)");
  }
  if (t.rule == 'I') {
    for (unsigned char c : v) {
      if (c >= 0x80) return InvalidInput(what + " must be ASCII (IA5String)");
    }
  }
  size_t len = Utf8Length(v);
  if (t.short_name == "C") {
    // X.520: countryName is the two-letter ISO 3166 code.
    if (len != 2 || !std::isupper(static_cast<unsigned char>(v[0])) ||
        !std::isupper(static_cast<unsigned char>(v[1]))) {
      return InvalidInput("attribute C must be a two-letter upper-case country code, not '" +
                          std::string(v) + "'");
    }
  }
  if (t.ub != 0 && len > t.ub) {
    return InvalidInput(what + " is " + std::to_string(len) + " characters long; the limit is " +
                        std::to_string(t.ub) + " (RFC 5280 Appendix A)");
  }
  return Status::Ok();
}

// ParseAva parses "type=value" with RFC 4514 escapes. |col| is the 1-based column of |s|.
Result<NameAttribute> ParseAva(std::string_view s, size_t col, bool slash_form) {
  size_t eq = std::string_view::npos;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
      continue;
    }
    if (s[i] == '=') {
      eq = i;
      break;
    }
  }
  if (eq == std::string_view::npos) {
    return InvalidInput("column " + std::to_string(col) + ": expected type=value, got '" +
                        std::string(s) + "'");
  }
  std::string_view type = s.substr(0, eq);
  while (!type.empty() && type.front() == ' ') type.remove_prefix(1);
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  const AttributeTypeInfo* info = LookupType(type);
  if (info == nullptr) {
    return InvalidInput("column " + std::to_string(col) + ": unknown attribute type '" +
                        std::string(type) + "'");
  }
  std::string_view raw = s.substr(eq + 1);
  size_t vcol = col + eq + 1;
  // Unescaped spaces around the value are separators, not content (RFC 4514 2.4 requires a
  // leading or trailing space in the value itself to be escaped).
  while (!raw.empty() && raw.front() == ' ') {
    raw.remove_prefix(1);
    ++vcol;
  }
  if (!raw.empty() && raw.front() == '#') {
    return InvalidInput("column " + std::to_string(vcol) + ": attribute " +
                        std::string(info->short_name) +
                        ": hex-encoded (#) values are not accepted; write the text");
  }
  std::string value;
  size_t keep = 0;  // length of value up to the last escaped or non-space character
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '\\') {
      if (i + 1 >= raw.size()) {
        return InvalidInput("column " + std::to_string(vcol + i) + ": attribute " +
                            std::string(info->short_name) + ": dangling backslash");
      }
      int h = HexNibble(raw[i + 1]);
      int l = i + 2 < raw.size() ? HexNibble(raw[i + 2]) : -1;
      if (h >= 0 && l >= 0) {
        value.push_back(static_cast<char>(h << 4 | l));
        i += 2;
      } else {
        value.push_back(raw[i + 1]);
        ++i;
      }
      keep = value.size();
      continue;
    }
    if (!slash_form && (c == '"' || c == ';' || c == '<' || c == '>')) {
      // RFC 4514 3: these must be escaped inside a value ('=' need not be).
      return InvalidInput("column " + std::to_string(vcol + i) + ": attribute " +
                          std::string(info->short_name) + ": unescaped '" + std::string(1, c) +
                          "' in value");
    }
    value.push_back(c);
    if (c != ' ') keep = value.size();
  }
  value.resize(keep);
  Status st = CheckValue(*info, value);
  if (!st.ok()) return st.Wrap("column " + std::to_string(vcol));
  return NameAttribute{info, std::move(value)};
}

// Split splits |s| at unescaped |sep| characters, returning pieces with their offsets.
std::vector<std::pair<std::string_view, size_t>> Split(std::string_view s, char sep, size_t base) {
  std::vector<std::pair<std::string_view, size_t>> out;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
      continue;
    }
    if (s[i] == sep) {
      out.emplace_back(s.substr(start, i - start), base + start);
      start = i + 1;
    }
  }
  out.emplace_back(s.substr(start), base + start);
  return out;
}

void EncodeValue(der::Writer& w, const NameAttribute& a) {
  uint8_t tag;
  switch (a.type->rule) {
    case 'P':
      tag = der::kPrintableString;
      break;
    case 'I':
      tag = der::kIa5String;
      break;
    default:
      tag = IsPrintableString(a.value) ? der::kPrintableString : der::kUtf8String;
  }
  w.Primitive(tag, AsBytes(a.value));
}

}  // namespace

bool IsPrintableString(std::string_view s) {
  for (unsigned char c : s) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == ' ' || c == '\'' || c == '(' || c == ')' || c == '+' || c == ',' || c == '-' ||
              c == '.' || c == '/' || c == ':' || c == '=' || c == '?';
    if (!ok) return false;
  }
  return true;
}

Status Name::Add(std::string_view type, std::string_view value) {
  const AttributeTypeInfo* info = LookupType(type);
  if (info == nullptr) return InvalidInput("unknown attribute type '" + std::string(type) + "'");
  CP_RETURN_IF_ERROR(CheckValue(*info, value));
  rdns.push_back({NameAttribute{info, std::string(value)}});
  return Status::Ok();
}

Result<Name> ParseName(std::string_view text) {
  Name name;
  if (text.find_first_not_of(' ') == std::string_view::npos) {
    return InvalidInput("distinguished name is empty");
  }
  const bool slash = text.front() == '/';
  auto rdn_strings = slash ? Split(text.substr(1), '/', 2) : Split(text, ',', 1);
  for (const auto& [rdn, col] : rdn_strings) {
    if (rdn.find_first_not_of(' ') == std::string_view::npos) {
      return InvalidInput("malformed distinguished name '" + std::string(text) + "': column " +
                          std::to_string(col) + ": empty RDN");
    }
    std::vector<NameAttribute> avas;
    for (const auto& [ava, acol] : Split(rdn, '+', col)) {
      auto a = ParseAva(ava, acol, slash);
      if (!a.ok()) {
        return a.status().Wrap("malformed distinguished name '" + std::string(text) + "'");
      }
      avas.push_back(std::move(a).value());
    }
    name.rdns.push_back(std::move(avas));
  }
  // RFC 4514 strings list the most specific RDN first; the slash form lists it last.
  if (!slash) std::reverse(name.rdns.begin(), name.rdns.end());
  return name;
}

Result<Bytes> EncodeName(const Name& name) {
  der::Writer w;
  size_t seq = w.Begin(der::kSequence);
  for (const auto& rdn : name.rdns) {
    if (rdn.empty()) return InvalidInput("empty RDN in name");
    size_t set = w.Begin(der::kSet);
    if (rdn.size() == 1) {
      size_t ava = w.Begin(der::kSequence);
      w.OidContent(rdn[0].type->oid_der);
      EncodeValue(w, rdn[0]);
      w.End(ava);
    } else {
      // DER (X.690 11.6): the members of a SET OF are sorted by their encodings.
      std::vector<Bytes> encoded;
      for (const auto& a : rdn) {
        der::Writer aw;
        size_t ava = aw.Begin(der::kSequence);
        aw.OidContent(a.type->oid_der);
        EncodeValue(aw, a);
        aw.End(ava);
        encoded.push_back(aw.Take());
      }
      std::sort(encoded.begin(), encoded.end());
      for (const auto& e : encoded) w.Raw(e);
    }
    w.End(set);
  }
  w.End(seq);
  return w.Take();
}

static std::string EscapeValue(std::string_view v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    bool esc = c == '"' || c == '+' || c == ',' || c == ';' || c == '<' || c == '>' || c == '\\' ||
               (i == 0 && (c == ' ' || c == '#')) || (i + 1 == v.size() && c == ' ');
    if (esc) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string FormatName(const Name& name) {
  std::string out;
  for (auto it = name.rdns.rbegin(); it != name.rdns.rend(); ++it) {
    if (!out.empty()) out += ',';
    bool first = true;
    for (const auto& a : *it) {
      if (!first) out += '+';
      first = false;
      out += a.type->short_name;
      out += '=';
      out += EscapeValue(a.value);
    }
  }
  return out;
}

std::string FormatNameDer(ByteSpan der_name) {
  const unsigned char* p = der_name.data();
  UniquePtr<X509_NAME> n(d2i_X509_NAME(nullptr, &p, static_cast<long>(der_name.size())));
  if (!n) {
    OpenSslErrors();
    return "<malformed name>";
  }
  UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), n.get(), 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

const AttributeTypeInfo* LookupAttributeOid(std::string_view dotted) {
  for (const auto& a : Table()) {
    if (a.oid == dotted) return &a;
  }
  return nullptr;
}
size_t AttributeUpperBound(const AttributeTypeInfo* t) {
  return t->ub;
}
std::string_view AttributeShortName(const AttributeTypeInfo* t) {
  return t->short_name;
}
char AttributeStringRule(const AttributeTypeInfo* t) {
  return t->rule;
}

}  // namespace certpress
