#include "store/requests.h"

#include <algorithm>
#include <map>
#include <set>

#include "common/utf8.h"
#include "store/sql.h"

namespace certpress::store {

namespace {
std::string_view Sv(const std::array<uint8_t, 32>& h) {
  return {reinterpret_cast<const char*>(h.data()), h.size()};
}
constexpr const char* kInsertColumns =
    "INSERT INTO requests (profile, profile_hash, approvals_needed, ca_id, state, subject, "
    "subject_der, sans_json, fields_json, csr_der, natural_key, import_id, source_line, "
    "submitted_by) VALUES ";
constexpr const char* kRowPlaceholders = "(?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

void AppendRow(std::vector<Param>& p, const NewRequest& r) {
  p.insert(p.end(),
           {Param(std::string_view(r.profile)), Param(Sv(r.profile_hash)),
            Param(int64_t{r.approvals_needed}), Param(r.ca_id),
            Param(std::string_view(r.approvals_needed == 0 ? kApproved : kPending)),
            Param(std::string_view(r.subject)), Param(AsString(r.subject_der)),
            Param(std::string_view(r.sans_json)), Param(std::string_view(r.fields_json)),
            r.csr_der.empty() ? Param(nullptr) : Param(AsString(r.csr_der)),
            r.natural_key ? Param(std::string_view(*r.natural_key)) : Param(nullptr),
            r.import_id ? Param(*r.import_id) : Param(nullptr), Param(int64_t{r.source_line}),
            r.submitted_by.empty() ? Param(nullptr) : Param(std::string_view(r.submitted_by))});
}

// |head| followed by |ids|: the parameters of a statement ending in "id IN (?, ...)".
std::vector<Param> WithIds(std::vector<Param> head, std::span<const int64_t> ids) {
  for (int64_t id : ids) head.emplace_back(id);
  return head;
}

// What a claim takes, as ix_requests_queue (schema 4) reads it: approved requests carry no
// lease; an issuing request whose lease ran out belongs to a claimer that crashed or hung.
constexpr const char* kApprovedQueued = "state = 'approved' AND lease_until IS NULL";
constexpr const char* kLeaseExpired = "state = 'issuing' AND lease_until < UTC_TIMESTAMP(6)";
}  // namespace

std::string InClause(size_t n) {
  std::string s = "(";
  for (size_t i = 0; i < n; ++i) s += i ? ",?" : "?";
  return s + ")";
}

Status CheckRequestLimits(const NewRequest& r, std::string* what) {
  auto fail = [&](const char* which, std::string m) {
    if (what) *what = which;
    return InvalidInput(std::move(m));
  };
  auto over = [](const char* name, size_t n, const char* unit, size_t limit) {
    return std::string(name) + " is " + std::to_string(n) + " " + unit + " long; the limit is " +
           std::to_string(limit);
  };
  if (r.natural_key) {
    const size_t n = Utf8Length(*r.natural_key);
    if (n > kNaturalKeyMaxChars) {
      return fail("natural_key", over("the natural key", n, "characters", kNaturalKeyMaxChars));
    }
  }
  if (size_t n = Utf8Length(r.subject); n > kSubjectMaxChars) {
    return fail("subject", over("the subject", n, "characters", kSubjectMaxChars));
  }
  if (r.subject_der.size() > kSubjectDerMaxBytes) {
    return fail("subject",
                over("the encoded subject", r.subject_der.size(), "bytes", kSubjectDerMaxBytes));
  }
  if (r.sans_json.size() > kSansJsonMaxBytes) {
    return fail("sans",
                over("the subjectAltName list", r.sans_json.size(), "bytes", kSansJsonMaxBytes));
  }
  if (r.fields_json.size() > kFieldsJsonMaxBytes) {
    return fail("fields",
                over("the request's fields", r.fields_json.size(), "bytes", kFieldsJsonMaxBytes));
  }
  if (r.csr_der.size() > kCsrMaxBytes) {
    return fail("csr", over("the CSR", r.csr_der.size(), "bytes", kCsrMaxBytes));
  }
  return Status::Ok();
}

Result<InsertOutcome> InsertRequests(Connection& conn, std::span<const NewRequest> rows) {
  InsertOutcome out;
  if (rows.empty()) return out;
  for (const auto& r : rows) CP_RETURN_IF_ERROR(CheckRequestLimits(r));
  // What is stored under each (profile, natural key) the rows name, locked so that it cannot
  // change before this transaction commits.
  struct Stored {
    int64_t id = 0;
    int64_t ca_id = 0;
    std::string subject_der, sans_json, fields_json, csr_der;
  };
  std::map<std::pair<std::string, std::string>, Stored> stored;
  std::map<std::string, std::vector<std::string>> keys_by_profile;
  for (const auto& r : rows) {
    if (r.natural_key) keys_by_profile[r.profile].push_back(*r.natural_key);
  }
  for (const auto& [profile, keys] : keys_by_profile) {
    std::vector<Param> p = {Param(std::string_view(profile))};
    for (const auto& k : keys) p.emplace_back(std::string_view(k));
    CP_ASSIGN_OR_RETURN(auto found,
                        Sql(conn).QueryV("SELECT natural_key, id, ca_id, subject_der, sans_json, "
                                         "fields_json, csr_der FROM requests WHERE profile = ? AND "
                                         "natural_key IN " +
                                             InClause(keys.size()) + " FOR UPDATE",
                                         p));
    for (const auto& f : found) {
      stored[{profile, f.Str(0)}] = {f.Int(1), f.Int(2), f.Str(3), f.Str(4), f.Str(5), f.Str(6)};
    }
  }
  std::vector<const NewRequest*> fresh;
  std::map<std::pair<std::string, std::string>, const NewRequest*> in_call;
  for (size_t i = 0; i < rows.size(); ++i) {
    const NewRequest& r = rows[i];
    if (!r.natural_key) {
      fresh.push_back(&r);
      continue;
    }
    const auto key = std::make_pair(r.profile, *r.natural_key);
    Stored s;
    std::string where;
    if (auto it = stored.find(key); it != stored.end()) {
      s = it->second;
      where = "request " + std::to_string(s.id);
    } else if (auto jt = in_call.find(key); jt != in_call.end()) {
      const NewRequest& o = *jt->second;
      s = {0,           o.ca_id,       std::string(AsString(o.subject_der)),
           o.sans_json, o.fields_json, std::string(AsString(o.csr_der))};
      where = "an earlier row";
    } else {
      in_call.emplace(key, &r);
      fresh.push_back(&r);
      continue;
    }
    std::string differs;
    auto check = [&](bool same, const char* what) {
      if (!same) differs += (differs.empty() ? "" : ", ") + std::string(what);
    };
    check(s.ca_id == r.ca_id, "CA");
    check(s.subject_der == AsString(r.subject_der), "subject");
    check(s.sans_json == r.sans_json, "subjectAltNames");
    check(s.fields_json == r.fields_json, "fields");
    check(s.csr_der == AsString(r.csr_der), "CSR");
    if (differs.empty()) {
      ++out.existing;
    } else {
      out.conflicts.emplace_back(i, "natural key '" + *r.natural_key + "' of profile '" +
                                        r.profile + "' is taken by " + where +
                                        " with a different " + differs);
    }
  }
  if (fresh.empty()) return out;
  std::string sql = kInsertColumns;
  std::vector<Param> params;
  params.reserve(fresh.size() * 13);
  for (size_t i = 0; i < fresh.size(); ++i) {
    if (i) sql += ",";
    sql += kRowPlaceholders;
    AppendRow(params, *fresh[i]);
  }
  CP_ASSIGN_OR_RETURN(ExecResult r, Sql(conn).ExecV(sql, params));
  out.created = static_cast<size_t>(r.affected_rows);
  return out;
}

Result<int64_t> InsertRequest(Connection& conn, const NewRequest& row) {
  CP_RETURN_IF_ERROR(CheckRequestLimits(row));
  std::vector<Param> params;
  AppendRow(params, row);
  auto r = Sql(conn).ExecV(std::string(kInsertColumns) + kRowPlaceholders, params);
  if (!r.ok() && r.status().kind() == ErrorKind::kConflict) {
    return Conflict("a request of profile '" + row.profile + "' with natural key '" +
                    row.natural_key.value_or("") + "' already exists");
  }
  if (!r.ok()) return r.status();
  return static_cast<int64_t>(r->insert_id);
}

Result<int64_t> BeginImport(Connection& conn, ByteSpan sha, const std::string& file_name,
                            const std::string& profile, const std::string& op) {
  CP_RETURN_IF_ERROR(
      Sql(conn)
          .Exec("INSERT INTO imports (file_sha256, file_name, profile, operator) "
                "VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id)",
                {AsString(sha), file_name, profile, op})
          .status());
  CP_ASSIGN_OR_RETURN(auto rows, Sql(conn).Query("SELECT id FROM imports WHERE file_sha256 = ? AND "
                                                 "profile = ?",
                                                 {AsString(sha), profile}));
  if (rows.empty()) return Internal("import row vanished");
  return rows[0].Int(0);
}

Status FinishImport(Connection& conn, int64_t id, int64_t total, int64_t created, int64_t existing,
                    int64_t bad) {
  return Sql(conn)
      .Exec(
          "UPDATE imports SET rows_total = ?, rows_created = rows_created + ?, "
          "rows_existing = ?, rows_bad = ? WHERE id = ?",
          {total, created, existing, bad, id})
      .status();
}

Result<std::vector<Result<Decision>>> ApproveMany(Connection& conn, std::span<const int64_t> ids,
                                                  const std::string& op, int64_t statement_id) {
  std::vector<Result<Decision>> out;
  if (ids.empty()) return out;
  struct Row {
    std::string state;
    int64_t needed = 1;
  };
  std::map<int64_t, Row> requests;
  CP_ASSIGN_OR_RETURN(
      auto rows, Sql(conn).QueryV("SELECT id, state, approvals_needed FROM requests WHERE id IN " +
                                      InClause(ids.size()) + " FOR UPDATE",
                                  WithIds({}, ids)));
  for (const auto& r : rows) requests[r.Int(0)] = {r.Str(1), r.Int(2)};
  CP_ASSIGN_OR_RETURN(auto decided,
                      Sql(conn).QueryV("SELECT request_id FROM approvals WHERE operator = ? AND "
                                       "request_id IN " +
                                           InClause(ids.size()),
                                       WithIds({Param(std::string_view(op))}, ids)));
  std::set<int64_t> already;
  for (const auto& r : decided) already.insert(r.Int(0));
  std::vector<int64_t> fresh;  // pending and not yet approved by |op|
  for (int64_t id : ids) {
    const std::string what = "request " + std::to_string(id);
    auto it = requests.find(id);
    if (it == requests.end()) {
      out.emplace_back(NotFound(what + " does not exist"));
    } else if (it->second.state != kPending) {
      out.emplace_back(Conflict(what + " is " + it->second.state + ", not pending"));
    } else if (!already.insert(id).second) {
      out.emplace_back(Conflict(what + ": operator '" + op +
                                "' already approved it; the next approval must come from a "
                                "different operator"));
    } else {
      out.emplace_back(Decision{id, kPending, 0});
      fresh.push_back(id);
    }
  }
  if (fresh.empty()) return out;
  std::string insert =
      "INSERT INTO approvals (request_id, operator, decision, statement_id) VALUES ";
  std::vector<Param> ins;
  for (size_t k = 0; k < fresh.size(); ++k) {
    insert += k ? ",(?, ?, 'approve', ?)" : "(?, ?, 'approve', ?)";
    ins.insert(ins.end(), {Param(fresh[k]), Param(std::string_view(op)), Param(statement_id)});
  }
  CP_RETURN_IF_ERROR(Sql(conn).ExecV(insert, ins).status());
  CP_ASSIGN_OR_RETURN(
      auto counts, Sql(conn).QueryV("SELECT request_id, COUNT(*) FROM approvals WHERE decision = "
                                    "'approve' AND request_id IN " +
                                        InClause(fresh.size()) + " GROUP BY request_id",
                                    WithIds({}, fresh)));
  std::map<int64_t, int> approvals;
  for (const auto& r : counts) approvals[r.Int(0)] = static_cast<int>(r.Int(1));
  std::vector<int64_t> done;
  for (auto& d : out) {
    if (!d.ok()) continue;
    d->approvals = approvals[d->request_id];
    if (d->approvals >= requests[d->request_id].needed) {
      d->new_state = kApproved;
      done.push_back(d->request_id);
    }
  }
  if (!done.empty()) {
    CP_RETURN_IF_ERROR(Sql(conn)
                           .ExecV("UPDATE requests SET state = 'approved', updated_at = "
                                  "UTC_TIMESTAMP(6) WHERE id IN " +
                                      InClause(done.size()),
                                  WithIds({}, done))
                           .status());
  }
  return out;
}

Result<Decision> Reject(Connection& conn, int64_t id, const std::string& op,
                        const std::string& reason, int64_t statement_id) {
  CP_ASSIGN_OR_RETURN(auto rows,
                      Sql(conn).Query("SELECT state FROM requests WHERE id = ? FOR UPDATE", {id}));
  const std::string what = "request " + std::to_string(id);
  if (rows.empty()) return NotFound(what + " does not exist");
  if (rows[0].Str(0) != kPending) return Conflict(what + " is " + rows[0].Str(0) + ", not pending");
  CP_RETURN_IF_ERROR(Sql(conn)
                         .Exec("INSERT INTO approvals (request_id, operator, decision, reason, "
                               "statement_id) VALUES (?, ?, 'reject', ?, ?) ON DUPLICATE KEY "
                               "UPDATE decision = 'reject', reason = VALUES(reason), "
                               "statement_id = VALUES(statement_id)",
                               {id, op, reason, statement_id})
                         .status());
  CP_RETURN_IF_ERROR(Sql(conn)
                         .Exec("UPDATE requests SET state = 'rejected', reason = ?, updated_at = "
                               "UTC_TIMESTAMP(6) WHERE id = ?",
                               {reason, id})
                         .status());
  return Decision{id, kRejected, 0};
}

namespace {

// What a decision is about (ContentHash's inputs), columns 0-10 of a DecisionView query.
constexpr const char* kDecisionViewSelect =
    "SELECT r.id, r.state, r.profile, r.profile_hash, COALESCE(r.ca_id, 0), "
    "COALESCE(c.label, ''), r.subject, COALESCE(r.subject_der, ''), "
    "COALESCE(r.sans_json, ''), COALESCE(r.csr_der, ''), COALESCE(r.submitted_by, '') ";
DecisionView DecisionViewOf(const Row& r) {
  return {r.Int(0), r.Str(1), r.Str(2), r.Str(3), r.Int(4), r.Str(5),
          r.Str(6), r.Str(7), r.Str(8), r.Str(9), r.Str(10)};
}

}  // namespace

Result<std::vector<DecisionView>> DecisionViews(Connection& conn, std::span<const int64_t> ids,
                                                bool lock) {
  std::vector<DecisionView> out;
  if (ids.empty()) return out;
  CP_ASSIGN_OR_RETURN(auto rows, Sql(conn).QueryV(std::string(kDecisionViewSelect) +
                                                      "FROM requests r LEFT JOIN cas c ON c.id = "
                                                      "r.ca_id WHERE r.id IN " +
                                                      InClause(ids.size()) + " ORDER BY r.id" +
                                                      (lock ? " FOR UPDATE" : ""),
                                                  WithIds({}, ids)));
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(DecisionViewOf(r));
  return out;
}

Result<std::vector<PastApproval>> PastApprovals(Connection& conn, int64_t after_id, int limit) {
  // Every state a request reaches only through approval; pending, rejected and failed
  // requests issue nothing.
  CP_ASSIGN_OR_RETURN(
      auto rows,
      Sql(conn).Query(std::string(kDecisionViewSelect) +
                          ", r.approvals_needed FROM requests r LEFT JOIN cas c ON c.id = "
                          "r.ca_id WHERE r.id > ? AND r.state NOT IN ('pending', 'rejected', "
                          "'failed') ORDER BY r.id LIMIT ?",
                      {after_id, int64_t{limit}}));
  std::vector<PastApproval> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back({DecisionViewOf(r), static_cast<int>(r.Int(11))});
  return out;
}

Result<std::vector<ApprovalRow>> ApprovalsOf(Connection& conn, std::span<const int64_t> ids) {
  std::vector<ApprovalRow> out;
  if (ids.empty()) return out;
  CP_ASSIGN_OR_RETURN(auto rows,
                      Sql(conn).QueryV("SELECT request_id, operator, "
                                       "COALESCE(statement_id, 0) FROM approvals "
                                       "WHERE decision = 'approve' AND request_id IN " +
                                           InClause(ids.size()) + " ORDER BY request_id, operator",
                                       WithIds({}, ids)));
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back({r.Int(0), r.Str(1), r.Int(2)});
  return out;
}

Result<std::vector<int64_t>> PendingIds(Connection& conn, const std::string& profile,
                                        int64_t after_id, int limit) {
  std::vector<int64_t> out;
  Result<std::vector<Row>> rows =
      profile.empty()
          ? Sql(conn).Query(
                "SELECT id FROM requests WHERE state = 'pending' AND lease_until IS NULL AND "
                "id > ? ORDER BY id LIMIT ?",
                {after_id, int64_t{limit}})
          : Sql(conn).Query(
                "SELECT id FROM requests WHERE state = 'pending' AND lease_until IS NULL AND "
                "profile = ? AND id > ? ORDER BY id LIMIT ?",
                {profile, after_id, int64_t{limit}});
  if (!rows.ok()) return rows.status();
  for (const auto& r : *rows) out.push_back(r.Int(0));
  return out;
}

Result<std::vector<ClaimedRequest>> ClaimRequests(Connection& conn,
                                                  const std::vector<std::string>& profiles,
                                                  int limit, const std::string& claimer,
                                                  int lease_seconds, ExpiredLeases expired,
                                                  const std::string& actor) {
  std::vector<ClaimedRequest> out;
  if (profiles.empty() || limit <= 0) return out;
  std::string takeover_ids;
  std::set<std::string> former;
  Status st = RunTransaction(conn, [&](Connection& c) -> Status {
    out.clear();
    takeover_ids.clear();
    former.clear();
    // Two queries, each a range read of ix_requests_queue that stops after |limit| rows:
    // requests whose claimer's lease ran out (it crashed or hung), and approved ones, which
    // have no lease, in id order. One query with "approved OR expired issuing" made the
    // optimizer read and sort every approved row on each claim: quadratic in the backlog.
    // The rows come back whole, so the claim is one read, one update and one commit.
    // The index is forced: with ORDER BY id LIMIT the optimizer, going by table statistics,
    // would sometimes walk the primary key from the start instead and examine every request
    // ever issued on each claim.
    auto claimable = [&](const char* condition, int64_t n, bool reclaimed) -> Status {
      std::vector<Param> p;
      for (const auto& pr : profiles) p.emplace_back(std::string_view(pr));
      p.emplace_back(n);
      CP_ASSIGN_OR_RETURN(
          auto rows,
          Sql(c).QueryV(std::string("SELECT id, fence, profile, profile_hash, ca_id, subject, "
                                    "subject_der, sans_json, csr_der, retries, claimed_by "
                                    "FROM requests "
                                    "FORCE INDEX (ix_requests_queue) WHERE ") +
                            condition + " AND profile IN " + InClause(profiles.size()) +
                            " ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED",
                        p));
      for (const auto& r : rows) {
        ClaimedRequest cr;
        cr.id = r.Int(0);
        cr.fence = r.Int(1) + 1;  // the UPDATE below, on rows this transaction has locked
        cr.profile = r.Str(2);
        cr.profile_hash = r.Str(3);
        cr.ca_id = r.Int(4);
        cr.subject = r.Str(5);
        cr.subject_der = r.Str(6);
        cr.sans_json = r.Str(7);
        cr.csr_der = r.Str(8);
        cr.retries = static_cast<int>(r.Int(9));
        cr.reclaimed = reclaimed;
        if (reclaimed) {
          takeover_ids += (takeover_ids.empty() ? "" : ",") + std::to_string(cr.id);
          former.insert(r.Str(10));
        }
        out.push_back(std::move(cr));
      }
      return Status::Ok();
    };
    auto room = [&] { return limit - static_cast<int64_t>(out.size()); };
    auto claim_expired = [&] { return claimable(kLeaseExpired, room(), true); };
    if (expired == ExpiredLeases::kFirst) CP_RETURN_IF_ERROR(claim_expired());
    if (room() > 0) CP_RETURN_IF_ERROR(claimable(kApprovedQueued, room(), false));
    if (expired == ExpiredLeases::kIfRoom && room() > 0) CP_RETURN_IF_ERROR(claim_expired());
    if (out.empty()) return Status::Ok();
    std::vector<Param> upd = {Param(std::string_view(claimer)), Param(int64_t{lease_seconds})};
    for (const auto& r : out) upd.emplace_back(r.id);
    CP_RETURN_IF_ERROR(
        Sql(c)
            .ExecV("UPDATE requests SET state = 'issuing', claimed_by = ?, fence = fence + 1, "
                   "lease_until = UTC_TIMESTAMP(6) + INTERVAL ? SECOND, updated_at = "
                   "UTC_TIMESTAMP(6) WHERE id IN " +
                       InClause(out.size()),
                   upd)
            .status());
    if (!takeover_ids.empty()) {
      std::string from;
      for (const auto& f : former) from += (from.empty() ? "" : ",") + f;
      CP_RETURN_IF_ERROR(
          AppendAudit(c, {actor.empty() ? claimer : actor, "request.lease-takeover",
                          "claimer:" + claimer, "ids=" + takeover_ids + " from=" + from}));
    }
    std::sort(out.begin(), out.end(),
              [](const ClaimedRequest& x, const ClaimedRequest& y) { return x.id < y.id; });
    return Status::Ok();
  });
  if (!st.ok()) return st.Wrap("claiming requests");
  return out;
}

Result<int64_t> CountClaimable(Connection& conn, const std::vector<std::string>& profiles) {
  if (profiles.empty()) return int64_t{0};
  std::vector<Param> p;
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& pr : profiles) p.emplace_back(std::string_view(pr));
  }
  const std::string count =
      "SELECT COUNT(*) FROM requests FORCE INDEX (ix_requests_queue) WHERE profile IN " +
      InClause(profiles.size()) + " AND ";
  CP_ASSIGN_OR_RETURN(auto rows, Sql(conn).QueryV("SELECT (" + count + kApprovedQueued + ") + (" +
                                                      count + kLeaseExpired + ")",
                                                  p));
  return rows.at(0).Int(0);
}

