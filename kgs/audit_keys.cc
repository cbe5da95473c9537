#include "kgs/audit_keys.h"

#include <openssl/rand.h>

#include <ctime>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "kgs/sealed_keys.h"
#include "signer/operator_key.h"

namespace certpress::kgs {

namespace {

constexpr std::string_view kAuditKeyAad = "certpress-audit-key-v1";

// The signed text of a checkpoint.
std::string CheckpointText(const store::Checkpoint& cp) {
  return "certpress-audit-checkpoint-v1\nseq: " + std::to_string(cp.seq) +
         "\nhash: " + HexEncode(AsBytes(cp.hash)) + "\ntime: " + cp.at + "\n";
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
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("seq") || !j.contains("hash") || !j.contains("time") ||
        !j.contains("signature")) {
      return InvalidInput(file + ":" + std::to_string(n) + ": not a checkpoint line");
    }
    store::Checkpoint cp;
    cp.seq = j["seq"].get<int64_t>();
    auto hash = HexDecode(j["hash"].get<std::string>());
    auto sig = HexDecode(j["signature"].get<std::string>());
    if (!hash.ok() || !sig.ok() || hash->size() != 32) {
      return InvalidInput(file + ":" + std::to_string(n) + ": bad hash or signature");
    }
    cp.hash.assign(hash->begin(), hash->end());
    cp.signature.assign(sig->begin(), sig->end());
    cp.at = j["time"].get<std::string>();
    out.push_back(std::move(cp));
  }
  return out;
}

Result<Bytes> AuditSigningSpki(CryptoToken& token, bool create) {
  auto spki = token.PublicKey(kAuditSigningKey);
  if (spki.ok() || spki.status().kind() != ErrorKind::kNotFound || !create) return spki;
  return token.GenerateKey(kAuditSigningKey, KeyType::kEcP256);
}

}  // namespace

Result<std::shared_ptr<const store::AuditKeys>> LoadAuditKeys(store::Connection& db,
                                                              CryptoToken& token,
                                                              const std::string& kek_label,
                                                              bool create) {
  CP_ASSIGN_OR_RETURN(auto wrapped, store::ListAuditKeys(db));
  if (wrapped.empty() && create) {
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
  CP_RETURN_IF_ERROR(AuditSigningSpki(token, true).status().Wrap("audit signing key"));
  CP_ASSIGN_OR_RETURN(store::Checkpoint cp, store::AuditHead(db));
  cp.at = store::FormatUtc(std::time(nullptr));
  const std::string text = CheckpointText(cp);
  CP_ASSIGN_OR_RETURN(Bytes sig,
                      SignData(token, kAuditSigningKey, KeyType::kEcP256, AsBytes(text)));
  cp.signature.assign(sig.begin(), sig.end());
  CP_RETURN_IF_ERROR(store::RunTransaction(
      db, [&](store::Connection& c) { return store::StoreCheckpoint(c, cp); }));
  if (!file.empty()) {
    nlohmann::json j = {{"seq", cp.seq},
                        {"hash", HexEncode(AsBytes(cp.hash))},
                        {"time", cp.at},
                        {"signature", HexEncode(AsBytes(cp.signature))}};
    std::ofstream out(file, std::ios::app);
    out << j.dump() << "\n";
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
  auto spki = AuditSigningSpki(token, false);
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
