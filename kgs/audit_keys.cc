#include "kgs/audit_keys.h"

#include <openssl/rand.h>

#include <ctime>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "kgs/sealed_keys.h"
#include "kgs/token_keys.h"
#include "signer/operator_key.h"

namespace certpress::kgs {

namespace {

constexpr std::string_view kAuditKeyAad = "certpress-audit-key-v1";

// The signed text of a checkpoint.
std::string CheckpointText(const store::Checkpoint& cp) {
  return "certpress-audit-checkpoint-v1\nseq: " + std::to_string(cp.seq) +
         "\nhash: " + HexEncode(AsBytes(cp.hash)) + "\ntime: " + cp.at + "\n";
}

bool IsUtcTime(std::string_view t) {
  if (t.size() != 19) return false;
  for (size_t i = 0; i < t.size(); ++i) {
    const char want = i == 4 || i == 7 ? '-' : i == 10 ? ' ' : i == 13 || i == 16 ? ':' : '0';
    const bool digit = t[i] >= '0' && t[i] <= '9';
    if (want == '0' ? !digit : t[i] != want) return false;
  }
  return true;
}

Result<std::vector<store::Checkpoint>> ReadCheckpointFile(const std::string& file) {
  std::vector<store::Checkpoint> out;
  if (file.empty()) return out;
  std::ifstream in(file);
  if (!in) return out;  // no checkpoint written yet
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    auto cp = ParseCheckpointLine(line);
    if (!cp.ok()) return cp.status().Wrap(file + ":" + std::to_string(n));
    out.push_back(std::move(cp).value());
  }
  return out;
}

Result<Bytes> AuditSigningSpki(CryptoToken& token) {
  return token.PublicKey(kAuditSigningKey);
}

}  // namespace

// The file is outside the database, so anyone with the machine's rights may have written it:
// every field is checked for type and shape, and a value of the wrong JSON type is an error
// here, not an exception thrown out of nlohmann::json.
Result<store::Checkpoint> ParseCheckpointLine(std::string_view line) {
  auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return InvalidInput("not a JSON object");
  for (const char* key : {"seq", "hash", "time", "signature"}) {
    if (!j.contains(key)) return InvalidInput(std::string("no \"") + key + "\"");
  }
  if (j.size() != 4) return InvalidInput("fields other than seq, hash, time and signature");
  const auto& seq = j["seq"];
  if (!seq.is_number_integer() || seq.get<int64_t>() < 0) {
    return InvalidInput("\"seq\" is not a non-negative integer");
  }
  if (!j["hash"].is_string() || !j["time"].is_string() || !j["signature"].is_string()) {
    return InvalidInput("\"hash\", \"time\" and \"signature\" must be strings");
  }
  store::Checkpoint cp;
  cp.seq = seq.get<int64_t>();
  auto hash = HexDecode(j["hash"].get<std::string>());
  if (!hash.ok() || hash->size() != 32) return InvalidInput("\"hash\" is not 32 bytes of hex");
  auto sig = HexDecode(j["signature"].get<std::string>());
  if (!sig.ok() || sig->empty() || sig->size() > 1024) {
    return InvalidInput("\"signature\" is not 1 to 1024 bytes of hex");
  }
  cp.at = j["time"].get<std::string>();
  if (!IsUtcTime(cp.at)) return InvalidInput("\"time\" is not YYYY-MM-DD HH:MM:SS");
  cp.hash.assign(hash->begin(), hash->end());
  cp.signature.assign(sig->begin(), sig->end());
  return cp;
}

std::string FormatCheckpointLine(const store::Checkpoint& cp) {
  nlohmann::json j = {{"seq", cp.seq},
                      {"hash", HexEncode(AsBytes(cp.hash))},
                      {"time", cp.at},
                      {"signature", HexEncode(AsBytes(cp.signature))}};
  return j.dump();
}

Result<std::shared_ptr<const store::AuditKeys>> LoadAuditKeys(store::Connection& db,
                                                              CryptoToken& token,
                                                              const std::string& kek_label,
                                                              bool create) {
  CP_ASSIGN_OR_RETURN(auto wrapped, store::ListAuditKeys(db));
  if (wrapped.empty() && create) {
    CP_RETURN_IF_ERROR(EnsureTokenKey(db, token, kek_label, TokenKeyKind::kAesKek, {.audit = false})
                           .Wrap("key encryption key"));
    CP_ASSIGN_OR_RETURN(WrappedKey drawn, DrawWrappedKey(token, kek_label, kAuditKeyAad));
    const SecureString& key = drawn.key;
    const Bytes& w = drawn.wrapped;
    // The key's creation is the first entry it chains, in the same transaction: from then on
    // the chain ends keyed, and a chain recomputed without the key is caught.
    const auto before = db.config().audit_keys;
    CP_RETURN_IF_ERROR(store::RunTransaction(db, [&](store::Connection& c) -> Status {
      CP_ASSIGN_OR_RETURN(int64_t id, store::StoreAuditKey(c, kek_label, w));
      auto first = std::make_shared<store::AuditKeys>();
      first->current_id = id;
      first->keys.emplace(id, key.Clone());
      c.SetAuditKeys(first);
      Status st = store::AppendAudit(c, {"system", "audit.key-created",
                                         "audit-key:" + std::to_string(id), "kek=" + kek_label});
      c.SetAuditKeys(before);
      return st;
    }));
    CP_ASSIGN_OR_RETURN(wrapped, store::ListAuditKeys(db));
  }
  auto ring = std::make_shared<store::AuditKeys>();
  for (const auto& k : wrapped) {
    auto key = token.SecretDecrypt(k.kek_label, AsBytes(k.wrapped), AsBytes(kAuditKeyAad));
    if (!key.ok()) return key.status().Wrap("unwrapping audit key " + std::to_string(k.id));
    ring->keys.emplace(k.id, std::move(key).value());
    ring->current_id = k.id;  // the newest chains new entries
  }
  return std::shared_ptr<const store::AuditKeys>(std::move(ring));
}