Result<std::vector<int64_t>> OwnedClaims(Connection& conn,
                                         const std::vector<std::pair<int64_t, int64_t>>& claims,
                                         const std::string& claimer) {
  std::vector<int64_t> owned;
  if (claims.empty()) return owned;
  std::vector<Param> p = {Param(std::string_view(claimer))};
  for (const auto& [id, fence] : claims) p.emplace_back(id);
  CP_ASSIGN_OR_RETURN(auto rows,
                      Sql(conn).QueryV("SELECT id, fence FROM requests WHERE claimed_by = "
                                       "? AND state = 'issuing' AND id IN " +
                                           InClause(claims.size()) + " FOR UPDATE",
                                       p));
  std::map<int64_t, int64_t> fences;
  for (const auto& r : rows) fences[r.Int(0)] = r.Int(1);
  for (const auto& [id, fence] : claims) {
    auto it = fences.find(id);
    if (it != fences.end() && it->second == fence) owned.push_back(id);
  }
  return owned;
}

Status MarkIssued(Connection& conn, const std::vector<int64_t>& ids) {
  if (ids.empty()) return Status::Ok();
  return Sql(conn)
      .ExecV(
          "UPDATE requests SET state = 'issued', claimed_by = NULL, lease_until = NULL, "
          "reason = NULL, updated_at = UTC_TIMESTAMP(6) WHERE id IN " +
              InClause(ids.size()),
          WithIds({}, ids))
      .status();
}

