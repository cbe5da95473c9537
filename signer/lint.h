// lint.h: our own rules over an encoded TBSCertificate, run by the issuer on every certificate
// before anything is recorded or signed.
#pragma once

#include "common/bytes.h"
#include "common/status.h"

namespace certpress {

struct LintOptions {
  ByteSpan expected_sig_alg;
  bool expect_aki = true;
};

// LintTbs checks an encoded TBSCertificate against our rules: v3; serial positive, non-zero,
// at most 20 octets, minimally encoded (RFC 5280 4.1.2.2); signature algorithm as expected;
// names use PrintableString only within its alphabet, C/serialNumber PrintableString,
// emailAddress/DC IA5String, lengths within RFC 5280 Appendix A bounds; validity ordered and
// encoded per 4.1.2.5; no duplicate extensions (4.2); basicConstraints critical in CA
// certificates (4.2.1.9); keyUsage present and critical; keyCertSign iff cA (4.2.1.3); SAN
// critical when the subject is empty (4.2.1.6); subject key identifier present (4.2.1.2).
[[nodiscard]] Status LintTbs(ByteSpan tbs, const LintOptions& options);

}  // namespace certpress
