#include "store/certificates.h"

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
