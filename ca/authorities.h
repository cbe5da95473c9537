// authorities.h: the CA hierarchy, one function per thing an administrator does with it:
// create a root or a sub-CA (key generated in the token, certificate through the issuance
// core), make the CSR of a sub-CA for an offline root and activate it with the certificate
// the root signed, and read a CA's signing view and chain. The command line and any later
// entry point (the RA API) call these and only print.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"
#include "signer/cert_info.h"
#include "signer/issuer.h"
#include "signer/name.h"
#include "signer/token.h"
#include "store/cas.h"
#include "store/db.h"

namespace certpress::ca {

// CheckCaLabel: 1 to 64 letters, digits, '-', '_' or '.' (the label is also the key's
// CKA_LABEL and part of its RFC 7512 URI).
[[nodiscard]] Status CheckCaLabel(const std::string& label);

// NewCa is what an administrator asks for.
struct NewCa {
  std::string label;
  Name name;
  KeyType key_type = KeyType::kEcP384;
  int days = 3650;    // 1 to 36500
  std::string actor;  // for the audit log
};

// CreateRoot generates the root's key in |token| (sensitive, never extractable) and issues its
// self-signed certificate. Returns the certificate (DER).
Result<Bytes> CreateRoot(store::Connection& db, CryptoToken& token, const NewCa& ca);

// CreateSub generates a sub-CA's key in |token| and issues its certificate, signed online by
// the active CA |parent_label|; |path_len| is its pathLenConstraint (none if empty).
Result<Bytes> CreateSub(store::Connection& db, CryptoToken& token, const NewCa& ca,
                        const std::string& parent_label, std::optional<int> path_len);

// CreateSubForOfflineRoot generates a sub-CA's key in |token|, records the CA as awaiting its
// certificate and returns a PKCS#10 CSR (DER) signed by the new key, for the offline root.
// |note| goes into the audit entry (where the CSR was written).
Result<Bytes> CreateSubForOfflineRoot(store::Connection& db, CryptoToken& token, const NewCa& ca,
                                      const std::string& note);

// ImportCaCertificate activates the awaiting sub-CA |label| with |certs|: its certificate
// first, then the chain up to the root (unless the issuer is a CA of ours). The key must be
// the CA's, the certificate a CA certificate, and the chain must verify (X509_STRICT).
// Returns the imported certificate.
Result<CertInfo> ImportCaCertificate(store::Connection& db, CryptoToken& token,
                                     const std::string& label, const std::vector<CertInfo>& certs,
                                     const std::string& actor);

// CaKeyFor builds the issuer-side view of an active CA record; LoadCaKey looks it up by id.
Result<CaKey> CaKeyFor(const store::CaRecord& ca, CryptoToken& token);
Result<CaKey> LoadCaKey(store::Connection& db, CryptoToken& token, int64_t ca_id);

// CaChain returns the DER certificate of CA |ca_id| followed by its issuers up to the root
// (and the chain imported with an offline root, without repeats). A CA that has no
// certificate yet is an error.
Result<std::vector<std::string>> CaChain(store::Connection& db, int64_t ca_id);

}  // namespace certpress::ca
