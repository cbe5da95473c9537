#include "ca/issuance.h"

#include <openssl/sha.h>

#include "ca/ledger.h"
#include "store/audit.h"

namespace certpress::ca {

void IntentLedger::Vouch(Issuance& item) {
  item.recorded = RecordedIntent(item.prepared.serial, item.intent.tbs_sha256);
}

Status StoreLedger::Record(std::span<Issuance* const> items) {
  std::vector<const store::CertIntent*> intents;
  intents.reserve(items.size());
  for (const Issuance* it : items) intents.push_back(&it->intent);
  CP_RETURN_IF_ERROR(store::RunTransaction(conn_, [&](store::Connection& c) -> Status {
    if (guard_) CP_RETURN_IF_ERROR(guard_(c));
    return store::RecordIntents(c, intents);
  }));
  for (Issuance* it : items) Vouch(*it);
  return Status::Ok();
}

Status Prepare(Issuance& item) {
  if (item.issuer == nullptr) return Internal("issuance without an issuer");
  item.recorded.reset();
  item.der.clear();
  CP_ASSIGN_OR_RETURN(item.prepared, item.issuer->Prepare(item.tbs));
  item.intent = {
      item.issuer_id,           item.prepared.serial.Hex(), item.request_id,         item.subject,
      item.prepared.not_before, item.prepared.not_after,    item.prepared.tbs_sha256};
  return Status::Ok();
}

Status Record(IntentLedger& ledger, std::span<Issuance* const> items) {
  if (items.empty()) return Status::Ok();
  for (int attempt = 0;; ++attempt) {
    Status st = ledger.Record(items);
    if (st.ok() || st.kind() != ErrorKind::kConflict || attempt >= 3) {
      return st.Wrap("recording certificate intents");
    }
    // A serial already taken by its issuer: draw new serials for the whole record.
    for (Issuance* it : items) CP_RETURN_IF_ERROR(Prepare(*it));
  }
}

Status Sign(Issuance& item) {
  if (!item.recorded) {
    return Internal("serial " + item.intent.serial_hex + " was not recorded; not signed");
  }
  CP_ASSIGN_OR_RETURN(item.der, item.issuer->Sign(item.prepared, *item.recorded));
  return Status::Ok();
}

store::SignedCert SignedCertOf(const Issuance& item) {
  return {&item.intent, AsString(item.der)};
}

merkle::Hash CertificateLeaf(int64_t request_id, int64_t issuer_id, std::string_view serial_hex,
                             std::string_view der) {
  uint8_t h[32];
  SHA256(reinterpret_cast<const uint8_t*>(der.data()), der.size(), h);
  const std::string data = std::to_string(request_id) + ":" + std::to_string(issuer_id) + ":" +
                           std::string(serial_hex) + ":" + HexEncode(ByteSpan(h, 32));
  return merkle::LeafHash(AsBytes(data));
}

merkle::Hash CertificateLeaf(const store::SignedCert& cert) {
  return CertificateLeaf(cert.intent->request_id.value_or(0), cert.intent->issuer_id,
                         cert.intent->serial_hex, cert.der);
}

Result<InclusionProof> ProveInclusion(store::Connection& db, int64_t issuer_id,
                                      std::string_view serial_hex) {
  const std::string what = "certificate " + std::string(serial_hex);
  CP_ASSIGN_OR_RETURN(auto at, store::LeafOf(db, issuer_id, serial_hex));
  if (!at) return NotFound(what + " was not issued in an audited chunk");
  InclusionProof proof;
  proof.audit_seq = at->first;
  proof.leaf_index = static_cast<size_t>(at->second);
  CP_ASSIGN_OR_RETURN(auto entry, store::AuditEntry(db, proof.audit_seq));
  if (!entry || entry->action != "chunk.issue") {
    return NotFound(what + ": audit entry " + std::to_string(proof.audit_seq) +
                    " is not a chunk entry");
  }
  const size_t r = entry->details.find("root=");
  if (r == std::string::npos) return InvalidInput("audit entry has no root");
  CP_ASSIGN_OR_RETURN(Bytes root, HexDecode(entry->details.substr(r + 5, 64)));
  if (root.size() != 32) return InvalidInput("audit entry's root is not 32 bytes");
  std::copy(root.begin(), root.end(), proof.root.begin());
  CP_ASSIGN_OR_RETURN(auto leaves, store::ChunkLeaves(db, proof.audit_seq));
  std::vector<merkle::Hash> hashes;
  hashes.reserve(leaves.size());
  for (const auto& l : leaves) {
    hashes.push_back(CertificateLeaf(l.request_id, l.issuer_id, l.serial_hex, l.der));
  }
  proof.tree_size = hashes.size();
  if (proof.leaf_index >= hashes.size()) return InvalidInput(what + ": leaf index out of range");
  proof.leaf = hashes[proof.leaf_index];
  proof.path = merkle::InclusionPath(hashes, proof.leaf_index);
  proof.verified = merkle::VerifyInclusion(proof.leaf, proof.leaf_index, proof.tree_size,
                                           proof.path, proof.root);
  return proof;
}

Result<Bytes> IssueOne(IntentLedger& ledger, Issuance& item,
                       const std::function<Status(const Issuance&)>& persist) {
  CP_RETURN_IF_ERROR(Prepare(item));
  Issuance* one[] = {&item};
  CP_RETURN_IF_ERROR(Record(ledger, one));
  CP_RETURN_IF_ERROR(Sign(item));
  CP_RETURN_IF_ERROR(persist(item));
  return item.der;
}

}  // namespace certpress::ca
