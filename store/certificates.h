// certificates.h: the certificate repository. A certificate is first recorded as an intent
// (serial and the hash of the TBSCertificate, before anything is signed) and then completed
// with its DER; a crash in between leaves a known serial, never an unknown certificate.
#pragma once

#include <array>
#include <ctime>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "common/status.h"
#include "store/db.h"

namespace certpress::store {

struct CertIntent {
  int64_t issuer_id = 0;
  std::string serial_hex;
  std::optional<int64_t> request_id;
  std::string subject;
  time_t not_before = 0;
  time_t not_after = 0;
  std::array<uint8_t, 32> tbs_sha256{};
};

// RecordIntent inserts the intent row. A serial already used by this issuer is a conflict
// (the caller draws a new serial and prepares again).
Result<int64_t> RecordIntent(Connection& conn, const CertIntent& intent);

// CompleteCertificate stores the signed certificate for an intent whose TBS hash matches.
[[nodiscard]] Status CompleteCertificate(Connection& conn, int64_t cert_id,
                                         const std::array<uint8_t, 32>& tbs_sha256, ByteSpan der);

struct CertRecord {
  int64_t id = 0;
  int64_t issuer_id = 0;
  std::string serial_hex;
  std::optional<int64_t> request_id;
  std::string status;
  std::string subject;
  std::string der;
};

Result<std::optional<CertRecord>> FindCertificate(Connection& conn, int64_t issuer_id,
                                                  std::string_view serial_hex);

}  // namespace certpress::store
