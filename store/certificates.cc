#include "store/certificates.h"

#include <algorithm>
#include <map>

#include "store/audit.h"

namespace certpress::store {

namespace {
std::string_view Sv(const std::array<uint8_t, 32>& h) {
  return {reinterpret_cast<const char*>(h.data()), h.size()};
}
}  // namespace

Result<int64_t> RecordIntent(Connection& conn, const CertIntent& in) {
  Param req = in.request_id ? Param(*in.request_id) : Param(nullptr);
  auto r = conn.Exec(
      "INSERT INTO certificates (issuer_id, serial, request_id, status, subject, not_before, "
      "not_after, tbs_sha256) VALUES (?, ?, ?, 'intent', ?, ?, ?, ?)",
      {in.issuer_id, in.serial_hex, req, in.subject, FormatUtc(in.not_before),
       FormatUtc(in.not_after), Sv(in.tbs_sha256)});
  if (!r.ok()) {
    if (r.status().kind() == ErrorKind::kConflict) {
      return Conflict("serial " + in.serial_hex + " is already used by this issuer");
    }
    return r.status().Wrap("recording certificate intent");
  }
  return static_cast<int64_t>(r->insert_id);
}

Status CompleteCertificate(Connection& conn, int64_t cert_id,
                           const std::array<uint8_t, 32>& tbs_sha256, ByteSpan der) {
  auto r = conn.Exec(
      "UPDATE certificates SET der = ?, status = 'issued', issued_at = UTC_TIMESTAMP(6) "
      "WHERE id = ? AND status = 'intent' AND tbs_sha256 = ?",
      {AsString(der), cert_id, Sv(tbs_sha256)});
  if (!r.ok()) return r.status().Wrap("storing certificate " + std::to_string(cert_id));
  if (r->affected_rows != 1) {
    return Conflict("certificate " + std::to_string(cert_id) +
                    " has no matching intent (already issued, or the TBS differs)");
  }
  return Status::Ok();
}

Status RecordIntents(Connection& conn, const std::vector<CertIntent>& intents) {
  if (intents.empty()) return Status::Ok();
  std::string sql =
      "INSERT INTO certificates (issuer_id, serial, request_id, status, subject, not_before, "
      "not_after, tbs_sha256) VALUES ";
  std::vector<std::string> times;
  times.reserve(intents.size() * 2);
  for (const auto& in : intents) {
    times.push_back(FormatUtc(in.not_before));
    times.push_back(FormatUtc(in.not_after));
  }
  std::vector<Param> p;
  p.reserve(intents.size() * 7);
  for (size_t i = 0; i < intents.size(); ++i) {
    const auto& in = intents[i];
    sql += i ? ",(?,?,?,'intent',?,?,?,?)" : "(?,?,?,'intent',?,?,?,?)";
    p.insert(p.end(), {Param(in.issuer_id), Param(std::string_view(in.serial_hex)),
                       in.request_id ? Param(*in.request_id) : Param(nullptr),
                       Param(std::string_view(in.subject)), Param(std::string_view(times[2 * i])),
                       Param(std::string_view(times[2 * i + 1])), Param(Sv(in.tbs_sha256))});
  }
  auto r = conn.ExecV(sql, p);
  if (!r.ok()) {
    if (r.status().kind() == ErrorKind::kConflict)
      return Conflict("serial collision: " + r.status().message());
    return r.status().Wrap("recording certificate intents");
  }
  return Status::Ok();
}

Result<size_t> CompleteCertificates(Connection& conn, const std::vector<SignedCert>& certs) {
  size_t done = 0;
  // A single-table UPDATE over the unique key (issuer_id, serial IN ...), with each row's DER
  // and expected TBS hash picked by CASE on its serial. An UPDATE joined to a derived table of
  // VALUES would be shorter, but MariaDB materialises that derived table, and with a BLOB
  // column it does so on disk (an Aria temporary table per chunk, two with the join's own).
  constexpr size_t kRows = 250;
  for (size_t start = 0; start < certs.size(); start += kRows) {
    // One statement per issuer: the IN list is over the (issuer_id, serial) key.
    size_t end = std::min(certs.size(), start + kRows);
    std::map<int64_t, std::vector<size_t>> by_issuer;
    for (size_t i = start; i < end; ++i) by_issuer[certs[i].issuer_id].push_back(i);
    for (const auto& [issuer, idx] : by_issuer) {
      std::string der_case = "CASE serial", tbs_case = "CASE serial", in;
      std::vector<Param> p;
      p.reserve(idx.size() * 5 + 1);
      for (size_t i : idx) {
        der_case += " WHEN ? THEN ?";
        p.insert(p.end(), {Param(std::string_view(certs[i].serial_hex)),
                           Param(Blob{std::string_view(certs[i].der)})});
      }
      p.emplace_back(issuer);
      for (size_t i : idx) {
        in += in.empty() ? "?" : ",?";
        p.emplace_back(std::string_view(certs[i].serial_hex));
      }
      for (size_t i : idx) {
        tbs_case += " WHEN ? THEN ?";
        p.insert(p.end(), {Param(std::string_view(certs[i].serial_hex)),
                           Param(Blob{Sv(certs[i].tbs_sha256)})});
      }
      CP_ASSIGN_OR_RETURN(
          ExecResult r,
          conn.ExecV(
              "UPDATE certificates SET der = " + der_case +
                  " END, status = 'issued', issued_at = UTC_TIMESTAMP(6) WHERE issuer_id = ? "
                  "AND serial IN (" +
                  in + ") AND status = 'intent' AND tbs_sha256 = " + tbs_case + " END",
              p));
      done += r.affected_rows;
    }
  }
  return done;
}

Result<int64_t> StoreDataKey(Connection& conn, const std::string& kek_label, ByteSpan wrapped) {
  CP_ASSIGN_OR_RETURN(ExecResult r, conn.Exec("INSERT INTO data_keys (kek_label, wrapped) VALUES "
                                              "(?, ?)",
                                              {kek_label, AsString(wrapped)}));
  return static_cast<int64_t>(r.insert_id);
}

Result<std::string> WrappedDataKey(Connection& conn, int64_t id, std::string* kek_label) {
  CP_ASSIGN_OR_RETURN(auto rows,
                      conn.Query("SELECT kek_label, wrapped FROM data_keys WHERE id = ?", {id}));
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
  return conn.ExecV(sql, p).status();
}

Result<std::vector<EncryptedKey>> FindPrivateKeys(Connection& conn, int64_t request_id) {
  CP_ASSIGN_OR_RETURN(auto rows, conn.Query("SELECT request_id, key_name, data_key_id, "
                                            "ciphertext FROM private_keys WHERE request_id = ? "
                                            "ORDER BY key_name",
                                            {request_id}));
  std::vector<EncryptedKey> out;
  for (const auto& r : rows) out.push_back({r.Int(0), r.Str(1), r.Int(2), r.Str(3)});
  return out;
}

Result<std::vector<CertRecord>> IssuedForRequest(Connection& conn, int64_t request_id) {
  CP_ASSIGN_OR_RETURN(auto rows,
                      conn.Query("SELECT id, issuer_id, serial, request_id, status, subject, der "
                                 "FROM certificates WHERE request_id = ? AND status = 'issued' "
                                 "ORDER BY id",
                                 {request_id}));
  std::vector<CertRecord> out;
  for (const auto& r : rows) {
    out.push_back({r.Int(0), r.Int(1), r.Str(2), r.Int(3), r.Str(4), r.Str(5), r.Str(6)});
  }
  return out;
}

Result<std::optional<CertRecord>> FindCertificate(Connection& conn, int64_t issuer_id,
                                                  std::string_view serial_hex) {
  CP_ASSIGN_OR_RETURN(auto rows,
                      conn.Query("SELECT id, issuer_id, serial, request_id, status, subject, der "
                                 "FROM certificates WHERE issuer_id = ? AND serial = ?",
                                 {issuer_id, serial_hex}));
  if (rows.empty()) return std::optional<CertRecord>();
  const Row& r = rows[0];
  CertRecord c;
  c.id = r.Int(0);
  c.issuer_id = r.Int(1);
  c.serial_hex = r.Str(2);
  if (!r.IsNull(3)) c.request_id = r.Int(3);
  c.status = r.Str(4);
  c.subject = r.Str(5);
  c.der = r.Str(6);
  return std::optional<CertRecord>(std::move(c));
}

}  // namespace certpress::store
