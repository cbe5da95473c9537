// lint.h: our own rules over an encoded TBSCertificate, run by the issuer on every certificate
// before anything is recorded or signed. Each rule has a name (zlint's where zlint has the
// rule, pkilint's finding or our own in zlint's style where it has not) and one function; the
// table of rules is LintRules(). A failure reads "lint NAME: detail".
#pragma once

#include <ctime>
#include <span>
#include <string_view>

#include "common/bytes.h"
#include "common/status.h"

namespace certpress {

struct LintOptions {
  ByteSpan expected_sig_alg;  // the CA key's AlgorithmIdentifier (empty: not checked)
  bool expect_aki = true;
  ByteSpan issuer_ski;           // the issuer's key identifier; the AKI must equal it (empty: any)
  int max_validity_days = 0;     // the profile's validity (0: no maximum)
  time_t issuer_not_before = 0;  // the issuer's validity (0: unknown)
  time_t issuer_not_after = 0;
  // Internal names (single-label, localhost, reserved TLDs) and reserved IP addresses in a TLS
  // server certificate; BR 7.1.2.7.12 forbids them in publicly trusted ones.
  bool allow_internal_names = false;
};

// TbsView is an encoded TBSCertificate read once, for the rules (lint.cc).
struct TbsView;

// LintRule is one named rule. |check| returns OK or an error whose message is the detail.
struct LintRule {
  std::string_view name;    // "e_ecdsa_allowed_ku"
  std::string_view source;  // "RFC 8813 3" / "BR 7.1.2.7.11"
  std::string_view summary;
  Status (*check)(const TbsView& tbs, const LintOptions& options);
};

// LintRules is the table every certificate is checked against, in the order they run.
std::span<const LintRule> LintRules();

// LintTbs reads an encoded TBSCertificate (a structure that does not parse fails as "lint
// e_cert_ext_invalid_der" or "lint: TBSCertificate ...") and runs every rule of LintRules();
// the first failure is returned as "lint NAME: detail".
[[nodiscard]] Status LintTbs(ByteSpan tbs, const LintOptions& options);

// IsInternalDnsName reports whether a DNS name is an internal name (BR 1.6.1 "Internal
// Name"): a single label, "localhost" or a name under it (RFC 6761 6.3), or under a TLD
// reserved for private or special use (RFC 6761, RFC 6762, RFC 8375, RFC 2606, ICANN's
// "internal"). The request builder uses it to refuse such names early for TLS profiles.
bool IsInternalDnsName(std::string_view name);

// IsReservedIpAddress reports whether a 4- or 16-octet address is no public address (BR 1.6.1
// "Reserved IP Address": private, loopback, link-local, shared, documentation, multicast).
bool IsReservedIpAddress(ByteSpan ip);

}  // namespace certpress
