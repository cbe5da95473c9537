// name.h: X.501 distinguished names: parsing the RFC 4514 string form operators type
// ("CN=Alice,O=Example,C=DK") or OpenSSL's slash form ("/C=DK/O=Example/CN=Alice"), DER encoding
// with the string types RFC 5280 asks for, and formatting back to RFC 4514.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"

namespace certpress {

struct AttributeTypeInfo;

struct NameAttribute {
  const AttributeTypeInfo* type = nullptr;
  std::string value;  // UTF-8
};

// Name keeps RDNs in encoding order: the first RDN is the most significant (C before O before
// CN), the reverse of the RFC 4514 string order.
struct Name {
  std::vector<std::vector<NameAttribute>> rdns;

  bool empty() const { return rdns.empty(); }
  // Add appends a single-valued RDN at the least significant end.
  [[nodiscard]] Status Add(std::string_view type, std::string_view value);
};

// ParseName parses an RFC 4514 string ("CN=Alice,O=Example,C=DK", with \-escapes and '+' for
// multi-valued RDNs) or, if it starts with '/', OpenSSL's "/C=DK/O=Example/CN=Alice" form.
// Errors name the offending attribute and the column.
Result<Name> ParseName(std::string_view text);

// EncodeName returns the DER of |name| as an X.501 Name. Each value is a PrintableString when
// its characters allow it and the attribute permits DirectoryString, else UTF8String; C and
// serialNumber are PrintableString; emailAddress and DC are IA5String (RFC 5280 4.1.2.4, App. A).
Result<Bytes> EncodeName(const Name& name);

// FormatName renders |name| as an RFC 4514 string, most specific RDN first, escaping as 4514
// section 2.4 requires.
std::string FormatName(const Name& name);

// FormatNameDer renders a DER Name (e.g. from a certificate) as an RFC 4514 string via OpenSSL.
std::string FormatNameDer(ByteSpan der);

// IsPrintableString reports whether every character of |s| is in the PrintableString
// alphabet (X.680 41.4: A-Z a-z 0-9 space ' ( ) + , - . / : = ?).
bool IsPrintableString(std::string_view s);

// LookupAttributeOid returns the attribute type for a dotted OID, or nullptr.
const AttributeTypeInfo* LookupAttributeOid(std::string_view dotted);
// AttributeUpperBound returns the RFC 5280 Appendix A upper bound in characters (0 = none).
size_t AttributeUpperBound(const AttributeTypeInfo* type);
std::string_view AttributeShortName(const AttributeTypeInfo* type);
// AttributeStringRule: 'D' DirectoryString, 'P' PrintableString only, 'I' IA5String only.
char AttributeStringRule(const AttributeTypeInfo* type);

}  // namespace certpress
