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
  // db.hosts: the nodes of a Galera cluster, each a unix socket path (starting with '/') or
  // host[:port]. When given, they replace socket/host/port: a connection goes to the first
  // node in this order that answers and is ready (in the primary component), and after a
  // lost link or a node outside the primary component, reconnects to the first such node
  // again. Every process lists the nodes in the same order, so all write through one node
  // while it lives and move to the same next one when it dies (docs/SCALING.md).
  std::vector<std::string> nodes;
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
  // Retryable errors are retried past max_attempts until this much time has passed since the
  // first attempt (at most 4 x max_attempts attempts in all): a Galera node that dies stalls
  // the survivors for about 5.5 s (its suspect timeout), longer than six quick attempts last.
  int retry_for_ms = 20000;
};

// How an error number of the server (mysqld_error.h) or of Connector/C (errmsg.h) is handled.
// One table in db.cc decides it, for statements, COMMIT and connecting alike.
enum class ErrnoClass {
  kFatal,      // not retried: the same work would fail again
  kRetry,      // roll back and run the transaction again on the same connection
  kReconnect,  // the link or the node is unusable: run again on a new connection, which may
               // go to another node of db.hosts
};
ErrnoClass ClassifyErrno(unsigned err);
// StatementErrno is the errno to classify a failed prepared statement by: its own, or the
// connection's when the statement's is 0. Galera aborts a transaction (1213) while the rows
// of a SELECT ... FOR UPDATE are being fetched; mysql_stmt_fetch then fails with
// mysql_stmt_errno() 0 and the error only in mysql_errno().
unsigned StatementErrno(unsigned stmt_errno, unsigned conn_errno);

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
  // Node names the node this connection is on (its socket or host:port).
  const std::string& Node() const { return node_; }
  const DbConfig& config() const { return config_; }
  // SetAuditKeys gives this connection the audit chain's keys (loaded after it opened, since
  // the wrapped keys are read through it).
  void SetAuditKeys(std::shared_ptr<const AuditKeys> keys) { config_.audit_keys = std::move(keys); }
  // AuditAppended counts the audit entries appended through this connection (rolled-back ones
  // included): a command that wrote any ends with a signed checkpoint (app/).
  int64_t AuditAppended() const { return audit_appended_; }
  void CountAuditAppended(int64_t n) { audit_appended_ += n; }

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
  Status ConnectTo(const std::string& node, bool check_ready);
  void Close();
  Result<MYSQL_STMT*> Prepare(std::string_view sql);
  Status Run(MYSQL_STMT* stmt, std::string_view sql, const Param* params, size_t n);
  Status Error(std::string_view what);
  Status StmtError(MYSQL_STMT* stmt, std::string_view sql);
  // Failed builds the status of error |err| and drops the link when the error says it (or
  // its node) is unusable, so that the next attempt opens a new one.
  Status Failed(unsigned err, const char* sqlstate, const char* text, std::string_view what);

  DbConfig config_;
  MYSQL* mysql_ = nullptr;
  std::string node_;
  bool broken_ = false;  // a reconnect-class error was seen: close before the next use
  int64_t audit_appended_ = 0;
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
// with a retryable error (ClassifyErrno: deadlock or Galera certification failure 1213, lock
// wait timeout 1205, lost connection 2006/2013, cannot connect 2002, a Galera node outside
// the primary component 1047/1180), the transaction is rolled back, the connection
// re-established if it was lost, and the whole body run again after a jittered, capped
// exponential backoff. |body| must therefore be safe to re-run. |attempts| (optional) reports
// how many runs it took.
[[nodiscard]] Status RunTransaction(Connection& conn,
                                    const std::function<Status(Connection&)>& body,
                                    const RetryPolicy& policy = {}, int* attempts = nullptr);

// ParseNodes splits a db.hosts value (nodes separated by spaces or commas).
std::vector<std::string> ParseNodes(std::string_view hosts);

// IsRetryable tells whether a database status is one RunTransaction retries.
bool IsRetryable(const Status& status);

}  // namespace certpress::store
