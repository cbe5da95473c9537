#include "store/runs.h"

#include "store/sql.h"

namespace certpress::store {

Result<int64_t> StartRun(Connection& conn, const std::string& claimer) {
  CP_ASSIGN_OR_RETURN(auto r, Sql(conn).Exec("INSERT INTO runs (claimed_by, started_at) VALUES (?, "
                                             "UTC_TIMESTAMP(6))",
                                             {claimer}));
  return static_cast<int64_t>(r.insert_id);
}

Status FinishRun(Connection& conn, int64_t id, const RunOutcome& o) {
  return Sql(conn)
      .Exec(
          "UPDATE runs SET finished_at = UTC_TIMESTAMP(6), claimed = ?, issued = ?, failed = ?, "
          "certs_per_s = ?, outcome = ?, message = ? WHERE id = ?",
          {o.claimed, o.issued, o.failed, o.certs_per_s, std::string_view(o.outcome),
           std::string_view(o.message), id})
      .status();
}

Result<std::vector<RunRecord>> RecentRuns(Connection& conn, int limit) {
  CP_ASSIGN_OR_RETURN(auto rows,
                      Sql(conn).Query("SELECT id, claimed_by, DATE_FORMAT(started_at, "
                                      "'%Y-%m-%d %H:%i:%s'), outcome, claimed, issued, failed, "
                                      "CAST(ROUND(certs_per_s) AS INTEGER), COALESCE(message, '') "
                                      "FROM runs ORDER BY id DESC LIMIT ?",
                                      {static_cast<int64_t>(limit)}));
  std::vector<RunRecord> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    RunRecord rec;
    rec.id = r.Int(0);
    rec.claimed_by = r.Str(1);
    rec.started_at = r.Str(2);
    rec.result = {r.Int(4), r.Int(5), r.Int(6), r.Int(7), r.Str(3), r.Str(8)};
    out.push_back(std::move(rec));
  }
  return out;
}

}  // namespace certpress::store
