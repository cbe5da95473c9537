#include "store/audit.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <sys/time.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "common/ossl.h"
#include "store/sql.h"

namespace certpress::store {

namespace {

using Hash = std::array<uint8_t, 32>;

// The entry's fields, each length-prefixed after the previous hash.
std::string EntryBytes(ByteSpan prev, int64_t seq, std::string_view at, const AuditEvent& e) {
  std::string out(AsString(prev));
  auto put = [&](std::string_view v) {
    uint64_t n = v.size();
    for (int i = 7; i >= 0; --i) out += static_cast<char>((n >> (8 * i)) & 0xff);
    out += v;
  };
  put(std::to_string(seq));
  put(at);
  put(e.actor);
  put(e.action);
  put(e.object);
  put(e.details);
  return out;
}

// EntryHash is HMAC-SHA256 under |key| (RFC 2104), or plain SHA-256 for entries chained before
// the chain had a key (|key| null).
Result<Hash> EntryHash(const SecureString* key, ByteSpan prev, int64_t seq, std::string_view at,
                       const AuditEvent& e) {
  const std::string data = EntryBytes(prev, seq, at, e);
  Hash h;
  if (key == nullptr) {
    SHA256(reinterpret_cast<const uint8_t*>(data.data()), data.size(), h.data());
    return h;
  }
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key->str().data(), static_cast<int>(key->size()),
           reinterpret_cast<const uint8_t*>(data.data()), data.size(), h.data(), &len) == nullptr) {
    return OsslError("keying an audit entry");
  }
  return h;
}

std::string_view AsSv(const Hash& h) {
  return {reinterpret_cast<const char*>(h.data()), h.size()};
}

}  // namespace

std::string FormatUtc(time_t t) {
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::string NowUtc() {
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s.%06ld", FormatUtc(tv.tv_sec).c_str(),
                static_cast<long>(tv.tv_usec));
  return buf;
}

Status AppendAudit(Connection& conn, const AuditEvent& e) {
  return AppendAuditBatch(conn, {e});
}

Status AppendAuditBatch(Connection& conn, const std::vector<AuditEvent>& events,
                        int64_t* first_seq) {
  if (events.empty()) return Status::Ok();
  const auto& ring = conn.config().audit_keys;
  auto key = ring ? ring->keys.find(ring->current_id) : decltype(ring->keys.end()){};
  if (!ring || key == ring->keys.end()) {
    // Not retryable: the process did not load the keys (it has no token, or its login failed),
    // and running the transaction again would not load them.
    return Internal("the audit key is not loaded (appending to the audit log needs the token)");
  }
  CP_ASSIGN_OR_RETURN(auto head,
                      Sql(conn).Query("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"));
  if (head.empty()) return DatabaseError("audit_head is missing; run `certpress db migrate`");
  int64_t seq = head[0].Int(0);
  if (first_seq != nullptr) *first_seq = seq + 1;
  Hash prev{};
  ByteSpan head_hash = head[0].Blob(1);
  if (head_hash.size() != prev.size()) return DatabaseError("audit_head.hash is not 32 bytes");
  std::memcpy(prev.data(), head_hash.data(), prev.size());
  const std::string at = NowUtc();
  constexpr size_t kRowsPerStatement = 200;
  std::vector<Hash> hashes(events.size()), prevs(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    prevs[i] = prev;
    CP_ASSIGN_OR_RETURN(
        hashes[i], EntryHash(&key->second, prev, seq + 1 + static_cast<int64_t>(i), at, events[i]));
    prev = hashes[i];
  }
  for (size_t start = 0; start < events.size(); start += kRowsPerStatement) {
    size_t end = std::min(events.size(), start + kRowsPerStatement);
    std::string sql =
        "INSERT INTO audit_log (seq, at, actor, action, object, details, prev_hash, hash, key_id) "
        "VALUES ";
    std::vector<Param> params;
    params.reserve((end - start) * 9);
    for (size_t i = start; i < end; ++i) {
      sql += i == start ? "(?,?,?,?,?,?,?,?,?)" : ",(?,?,?,?,?,?,?,?,?)";
      params.insert(
          params.end(),
          {Param(seq + 1 + static_cast<int64_t>(i)), Param(std::string_view(at)),
           Param(std::string_view(events[i].actor)), Param(std::string_view(events[i].action)),
           Param(std::string_view(events[i].object)), Param(std::string_view(events[i].details)),
           Param(AsSv(prevs[i])), Param(AsSv(hashes[i])), Param(ring->current_id)});
    }
    auto ins = Sql(conn).ExecV(sql, params);
    if (!ins.ok()) return ins.status().Wrap("appending to the audit log");
  }
  auto upd = Sql(conn).Exec("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1",
                            {seq + static_cast<int64_t>(events.size()), AsSv(prev)});
  if (!upd.ok()) return upd.status().Wrap("advancing the audit head");
  conn.CountAuditAppended(static_cast<int64_t>(events.size()));
  return Status::Ok();
}

