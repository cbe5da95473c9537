#include "store/pickup.h"

#include "store/sql.h"

namespace certpress::store {

Result<int64_t> DestroyPrivateKeys(Connection& conn, int64_t request_id) {
  CP_ASSIGN_OR_RETURN(
      auto r, Sql(conn).Exec("DELETE FROM private_keys WHERE request_id = ?", {request_id}));
  return static_cast<int64_t>(r.affected_rows);
}

Status MarkDelivered(Connection& conn, int64_t request_id) {
  CP_ASSIGN_OR_RETURN(auto r, Sql(conn).Exec("UPDATE requests SET state = ?, updated_at = NOW(6) "
                                             "WHERE id = ? AND state IN ('issued', 'delivered')",
                                             {std::string_view(kDelivered), request_id}));
  if (r.affected_rows == 0) {
    CP_ASSIGN_OR_RETURN(auto rows,
                        Sql(conn).Query("SELECT state FROM requests WHERE id = ?", {request_id}));
    if (rows.empty()) return NotFound("request " + std::to_string(request_id) + " not found");
    if (rows[0].Str(0) != kDelivered) {
      return Conflict("request " + std::to_string(request_id) + " is " + rows[0].Str(0) +
                      ", not issued");
    }
  }
  return Status::Ok();
}

}  // namespace certpress::store