Status MarkFailed(Connection& conn, int64_t id, const std::string& reason) {
  return Sql(conn)
      .Exec(
          "UPDATE requests SET state = 'failed', reason = ?, retries = retries + 1, "
          "claimed_by = NULL, lease_until = NULL, updated_at = UTC_TIMESTAMP(6) WHERE id = ?",
          {reason, id})
      .status();
}

Result<int64_t> RenewLeases(Connection& conn, const std::string& claimer, int lease_seconds) {
  int64_t renewed = 0;
  Status st = RunTransaction(conn, [&](Connection& c) -> Status {
    CP_ASSIGN_OR_RETURN(
        ExecResult r,
        Sql(c).Exec("UPDATE requests SET lease_until = UTC_TIMESTAMP(6) + INTERVAL ? SECOND "
                    "WHERE claimed_by = ? AND state = 'issuing'",
                    {int64_t{lease_seconds}, std::string_view(claimer)}));
    renewed = static_cast<int64_t>(r.affected_rows);
    return Status::Ok();
  });
  if (!st.ok()) return st.Wrap("renewing leases");
  return renewed;
}

Result<std::vector<FailedRequest>> LoadRequestsForRetry(Connection& conn,
                                                        std::span<const int64_t> ids) {
  std::vector<FailedRequest> out;
  if (ids.empty()) return out;
  CP_ASSIGN_OR_RETURN(auto rows,
                      Sql(conn).QueryV("SELECT id, state, profile, ca_id, fields_json, csr_der, "
                                       "reason FROM requests WHERE id IN " +
                                           InClause(ids.size()) + " ORDER BY id FOR UPDATE",
                                       WithIds({}, ids)));
  for (const auto& r : rows) {
    out.push_back({r.Int(0), r.Str(1), r.Str(2), r.Int(3), r.Str(4), r.Str(5), r.Str(6)});
  }
  return out;
}

