#include "store/activations.h"

#include "store/sql.h"

namespace certpress::store {

namespace {

constexpr const char* kDate = "'%Y-%m-%d %H:%i:%s'";

std::string ActivationColumns() {
  return std::string(
             "id, request_id, profile, recipient_email, recipient_name, state, code_needed, "
             "code_hmac IS NOT NULL, COALESCE(key_id, 0), COALESCE(token_hmac, ''), "
             "COALESCE(code_key_id, 0), COALESCE(code_hmac, ''), validity_seconds, max_attempts, "
             "attempts, COALESCE(DATE_FORMAT(expires_at, ") +
         kDate +
         "), ''), expires_at IS NOT NULL AND expires_at <= NOW(6), DATE_FORMAT(created_at, " +
         kDate + "), COALESCE(code_channel, '')";
}

ActivationRow FromRow(const Row& r) {
  ActivationRow a;
  a.id = r.Int(0);
  a.request_id = r.Int(1);
  a.profile = r.Str(2);
  a.recipient_email = r.Str(3);
  a.recipient_name = r.Str(4);
  a.state = r.Str(5);
  a.code_needed = r.Int(6) != 0;
  a.code_set = r.Int(7) != 0;
  a.key_id = r.Int(8);
  a.token_hmac = r.Str(9);
  a.code_key_id = r.Int(10);
  a.code_hmac = r.Str(11);
  a.validity_seconds = r.Int(12);
  a.max_attempts = static_cast<int>(r.Int(13));
  a.attempts = static_cast<int>(r.Int(14));
  a.expires_at = r.Str(15);
  a.expired = r.Int(16) != 0;
  a.created_at = r.Str(17);
  a.code_channel = r.Str(18);
  return a;
}

Result<std::optional<ActivationRow>> FindOne(Connection& conn, const std::string& where,
                                             const std::vector<Param>& params, bool lock) {
  CP_ASSIGN_OR_RETURN(
      auto rows, Sql(conn).QueryV("SELECT " + ActivationColumns() + " FROM activations WHERE " +
                                      where + (lock ? " FOR UPDATE" : ""),
                                  params));
  if (rows.empty()) return std::optional<ActivationRow>();
  return std::optional<ActivationRow>(FromRow(rows[0]));
}

OutboxRow OutboxFromRow(const Row& r) {
  OutboxRow o;
  o.id = r.Int(0);
  o.kind = r.Str(1);
  o.ref_id = r.Int(2);
  o.recipient_email = r.Str(3);
  o.recipient_name = r.Str(4);
  o.profile = r.Str(5);
  o.message_id = r.Str(6);
  o.attempts = static_cast<int>(r.Int(7));
  return o;
}

}  // namespace

Status QueueActivations(Connection& conn, std::span<const NewActivation> rows,
                        const std::string& message_salt) {
  if (rows.empty()) return Status::Ok();
  std::string sql =
      "INSERT INTO activations (request_id, profile, recipient_email, recipient_name, state, "
      "code_needed, code_channel, validity_seconds, max_attempts, code_hmac, code_key_id, "
      "attempts) VALUES ";
  std::vector<Param> params;
  std::string ids;
  for (size_t i = 0; i < rows.size(); ++i) {
    const NewActivation& a = rows[i];
    sql += i ? ", " : "";
    sql += "(?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?)";
    params.insert(
        params.end(),
        {a.request_id, std::string_view(a.profile), std::string_view(a.recipient_email),
         std::string_view(a.recipient_name), int64_t{a.code_needed ? 1 : 0},
         a.code_channel.empty() ? Param(nullptr) : Param(std::string_view(a.code_channel)),
         a.validity_seconds, int64_t{a.max_attempts},
         a.code_hmac ? Param(Blob{*a.code_hmac}) : Param(nullptr),
         a.code_key_id ? Param(*a.code_key_id) : Param(nullptr), int64_t{a.attempts}});
    ids += i ? ", ?" : "?";
  }
  CP_RETURN_IF_ERROR(Sql(conn).ExecV(sql, params).status().Wrap("queueing activations"));
  // One mail per new activation, its Message-ID stable from now on (a resend after a crash
  // carries the same one, RFC 5322 3.6.4).
  std::vector<Param> q{std::string_view(message_salt)};
  for (const NewActivation& a : rows) q.push_back(a.request_id);
  return Sql(conn)
      .ExecV(
          "INSERT INTO mail_outbox (kind, ref_id, recipient_email, recipient_name, profile, "
          "message_id, state) SELECT 'activation', a.id, a.recipient_email, a.recipient_name, "
          "a.profile, CONCAT('activation.', a.id, '.', ?), 'queued' FROM activations a "
          "LEFT JOIN mail_outbox o ON o.kind = 'activation' AND o.ref_id = a.id "
          "WHERE o.id IS NULL AND a.state = 'queued' AND a.request_id IN (" +
              ids + ")",
          q)
      .status()
      .Wrap("queueing activation mails");
}

Result<std::map<int64_t, std::string>> RequestFieldsJson(Connection& conn,
                                                         const std::vector<int64_t>& ids) {
  std::map<int64_t, std::string> out;
  if (ids.empty()) return out;
  std::string sql = "SELECT id, COALESCE(fields_json, '{}') FROM requests WHERE id IN (";
  std::vector<Param> params;
  for (size_t i = 0; i < ids.size(); ++i) {
    sql += i ? ", ?" : "?";
    params.push_back(ids[i]);
  }
  CP_ASSIGN_OR_RETURN(auto rows, Sql(conn).QueryV(sql + ")", params));
  for (const auto& r : rows) out.emplace(r.Int(0), r.Str(1));
  return out;
}

Result<std::optional<ActivationRow>> FindActivationByToken(Connection& conn,
                                                           const std::vector<std::string>& hmacs,
                                                           bool lock) {
  if (hmacs.empty()) return std::optional<ActivationRow>();
  std::string where = "token_hmac IN (";
  std::vector<Param> params;
  for (size_t i = 0; i < hmacs.size(); ++i) {
    where += i ? ", ?" : "?";
    params.push_back(Blob{hmacs[i]});
  }
  return FindOne(conn, where + ")", params, lock);
}

Result<std::optional<ActivationRow>> FindActivationById(Connection& conn, int64_t id, bool lock) {
  return FindOne(conn, "id = ?", {id}, lock);
}

Result<std::optional<ActivationRow>> LatestActivation(Connection& conn, int64_t request_id,
                                                      bool lock) {
  return FindOne(conn, "request_id = ? ORDER BY id DESC LIMIT 1", {request_id}, lock);
}

Status SetActivationLink(Connection& conn, int64_t id, int64_t key_id,
                         const std::string& token_hmac) {
  CP_ASSIGN_OR_RETURN(
      auto r, Sql(conn).Exec("UPDATE activations SET key_id = ?, token_hmac = ?, state = 'sent', "
                             "sent_at = NOW(6), "
                             "expires_at = NOW(6) + INTERVAL validity_seconds SECOND "
                             "WHERE id = ? AND state IN ('queued', 'sent', 'opened')",
                             {key_id, Blob{token_hmac}, id}));
  if (r.affected_rows != 1) return Conflict("activation " + std::to_string(id) + " is not live");
  return Status::Ok();
}

Result<int64_t> SetActivationCode(Connection& conn, int64_t request_id, int64_t key_id,
                                  const std::string& code_hmac) {
  CP_ASSIGN_OR_RETURN(auto r,
                      Sql(conn).Exec("UPDATE activations SET code_key_id = ?, code_hmac = ? "
                                     "WHERE request_id = ? AND code_needed = 1 AND "
                                     "state IN ('queued', 'sent', 'opened')",
                                     {key_id, Blob{code_hmac}, request_id}));
  return static_cast<int64_t>(r.affected_rows);
}

Result<bool> HasCodeChannel(Connection& conn, int64_t request_id, std::string_view channel) {
  CP_ASSIGN_OR_RETURN(auto rows, Sql(conn).Query("SELECT COUNT(*) FROM activations WHERE "
                                                 "request_id = ? AND code_channel = ?",
                                                 {request_id, channel}));
  return !rows.empty() && rows[0].Int(0) > 0;
}

Status SetActivationState(Connection& conn, int64_t id, const char* state) {
  const std::string_view s(state);
  std::string stamp;
  if (s == kActOpened) stamp = ", opened_at = NOW(6)";
  if (s == kActUsed) stamp = ", used_at = NOW(6)";
  return Sql(conn)
      .Exec("UPDATE activations SET state = ?" + stamp + " WHERE id = ?", {s, id})
      .status();
}

Result<bool> MarkActivationUndelivered(Connection& conn, int64_t id) {
  CP_ASSIGN_OR_RETURN(
      auto r, Sql(conn).Exec("UPDATE activations SET state = ?, token_hmac = NULL "
                             "WHERE id = ? AND state IN (?, ?)",
                             {std::string_view(kActUndelivered), id, std::string_view(kActQueued),
                              std::string_view(kActSent)}));
  return r.affected_rows == 1;
}

Result<int> CountWrongAttempt(Connection& conn, int64_t id) {
  CP_RETURN_IF_ERROR(
      Sql(conn).Exec("UPDATE activations SET attempts = attempts + 1 WHERE id = ?", {id}).status());
  CP_ASSIGN_OR_RETURN(auto rows,
                      Sql(conn).Query("SELECT attempts FROM activations WHERE id = ?", {id}));
  if (rows.empty()) return NotFound("activation " + std::to_string(id));
  return static_cast<int>(rows[0].Int(0));
}

Result<std::vector<ActivationListing>> ListActivations(Connection& conn, int64_t request_id) {
  std::string sql =
      std::string(
          "SELECT a.id, a.request_id, a.profile, a.recipient_email, a.recipient_name, "
          "CASE WHEN a.state IN ('sent', 'opened') AND a.expires_at <= NOW(6) THEN 'expired' "
          "ELSE a.state END, COALESCE((SELECT o.state FROM mail_outbox o WHERE o.kind = "
          "'activation' AND o.ref_id = a.id ORDER BY o.id DESC LIMIT 1), ''), a.attempts, "
          "COALESCE(DATE_FORMAT(a.expires_at, ") +
      kDate + "), '') FROM activations a" + (request_id > 0 ? " WHERE a.request_id = ?" : "") +
      " ORDER BY a.id DESC";
  std::vector<Param> params;
  if (request_id > 0) params.push_back(request_id);
  CP_ASSIGN_OR_RETURN(auto rows, Sql(conn).QueryV(sql, params));
  std::vector<ActivationListing> out;
  for (const auto& r : rows) {
    out.push_back({r.Int(0), r.Str(1).empty() ? 0 : r.Int(1), r.Str(2), r.Str(3), r.Str(4),
                   r.Str(5), r.Str(6), static_cast<int>(r.Int(7)), r.Str(8)});
  }
  return out;
}

Result<int64_t> QueueMail(Connection& conn, const OutboxRow& row, const std::string& message_salt) {
  CP_ASSIGN_OR_RETURN(
      auto r, Sql(conn).Exec("INSERT INTO mail_outbox (kind, ref_id, recipient_email, "
                             "recipient_name, profile, message_id, state) VALUES (?, ?, ?, ?, ?, "
                             "CONCAT(?, '.', ?, '.', ?), 'queued')",
                             {row.kind, row.ref_id, row.recipient_email, row.recipient_name,
                              row.profile, row.kind, row.ref_id, message_salt}));
  return static_cast<int64_t>(r.insert_id);
}

Status VoidMails(Connection& conn, const std::string& kind, int64_t ref_id) {
  return Sql(conn)
      .Exec(
          "UPDATE mail_outbox SET state = 'void', last_error = 'replaced' WHERE kind = ? AND "
          "ref_id = ? AND state IN ('queued', 'sending')",
          {kind, ref_id})
      .status();
}

Result<std::vector<OutboxRow>> ClaimMails(Connection& conn, const std::string& claimer, int limit,
                                          int lease_seconds) {
  std::vector<OutboxRow> out;
  CP_RETURN_IF_ERROR(RunTransaction(conn, [&](Connection& c) -> Status {
    out.clear();
    CP_ASSIGN_OR_RETURN(
        auto rows,
        Sql(c).Query("SELECT id, kind, ref_id, recipient_email, recipient_name, profile, "
                     "message_id, attempts FROM mail_outbox WHERE state IN ('queued', 'sending') "
                     "AND next_attempt_at <= NOW(6) ORDER BY state, next_attempt_at, id LIMIT ? "
                     "FOR UPDATE SKIP LOCKED",
                     {int64_t{limit}}));
    for (const auto& r : rows) {
      OutboxRow o = OutboxFromRow(r);
      CP_RETURN_IF_ERROR(
          Sql(c)
              .Exec("UPDATE mail_outbox SET state = 'sending', claimed_by = ?, attempts = "
                    "attempts + 1, next_attempt_at = NOW(6) + INTERVAL ? SECOND WHERE id = ?",
                    {claimer, int64_t{lease_seconds}, o.id})
              .status());
      ++o.attempts;
      out.push_back(std::move(o));
    }
    return Status::Ok();
  }));
  return out;
}

namespace {
Status EndMail(Connection& conn, int64_t id, const std::string& claimer, std::string_view state,
               const std::string& error) {
  CP_ASSIGN_OR_RETURN(
      auto r,
      Sql(conn).Exec("UPDATE mail_outbox SET state = ?, last_error = ?, sent_at = IF(? = "
                     "'sent', NOW(6), sent_at), claimed_by = NULL "
                     "WHERE id = ? AND claimed_by = ? AND state = 'sending'",
                     {state, error.empty() ? Param(nullptr) : Param(std::string_view(error)), state,
                      id, claimer}));
  if (r.affected_rows != 1) {
    return Conflict("mail " + std::to_string(id) + " is no longer held by " + claimer);
  }
  return Status::Ok();
}
}  // namespace

Status MarkMailSent(Connection& conn, int64_t id, const std::string& claimer) {
  return EndMail(conn, id, claimer, kMailSent, "");
}

Status RetryMailLater(Connection& conn, int64_t id, const std::string& claimer,
                      int64_t delay_seconds, const std::string& error) {
  CP_ASSIGN_OR_RETURN(
      auto r, Sql(conn).Exec("UPDATE mail_outbox SET state = 'queued', last_error = ?, "
                             "next_attempt_at = NOW(6) + INTERVAL ? SECOND, claimed_by = NULL "
                             "WHERE id = ? AND claimed_by = ? AND state = 'sending'",
                             {error, delay_seconds, id, claimer}));
  if (r.affected_rows != 1) {
    return Conflict("mail " + std::to_string(id) + " is no longer held by " + claimer);
  }
  return Status::Ok();
}

Status FailMail(Connection& conn, int64_t id, const std::string& claimer,
                const std::string& error) {
  return EndMail(conn, id, claimer, kMailFailed, error);
}

Status VoidMail(Connection& conn, int64_t id, const std::string& claimer, const std::string& why) {
  return EndMail(conn, id, claimer, kMailVoid, why);
}

Result<std::vector<MailListing>> ListMails(Connection& conn) {
  CP_ASSIGN_OR_RETURN(
      auto rows,
      Sql(conn).QueryV(std::string("SELECT id, kind, ref_id, recipient_email, state, attempts, "
                                   "DATE_FORMAT(next_attempt_at, ") +
                           kDate +
                           "), COALESCE(last_error, ''), message_id FROM mail_outbox ORDER BY id",
                       {}));
  std::vector<MailListing> out;
  for (const auto& r : rows) {
    out.push_back({r.Int(0), r.Str(1), r.Int(2), r.Str(3), r.Str(4), static_cast<int>(r.Int(5)),
                   r.Str(6), r.Str(7), r.Str(8)});
  }
  return out;
}

Result<std::vector<WrappedActivationKey>> ListActivationKeys(Connection& conn) {
  CP_ASSIGN_OR_RETURN(auto rows, Sql(conn).Query("SELECT id, kek_label, wrapped FROM "
                                                 "activation_keys ORDER BY id"));
  std::vector<WrappedActivationKey> out;
  for (const auto& r : rows) out.push_back({r.Int(0), r.Str(1), r.Str(2)});
  return out;
}

Result<int64_t> StoreActivationKey(Connection& conn, const std::string& kek_label,
                                   ByteSpan wrapped) {
  CP_ASSIGN_OR_RETURN(
      auto r, Sql(conn).Exec("INSERT INTO activation_keys (kek_label, wrapped) VALUES (?, ?)",
                             {kek_label, Blob{AsString(wrapped)}}));
  return static_cast<int64_t>(r.insert_id);
}

}  // namespace certpress::store