Result<store::Checkpoint> WriteCheckpoint(store::Connection& db, CryptoToken& token,
                                          const std::string& file) {
  CP_RETURN_IF_ERROR(EnsureTokenKey(db, token, kAuditSigningKey, TokenKeyKind::kEcSigning)
                         .Wrap("audit signing key"));
  CP_ASSIGN_OR_RETURN(store::Checkpoint cp, store::AuditHead(db));
  cp.at = store::FormatUtc(std::time(nullptr));
  const std::string text = CheckpointText(cp);
  CP_ASSIGN_OR_RETURN(Bytes sig,
                      SignData(token, kAuditSigningKey, KeyType::kEcP256, AsBytes(text)));
  cp.signature.assign(sig.begin(), sig.end());
  CP_RETURN_IF_ERROR(store::RunTransaction(
      db, [&](store::Connection& c) { return store::StoreCheckpoint(c, cp); }));
  if (!file.empty()) {
    std::ofstream out(file, std::ios::app);
    out << FormatCheckpointLine(cp) << "\n";
    out.flush();
    if (!out) return Internal("appending the checkpoint to " + file);
  }
  return cp;
}

Result<std::vector<int64_t>> CheckpointSeqs(store::Connection& db, const std::string& file) {
  std::vector<int64_t> seqs;
  CP_ASSIGN_OR_RETURN(auto in_db, store::ListCheckpoints(db));
  CP_ASSIGN_OR_RETURN(auto in_file, ReadCheckpointFile(file));
  for (const auto& cp : in_db) seqs.push_back(cp.seq);
  for (const auto& cp : in_file) seqs.push_back(cp.seq);
  return seqs;
}

Result<CheckpointAudit> VerifyCheckpoints(store::Connection& db, CryptoToken& token,
                                          const std::string& file,
                                          const std::map<int64_t, std::string>& chain_at,
                                          int64_t chain_entries) {
  CheckpointAudit audit;
  CP_ASSIGN_OR_RETURN(auto in_db, store::ListCheckpoints(db));
  CP_ASSIGN_OR_RETURN(auto in_file, ReadCheckpointFile(file));
  audit.in_db = static_cast<int64_t>(in_db.size());
  audit.in_file = static_cast<int64_t>(in_file.size());
  if (in_db.empty() && in_file.empty()) return audit;
  if (!file.empty() && in_file.empty()) {
    // Every checkpoint is written to both; a file gone (or emptied) is the one copy outside
    // the database removed, and with it what would catch an older database restored.
    audit.problems.push_back("the checkpoint file " + file +
                             " is missing or empty, but the "
                             "database holds " +
                             std::to_string(in_db.size()) +
                             " signed checkpoint(s): it was removed, or audit.checkpoint-file "
                             "names another node's");
  }
  auto spki = AuditSigningSpki(token);
  if (!spki.ok()) return spki.status().Wrap("audit signing key");
  auto check = [&](const store::Checkpoint& cp, const std::string& where) {
    const std::string what = where + " checkpoint at entry " + std::to_string(cp.seq);
    Status sig = VerifySpkiSignature(*spki, AsBytes(CheckpointText(cp)), AsBytes(cp.signature));
    if (!sig.ok()) {
      audit.problems.push_back(what + ": " + sig.message());
      return;
    }
    if (cp.seq == 0) return;  // the empty chain
    if (cp.seq > chain_entries) {
      audit.problems.push_back(what + ": the chain ends at entry " + std::to_string(chain_entries) +
                               " (entries removed, or an older database restored)");
      return;
    }
    auto at = chain_at.find(cp.seq);
    if (at == chain_at.end() || at->second != cp.hash) {
      audit.problems.push_back(what +
                               ": the chain's hash there is not the signed one (the chain "
                               "was rewritten)");
    }
  };
  for (const auto& cp : in_db) check(cp, "database");
  for (const auto& cp : in_file) check(cp, file + ":");
  return audit;
}

}  // namespace certpress::kgs