Result<AuditReport> VerifyAudit(Connection& conn, std::map<int64_t, std::string>* chain_at) {
  // One snapshot for the whole walk: a batch appending meanwhile would otherwise move the head
  // past the entries read and look like a deleted tail.
  CP_RETURN_IF_ERROR(Sql(conn).ExecScript("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"));
  CP_RETURN_IF_ERROR(Sql(conn).ExecScript("START TRANSACTION WITH CONSISTENT SNAPSHOT"));
  struct EndSnapshot {
    Connection& c;
    ~EndSnapshot() { Sql(c).ExecScript("COMMIT").IgnoreError(); }
  } end_snapshot{conn};
  const auto& ring = conn.config().audit_keys;
  AuditReport report;
  Hash prev{};
  int64_t expected = 1;
  bool last_keyed = false;
  // Page through by seq so that a long log never sits in memory at once.
  for (;;) {
    CP_ASSIGN_OR_RETURN(
        auto rows,
        Sql(conn).Query(
            "SELECT seq, DATE_FORMAT(at, '%Y-%m-%d %H:%i:%s.%f'), actor, action, object, "
            "details, prev_hash, hash, key_id FROM audit_log WHERE seq >= ? ORDER BY seq "
            "LIMIT 5000",
            {expected}));
    if (rows.empty()) break;
    for (const auto& r : rows) {
      int64_t seq = r.Int(0);
      auto fail = [&](std::string problem) {
        report.intact = false;
        report.first_bad_seq = seq;
        report.problem = std::move(problem);
      };
      if (seq != expected) {
        fail("entry " + std::to_string(expected) + " is missing (next is " + std::to_string(seq) +
             ")");
        return report;
      }
      ByteSpan stored_prev = r.Blob(6);
      if (stored_prev.size() != 32 || std::memcmp(stored_prev.data(), prev.data(), 32) != 0) {
        fail("entry " + std::to_string(seq) + " does not link to entry " + std::to_string(seq - 1) +
             " (reordered or replaced)");
        return report;
      }
      const SecureString* key = nullptr;
      if (!r.IsNull(8)) {
        auto k = ring ? ring->keys.find(r.Int(8)) : decltype(ring->keys.end()){};
        if (!ring || k == ring->keys.end()) {
          fail("entry " + std::to_string(seq) + " names audit key " + std::to_string(r.Int(8)) +
               ", which the token does not open");
          return report;
        }
        key = &k->second;
      } else if (report.keyed) {
        // Once the chain has a key, an unkeyed entry can only be one made without it.
        fail("entry " + std::to_string(seq) + " is not keyed, though entries before it are");
        return report;
      }
      report.keyed = report.keyed || key != nullptr;
      last_keyed = key != nullptr;
      AuditEvent e{r.Str(2), r.Str(3), r.Str(4), r.Str(5)};
      CP_ASSIGN_OR_RETURN(Hash h, EntryHash(key, prev, seq, r.Str(1), e));
      ByteSpan stored = r.Blob(7);
      if (stored.size() != 32 || std::memcmp(stored.data(), h.data(), 32) != 0) {
        fail("entry " + std::to_string(seq) + " was altered (its hash does not match)");
        return report;
      }
      prev = h;
      if (chain_at && chain_at->count(seq)) (*chain_at)[seq] = std::string(AsSv(h));
      ++report.entries;
      ++expected;
    }
  }
  // Entries cannot be made unkeyed by recomputing them with plain SHA-256 (a downgrade): once
  // an audit key exists, its creation was itself a keyed entry, so the chain must end keyed.
  if (ring && !ring->keys.empty() && report.entries > 0 && !last_keyed) {
    report.intact = false;
    report.first_bad_seq = report.entries;
    report.problem =
        "the chain ends in entries that are not keyed, though an audit key exists "
        "(entries recomputed without the key)";
    return report;
  }
  CP_ASSIGN_OR_RETURN(auto head, Sql(conn).Query("SELECT seq, hash FROM audit_head WHERE id = 1"));
  if (head.empty()) return DatabaseError("audit_head is missing");
  if (head[0].Int(0) != report.entries ||
      std::memcmp(head[0].Blob(1).data(), prev.data(), 32) != 0) {
    report.intact = false;
    report.first_bad_seq = report.entries + 1;
    report.problem = "the log ends at entry " + std::to_string(report.entries) +
                     " but its head says " + std::to_string(head[0].Int(0)) +
                     " (entries deleted from the end)";
  }
  return report;
}

