// lint_files.h: what `certpress lint` does below app/: read certificates and PKCS#10 requests
// from files (PEM, several blocks per file, or one DER object), lint each with the rule engine
// (signer/lint.h), add a profile's own limits, and render the reports as text or as the JSON
// the issue fixes: {"file", "index", "subject", "results": [{"rule", "status", "detail"}]}.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "cardprofiles/cert_profile.h"
#include "common/status.h"
#include "signer/lint.h"

namespace certpress {

// LintItem is one certificate or request of a file and its report.
struct LintItem {
  std::string file;
  int index = 0;  // its position in the file, from 0
  LintReport report;
};

// LintFile reads |path| and lints every certificate and request in it: each PEM block
// "CERTIFICATE", "CERTIFICATE REQUEST" or "NEW CERTIFICATE REQUEST", or else the whole file as
// one DER Certificate or CertificationRequest (told apart by their structure, RFC 5280 4.1 and
// RFC 2986 4). Content that is neither, or a PEM block that does not decode, is one item with
// a fatal result, so that one bad input never hides the others. A file that cannot be read is
// an error naming it.
Result<std::vector<LintItem>> LintFile(const std::string& path, const LintOptions& options,
                                       std::span<const std::string> only = {});

// LintOptionsForProfiles adds the limits of certificate profiles to |options|: the longest
// validity among them, internal names if one allows them, and their extended key usages (a
// certificate's must be exactly one profile's: cp_eku_not_profile).
Result<LintOptions> LintOptionsForProfiles(
    const std::vector<const profiles::CertProfile*>& certificate_profiles, LintOptions options);

// LintText renders items as text: per item a heading line "FILE#INDEX KIND: SUBJECT", then one
// line per result "  STATUS  RULE[: detail]", then a count per status.
std::string LintText(const std::vector<LintItem>& items);

// LintJson renders one item as one object, several as an array.
std::string LintJson(const std::vector<LintItem>& items);

// LintRulesText and LintRulesJson list every rule: name, severity, source, effective date
// (and the date it stopped applying), what it applies to, and its summary.
std::string LintRulesText();
std::string LintRulesJson();

// LintFailed: whether an item has an error or a fatal result (`certpress lint` exits 1).
bool LintFailed(const std::vector<LintItem>& items);

}  // namespace certpress
