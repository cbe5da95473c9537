#include "store/operators.h"

#include "store/sql.h"

namespace certpress::store {

namespace {

constexpr const char* kColumns =
    "id, name, cert_der, cert_sha256, subject, DATE_FORMAT(not_after, '%Y-%m-%d %H:%i:%s'), "
    "status, created_by, DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:%s')";

OperatorRecord FromRow(const Row& r) {
  return {r.Int(0), r.Str(1), r.Str(2), r.Str(3), r.Str(4), r.Str(5), r.Str(6), r.Str(7), r.Str(8)};
}

Result<std::optional<OperatorRecord>> FindOne(Connection& conn, const char* where, Param key) {
  CP_ASSIGN_OR_RETURN(
      auto rows, Sql(conn).QueryV(
                     std::string("SELECT ") + kColumns + " FROM operators WHERE " + where, {key}));
  if (rows.empty()) return std::optional<OperatorRecord>();
  return std::optional<OperatorRecord>(FromRow(rows[0]));
}

}  // namespace

Result<int64_t> InsertOperator(Connection& conn, const OperatorRecord& op) {
  auto r = Sql(conn).Exec(
      "INSERT INTO operators (name, cert_der, cert_sha256, subject, not_after, status, "
      "created_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
      {op.name, Blob{op.cert_der}, Blob{op.cert_sha256}, op.subject, op.not_after,
       op.status.empty() ? std::string_view("active") : std::string_view(op.status),
       op.created_by});
  if (!r.ok()) {
    if (r.status().kind() == ErrorKind::kConflict) {
      return Conflict("operator '" + op.name +
                      "' already exists, or its certificate is registered to another operator");
    }
    return r.status();
  }
  return static_cast<int64_t>(r->insert_id);
}

Result<std::optional<OperatorRecord>> FindOperator(Connection& conn, std::string_view name) {
  return FindOne(conn, "name = ?", name);
}

Result<std::optional<OperatorRecord>> FindOperatorById(Connection& conn, int64_t id) {
  return FindOne(conn, "id = ?", id);
}

Result<std::vector<OperatorRecord>> ListOperators(Connection& conn) {
  CP_ASSIGN_OR_RETURN(
      auto rows,
      Sql(conn).QueryV(std::string("SELECT ") + kColumns + " FROM operators ORDER BY name", {}));
  std::vector<OperatorRecord> out;
  for (const auto& r : rows) out.push_back(FromRow(r));
  return out;
}

Status SetOperatorStatus(Connection& conn, std::string_view name, std::string_view status) {
  CP_ASSIGN_OR_RETURN(
      auto r, Sql(conn).Exec("UPDATE operators SET status = ? WHERE name = ?", {status, name}));
  if (r.affected_rows == 0) {
    CP_ASSIGN_OR_RETURN(auto found, FindOperator(conn, name));
    if (!found) return NotFound("no operator named '" + std::string(name) + "'");
  }
  return Status::Ok();
}

Result<int64_t> StoreStatement(Connection& conn, int64_t operator_id, std::string_view statement,
                               ByteSpan signature) {
  CP_ASSIGN_OR_RETURN(auto r,
                      Sql(conn).Exec("INSERT INTO decision_statements (operator_id, "
                                     "statement, signature) VALUES (?, ?, ?)",
                                     {operator_id, Blob{statement}, Blob{AsString(signature)}}));
  return static_cast<int64_t>(r.insert_id);
}

Result<std::vector<StatementRecord>> ListStatements(Connection& conn, int64_t after_id, int limit) {
  CP_ASSIGN_OR_RETURN(auto rows,
                      Sql(conn).Query("SELECT id, operator_id, statement, signature, "
                                      "DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:%s') FROM "
                                      "decision_statements WHERE id > ? ORDER BY id LIMIT ?",
                                      {after_id, static_cast<int64_t>(limit)}));
  std::vector<StatementRecord> out;
  for (const auto& r : rows) out.push_back({r.Int(0), r.Int(1), r.Str(2), r.Str(3), r.Str(4)});
  return out;
}

Result<std::optional<StatementRecord>> FindStatement(Connection& conn, int64_t id) {
  CP_ASSIGN_OR_RETURN(auto rows, ListStatements(conn, id - 1, 1));
  if (rows.empty() || rows[0].id != id) return std::optional<StatementRecord>();
  return std::optional<StatementRecord>(std::move(rows[0]));
}

Result<std::vector<std::pair<int64_t, std::string>>> DecisionsOf(Connection& conn, int64_t id) {
  CP_ASSIGN_OR_RETURN(auto rows, Sql(conn).Query("SELECT request_id, decision FROM approvals "
                                                 "WHERE statement_id = ? ORDER BY request_id",
                                                 {id}));
  std::vector<std::pair<int64_t, std::string>> out;
  for (const auto& r : rows) out.emplace_back(r.Int(0), r.Str(1));
  return out;
}

Result<int64_t> UnsignedDecisions(Connection& conn) {
  CP_ASSIGN_OR_RETURN(auto rows,
                      Sql(conn).Query("SELECT COUNT(*) FROM approvals WHERE statement_id IS NULL"));
  return rows[0].Int(0);
}

}  // namespace certpress::store
