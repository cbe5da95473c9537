// issuance.h: the issuance core, the one path from a subject and a public key to a stored
// certificate, used by CA creation, the batch pipeline and (to come) the card stations and the
// enrollment APIs. The cycle, in Boulder's order (docs/ARCHITECTURE.md):
//   Prepare (serial, TBSCertificate, lint) -> Record the intent (durable, IntentLedger)
//     -> Sign (only with the ledger's proof; the signed TBS checked against the record)
//     -> persist (the caller's transaction: certificate, request state, audit).
// The pipeline runs each step as a stage over a chunk; IssueOne runs them for one certificate.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>

#include "common/merkle.h"
#include "common/status.h"
#include "signer/issuer.h"
#include "store/certificates.h"

namespace certpress::ca {

class IntentLedger;

// Issuance is one certificate on its way through the cycle.
struct Issuance {
  // In: who signs, for what, and for whom (recorded with the intent).
  const Issuer* issuer = nullptr;  // not owned
  int64_t issuer_id = 0;           // the signing CA's id in the store
  std::optional<int64_t> request_id;
  std::string subject;  // RFC 4514, for people reading the store
  TbsInput tbs;

  // Out, step by step.
  PreparedCert prepared;                   // Prepare
  store::CertIntent intent;                // Prepare: what Record writes
  std::optional<RecordedIntent> recorded;  // Record: the ledger's proof
  Bytes der;                               // Sign: the certificate
};

// Prepare draws a serial, encodes and lints the TBSCertificate and fills the intent; any
// earlier proof or signature is dropped. Thread-safe for distinct items.
[[nodiscard]] Status Prepare(Issuance& item);

// Record records the intents of |items| with |ledger|. A serial collision (2^-128 per pair)
// fails the record: every item is prepared again with new serials, up to three times.
[[nodiscard]] Status Record(IntentLedger& ledger, std::span<Issuance* const> items);

// Sign signs a recorded item (Issuer::Sign with its proof). An item that was not recorded is
// refused. Thread-safe for distinct items.
[[nodiscard]] Status Sign(Issuance& item);

// SignedCertOf is the store's view of a signed item (views into |item|).
store::SignedCert SignedCertOf(const Issuance& item);

// CertificateLeaf is a stored certificate's leaf in its chunk's Merkle tree (RFC 6962 leaf
// hash of "request:issuer:serial:" and the SHA-256 of its DER, hex).
merkle::Hash CertificateLeaf(const store::SignedCert& cert);
merkle::Hash CertificateLeaf(int64_t request_id, int64_t issuer_id, std::string_view serial_hex,
                             std::string_view der);

// InclusionProof shows that certificate |serial_hex| of |issuer_id| is among the certificates
// whose Merkle root audit entry |audit_seq| carries.
struct InclusionProof {
  int64_t audit_seq = 0;
  size_t leaf_index = 0;
  size_t tree_size = 0;
  merkle::Hash leaf{};
  merkle::Hash root{};  // as the audit entry records it
  std::vector<merkle::Hash> path;
  bool verified = false;
};
// ProveInclusion builds and checks the proof from the stored certificates and the entry.
Result<InclusionProof> ProveInclusion(store::Connection& db, int64_t issuer_id,
                                      std::string_view serial_hex);

// IssueOne runs the whole cycle for one certificate: Prepare, Record with |ledger|, Sign, then
// |persist| (which stores the certificate with whatever else belongs to its transaction).
// Nothing is persisted unless the signature and the post-sign checks pass.
Result<Bytes> IssueOne(IntentLedger& ledger, Issuance& item,
                       const std::function<Status(const Issuance&)>& persist);

}  // namespace certpress::ca
