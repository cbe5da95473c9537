#include "store/cas.h"

#include "store/sql.h"

namespace certpress::store {

namespace {

constexpr const char* kColumns =
    "id, label, parent_id, subject, key_uri, key_type, status, cert_der, chain_pem, "
    "DATE_FORMAT(not_after, '%Y-%m-%d %H:%i:%s'), DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:%s')";

CaRecord FromRow(const Row& r) {
  CaRecord c;
  c.id = r.Int(0);
  c.label = r.Str(1);
  if (!r.IsNull(2)) c.parent_id = r.Int(2);
  c.subject = r.Str(3);
  c.key_uri = r.Str(4);
  c.key_type = r.Str(5);
  c.status = r.Str(6);
  c.cert_der = r.Str(7);
  c.chain_pem = r.Str(8);
  c.not_after = r.Str(9);
  c.created_at = r.Str(10);
  return c;
}

Result<std::optional<CaRecord>> FindOne(Connection& conn, const std::string& where, Param p) {
  CP_ASSIGN_OR_RETURN(
      auto rows,
      Sql(conn).QueryV(std::string("SELECT ") + kColumns + " FROM cas WHERE " + where, {p}));
  if (rows.empty()) return std::optional<CaRecord>();
  return std::optional<CaRecord>(FromRow(rows[0]));
}

}  // namespace

Result<std::optional<CaRecord>> FindCa(Connection& conn, std::string_view label) {
  return FindOne(conn, "label = ?", label);
}

Result<std::optional<CaRecord>> FindCaById(Connection& conn, int64_t id) {
  return FindOne(conn, "id = ?", id);
}

Result<std::vector<CaRecord>> ListCas(Connection& conn) {
  CP_ASSIGN_OR_RETURN(
      auto rows, Sql(conn).QueryV(std::string("SELECT ") + kColumns + " FROM cas ORDER BY id", {}));
  std::vector<CaRecord> out;
  for (const auto& r : rows) out.push_back(FromRow(r));
  return out;
}

Result<int64_t> InsertCa(Connection& conn, const CaRecord& ca) {
  Param parent = ca.parent_id ? Param(*ca.parent_id) : Param(nullptr);
  auto r = Sql(conn).Exec(
      "INSERT INTO cas (label, parent_id, subject, key_uri, key_type, status) "
      "VALUES (?, ?, ?, ?, ?, ?)",
      {ca.label, parent, ca.subject, ca.key_uri, ca.key_type, ca.status});
  if (!r.ok()) {
    if (r.status().kind() == ErrorKind::kConflict) {
      return Conflict("a CA labelled '" + ca.label + "' already exists");
    }
    return r.status();
  }
  return static_cast<int64_t>(r->insert_id);
}

Status SetCaCertificate(Connection& conn, int64_t id, ByteSpan cert_der, std::string_view chain_pem,
                        std::string_view not_after) {
  auto r = Sql(conn).Exec(
      "UPDATE cas SET cert_der = ?, chain_pem = ?, not_after = ?, status = 'active' WHERE id = ?",
      {AsString(cert_der), chain_pem, not_after, id});
  if (!r.ok()) return r.status();
  return Status::Ok();
}

Status SetImportedCaCertificate(Connection& conn, int64_t id, std::optional<int64_t> parent_id,
                                std::string_view subject, ByteSpan cert_der,
                                std::string_view chain_pem, std::string_view not_after) {
  if (parent_id) {
    CP_RETURN_IF_ERROR(
        Sql(conn).Exec("UPDATE cas SET parent_id = ? WHERE id = ?", {*parent_id, id}).status());
  }
  CP_RETURN_IF_ERROR(
      Sql(conn).Exec("UPDATE cas SET subject = ? WHERE id = ?", {subject, id}).status());
  return SetCaCertificate(conn, id, cert_der, chain_pem, not_after);
}

}  // namespace certpress::store
