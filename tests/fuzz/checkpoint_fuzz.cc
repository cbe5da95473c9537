// checkpoint_fuzz: libFuzzer target for kgs::ParseCheckpointLine, the reader of
// audit.checkpoint-file, a file outside the database that anyone with the machine's rights may
// have written.
//
// Properties: no input throws (a JSON value of the wrong type is an error, not an exception);
// whatever is accepted, FormatCheckpointLine writes a line that reads back to the same
// checkpoint.
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "kgs/audit_keys.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto cp = certpress::kgs::ParseCheckpointLine(line);
  if (!cp.ok()) return 0;
  auto again = certpress::kgs::ParseCheckpointLine(certpress::kgs::FormatCheckpointLine(*cp));
  if (!again.ok() || again->seq != cp->seq || again->hash != cp->hash || again->at != cp->at ||
      again->signature != cp->signature) {
    std::fprintf(stderr, "checkpoint_fuzz: property violated: format does not read back\n");
    std::abort();
  }
  return 0;
}
