// sql.h: raw SQL on a Connection, for store/'s repositories only. Every other module reaches
// the database through a repository function (store/*.h), so that SQL lives in one folder
// and every statement is a prepared one. Integration tests include it too, to look at rows or
// tamper with them on purpose; scripts/check-layers refuses it anywhere else.
#pragma once

#include "store/db.h"

namespace certpress::store {

// Sql is a view of a connection that runs statements. Parameters are always bound, never
// spliced into the text.
class Sql {
 public:
  explicit Sql(Connection& conn) : conn_(conn) {}

  Result<ExecResult> Exec(std::string_view sql, std::initializer_list<Param> params = {}) {
    return conn_.Exec(sql, params);
  }
  Result<ExecResult> ExecV(std::string_view sql, const std::vector<Param>& params) {
    return conn_.ExecV(sql, params);
  }
  Result<std::vector<Row>> Query(std::string_view sql, std::initializer_list<Param> params = {}) {
    return conn_.Query(sql, params);
  }
  Result<std::vector<Row>> QueryV(std::string_view sql, const std::vector<Param>& params) {
    return conn_.QueryV(sql, params);
  }
  // ExecScript runs trusted, parameterless DDL (migrations); never used with input.
  [[nodiscard]] Status ExecScript(std::string_view sql) { return conn_.ExecScript(sql); }

  // PageByState reads one page of |table| (a constant of the caller's, never input) in id
  // order: |columns| of the rows with id > |after_id|, of |state| unless it is empty, at most
  // |limit|. The listings (`card list`, `pinletter list`) page through their tables with it.
  Result<std::vector<Row>> PageByState(std::string_view columns, std::string_view table,
                                       const std::string& state, int64_t after_id, int limit) {
    std::vector<Param> params{after_id};
    std::string sql =
        "SELECT " + std::string(columns) + " FROM " + std::string(table) + " WHERE id > ?";
    if (!state.empty()) {
      sql += " AND state = ?";
      params.push_back(std::string_view(state));
    }
    sql += " ORDER BY id LIMIT ?";
    params.push_back(int64_t{limit});
    return conn_.QueryV(sql, params);
  }

 private:
  Connection& conn_;
};

}  // namespace certpress::store
