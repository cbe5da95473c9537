// lint.h: one rule engine over certificates, run by the issuer on every TBSCertificate before
// anything is recorded or signed, and by `certpress lint` on any certificate or PKCS#10
// request. Each rule is one table entry (LintRules()): its name (zlint's e_/w_/n_ name where
// zlint has the check, cp_ for CertPress's own), its source (RFC 5280 section, RFC 5480, CA/B
// Baseline Requirements section, S/MIME BR section), the date from which it applies, what it
// applies to, and one check function. docs/LINT.md lists zlint's lints and which we have.
#pragma once

#include <cstdint>
#include <ctime>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"

namespace certpress {

// LintStatus is a rule's result on one certificate, in zlint's vocabulary: pass; na (the rule
// does not apply); ne (not effective: the certificate predates the rule, or the rule was
// superseded before it); notice, warn, error (the rule's finding); fatal (the input could not
// be read far enough to lint). Ordered by weight.
enum class LintStatus : uint8_t { kPass, kNa, kNe, kNotice, kWarn, kError, kFatal };

// LintStatusName is "pass", "na", "ne", "notice", "warn", "error" or "fatal".
std::string_view LintStatusName(LintStatus s);

// What a rule applies to (LintRule::applies_to is a set of these).
enum LintTarget : uint8_t {
  kLintTbs = 1,   // an encoded TBSCertificate before signing (the issuer's pre-issuance lint)
  kLintCert = 2,  // a whole signed Certificate (`certpress lint`)
  kLintCsr = 4,   // a PKCS#10 request: its subject, key and requested extensions
};

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
  // The extended key usages of the profiles a certificate should follow (each the DER content
  // octets of its OIDs); not empty: the certificate's extKeyUsage must be exactly one profile's
  // (cp_eku_not_profile). Set by `certpress lint --profile`; the issuer writes the profile's.
  std::vector<std::vector<Bytes>> profile_ekus;
  // The time at which a PKCS#10 request is judged (rules' effective dates); 0: now.
  time_t now = 0;
};

// TbsView is a certificate, TBSCertificate or request read once, for the rules (lint.cc).
struct TbsView;

// LintCheck is what a rule's function returns: pass, na, or a finding (status kError here;
// the engine gives it the rule's severity) with a one-line detail.
struct LintCheck {
  LintStatus status = LintStatus::kPass;
  std::string detail;
};

// LintRule is one table entry.
struct LintRule {
  std::string_view name;    // "e_ecdsa_allowed_ku"
  std::string_view source;  // "RFC 8813 3" / "BR 7.1.2.7.11" / "S/MIME BR 7.1.2.3"
  std::string_view summary;
  time_t effective = 0;    // applies to certificates whose notBefore is at or after this
  time_t ineffective = 0;  // and before this (0: no end)
  LintStatus severity = LintStatus::kError;   // what a finding is: kError, kWarn or kNotice
  uint8_t applies_to = kLintTbs | kLintCert;  // LintTarget bits
  LintCheck (*check)(const TbsView& view, const LintOptions& options);
};

// LintRules is the table, in the order the rules run.
std::span<const LintRule> LintRules();

// FindLintRule returns the rule named |name|, or nullptr.
const LintRule* FindLintRule(std::string_view name);

// LintResult is one rule's result on one input.
struct LintResult {
  std::string_view rule;  // a rule's name, or the name a fatal parse error is reported under
  LintStatus status = LintStatus::kPass;
  std::string detail;
};

// LintReport is every applicable rule's result on one certificate or request.
struct LintReport {
  LintTarget kind = kLintCert;
  std::string subject;  // RFC 4514, "" when unreadable
  std::vector<LintResult> results;
  LintStatus worst = LintStatus::kPass;
};

// LintTbs reads an encoded TBSCertificate (a structure that does not parse fails as "lint
// e_cert_ext_invalid_der" or "lint cp_tbs_structure") and runs every rule that applies to a
// TBS; the first warn or error is returned as "lint NAME: detail". This is the issuer's
// pre-issuance check: a warning refuses too.
[[nodiscard]] Status LintTbs(ByteSpan tbs, const LintOptions& options);

// LintDer lints one DER Certificate (kLintCert) or CertificationRequest (kLintCsr) with every
// rule for that kind, or only the rules named in |only| when it is not empty. An input that
// does not parse gets one fatal result. Options a whole certificate can supply itself (whether
// an AKI is expected: not for a self-issued one) are set from it.
LintReport LintDer(LintTarget kind, ByteSpan der, const LintOptions& options,
                   std::span<const std::string> only = {});

// LintEffectiveDate renders a rule's date as YYYY-MM-DD ("" for 0).
std::string LintDate(time_t t);

// IsInternalDnsName reports whether a DNS name is an internal name (BR 1.6.1 "Internal
// Name"): a single label, "localhost" or a name under it (RFC 6761 6.3), or under a TLD
// reserved for private or special use (RFC 6761, RFC 6762, RFC 8375, RFC 2606, ICANN's
// "internal"). The request builder uses it to refuse such names early for TLS profiles.
bool IsInternalDnsName(std::string_view name);

// IsReservedIpAddress reports whether a 4- or 16-octet address is no public address (BR 1.6.1
// "Reserved IP Address": private, loopback, link-local, shared, documentation, multicast).
bool IsReservedIpAddress(ByteSpan ip);

}  // namespace certpress
