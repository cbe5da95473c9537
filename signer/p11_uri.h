// p11_uri.h: RFC 7512 PKCS#11 URIs ("pkcs11:token=certpress;object=root-2026;type=private").
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace certpress {

struct Pkcs11Uri {
  std::string token;        // CKA_LABEL of the token (path attribute "token")
  std::string object;       // CKA_LABEL of the object (path attribute "object")
  std::string type;         // "private", "public", "cert", ...
  std::string id;           // raw CKA_ID bytes
  std::string module_path;  // query attribute "module-path"
  std::string pin_source;   // query attribute "pin-source"
};

// ParsePkcs11Uri parses the path and query attributes CertPress uses, percent-decoding values
// (RFC 7512 2.3). Unknown attributes are ignored, as section 2.3 allows for unknown vendor
// attributes; a wrong scheme or a malformed escape is an error.
Result<Pkcs11Uri> ParsePkcs11Uri(std::string_view uri);

// FormatPkcs11Uri renders token, object and type, percent-encoding what RFC 7512 2.3 does not
// allow literally in a path attribute value.
std::string FormatPkcs11Uri(const Pkcs11Uri& uri);

}  // namespace certpress
