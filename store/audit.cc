#include "store/audit.h"

#include <openssl/evp.h>
#include <sys/time.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "common/ossl.h"
#include "store/sql.h"

namespace certpress::store {

namespace {

using Hash = std::array<uint8_t, 32>;

void PutField(EVP_MD_CTX* md, std::string_view v) {
  uint8_t len[8];
  uint64_t n = v.size();
  for (int i = 7; i >= 0; --i) {
    len[i] = static_cast<uint8_t>(n & 0xff);
    n >>= 8;
  }
  EVP_DigestUpdate(md, len, sizeof len);
  EVP_DigestUpdate(md, v.data(), v.size());
}

Result<Hash> EntryHash(ByteSpan prev, int64_t seq, std::string_view at, const AuditEvent& e) {
  UniquePtr<EVP_MD_CTX> md(EVP_MD_CTX_new());
  if (!md || !EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr)) {
    return OsslError("hashing an audit entry");
  }
  EVP_DigestUpdate(md.get(), prev.data(), prev.size());
  PutField(md.get(), std::to_string(seq));
  PutField(md.get(), at);
  PutField(md.get(), e.actor);
  PutField(md.get(), e.action);
  PutField(md.get(), e.object);
  PutField(md.get(), e.details);
  Hash h;
  unsigned int len = 0;
  EVP_DigestFinal_ex(md.get(), h.data(), &len);
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

Status AppendAuditBatch(Connection& conn, const std::vector<AuditEvent>& events) {
  if (events.empty()) return Status::Ok();
  CP_ASSIGN_OR_RETURN(auto head,
                      Sql(conn).Query("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"));
  if (head.empty()) return DatabaseError("audit_head is missing; run `certpress db migrate`");
  int64_t seq = head[0].Int(0);
  Hash prev{};
  ByteSpan head_hash = head[0].Blob(1);
  if (head_hash.size() != prev.size()) return DatabaseError("audit_head.hash is not 32 bytes");
  std::memcpy(prev.data(), head_hash.data(), prev.size());
  const std::string at = NowUtc();
  constexpr size_t kRowsPerStatement = 200;
  std::vector<Hash> hashes(events.size()), prevs(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    prevs[i] = prev;
    CP_ASSIGN_OR_RETURN(hashes[i],
                        EntryHash(prev, seq + 1 + static_cast<int64_t>(i), at, events[i]));
    prev = hashes[i];
  }
  for (size_t start = 0; start < events.size(); start += kRowsPerStatement) {
    size_t end = std::min(events.size(), start + kRowsPerStatement);
    std::string sql =
        "INSERT INTO audit_log (seq, at, actor, action, object, details, prev_hash, hash) VALUES ";
    std::vector<Param> params;
    params.reserve((end - start) * 8);
    for (size_t i = start; i < end; ++i) {
      sql += i == start ? "(?,?,?,?,?,?,?,?)" : ",(?,?,?,?,?,?,?,?)";
      params.insert(
          params.end(),
          {Param(seq + 1 + static_cast<int64_t>(i)), Param(std::string_view(at)),
           Param(std::string_view(events[i].actor)), Param(std::string_view(events[i].action)),
           Param(std::string_view(events[i].object)), Param(std::string_view(events[i].details)),
           Param(AsSv(prevs[i])), Param(AsSv(hashes[i]))});
    }
    auto ins = Sql(conn).ExecV(sql, params);
    if (!ins.ok()) return ins.status().Wrap("appending to the audit log");
  }
  auto upd = Sql(conn).Exec("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1",
                            {seq + static_cast<int64_t>(events.size()), AsSv(prev)});
  if (!upd.ok()) return upd.status().Wrap("advancing the audit head");
  return Status::Ok();
}

Result<AuditReport> VerifyAudit(Connection& conn) {
  AuditReport report;
  Hash prev{};
  int64_t expected = 1;
  // Page through by seq so that a long log never sits in memory at once.
  for (;;) {
    CP_ASSIGN_OR_RETURN(
        auto rows,
        Sql(conn).Query(
            "SELECT seq, DATE_FORMAT(at, '%Y-%m-%d %H:%i:%s.%f'), actor, action, object, "
            "details, prev_hash, hash FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT 5000",
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
      AuditEvent e{r.Str(2), r.Str(3), r.Str(4), r.Str(5)};
      CP_ASSIGN_OR_RETURN(Hash h, EntryHash(prev, seq, r.Str(1), e));
      ByteSpan stored = r.Blob(7);
      if (stored.size() != 32 || std::memcmp(stored.data(), h.data(), 32) != 0) {
        fail("entry " + std::to_string(seq) + " was altered (its hash does not match)");
        return report;
      }
      prev = h;
      ++report.entries;
      ++expected;
    }
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

}  // namespace certpress::store
