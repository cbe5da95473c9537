#include "ca/issuance.h"

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
  CP_RETURN_IF_ERROR(store::RunTransaction(
      conn_, [&](store::Connection& c) { return store::RecordIntents(c, intents); }));
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
