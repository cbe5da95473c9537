// ledger.h: where a certificate's intent is recorded before it is signed, and the only maker
// of the proof that it was (RecordedIntent, signer/issuer.h). Boulder's issuance cycle: what
// will be signed is durable before the HSM signs it, so a crash leaves a known serial, never
// an unknown certificate (docs/ARCHITECTURE.md, "The issuance core").
#pragma once

#include <functional>
#include <span>

#include "ca/issuance.h"
#include "common/status.h"
#include "store/db.h"

namespace certpress::ca {

// IntentLedger records intents. An implementation sets each item's proof (Vouch) only once
// the item's intent is durable.
class IntentLedger {
 public:
  virtual ~IntentLedger() = default;

  // Record durably records the intents of |items| (all or none) and gives each its proof. A
  // serial already used by its issuer fails the whole record as a conflict.
  [[nodiscard]] virtual Status Record(std::span<Issuance* const> items) = 0;

 protected:
  // Vouch gives |item| the proof of its recorded intent: its serial and the TBS hash that
  // went into the record.
  static void Vouch(Issuance& item);
};

// StoreLedger records intents in the store's serials table, one transaction per Record, with
// RunTransaction's retries; committed before Record returns. |guard|, if given, runs first in
// that transaction and refuses the record by failing (a station checks there that it still
// holds the request the certificates are for).
class StoreLedger final : public IntentLedger {
 public:
  using Guard = std::function<Status(store::Connection&)>;
  explicit StoreLedger(store::Connection& conn, Guard guard = nullptr)
      : conn_(conn), guard_(std::move(guard)) {}
  [[nodiscard]] Status Record(std::span<Issuance* const> items) override;

 private:
  store::Connection& conn_;
  Guard guard_;
};

}  // namespace certpress::ca
