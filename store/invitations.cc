#include "store/invitations.h"

#include "store/sql.h"

namespace certpress::store {

namespace {

constexpr const char* kColumns =
    "id, profile, ca_id, email, name, state, request_id, "
    "COALESCE(DATE_FORMAT(expires_at, '%Y-%m-%d %H:%i:%s'), ''), "
    "(expires_at IS NOT NULL AND expires_at <= NOW(6)), "
    "DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:%s')";

InvitationRow FromRow(const Row& r) {
  InvitationRow out;
  out.id = r.Int(0);
  out.profile = r.Str(1);
  out.ca_id = r.Int(2);
  out.email = r.Str(3);
  out.name = r.Str(4);
  out.state = r.Str(5);
  if (!r.IsNull(6)) out.request_id = r.Int(6);
  out.expires_at = r.Str(7);
  out.expired = r.Int(8) != 0;
  out.created_at = r.Str(9);
  return out;
}

}  // namespace

Result<int64_t> InsertInvitation(Connection& conn, const NewInvitation& inv) {
  CP_ASSIGN_OR_RETURN(
      auto r, Sql(conn).Exec("INSERT INTO invitations (profile, ca_id, email, name, state, "
                             "validity_seconds, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                             {inv.profile, inv.ca_id, inv.email, inv.name,
                              std::string_view(kInvQueued), inv.validity_seconds, inv.created_by}));
  return static_cast<int64_t>(r.insert_id);
}

Status SetInvitationLink(Connection& conn, int64_t id, int64_t key_id,
                         std::string_view token_hmac) {
  CP_ASSIGN_OR_RETURN(
      auto r, Sql(conn).Exec("UPDATE invitations SET state = ?, token_key_id = ?, token_hmac = ?, "
                             "expires_at = NOW(6) + INTERVAL validity_seconds SECOND "
                             "WHERE id = ? AND state IN (?, ?)",
                             {std::string_view(kInvSent), key_id, Blob{token_hmac}, id,
                              std::string_view(kInvQueued), std::string_view(kInvSent)}));
  if (r.affected_rows != 1) {
    return Conflict("invitation " + std::to_string(id) + " is no longer open");
  }
  return Status::Ok();
}

Result<std::optional<InvitationRow>> FindInvitationByToken(Connection& conn,
                                                           const std::vector<std::string>& hmacs,
                                                           bool lock) {
  for (const auto& h : hmacs) {
    if (h.empty()) continue;
    CP_ASSIGN_OR_RETURN(auto rows, Sql(conn).Query(std::string("SELECT ") + kColumns +
                                                       " FROM invitations WHERE token_hmac = ?" +
                                                       (lock ? " FOR UPDATE" : ""),
                                                   {Blob{h}}));
    if (!rows.empty()) return std::optional<InvitationRow>(FromRow(rows[0]));
  }
  return std::optional<InvitationRow>();
}

Result<std::optional<InvitationRow>> FindInvitationById(Connection& conn, int64_t id, bool lock) {
  CP_ASSIGN_OR_RETURN(
      auto rows, Sql(conn).Query(std::string("SELECT ") + kColumns +
                                     " FROM invitations WHERE id = ?" + (lock ? " FOR UPDATE" : ""),
                                 {id}));
  if (rows.empty()) return std::optional<InvitationRow>();
  return std::optional<InvitationRow>(FromRow(rows[0]));
}

Status SetInvitationState(Connection& conn, int64_t id, const char* from, const char* to,
                          std::optional<int64_t> request_id) {
  Param req = request_id ? Param(*request_id) : Param(nullptr);
  CP_ASSIGN_OR_RETURN(
      auto r, Sql(conn).Exec(
                  "UPDATE invitations SET state = ?, request_id = COALESCE(?, "
                  "request_id), used_at = IF(? = 'used', NOW(6), used_at) "
                  "WHERE id = ? AND state = ?",
                  {std::string_view(to), req, std::string_view(to), id, std::string_view(from)}));
  if (r.affected_rows != 1) {
    return Conflict("invitation " + std::to_string(id) + " is not " + from);
  }
  return Status::Ok();
}

Result<std::vector<InvitationRow>> ListInvitations(Connection& conn) {
  CP_ASSIGN_OR_RETURN(auto rows, Sql(conn).Query(std::string("SELECT ") + kColumns +
                                                 " FROM invitations ORDER BY id"));
  std::vector<InvitationRow> out;
  for (const auto& r : rows) out.push_back(FromRow(r));
  return out;
}

}  // namespace certpress::store