Result<std::optional<AuditEvent>> AuditEntry(Connection& conn, int64_t seq) {
  CP_ASSIGN_OR_RETURN(auto rows, Sql(conn).Query("SELECT actor, action, object, details FROM "
                                                 "audit_log WHERE seq = ?",
                                                 {seq}));
  if (rows.empty()) return std::optional<AuditEvent>();
  return std::optional<AuditEvent>(
      AuditEvent{rows[0].Str(0), rows[0].Str(1), rows[0].Str(2), rows[0].Str(3)});
}

Result<std::vector<WrappedAuditKey>> ListAuditKeys(Connection& conn) {
  CP_ASSIGN_OR_RETURN(auto rows, Sql(conn).Query("SELECT id, kek_label, wrapped FROM audit_keys "
                                                 "ORDER BY id"));
  std::vector<WrappedAuditKey> out;
  for (const auto& r : rows) out.push_back({r.Int(0), r.Str(1), r.Str(2)});
  return out;
}

Result<int64_t> StoreAuditKey(Connection& conn, const std::string& kek_label, ByteSpan wrapped) {
  CP_ASSIGN_OR_RETURN(auto r, Sql(conn).Exec("INSERT INTO audit_keys (kek_label, wrapped) VALUES "
                                             "(?, ?)",
                                             {kek_label, Blob{AsString(wrapped)}}));
  return static_cast<int64_t>(r.insert_id);
}

Result<Checkpoint> AuditHead(Connection& conn) {
  CP_ASSIGN_OR_RETURN(auto head, Sql(conn).Query("SELECT seq, hash FROM audit_head WHERE id = 1"));
  if (head.empty()) return DatabaseError("audit_head is missing; run `certpress db migrate`");
  Checkpoint cp;
  cp.seq = head[0].Int(0);
  cp.hash = head[0].Str(1);
  return cp;
}

Status StoreCheckpoint(Connection& conn, const Checkpoint& cp) {
  return Sql(conn)
      .Exec("INSERT INTO audit_checkpoints (seq, hash, at, signature) VALUES (?, ?, ?, ?)",
            {cp.seq, Blob{cp.hash}, cp.at, Blob{cp.signature}})
      .status();
}

Result<std::vector<std::pair<std::string, int64_t>>> RepeatedEvents(Connection& conn,
                                                                    std::string_view action) {
  CP_ASSIGN_OR_RETURN(auto rows, Sql(conn).Query("SELECT object, COUNT(*) FROM audit_log WHERE "
                                                 "action = ? GROUP BY object HAVING COUNT(*) > 1 "
                                                 "ORDER BY object",
                                                 {action}));
  std::vector<std::pair<std::string, int64_t>> out;
  for (const auto& r : rows) out.emplace_back(r.Str(0), r.Int(1));
  return out;
}

Result<std::vector<Checkpoint>> ListCheckpoints(Connection& conn) {
  CP_ASSIGN_OR_RETURN(auto rows,
                      Sql(conn).Query("SELECT seq, hash, DATE_FORMAT(at, '%Y-%m-%d %H:%i:%s'), "
                                      "signature FROM audit_checkpoints ORDER BY id"));
  std::vector<Checkpoint> out;
  for (const auto& r : rows) out.push_back({r.Int(0), r.Str(1), r.Str(2), r.Str(3)});
  return out;
}

}  // namespace certpress::store
