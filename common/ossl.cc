#include "common/ossl.h"

#include <openssl/err.h>

namespace certpress {

std::string OpenSslErrors() {
  std::string out;
  unsigned long code;
  const char* file = nullptr;
  int line = 0;
  const char* data = nullptr;
  int flags = 0;
  while ((code = ERR_get_error_all(&file, &line, nullptr, &data, &flags)) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
    if (data != nullptr && (flags & ERR_TXT_STRING) && *data != '\0') {
      out += " (";
      out += data;
      out += ")";
    }
  }
  return out;
}

Status OsslError(std::string_view what, ErrorKind kind) {
  std::string m(what);
  std::string detail = OpenSslErrors();
  if (!detail.empty()) m += ": " + detail;
  return Status(kind, std::move(m));
}

}  // namespace certpress
