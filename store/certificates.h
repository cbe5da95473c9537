// certificates.h: the certificate repository. A certificate's intent (issuer, serial and the
// hash of the TBSCertificate) is committed to serials before anything is signed, and the
// signed certificate is stored afterwards; a crash in between leaves a known serial, never an
// unknown certificate.
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

// RecordIntents records the intents of a chunk in serials with one statement, committed
// before anything is signed. A serial already used by its issuer fails the whole statement
// as a conflict (the caller draws new serials and prepares again). The intents are the
// caller's, read during the call only.
[[nodiscard]] Status RecordIntents(Connection& conn, const std::vector<const CertIntent*>& intents);

// A signed certificate: views of the caller's intent (as recorded before signing) and DER,
// read during StoreCertificates only.
struct SignedCert {
  const CertIntent* intent = nullptr;
  std::string_view der;
  // The audit entry whose Merkle root covers this certificate, and its leaf's position there
  // (batch issuance audits a chunk as one entry; 0 when the certificate has its own entry).
  int64_t audit_seq = 0;
  int leaf_index = 0;
};
// StoreCertificates inserts signed certificates. Each needs its recorded intent (the foreign
// key to serials): a certificate without one fails the statement.
[[nodiscard]] Status StoreCertificates(Connection& conn, const std::vector<SignedCert>& certs);

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

// ChunkLeaf is one certificate of an audited chunk, in leaf order.
struct ChunkLeaf {
  int64_t issuer_id = 0;
  std::string serial_hex;
  int64_t request_id = 0;
  std::string der;
};
// ChunkLeaves returns the certificates whose leaves audit entry |audit_seq| covers, in leaf
// order.
Result<std::vector<ChunkLeaf>> ChunkLeaves(Connection& conn, int64_t audit_seq);
// LeafOf finds the audit entry and leaf index of the certificate |serial_hex| of |issuer_id|
// (none if it was not issued in an audited chunk).
Result<std::optional<std::pair<int64_t, int>>> LeafOf(Connection& conn, int64_t issuer_id,
                                                      std::string_view serial_hex);

// IssuedForRequest returns the issued certificates of a request, oldest first.
Result<std::vector<CertRecord>> IssuedForRequest(Connection& conn, int64_t request_id);

Result<std::optional<CertRecord>> FindCertificate(Connection& conn, int64_t issuer_id,
                                                  std::string_view serial_hex);

// FindIssuedBySerial finds the issued certificate with |serial_hex| whatever its issuer; a
// serial that several CAs issued is invalid input (the caller must say which).
Result<CertRecord> FindIssuedBySerial(Connection& conn, std::string_view serial_hex);

// ListIssued returns up to |limit| issued certificates of requests (of card profile |profile|,
// or of any if empty) with ids above |after_id|, in id order: a page of an export.
Result<std::vector<CertRecord>> ListIssued(Connection& conn, int64_t after_id,
                                           std::string_view profile, int limit);

}  // namespace certpress::store
