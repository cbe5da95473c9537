#include "kgs/token_keys.h"

#include <unistd.h>

#include <thread>

#include "store/audit.h"
#include "store/token_keys.h"

namespace certpress::kgs {

namespace {

// Present asks the token whether it holds |label| as a key of |kind|, with an operation the
// key exists for (a find alone would not tell a usable key from a stray object).
Result<bool> Present(CryptoToken& token, const std::string& label, TokenKeyKind kind) {
  Status st;
  switch (kind) {
    case TokenKeyKind::kAesKek:
      st = token.SecretEncrypt(label, AsBytes(std::string_view("certpress-probe")), {}).status();
      break;
    case TokenKeyKind::kHmacMaster:
      st = token.DeriveSecret(label, AsBytes(std::string_view("certpress-probe"))).status();
      break;
    case TokenKeyKind::kEcSigning:
      st = token.PublicKey(label).status();
      break;
  }
  if (st.ok()) return true;
  if (st.kind() == ErrorKind::kNotFound) return false;
  return st;
}

Status Create(CryptoToken& token, const std::string& label, TokenKeyKind kind) {
  switch (kind) {
    case TokenKeyKind::kAesKek:
      return token.EnsureSecretKey(label);
    case TokenKeyKind::kHmacMaster:
      return token.EnsureDerivationKey(label);
    case TokenKeyKind::kEcSigning:
      return token.GenerateKey(label, KeyType::kEcP256).status();
  }
  return Internal("unknown token key kind");
}

std::string Claimer() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(host[0] ? host : "localhost") + ":" + std::to_string(::getpid());
}

}  // namespace

std::string_view TokenKeyKindName(TokenKeyKind kind) {
  switch (kind) {
    case TokenKeyKind::kAesKek:
      return "aes-kek";
    case TokenKeyKind::kHmacMaster:
      return "hmac-master";
    case TokenKeyKind::kEcSigning:
      return "ec-signing";
  }
  return "unknown";
}

Status EnsureTokenKey(store::Connection& db, CryptoToken& token, const std::string& label,
                      TokenKeyKind kind, const TokenKeyOptions& options) {
  const std::string me = Claimer();
  const std::string kind_name(TokenKeyKindName(kind));
  const auto deadline = std::chrono::steady_clock::now() + options.wait;
  std::string holder;
  for (;;) {
    auto probe = Present(token, label, kind);
    if (!probe.ok()) {
      // SoftHSM2 shows an object another process is still writing with its attributes
      // half-read (CKR_MECHANISM_INVALID on the new key): look again until the deadline.
      if (std::chrono::steady_clock::now() >= deadline) {
        return probe.status().Wrap("token key " + label);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (*probe) return Status::Ok();
    bool present = false;
    store::TokenKeyClaim claim;
    Status st = store::RunTransaction(db, [&](store::Connection& c) -> Status {
      CP_ASSIGN_OR_RETURN(claim,
                          store::ClaimTokenKey(c, label, kind_name, me, options.takeover_seconds));
      return Status::Ok();
    });
    // Another claimer's INSERT went first: its row is there on the next round.
    if (!st.ok() && st.kind() != ErrorKind::kConflict)
      return st.Wrap("claiming token key " + label);
    if (st.ok() && claim.created) {
      // Re-check: the key may have been made between our look and our claim.
      CP_ASSIGN_OR_RETURN(present, Present(token, label, kind));
      if (present) return Status::Ok();
      return Conflict("the token has no key '" + label + "', which " + claim.claimed_by +
                      " created (claimed " + claim.claimed_at +
                      " UTC): the HSM's contents or the token configuration changed; "
                      "find out why before anything creates it anew");
    }
    if (st.ok() && claim.claimed_by == me) {
      CP_RETURN_IF_ERROR(Create(token, label, kind).Wrap("creating token key " + label));
      return store::RunTransaction(db, [&](store::Connection& c) -> Status {
        CP_RETURN_IF_ERROR(store::MarkTokenKeyCreated(c, label, me));
        if (!options.audit) return Status::Ok();
        return store::AppendAudit(c, {options.actor, "token.key-created", "token-key:" + label,
                                      "kind=" + kind_name + " by=" + me});
      });
    }
    if (st.ok()) holder = claim.claimed_by + " (since " + claim.claimed_at + " UTC)";
    if (std::chrono::steady_clock::now() >= deadline) {
      return Unavailable("token key '" + label + "' is being created by " +
                         (holder.empty() ? std::string("another process") : holder) +
                         " and has not appeared in the token");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace certpress::kgs
