#include "store/db.h"

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <openssl/rand.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace certpress::store {

namespace {

// The one table of error numbers that are not fatal. Everything else is (a duplicate key is
// a conflict, see FromErrno).
struct ErrnoRule {
  unsigned err;
  ErrnoClass cls;
};
constexpr ErrnoRule kErrnoRules[] = {
    // InnoDB chose this transaction as a deadlock victim; on Galera also a transaction that
    // failed certification at COMMIT or was aborted by a replicated write (brute force abort),
    // reported even while a SELECT ... FOR UPDATE's rows are being fetched.
    {ER_LOCK_DEADLOCK, ErrnoClass::kRetry},
    {ER_LOCK_WAIT_TIMEOUT, ErrnoClass::kRetry},  // 1205
    // 1317: a statement interrupted; Galera interrupts local statements when the node leaves
    // the primary component. Retried a bounded number of times like any other.
    {ER_QUERY_INTERRUPTED, ErrnoClass::kRetry},
    // 1047 "WSREP has not yet prepared node for application use": the node is not (or no
    // longer) in the primary component; another node may be.
    {ER_UNKNOWN_COM_ERROR, ErrnoClass::kReconnect},
    // 1180 "Got error 6 during COMMIT" ("not connected to Primary Component"): nothing was
    // committed (the write set could not be replicated); the cluster is usually primary again
    // within seconds, on this node or another.
    {ER_ERROR_DURING_COMMIT, ErrnoClass::kReconnect},
    {ER_CONNECTION_KILLED, ErrnoClass::kReconnect},     // 1927
    {4031, ErrnoClass::kReconnect},                     // ER_CLIENT_INTERACTION_TIMEOUT
    {CR_CONNECTION_ERROR, ErrnoClass::kReconnect},      // 2002: socket gone (node down)
    {CR_CONN_HOST_ERROR, ErrnoClass::kReconnect},       // 2003
    {CR_SERVER_GONE_ERROR, ErrnoClass::kReconnect},     // 2006
    {CR_SERVER_LOST, ErrnoClass::kReconnect},           // 2013: the node died mid-statement
    {CR_SERVER_LOST_EXTENDED, ErrnoClass::kReconnect},  // 2055
};

Status FromErrno(unsigned err, const char* sqlstate, const char* text, std::string_view what) {
  std::string m = std::string(what) + ": MariaDB error " + std::to_string(err) + " (" +
                  (sqlstate ? sqlstate : "?????") + "): " + (text ? text : "");
  if (ClassifyErrno(err) != ErrnoClass::kFatal) return Unavailable(std::move(m));
  if (err == ER_DUP_ENTRY) return Conflict(std::move(m));
  return DatabaseError(std::move(m));
}

}  // namespace

ErrnoClass ClassifyErrno(unsigned err) {
  for (const ErrnoRule& r : kErrnoRules) {
    if (r.err == err) return r.cls;
  }
  return ErrnoClass::kFatal;
}

unsigned StatementErrno(unsigned stmt_errno, unsigned conn_errno) {
  return stmt_errno != 0 ? stmt_errno : conn_errno;
}

DbConfig DbConfig::Clone() const {
  DbConfig c;
  c.socket = socket;
  c.host = host;
  c.port = port;
  c.nodes = nodes;
  c.name = name;
  c.user = user;
  c.password = password.Clone();
  c.audit_keys = audit_keys;
  return c;
}

const std::string& Row::Str(size_t i) const {
  static const std::string kEmpty;
  return cols_[i] ? *cols_[i] : kEmpty;
}

int64_t Row::Int(size_t i) const {
  const std::string& s = Str(i);
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

Result<std::unique_ptr<Connection>> Connection::Open(const DbConfig& config) {
  std::unique_ptr<Connection> c(new Connection(config.Clone()));
  CP_RETURN_IF_ERROR(c->Connect());
  return c;
}

Connection::~Connection() {
  Close();
}

void Connection::Close() {
  for (auto& [sql, stmt] : stmts_) mysql_stmt_close(stmt);
  stmts_.clear();
  if (mysql_ != nullptr) mysql_close(mysql_);
  mysql_ = nullptr;
  broken_ = false;
}

std::vector<std::string> ParseNodes(std::string_view hosts) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : hosts) {
    if (ch == ' ' || ch == ',' || ch == '\t' || ch == '\n') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += ch;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

Status Connection::Connect() {
  if (config_.nodes.empty()) {
    const std::string node =
        config_.socket.empty() ? config_.host + ":" + std::to_string(config_.port) : config_.socket;
    return ConnectTo(config_.socket.empty() ? node : config_.socket, false);
  }
  // The first node, in the configured order, that answers and is ready.
  std::string tried;
  Status last;
  bool transient = false;  // a node was down or not ready, rather than refusing us
  for (const std::string& node : config_.nodes) {
    Status st = ConnectTo(node, config_.nodes.size() > 1);
    if (st.ok()) return st;
    tried += (tried.empty() ? "" : "; ") + st.message();
    transient = transient || IsRetryable(st);
    last = st;
  }
  if (config_.nodes.size() == 1) return last;
  const std::string m = "no node of db.hosts is usable: " + tried;
  // Access denied on every node is not retried; a cluster that is down or electing may be.
  return transient ? Unavailable(m) : DatabaseError(m);
}

Status Connection::ConnectTo(const std::string& node, bool check_ready) {
  node_ = node;
  broken_ = false;
  mysql_ = mysql_init(nullptr);
  if (mysql_ == nullptr) return Internal("mysql_init failed");
  mysql_optionsv(mysql_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  my_bool no = 0;
  mysql_optionsv(mysql_, MYSQL_OPT_RECONNECT, &no);  // we reconnect ourselves, knowingly
  unsigned timeout = 10;
  mysql_optionsv(mysql_, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  std::string host = "localhost", sock;
  unsigned port = config_.port;
  if (!node.empty() && node[0] == '/') {
    sock = node;
  } else if (const size_t colon = node.rfind(':'); colon != std::string::npos) {
    host = node.substr(0, colon);
    port = static_cast<unsigned>(std::strtoul(node.c_str() + colon + 1, nullptr, 10));
  } else {
    host = node;
  }
  if (mysql_real_connect(mysql_, host.c_str(), config_.user.c_str(), config_.password.str().c_str(),
                         config_.name.c_str(), port, sock.empty() ? nullptr : sock.c_str(),
                         0) == nullptr) {
    std::string where = !sock.empty() ? "socket " + sock : host + ":" + std::to_string(port);
    Status st = Error("connecting to database '" + config_.name + "' as '" + config_.user +
                      "' on " + where);
    mysql_close(mysql_);
    mysql_ = nullptr;
    return st;
  }
  if (check_ready) {
    // A Galera node that is up but not in the primary component (partitioned, or still
    // joining) accepts connections and refuses statements with 1047: pass it by.
    // wsrep_on is OFF (and wsrep_ready OFF too) on a server without Galera, which is then taken
    // as it is.
    auto value = [&](const char* query) -> std::string {
      std::string v;
      if (mysql_real_query(mysql_, query, std::strlen(query)) == 0) {
        if (MYSQL_RES* res = mysql_store_result(mysql_)) {
          if (MYSQL_ROW row = mysql_fetch_row(res); row != nullptr && row[1] != nullptr) v = row[1];
          mysql_free_result(res);
        }
      }
      return v;
    };
    const bool galera = value("SHOW VARIABLES LIKE 'wsrep_on'") == "ON";
    const std::string ready = galera ? value("SHOW STATUS LIKE 'wsrep_ready'") : "ON";
    if (ready != "ON") {
      Close();
      return Unavailable("node " + node + " is not ready (wsrep_ready " + ready + ")");
    }
    // Reads wait until this node has applied what the cluster committed before them
    // (causality checks): one process's connections can sit on two nodes for a moment after
    // a failover, and a fence check must see the claim another connection just committed.
    // Without Galera reads are local anyway.
    if (galera) {
      if (Status st = ExecScript("SET SESSION wsrep_sync_wait = 1"); !st.ok()) {
        Close();
        return st;
      }
    }
  }
  // UTC everywhere; READ COMMITTED so that SKIP LOCKED claims do not take gap locks; strict
  // mode so that a too-long value is an error, not a silent truncation.
  CP_RETURN_IF_ERROR(ExecScript("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"));
  CP_RETURN_IF_ERROR(ExecScript(
      "SET time_zone = '+00:00', "
      "sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO,"
      "NO_ENGINE_SUBSTITUTION'"));
  return Status::Ok();
}

Status Connection::Reconnect() {
  Close();
  return Connect();
}

uint64_t Connection::ThreadId() const {
  return mysql_ ? mysql_thread_id(mysql_) : 0;
}

Status Connection::Failed(unsigned err, const char* sqlstate, const char* text,
                          std::string_view what) {
  // The statements die with the link, and a node outside the primary component is left for
  // another (Connect tries db.hosts in order): the link is closed before its next use, not
  // here, where the caller may still hold one of its statements.
  if (ClassifyErrno(err) == ErrnoClass::kReconnect) broken_ = true;
  return FromErrno(err, sqlstate, text, what);
}

Status Connection::Error(std::string_view what) {
  return Failed(mysql_errno(mysql_), mysql_sqlstate(mysql_), mysql_error(mysql_), what);
}

Status Connection::StmtError(MYSQL_STMT* stmt, std::string_view sql) {
  std::string what =
      "executing '" + std::string(sql.substr(0, 60)) + (sql.size() > 60 ? "...'" : "'");
  const unsigned err = StatementErrno(mysql_stmt_errno(stmt), mysql_errno(mysql_));
  if (err != mysql_stmt_errno(stmt)) {
    return Failed(err, mysql_sqlstate(mysql_), mysql_error(mysql_), what);
  }
  return Failed(mysql_stmt_errno(stmt), mysql_stmt_sqlstate(stmt), mysql_stmt_error(stmt), what);
}

Status Connection::ExecScript(std::string_view sql) {
  if (broken_) Close();
  if (mysql_ == nullptr) return Unavailable("not connected");
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) {
    return Error("running '" + std::string(sql.substr(0, 60)) + "'");
  }
  // Drain results of multi-statement scripts, if any.
  do {
    MYSQL_RES* res = mysql_store_result(mysql_);
    if (res) mysql_free_result(res);
  } while (mysql_next_result(mysql_) == 0);
  return Status::Ok();
}

Result<MYSQL_STMT*> Connection::Prepare(std::string_view sql) {
  // Never reconnect silently here: a statement of a transaction must not run on a fresh
  // connection in autocommit mode. RunTransaction reconnects between attempts.
  if (broken_) Close();
  if (mysql_ == nullptr) return Unavailable("the database connection was lost");
  auto it = stmts_.find(sql);
  if (it != stmts_.end()) return it->second;
  MYSQL_STMT* stmt = mysql_stmt_init(mysql_);
  if (stmt == nullptr) return Error("mysql_stmt_init");
  if (mysql_stmt_prepare(stmt, sql.data(), sql.size()) != 0) {
    Status st = StmtError(stmt, sql).Wrap("preparing");
    mysql_stmt_close(stmt);
    return st;
  }
  stmts_.emplace(std::string(sql), stmt);
  return stmt;
}

Status Connection::Run(MYSQL_STMT* stmt, std::string_view sql, const Param* params, size_t n) {
  if (mysql_stmt_param_count(stmt) != n) {
    return Internal("statement '" + std::string(sql) + "' takes " +
                    std::to_string(mysql_stmt_param_count(stmt)) + " parameters, got " +
                    std::to_string(n));
  }
  std::vector<MYSQL_BIND> binds(n);
  std::vector<long long> ints(n);
  std::vector<unsigned long> lens(n);
  for (size_t i = 0; i < n; ++i) {
    MYSQL_BIND& b = binds[i];
    std::memset(&b, 0, sizeof b);
    if (std::holds_alternative<std::nullptr_t>(params[i])) {
      b.buffer_type = MYSQL_TYPE_NULL;
    } else if (auto* v = std::get_if<int64_t>(&params[i])) {
      ints[i] = *v;
      b.buffer_type = MYSQL_TYPE_LONGLONG;
      b.buffer = &ints[i];
    } else if (auto* blob = std::get_if<Blob>(&params[i])) {
      lens[i] = blob->bytes.size();
      b.buffer_type = MYSQL_TYPE_BLOB;
      b.buffer = const_cast<char*>(blob->bytes.data());
      b.buffer_length = blob->bytes.size();
      b.length = &lens[i];
    } else {
      auto s = std::get<std::string_view>(params[i]);
      lens[i] = s.size();
      b.buffer_type = MYSQL_TYPE_STRING;
      b.buffer = const_cast<char*>(s.data());
      b.buffer_length = s.size();
      b.length = &lens[i];
    }
  }
  if (n > 0 && mysql_stmt_bind_param(stmt, binds.data()) != 0) return StmtError(stmt, sql);
  if (mysql_stmt_execute(stmt) != 0) return StmtError(stmt, sql);
  return Status::Ok();
}

Result<ExecResult> Connection::Exec(std::string_view sql, std::initializer_list<Param> params) {
  CP_ASSIGN_OR_RETURN(MYSQL_STMT * stmt, Prepare(sql));
  CP_RETURN_IF_ERROR(Run(stmt, sql, params.begin(), params.size()));
  ExecResult r{mysql_stmt_affected_rows(stmt), mysql_stmt_insert_id(stmt)};
  return r;
}

Result<ExecResult> Connection::ExecV(std::string_view sql, const std::vector<Param>& params) {
  CP_ASSIGN_OR_RETURN(MYSQL_STMT * stmt, Prepare(sql));
  CP_RETURN_IF_ERROR(Run(stmt, sql, params.data(), params.size()));
  ExecResult r{mysql_stmt_affected_rows(stmt), mysql_stmt_insert_id(stmt)};
  return r;
}

Result<std::vector<Row>> Connection::QueryV(std::string_view sql,
                                            const std::vector<Param>& params) {
  CP_ASSIGN_OR_RETURN(MYSQL_STMT * stmt, Prepare(sql));
  CP_RETURN_IF_ERROR(Run(stmt, sql, params.data(), params.size()));
  unsigned ncols = mysql_stmt_field_count(stmt);
  std::vector<Row> rows;
  if (ncols == 0) return rows;
  std::vector<MYSQL_BIND> binds(ncols);
  std::vector<unsigned long> lens(ncols);
  std::vector<my_bool> nulls(ncols);
  for (unsigned i = 0; i < ncols; ++i) {
    std::memset(&binds[i], 0, sizeof binds[i]);
    binds[i].buffer_type = MYSQL_TYPE_STRING;
    binds[i].length = &lens[i];
    binds[i].is_null = &nulls[i];
  }
  if (mysql_stmt_bind_result(stmt, binds.data()) != 0) return StmtError(stmt, sql);
  for (;;) {
    int rc = mysql_stmt_fetch(stmt);
    if (rc == MYSQL_NO_DATA) break;
    if (rc == 1) {
      Status st = StmtError(stmt, sql);
      mysql_stmt_free_result(stmt);
      return st;
    }
    // Zero-length buffers make every non-empty column "truncated": fetch each at its size.
    std::vector<std::optional<std::string>> cols(ncols);
    for (unsigned i = 0; i < ncols; ++i) {
      if (nulls[i]) continue;
      std::string v(lens[i], '\0');
      if (lens[i] > 0) {
        MYSQL_BIND b;
        std::memset(&b, 0, sizeof b);
        unsigned long l = 0;
        b.buffer_type = MYSQL_TYPE_STRING;
        b.buffer = v.data();
        b.buffer_length = v.size();
        b.length = &l;
        if (mysql_stmt_fetch_column(stmt, &b, i, 0) != 0) {
          Status st = StmtError(stmt, sql);
          mysql_stmt_free_result(stmt);
          return st;
        }
      }
      cols[i] = std::move(v);
    }
    rows.emplace_back(std::move(cols));
  }
  mysql_stmt_free_result(stmt);
  return rows;
}

Result<std::vector<Row>> Connection::Query(std::string_view sql,
                                           std::initializer_list<Param> params) {
  return QueryV(sql, std::vector<Param>(params));
}

Result<Transaction> Transaction::Begin(Connection& conn) {
  CP_RETURN_IF_ERROR(conn.ExecScript("START TRANSACTION"));
  return Transaction(conn);
}

Transaction::~Transaction() {
  if (open_) conn_->ExecScript("ROLLBACK").IgnoreError();
}

Status Transaction::Commit() {
  if (!open_) return Internal("commit of a transaction that is not open");
  Status st = conn_->ExecScript("COMMIT");
  open_ = false;
  return st;
}

bool IsRetryable(const Status& status) {
  return status.kind() == ErrorKind::kUnavailable;
}

Status RunTransaction(Connection& conn, const std::function<Status(Connection&)>& body,
                      const RetryPolicy& policy, int* attempts) {
  Status last;
  const auto start = std::chrono::steady_clock::now();
  const int hard_cap = std::max(policy.max_attempts, 1) * 4;
  int attempt = 1;
  for (;; ++attempt) {
    if (attempts) *attempts = attempt;
    Status st = [&]() -> Status {
      CP_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(conn));
      CP_RETURN_IF_ERROR(body(conn));
      return tx.Commit();
    }();
    if (st.ok() || !IsRetryable(st)) return st;
    last = st;
    const auto elapsed = std::chrono::steady_clock::now() - start;
    if (attempt >= hard_cap || (attempt >= policy.max_attempts &&
                                elapsed >= std::chrono::milliseconds(policy.retry_for_ms))) {
      break;
    }
    // Full jitter (random in [0, min(cap, base * 2^attempt)]) spreads retries of competing
    // transactions apart.
    uint32_t r = 0;
    RAND_bytes(reinterpret_cast<unsigned char*>(&r), sizeof r);
    int cap = std::min(policy.max_delay_ms, policy.base_delay_ms << std::min(attempt, 16));
    std::this_thread::sleep_for(std::chrono::milliseconds(r % static_cast<uint32_t>(cap + 1)));
    // A lost link must be re-established before the next run; a deadlock leaves the
    // connection usable.
    if (conn.ThreadId() == 0 || !conn.ExecScript("DO 1").ok()) {
      Status rc = conn.Reconnect();
      if (!rc.ok()) last = rc;
    }
  }
  return last.Wrap("giving up after " + std::to_string(attempt) + " attempts");
}

}  // namespace certpress::store
