#include "batch/ca_keys.h"

#include "signer/cert_info.h"
#include "signer/p11_uri.h"

namespace certpress::batch {

Result<CaKey> CaKeyFor(const store::CaRecord& ca, CryptoToken& token) {
  if (ca.status != "active") {
    return InvalidInput("CA '" + ca.label + "' is not active (status " + ca.status + ")");
  }
  CP_ASSIGN_OR_RETURN(CertInfo cert, ParseCertificate(AsBytes(ca.cert_der)));
  CP_ASSIGN_OR_RETURN(KeyType kt, ParseKeyType(ca.key_type));
  std::string label = ca.label;
  if (ca.key_uri.rfind("pkcs11:", 0) == 0) {
    CP_ASSIGN_OR_RETURN(Pkcs11Uri uri, ParsePkcs11Uri(ca.key_uri));
    label = uri.object;
  }
  CaKey key;
  key.token = &token;
  key.key_label = label;
  key.key_type = kt;
  key.subject_der = cert.subject_der;
  key.spki = cert.spki;
  key.not_after = cert.not_after;
  return key;
}

Result<CaKey> LoadCaKey(store::Connection& conn, CryptoToken& token, int64_t ca_id) {
  CP_ASSIGN_OR_RETURN(auto ca, store::FindCaById(conn, ca_id));
  if (!ca) return NotFound("CA " + std::to_string(ca_id) + " does not exist");
  return CaKeyFor(*ca, token);
}

}  // namespace certpress::batch