Status ResetForRetry(Connection& conn, int64_t id, const NewRequest& row) {
  CP_RETURN_IF_ERROR(CheckRequestLimits(row));
  const char* state = row.approvals_needed == 0 ? kApproved : kPending;
  CP_ASSIGN_OR_RETURN(
      ExecResult r,
      Sql(conn).Exec("UPDATE requests SET state = ?, profile_hash = ?, approvals_needed = ?, "
                     "subject = ?, subject_der = ?, sans_json = ?, fields_json = ?, reason = "
                     "NULL, claimed_by = NULL, lease_until = NULL, updated_at = "
                     "UTC_TIMESTAMP(6) WHERE id = ? AND state = 'failed'",
                     {std::string_view(state), Sv(row.profile_hash), int64_t{row.approvals_needed},
                      std::string_view(row.subject), AsString(row.subject_der),
                      std::string_view(row.sans_json), std::string_view(row.fields_json), id}));
  if (r.affected_rows != 1) {
    return Conflict("request " + std::to_string(id) + " is no longer failed");
  }
  // A fresh decision: approvals given for the old content do not carry over.
  return Sql(conn).Exec("DELETE FROM approvals WHERE request_id = ?", {id}).status();
}

Result<int64_t> ReleaseClaims(Connection& conn, const std::string& claimer) {
  CP_ASSIGN_OR_RETURN(ExecResult r,
                      Sql(conn).Exec("UPDATE requests SET state = 'approved', claimed_by = NULL, "
                                     "lease_until = NULL, updated_at = UTC_TIMESTAMP(6) WHERE "
                                     "claimed_by = ? AND state = 'issuing'",
                                     {claimer}));
  return static_cast<int64_t>(r.affected_rows);
}

Result<std::vector<StateCount>> CountRequests(Connection& conn) {
  CP_ASSIGN_OR_RETURN(auto rows,
                      Sql(conn).Query("SELECT state, profile, COUNT(*) FROM requests "
                                      "GROUP BY state, profile ORDER BY profile, state"));
  std::vector<StateCount> out;
  for (const auto& r : rows) out.push_back({r.Str(0), r.Str(1), r.Int(2)});
  return out;
}

}  // namespace certpress::store
