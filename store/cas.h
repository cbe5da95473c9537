// cas.h: the CA repository.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"
#include "store/db.h"

namespace certpress::store {

struct CaRecord {
  int64_t id = 0;
  std::string label;
  std::optional<int64_t> parent_id;
  std::string subject;    // RFC 4514
  std::string key_uri;    // RFC 7512 for PKCS#11 keys
  std::string key_type;   // "ec-p256", ...
  std::string status;     // "active", or "awaiting-cert" between create-sub --csr-out and import
  std::string cert_der;   // empty while awaiting its certificate
  std::string chain_pem;  // certificates above this CA that are not CAs of ours (offline root)
  std::string not_after;  // "YYYY-MM-DD HH:MM:SS" or empty
  std::string created_at;
};

Result<std::optional<CaRecord>> FindCa(Connection& conn, std::string_view label);
Result<std::optional<CaRecord>> FindCaById(Connection& conn, int64_t id);
Result<std::vector<CaRecord>> ListCas(Connection& conn);
// InsertCa adds a CA row; a taken label is a conflict.
Result<int64_t> InsertCa(Connection& conn, const CaRecord& ca);
// SetCaCertificate stores the CA's own certificate and makes it active.
[[nodiscard]] Status SetCaCertificate(Connection& conn, int64_t id, ByteSpan cert_der,
                                      std::string_view chain_pem, std::string_view not_after);

// SetImportedCaCertificate activates an awaiting sub-CA with the certificate an offline CA
// signed: its subject as the certificate spells it, its parent (a CA of ours, if one issued
// it) and the chain above it that is not ours.
[[nodiscard]] Status SetImportedCaCertificate(Connection& conn, int64_t id,
                                              std::optional<int64_t> parent_id,
                                              std::string_view subject, ByteSpan cert_der,
                                              std::string_view chain_pem,
                                              std::string_view not_after);

}  // namespace certpress::store
