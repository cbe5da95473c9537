// lint_fuzz: libFuzzer target for the rule engine of signer/lint.h, which `certpress lint`
// runs on certificates and requests from anywhere.
//
// The first input byte picks what the rest is: 0-127 a DER Certificate, 128-255 a DER
// CertificationRequest. The rest goes through LintDer (every rule) and LintTbs (read as a
// TBSCertificate).
// Properties: the report is never empty; a fatal result (the input did not parse) is the only
// result; every result names a rule of the table; a finding carries a detail; LintTbs refuses
// with a "lint NAME: " message naming a rule of the table.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "signer/lint.h"

using namespace certpress;

namespace {

void Fail(const char* what) {
  std::fprintf(stderr, "lint_fuzz: property violated: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const LintTarget kind = data[0] < 128 ? kLintCert : kLintCsr;
  ByteSpan rest(data + 1, size - 1);
  LintReport r = LintDer(kind, rest, LintOptions{});
  if (r.results.empty()) Fail("empty report");
  for (const auto& x : r.results) {
    if (FindLintRule(x.rule) == nullptr) Fail("a result names no rule of the table");
    if (x.status == LintStatus::kFatal && r.results.size() != 1) Fail("fatal with others");
    if (x.status >= LintStatus::kNotice && x.detail.empty()) Fail("a finding without detail");
    if (x.status > r.worst) Fail("worst is not the worst");
  }
  Status st = LintTbs(rest, LintOptions{});
  if (!st.ok()) {
    const std::string& m = st.message();
    if (m.rfind("lint ", 0) != 0) Fail("LintTbs message does not start with 'lint '");
    size_t colon = m.find(": ");
    if (colon == std::string::npos || FindLintRule(m.substr(5, colon - 5)) == nullptr) {
      Fail("LintTbs names no rule of the table");
    }
  }
  return 0;
}
