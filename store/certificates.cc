#include "store/certificates.h"

#include <algorithm>

#include "store/audit.h"
#include "store/sql.h"

namespace certpress::store {

namespace {
std::string_view Sv(const std::array<uint8_t, 32>& h) {
  return {reinterpret_cast<const char*>(h.data()), h.size()};
}
}  // namespace

Status RecordIntents(Connection& conn, const std::vector<const CertIntent*>& intents) {
  if (intents.empty()) return Status::Ok();
  std::string sql = "INSERT INTO serials (issuer_id, serial, request_id, tbs_sha256) VALUES ";
  std::vector<Param> p;
  p.reserve(intents.size() * 4);
  for (size_t i = 0; i < intents.size(); ++i) {
    const CertIntent& in = *intents[i];
    sql += i ? ",(?,?,?,?)" : "(?,?,?,?)";
    p.insert(p.end(),
             {Param(in.issuer_id), Param(std::string_view(in.serial_hex)),
              in.request_id ? Param(*in.request_id) : Param(nullptr), Param(Sv(in.tbs_sha256))});
  }
  auto r = Sql(conn).ExecV(sql, p);
  if (!r.ok()) {
    if (r.status().kind() == ErrorKind::kConflict) {
      return Conflict("serial already used by its issuer: " + r.status().message());
    }
    return r.status().Wrap("recording certificate intents");
  }
  return Status::Ok();
}

Status StoreCertificates(Connection& conn, const std::vector<SignedCert>& certs) {
  // Whole rows appended at the end of the primary key: this costs mariadbd about a third less
  // than growing intent rows in place by their DER did (docs/BENCHMARKS.md). Each row's
  // foreign key finds its intent in serials.
  constexpr size_t kRows = 500;
  for (size_t start = 0; start < certs.size(); start += kRows) {
    const size_t end = std::min(certs.size(), start + kRows);
    std::string sql =
        "INSERT INTO certificates (issuer_id, serial, request_id, status, subject, not_before, "
        "not_after, tbs_sha256, der, issued_at, audit_seq, leaf_index) VALUES ";
    std::vector<std::string> times;
    times.reserve((end - start) * 2);
    for (size_t i = start; i < end; ++i) {
      times.push_back(FormatUtc(certs[i].intent->not_before));
      times.push_back(FormatUtc(certs[i].intent->not_after));
    }
    std::vector<Param> p;
    p.reserve((end - start) * 10);
    for (size_t i = start; i < end; ++i) {
      const CertIntent& in = *certs[i].intent;
      const size_t t = 2 * (i - start);
      sql += i > start ? ",(?,?,?,'issued',?,?,?,?,?,UTC_TIMESTAMP(6),?,?)"
                       : "(?,?,?,'issued',?,?,?,?,?,UTC_TIMESTAMP(6),?,?)";
      p.insert(p.end(),
               {Param(in.issuer_id), Param(std::string_view(in.serial_hex)),
                in.request_id ? Param(*in.request_id) : Param(nullptr),
                Param(std::string_view(in.subject)), Param(std::string_view(times[t])),
                Param(std::string_view(times[t + 1])), Param(Sv(in.tbs_sha256)),
                Param(Blob{certs[i].der}),
                certs[i].audit_seq ? Param(certs[i].audit_seq) : Param(nullptr),
                certs[i].audit_seq ? Param(int64_t{certs[i].leaf_index}) : Param(nullptr)});
    }
    auto r = Sql(conn).ExecV(sql, p);
    if (!r.ok()) return r.status().Wrap("storing signed certificates");
  }
  return Status::Ok();
}

Result<int64_t> StoreDataKey(Connection& conn, const std::string& kek_label, ByteSpan wrapped) {
  CP_ASSIGN_OR_RETURN(ExecResult r,
                      Sql(conn).Exec("INSERT INTO data_keys (kek_label, wrapped) VALUES "
                                     "(?, ?)",
                                     {kek_label, AsString(wrapped)}));
  return static_cast<int64_t>(r.insert_id);
}

Result<std::string> WrappedDataKey(Connection& conn, int64_t id, std::string* kek_label) {
  CP_ASSIGN_OR_RETURN(
      auto rows, Sql(conn).Query("SELECT kek_label, wrapped FROM data_keys WHERE id = ?", {id}));
  if (rows.empty()) return NotFound("data key " + std::to_string(id) + " does not exist");
  *kek_label = rows[0].Str(0);
  return rows[0].Str(1);
}

Status StorePrivateKeys(Connection& conn, const std::vector<EncryptedKey>& keys) {
  if (keys.empty()) return Status::Ok();
  std::string sql =
      "INSERT INTO private_keys (request_id, key_name, data_key_id, ciphertext) "
      "VALUES ";
  std::vector<Param> p;
  for (size_t i = 0; i < keys.size(); ++i) {
    sql += i ? ",(?,?,?,?)" : "(?,?,?,?)";
    p.insert(p.end(),
             {Param(keys[i].request_id), Param(std::string_view(keys[i].key_name)),
              Param(keys[i].data_key_id), Param(Blob{std::string_view(keys[i].ciphertext)})});
  }
  // A request re-issued after a crash replaces the key nobody ever received.
  sql +=
      " ON DUPLICATE KEY UPDATE data_key_id = VALUES(data_key_id), ciphertext = "
      "VALUES(ciphertext)";
  return Sql(conn).ExecV(sql, p).status();
}

Result<std::vector<EncryptedKey>> FindPrivateKeys(Connection& conn, int64_t request_id) {
  CP_ASSIGN_OR_RETURN(auto rows,
                      Sql(conn).Query("SELECT request_id, key_name, data_key_id, "
                                      "ciphertext FROM private_keys WHERE request_id = ? "
                                      "ORDER BY key_name",
                                      {request_id}));
  std::vector<EncryptedKey> out;
  for (const auto& r : rows) out.push_back({r.Int(0), r.Str(1), r.Int(2), r.Str(3)});
  return out;
}

Result<std::vector<CertRecord>> IssuedForRequest(Connection& conn, int64_t request_id) {
  CP_ASSIGN_OR_RETURN(
      auto rows, Sql(conn).Query("SELECT id, issuer_id, serial, request_id, status, subject, der "
                                 "FROM certificates WHERE request_id = ? AND status = 'issued' "
                                 "ORDER BY id",
                                 {request_id}));
  std::vector<CertRecord> out;
  for (const auto& r : rows) {
    out.push_back({r.Int(0), r.Int(1), r.Str(2), r.Int(3), r.Str(4), r.Str(5), r.Str(6)});
  }
  return out;
}

namespace {

CertRecord CertFromRow(const Row& r) {
  CertRecord c;
  c.id = r.Int(0);
  c.issuer_id = r.Int(1);
  c.serial_hex = r.Str(2);
  if (!r.IsNull(3)) c.request_id = r.Int(3);
  c.status = r.Str(4);
  c.subject = r.Str(5);
  c.der = r.Str(6);
  return c;
}

}  // namespace

Result<std::vector<ChunkLeaf>> ChunkLeaves(Connection& conn, int64_t audit_seq) {
  CP_ASSIGN_OR_RETURN(auto rows, Sql(conn).Query("SELECT issuer_id, serial, request_id, der FROM "
                                                 "certificates WHERE audit_seq = ? ORDER BY "
                                                 "leaf_index",
                                                 {audit_seq}));
  std::vector<ChunkLeaf> out;
  out.reserve(rows.size());
  for (const auto& r : rows)
    out.push_back({r.Int(0), r.Str(1), r.IsNull(2) ? 0 : r.Int(2), r.Str(3)});
  return out;
}

Result<std::optional<std::pair<int64_t, int>>> LeafOf(Connection& conn, int64_t issuer_id,
                                                      std::string_view serial_hex) {
  CP_ASSIGN_OR_RETURN(auto rows,
                      Sql(conn).Query("SELECT audit_seq, leaf_index FROM certificates WHERE "
                                      "issuer_id = ? AND serial = ? AND audit_seq IS NOT NULL",
                                      {issuer_id, serial_hex}));
  if (rows.empty()) return std::optional<std::pair<int64_t, int>>();
  return std::optional<std::pair<int64_t, int>>(
      std::make_pair(rows[0].Int(0), static_cast<int>(rows[0].Int(1))));
}

Result<std::optional<CertRecord>> FindCertificate(Connection& conn, int64_t issuer_id,
                                                  std::string_view serial_hex) {
  CP_ASSIGN_OR_RETURN(
      auto rows, Sql(conn).Query("SELECT id, issuer_id, serial, request_id, status, subject, der "
                                 "FROM certificates WHERE issuer_id = ? AND serial = ?",
                                 {issuer_id, serial_hex}));
  if (rows.empty()) return std::optional<CertRecord>();
  return std::optional<CertRecord>(CertFromRow(rows[0]));
}

Result<CertRecord> FindIssuedBySerial(Connection& conn, std::string_view serial_hex) {
  CP_ASSIGN_OR_RETURN(
      auto rows, Sql(conn).Query("SELECT id, issuer_id, serial, request_id, status, subject, der "
                                 "FROM certificates WHERE serial = ? AND status = 'issued'",
                                 {serial_hex}));
  const std::string serial(serial_hex);
  if (rows.empty()) return NotFound("no issued certificate with serial " + serial);
  if (rows.size() > 1) {
    return InvalidInput("serial " + serial + " was issued by several CAs; use --request");
  }
  return CertFromRow(rows[0]);
}

Result<std::vector<CertRecord>> ListIssued(Connection& conn, int64_t after_id,
                                           std::string_view profile, int limit) {
  CP_ASSIGN_OR_RETURN(
      auto rows, Sql(conn).Query(
                     "SELECT c.id, c.issuer_id, c.serial, c.request_id, c.status, c.subject, c.der "
                     "FROM certificates c LEFT JOIN requests r ON r.id = c.request_id "
                     "WHERE c.status = 'issued' AND c.request_id IS NOT NULL AND c.id > ? "
                     "AND (? = '' OR r.profile = ?) ORDER BY c.id LIMIT ?",
                     {after_id, profile, profile, static_cast<int64_t>(limit)}));
  std::vector<CertRecord> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(CertFromRow(r));
  return out;
}

}  // namespace certpress::store
