// operators.h: registered operators. An operator is a canonical name and a certificate whose
// key signs every approval and rejection (ra/decisions.h); dual control counts distinct
// registered operators, so one person typing two spellings of a name is one operator, and a
// name without its key approves nothing. Certificates come from CertPress's own operator CA
// (`operator enroll`, for small installs and the demo) or from any CA the administrator
// trusts (`operator add` with the chain). The web RA to come authenticates the same operators
// by mutual TLS with the same certificates (hence clientAuth).
#pragma once

#include <string>
#include <vector>

#include "cardprofiles/profile.h"
#include "common/bytes.h"
#include "common/ossl.h"
#include "common/status.h"
#include "signer/cert_info.h"
#include "signer/operator_key.h"
#include "signer/token.h"
#include "store/db.h"
#include "store/operators.h"

namespace certpress::ra {

// The label of CertPress's operator CA (a root of its own, key in the token).
inline constexpr const char* kOperatorCaLabel = "certpress-operators";

// CanonicalOperatorName lower-cases ASCII letters and refuses anything but [a-z0-9._-], 1 to
// 64 characters: 'Alice' and 'alice' are one operator, and no look-alike letter makes two.
Result<std::string> CanonicalOperatorName(std::string_view name);

struct Enrolled {
  UniquePtr<EVP_PKEY> key;  // the operator's new private key (software, P-256)
  Bytes cert_der;
};

// EnrollOperator makes a key and a certificate from the operator CA (created on first use)
// and registers |name| with it, audited as |actor|.
Result<Enrolled> EnrollOperator(store::Connection& db, CryptoToken& token, std::string_view name,
                                int days, const std::string& actor);

// RegisterOperator registers |name| with |certs| (the certificate, then intermediates): an
// end-entity certificate valid now whose path verifies (X509_STRICT) to one of |anchors|
// (operators.trust-anchors, the administrator's) or to a CA of ours whose key is in |token|;
// never to a root that came with |certs|. A key already registered is refused.
Result<store::OperatorRecord> RegisterOperator(store::Connection& db, CryptoToken& token,
                                               std::string_view name,
                                               const std::vector<CertInfo>& certs,
                                               const std::vector<CertInfo>& anchors,
                                               const std::string& actor);

// DisableOperator stops |name| from deciding anything from now on (its past statements stay
// verifiable).
[[nodiscard]] Status DisableOperator(store::Connection& db, std::string_view name,
                                     const std::string& actor);

// ActiveOperator returns the registered, active operator |name| whose certificate is valid
// now; anything else is a clear refusal.
Result<store::OperatorRecord> ActiveOperator(store::Connection& db, std::string_view name);

// ProveSubmitter names who submits requests of |profile| from the command line. Where the
// profile keeps the operator who submits from approving (submitter_may_approve = false), a
// name alone would let anyone import as "carol" (or as cli:<login>, which no operator
// matches) and then approve their own requests: the submitter must be an active registered
// operator |op| who signs what they submit (|what|, e.g. "file employees.csv", and the
// SHA-256 of |data|) with |key|, verified against the registered certificate. Returns the name to
// record as submitter: the canonical operator name, or |op| unchanged where the profile has no such
// rule. |signature_hex| (optional) receives the signature, for the audit entry.
Result<std::string> ProveSubmitter(store::Connection& db, const profiles::CardProfile& profile,
                                   const std::string& op, StatementKey* key,
                                   const std::string& what, std::string_view data,
                                   std::string* signature_hex = nullptr);

}  // namespace certpress::ra
