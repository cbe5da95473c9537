#include "store/token_keys.h"

#include "store/sql.h"

namespace certpress::store {

namespace {

constexpr const char* kSelect =
    "SELECT label, kind, claimed_by, DATE_FORMAT(claimed_at, '%Y-%m-%d %H:%i:%s'), "
    "created_at IS NOT NULL, created_at IS NULL AND claimed_at < NOW(6) - INTERVAL ? SECOND "
    "FROM token_keys WHERE label = ?";

TokenKeyClaim FromRow(const Row& r) {
  return {r.Str(0), r.Str(1), r.Str(2), r.Str(3), r.Int(4) != 0, r.Int(5) != 0};
}

}  // namespace

Result<TokenKeyClaim> ClaimTokenKey(Connection& conn, const std::string& label,
                                    const std::string& kind, const std::string& claimer,
                                    int takeover_seconds) {
  Sql sql(conn);
  CP_ASSIGN_OR_RETURN(auto rows,
                      sql.Query(std::string(kSelect) + " FOR UPDATE", {takeover_seconds, label}));
  if (rows.empty()) {
    // Two claimers that both found no row: the primary key lets one INSERT through; the other
    // waits on it and fails with a duplicate key (or, on Galera, a certification conflict at
    // commit), and RunTransaction's retry then finds the winner's row.
    CP_RETURN_IF_ERROR(sql.Exec("INSERT INTO token_keys (label, kind, claimed_by) VALUES (?, ?, ?)",
                                {label, kind, claimer})
                           .status());
  } else if (FromRow(rows.front()).stale) {
    CP_RETURN_IF_ERROR(sql.Exec("UPDATE token_keys SET claimed_by = ?, claimed_at = NOW(6) "
                                "WHERE label = ? AND created_at IS NULL",
                                {claimer, label})
                           .status());
  } else {
    return FromRow(rows.front());
  }
  CP_ASSIGN_OR_RETURN(rows, sql.Query(kSelect, {takeover_seconds, label}));
  if (rows.empty()) return Internal("token key claim for '" + label + "' vanished");
  return FromRow(rows.front());
}

Status MarkTokenKeyCreated(Connection& conn, const std::string& label, const std::string& claimer) {
  CP_ASSIGN_OR_RETURN(auto r, Sql(conn).Exec("UPDATE token_keys SET created_at = NOW(6) WHERE "
                                             "label = ? AND claimed_by = ? AND created_at IS NULL",
                                             {label, claimer}));
  if (r.affected_rows != 1) {
    return Conflict("the claim on token key '" + label + "' is no longer " + claimer + "'s");
  }
  return Status::Ok();
}

Result<std::optional<TokenKeyClaim>> FindTokenKey(Connection& conn, const std::string& label) {
  CP_ASSIGN_OR_RETURN(auto rows, Sql(conn).Query(kSelect, {0, label}));
  if (rows.empty()) return std::optional<TokenKeyClaim>();
  return std::optional<TokenKeyClaim>(FromRow(rows.front()));
}

}  // namespace certpress::store
