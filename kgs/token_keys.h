// token_keys.h: the token keys CertPress makes itself on first use, made once.
//
// The key encryption key that wraps data, audit and activation keys (AES-256), the key that
// signs audit checkpoints (P-256), and a PIV profile's management master key (HMAC) are created
// in the token the first time something needs them. PKCS#11 has no lock across processes: two
// processes that both found no key each created one, and the token then held two keys under
// one label (data wrapped under one would not open with the other; audit checkpoints signed by
// both). EnsureTokenKey makes creation a claim in the database first (store/token_keys.h), which
// every process sharing the token shares too: exactly one claimer creates the key, the others
// wait for it to appear. A claim whose creator died is taken over after a while.
//
// The claim row also remembers that the key was made. A token that lacks a key the database
// says it holds is an error, not a reason to make a new one: a new key encryption key would
// silently orphan everything wrapped under the old one; an operator must find out why the
// HSM's contents changed.
#pragma once

#include <chrono>
#include <string>

#include "common/status.h"
#include "signer/token.h"
#include "store/db.h"

namespace certpress::kgs {

enum class TokenKeyKind {
  kAesKek,      // CryptoToken::EnsureSecretKey: AES-256, encrypt/decrypt only
  kHmacMaster,  // CryptoToken::EnsureDerivationKey: HMAC-SHA256 only
  kEcSigning,   // CryptoToken::GenerateKey(kEcP256): sign only
};
std::string_view TokenKeyKindName(TokenKeyKind kind);

struct TokenKeyOptions {
  // How long to wait for another process's key to appear before giving up.
  std::chrono::milliseconds wait{30000};
  // A claim not turned into a key within this is taken to be a dead creator's.
  int takeover_seconds = 60;
  std::string actor = "system";  // audited as the creator
  // False only for the key encryption key made before the audit chain has a key (it wraps
  // that key): its creation is on record in token_keys, and the chain's first entry names it.
  bool audit = true;
};

// EnsureTokenKey returns once |token| holds the key |label| of |kind|: already there (nothing
// written), created by this call (claimed, created, marked and, unless options.audit is false,
// audited "token.key-created"),
// or created by another process meanwhile. Unavailable if another process's claim did not turn
// into a key within options.wait; Conflict if the database says the key was created but the
// token does not have it.
[[nodiscard]] Status EnsureTokenKey(store::Connection& db, CryptoToken& token,
                                    const std::string& label, TokenKeyKind kind,
                                    const TokenKeyOptions& options = {});

}  // namespace certpress::kgs
