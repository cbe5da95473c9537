// statement_fuzz: libFuzzer target for ra::ParseStatement, the reader of signed decision
// statements (`audit verify` parses every stored statement).
//
// Property: whatever ParseStatement accepts, FormatStatement writes back byte for byte, so a
// signed text has exactly one reading.
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "ra/decisions.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto s = certpress::ra::ParseStatement(text);
  if (!s.ok()) return 0;
  if (certpress::ra::FormatStatement(*s) != text) {
    std::fprintf(stderr, "statement_fuzz: property violated: a statement with two readings\n");
    std::abort();
  }
  return 0;
}
