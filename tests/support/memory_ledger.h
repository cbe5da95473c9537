// memory_ledger.h: an intent ledger that keeps intents in memory, for unit tests and
// micro-benchmarks that sign without a database. Test-only: the product records intents in
// the store (ca::StoreLedger), durably, before anything is signed.
#pragma once

#include <functional>
#include <vector>

#include "ca/issuance.h"
#include "ca/ledger.h"

namespace certpress::testing {

class MemoryLedger final : public ca::IntentLedger {
 public:
  [[nodiscard]] Status Record(std::span<ca::Issuance* const> items) override {
    ++records;
    if (fail_next.has_value()) {
      Status s = *fail_next;
      fail_next.reset();
      return s;
    }
    for (ca::Issuance* it : items) {
      recorded.push_back(it->intent);
      Vouch(*it);
      if (after_record) after_record(*it);
    }
    return Status::Ok();
  }

  // Proof returns a proof for |prepared| as if its intent had been recorded (for tests that
  // drive Issuer::Sign directly).
  RecordedIntent Proof(const PreparedCert& prepared) {
    ca::Issuance item;
    item.prepared = prepared;
    item.intent.serial_hex = prepared.serial.Hex();
    item.intent.tbs_sha256 = prepared.tbs_sha256;
    Vouch(item);
    return *item.recorded;
  }

  std::vector<store::CertIntent> recorded;
  int records = 0;
  std::optional<Status> fail_next;  // the next Record fails with this, recording nothing
  // Runs on each item after its proof is given: a test alters what will be signed here.
  std::function<void(ca::Issuance&)> after_record;
};

// SignRecorded signs |prepared| with |issuer| after recording it in a MemoryLedger.
inline Result<Bytes> SignRecorded(const Issuer& issuer, const PreparedCert& prepared) {
  MemoryLedger ledger;
  return issuer.Sign(prepared, ledger.Proof(prepared));
}

}  // namespace certpress::testing
