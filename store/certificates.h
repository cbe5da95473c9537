// certificates.h: the certificate repository. A certificate is first recorded as an intent
// (serial and the hash of the TBSCertificate, before anything is signed) and then completed
// with its DER; a crash in between leaves a known serial, never an unknown certificate.
#pragma once

#include <array>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

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

// RecordIntents inserts many intents with one statement (a chunk of the pipeline). A serial
// already used by its issuer fails the whole statement as a conflict.
[[nodiscard]] Status RecordIntents(Connection& conn, const std::vector<CertIntent>& intents);

struct SignedCert {
  int64_t issuer_id = 0;
  std::string serial_hex;
  std::array<uint8_t, 32> tbs_sha256{};
  std::string der;
};
// CompleteCertificates stores the DER of many recorded intents (matched by issuer and serial,
// and only while the TBS hash is the recorded one). Returns how many were completed.
Result<size_t> CompleteCertificates(Connection& conn, const std::vector<SignedCert>& certs);

// StoreDataKey records a data key wrapped by the token key |kek_label|; returns its id.
Result<int64_t> StoreDataKey(Connection& conn, const std::string& kek_label, ByteSpan wrapped);
Result<std::string> WrappedDataKey(Connection& conn, int64_t id, std::string* kek_label);

struct EncryptedKey {
  int64_t request_id = 0;
  std::string key_name;
  int64_t data_key_id = 0;
  std::string ciphertext;  // IV || AES-256-GCM(PKCS#8) || tag
};
[[nodiscard]] Status StorePrivateKeys(Connection& conn, const std::vector<EncryptedKey>& keys);
// The stored private keys of |request_id|, by key name.
Result<std::vector<EncryptedKey>> FindPrivateKeys(Connection& conn, int64_t request_id);

struct CertRecord {
  int64_t id = 0;
  int64_t issuer_id = 0;
  std::string serial_hex;
  std::optional<int64_t> request_id;
  std::string status;
  std::string subject;
  std::string der;
};

// IssuedForRequest returns the issued certificates of a request, oldest first.
Result<std::vector<CertRecord>> IssuedForRequest(Connection& conn, int64_t request_id);

Result<std::optional<CertRecord>> FindCertificate(Connection& conn, int64_t issuer_id,
                                                  std::string_view serial_hex);

}  // namespace certpress::store
