// db.h: MariaDB Connector/C behind RAII. Prepared statements only (every value is bound,
// never spliced into SQL text), a Transaction that rolls back unless committed, and
// RunTransaction, which retries the whole unit on deadlock, lock wait timeout and lost
// connections with capped, jittered backoff. Only store/ includes mysql.h.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"

typedef struct st_mysql MYSQL;
typedef struct st_mysql_stmt MYSQL_STMT;

namespace certpress::store {

// AuditKeys are the audit chain's HMAC keys by id (kgs/audit_keys.h unwraps them with the
// token's key encryption key; the database holds them only wrapped), and the one new entries
// are chained with.
struct AuditKeys {
  int64_t current_id = 0;
  std::map<int64_t, SecureString> keys;
};

struct DbConfig {
  std::string socket;  // unix socket (preferred); else host/port
  std::string host;
  unsigned port = 0;
  std::string name;
  std::string user;
  SecureString password;
  // Keys for appending to and verifying the audit chain; without them AppendAudit fails.
  std::shared_ptr<const AuditKeys> audit_keys;

  DbConfig Clone() const;
};

// Blob marks bytes that are not text. The server gives a BLOB-typed parameter the binary
// character set, where a string parameter carries the connection's (utf8mb4) and is checked
// against it wherever the value lands in a text context (a derived table, a UNION).
struct Blob {
  std::string_view bytes;
};

// A bound parameter: NULL, an integer, text, or bytes.
using Param = std::variant<std::nullptr_t, int64_t, std::string_view, Blob>;

// Row holds one result row; columns are NULL or bytes (integers arrive as decimal text).
class Row {
 public:
  explicit Row(std::vector<std::optional<std::string>> cols) : cols_(std::move(cols)) {}
  size_t size() const { return cols_.size(); }
  bool IsNull(size_t i) const { return !cols_[i].has_value(); }
  const std::string& Str(size_t i) const;
  int64_t Int(size_t i) const;
  ByteSpan Blob(size_t i) const { return AsBytes(Str(i)); }

 private:
  std::vector<std::optional<std::string>> cols_;
};

struct ExecResult {
  uint64_t affected_rows = 0;
  uint64_t insert_id = 0;
};

struct RetryPolicy {
  int max_attempts = 6;
  int base_delay_ms = 20;
  int max_delay_ms = 2000;
};

class Connection {
 public:
  // Open connects and sets the session up (utf8mb4, READ COMMITTED, strict SQL mode).
  static Result<std::unique_ptr<Connection>> Open(const DbConfig& config);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Reconnect drops the server connection and opens a new one (prepared statements are
  // dropped with it).
  [[nodiscard]] Status Reconnect();
  uint64_t ThreadId() const;
  const DbConfig& config() const { return config_; }
  // SetAuditKeys gives this connection the audit chain's keys (loaded after it opened, since
  // the wrapped keys are read through it).
  void SetAuditKeys(std::shared_ptr<const AuditKeys> keys) { config_.audit_keys = std::move(keys); }

 private:
  // Raw SQL is private to store/: its repositories reach it through Sql (store/sql.h), and
  // every other module calls a repository function. See store/sql.h.
  friend class Sql;
  friend class Transaction;
  friend Status RunTransaction(Connection&, const std::function<Status(Connection&)>&,
                               const RetryPolicy&, int*);

  // Exec runs a statement with bound parameters. Statements are prepared once per
  // connection and cached by their text.
  Result<ExecResult> Exec(std::string_view sql, std::initializer_list<Param> params = {});
  Result<ExecResult> ExecV(std::string_view sql, const std::vector<Param>& params);
  // Query runs a statement and returns all rows.
  Result<std::vector<Row>> Query(std::string_view sql, std::initializer_list<Param> params = {});
  Result<std::vector<Row>> QueryV(std::string_view sql, const std::vector<Param>& params);
  // ExecScript runs trusted, parameterless DDL (migrations); never used with input.
  [[nodiscard]] Status ExecScript(std::string_view sql);

  explicit Connection(DbConfig config) : config_(std::move(config)) {}
  Status Connect();
  void Close();
  Result<MYSQL_STMT*> Prepare(std::string_view sql);
  Status Run(MYSQL_STMT* stmt, std::string_view sql, const Param* params, size_t n);
  Status Error(std::string_view what);
  Status StmtError(MYSQL_STMT* stmt, std::string_view sql);

  DbConfig config_;
  MYSQL* mysql_ = nullptr;
  std::map<std::string, MYSQL_STMT*, std::less<>> stmts_;
};

// Transaction: BEGIN on construction (via Begin), ROLLBACK in the destructor unless
// Commit() succeeded.
class Transaction {
 public:
  static Result<Transaction> Begin(Connection& conn);
  Transaction(Transaction&& o) noexcept : conn_(o.conn_), open_(o.open_) { o.open_ = false; }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  [[nodiscard]] Status Commit();

 private:
  explicit Transaction(Connection& c) : conn_(&c), open_(true) {}
  Connection* conn_;
  bool open_;
};

// RunTransaction runs |body| inside a transaction and commits. If |body| or the commit fails
// with a retryable error (deadlock 1213, lock wait timeout 1205, lost connection 2006/2013,
// cannot connect 2002), the transaction is rolled back, the connection re-established if it
// was lost, and the whole body run again after a jittered, capped exponential backoff. |body|
// must therefore be safe to re-run. |attempts| (optional) reports how many runs it took.
[[nodiscard]] Status RunTransaction(Connection& conn,
                                    const std::function<Status(Connection&)>& body,
                                    const RetryPolicy& policy = {}, int* attempts = nullptr);

// IsRetryable tells whether a database status is one RunTransaction retries.
bool IsRetryable(const Status& status);

}  // namespace certpress::store
