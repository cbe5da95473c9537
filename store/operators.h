// operators.h: the operator repository: registered identities (a canonical name and a
// certificate), and the signed statements behind every approval and rejection.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"
#include "store/db.h"

namespace certpress::store {

struct OperatorRecord {
  int64_t id = 0;
  std::string name;  // canonical: lower case [a-z0-9._-]
  std::string cert_der;
  std::string cert_sha256;  // 32 raw bytes
  std::string subject;      // RFC 4514, for people
  std::string not_after;    // "YYYY-MM-DD HH:MM:SS", UTC
  std::string status;       // "active" or "disabled"
  std::string created_by;
  std::string created_at;
};

// InsertOperator registers an operator; a taken name, or a certificate already registered
// under another name, is a conflict.
Result<int64_t> InsertOperator(Connection& conn, const OperatorRecord& op);
Result<std::optional<OperatorRecord>> FindOperator(Connection& conn, std::string_view name);
Result<std::optional<OperatorRecord>> FindOperatorById(Connection& conn, int64_t id);
Result<std::vector<OperatorRecord>> ListOperators(Connection& conn);
// SetOperatorStatus sets "active" or "disabled"; an unknown name is not found.
[[nodiscard]] Status SetOperatorStatus(Connection& conn, std::string_view name,
                                       std::string_view status);

// A signed decision statement (ra/decisions.h defines its text).
struct StatementRecord {
  int64_t id = 0;
  int64_t operator_id = 0;
  std::string statement;
  std::string signature;
  std::string created_at;
};
// StoreStatement keeps a verified statement; returns its id.
Result<int64_t> StoreStatement(Connection& conn, int64_t operator_id, std::string_view statement,
                               ByteSpan signature);
// ListStatements pages through statements with ids above |after_id|, in id order.
Result<std::vector<StatementRecord>> ListStatements(Connection& conn, int64_t after_id, int limit);
Result<std::optional<StatementRecord>> FindStatement(Connection& conn, int64_t id);
// DecisionsOf returns the (request id, decision) pairs recorded under statement |id|.
Result<std::vector<std::pair<int64_t, std::string>>> DecisionsOf(Connection& conn, int64_t id);
// UnsignedDecisions counts approvals and rejections that name no statement (made before
// operators were registered identities, schema < 6).
Result<int64_t> UnsignedDecisions(Connection& conn);

}  // namespace certpress::store
