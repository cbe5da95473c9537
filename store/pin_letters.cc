#include "store/pin_letters.h"

#include <algorithm>
#include <map>

#include "store/sql.h"

namespace certpress::store {

namespace {

constexpr const char* kColumns =
    "id, request_id, card_serial, profile, holder_name, address, has_puk, state, kek_label, "
    "wrapped_key, sealed, print_count, DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:%s'), "
    "DATE_FORMAT(printed_at, '%Y-%m-%d %H:%i:%s'), DATE_FORMAT(mailed_at, '%Y-%m-%d %H:%i:%s'), "
    "kind";

std::string OrEmpty(const Row& r, size_t i) {
  return r.IsNull(i) ? std::string() : r.Str(i);
}

std::vector<std::string> SplitLines(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size() && !s.empty()) {
    size_t nl = s.find('\n', start);
    if (nl == std::string::npos) {
      out.push_back(s.substr(start));
      break;
    }
    out.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

PinLetterRecord FromRow(const Row& r) {
  PinLetterRecord l;
  l.id = r.Int(0);
  l.request_id = r.Int(1);
  l.card_serial = r.Str(2);
  l.profile = r.Str(3);
  l.holder_name = r.Str(4);
  l.address = SplitLines(r.Str(5));
  l.has_puk = r.Int(6) != 0;
  l.state = r.Str(7);
  l.kek_label = OrEmpty(r, 8);
  l.wrapped_key = OrEmpty(r, 9);
  l.sealed = OrEmpty(r, 10);
  l.print_count = static_cast<int>(r.Int(11));
  l.created_at = r.Str(12);
  l.printed_at = OrEmpty(r, 13);
  l.mailed_at = OrEmpty(r, 14);
  l.kind = r.Str(15);
  return l;
}

// Moved explains why letter |id| could not move from |from|: it does not exist, or it is in
// another state (named, with when it got there).
Status NotMoved(Connection& conn, int64_t id, const char* from, const char* to) {
  CP_ASSIGN_OR_RETURN(PinLetterRecord l, FindPinLetter(conn, id));
  std::string when = l.state == kLetterMailed    ? " on " + l.mailed_at
                     : l.state == kLetterPrinted ? " on " + l.printed_at
                                                 : "";
  return Conflict("letter " + std::to_string(id) + " is " + l.state + when + ", not " + from +
                  ": it cannot be marked " + to);
}

std::string JoinLines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += (out.empty() ? "" : "\n") + line;
  return out;
}

}  // namespace

Result<int64_t> InsertPinLetter(Connection& conn, const PinLetterRecord& letter) {
  const std::string address = JoinLines(letter.address);
  CP_ASSIGN_OR_RETURN(
      auto r, Sql(conn).Exec(
                  "INSERT INTO pin_letters (kind, request_id, card_serial, "
                  "profile, holder_name, address, has_puk, state) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                  {letter.kind, letter.request_id, letter.card_serial, letter.profile,
                   letter.holder_name, address, int64_t{letter.has_puk ? 1 : 0}, kLetterCreated}));
  return static_cast<int64_t>(r.insert_id);
}

Result<std::vector<int64_t>> InsertLetters(Connection& conn,
                                           const std::vector<PinLetterRecord>& letters) {
  constexpr size_t kRowsPerStatement = 1000;  // 10 parameters a row, well under 65,535
  std::vector<int64_t> ids;
  ids.reserve(letters.size());
  for (size_t from = 0; from < letters.size(); from += kRowsPerStatement) {
    const size_t to = std::min(letters.size(), from + kRowsPerStatement);
    std::vector<std::string> addresses;
    addresses.reserve(to - from);
    std::string sql =
        "INSERT INTO pin_letters (kind, request_id, card_serial, profile, holder_name, address, "
        "has_puk, state, kek_label, wrapped_key) VALUES ";
    std::vector<Param> params;
    params.reserve((to - from) * 10);
    for (size_t i = from; i < to; ++i) {
      const PinLetterRecord& l = letters[i];
      addresses.push_back(JoinLines(l.address));
      sql += i > from ? ", (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" : "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
      params.insert(
          params.end(),
          {std::string_view(l.kind), l.request_id, std::string_view(l.card_serial),
           std::string_view(l.profile), std::string_view(l.holder_name),
           std::string_view(addresses.back()), int64_t{l.has_puk ? 1 : 0},
           std::string_view(kLetterCreated), std::string_view(l.kek_label), Blob{l.wrapped_key}});
    }
    CP_RETURN_IF_ERROR(Sql(conn).ExecV(sql, params).status().Wrap("storing letters"));
    // The new rows are the ones of these requests and kinds still waiting for their secret.
    std::string q =
        "SELECT id, request_id, kind FROM pin_letters WHERE state = ? AND sealed IS NULL AND "
        "request_id IN (";
    std::vector<Param> qp{std::string_view(kLetterCreated)};
    for (size_t i = from; i < to; ++i) {
      q += i > from ? ", ?" : "?";
      qp.push_back(letters[i].request_id);
    }
    CP_ASSIGN_OR_RETURN(auto rows, Sql(conn).QueryV(q + ")", qp));
    std::map<std::pair<int64_t, std::string>, int64_t> by_request;
    for (const auto& r : rows) {
      if (!by_request.emplace(std::pair{r.Int(1), r.Str(2)}, r.Int(0)).second) {
        return Conflict("request " + std::to_string(r.Int(1)) + " has two " + r.Str(2) +
                        " letters waiting for their secret");
      }
    }
    for (size_t i = from; i < to; ++i) {
      auto it = by_request.find({letters[i].request_id, letters[i].kind});
      if (it == by_request.end()) {
        return Internal("the letter just stored for request " +
                        std::to_string(letters[i].request_id) + " is missing");
      }
      ids.push_back(it->second);
    }
  }
  return ids;
}

Status SetLettersSealed(Connection& conn,
                        const std::vector<std::pair<int64_t, std::string>>& sealed) {
  constexpr size_t kRowsPerStatement = 500;
  for (size_t from = 0; from < sealed.size(); from += kRowsPerStatement) {
    const size_t to = std::min(sealed.size(), from + kRowsPerStatement);
    // One UPDATE joined to a derived table of (id, sealed) pairs: a statement per chunk of
    // letters, not per letter (the batch's persist stage is serial and on the hot path).
    std::string sql = "UPDATE pin_letters l JOIN (";
    std::vector<Param> params;
    params.reserve((to - from) * 2 + 1);
    for (size_t i = from; i < to; ++i) {
      sql += i > from ? " UNION ALL SELECT ?, ?" : "SELECT ? AS id, ? AS sealed";
      params.push_back(sealed[i].first);
      params.push_back(Blob{sealed[i].second});
    }
    sql += ") v ON v.id = l.id SET l.sealed = v.sealed WHERE l.state = ? AND l.sealed IS NULL";
    params.push_back(std::string_view(kLetterCreated));
    CP_ASSIGN_OR_RETURN(auto r, Sql(conn).ExecV(sql, params));
    if (r.affected_rows != to - from) {
      return Conflict("storing sealed letter secrets: " + std::to_string(r.affected_rows) + " of " +
                      std::to_string(to - from) + " letters were new letters");
    }
  }
  return Status::Ok();
}

Status SetLetterSecret(Connection& conn, int64_t id, const std::string& kek_label,
                       ByteSpan wrapped_key, ByteSpan sealed) {
  CP_ASSIGN_OR_RETURN(
      auto r, Sql(conn).Exec("UPDATE pin_letters SET kek_label = ?, wrapped_key = ?, sealed = ? "
                             "WHERE id = ? AND state = ?",
                             {kek_label, Blob{AsString(wrapped_key)}, Blob{AsString(sealed)}, id,
                              kLetterCreated}));
  if (r.affected_rows != 1) {
    return Conflict("letter " + std::to_string(id) + " is not a new letter: secret not stored");
  }
  return Status::Ok();
}

Result<PinLetterRecord> FindPinLetter(Connection& conn, int64_t id, bool for_update) {
  CP_ASSIGN_OR_RETURN(auto rows, Sql(conn).QueryV(std::string("SELECT ") + kColumns +
                                                      " FROM pin_letters WHERE id = ?" +
                                                      (for_update ? " FOR UPDATE" : ""),
                                                  {id}));
  if (rows.empty()) return NotFound("no PIN letter " + std::to_string(id));
  return FromRow(rows[0]);
}

Result<std::vector<PinLetterRecord>> ListPinLetters(Connection& conn, const std::string& state,
                                                    int64_t after_id, int limit) {
  CP_ASSIGN_OR_RETURN(auto rows,
                      Sql(conn).PageByState(kColumns, "pin_letters", state, after_id, limit));
  std::vector<PinLetterRecord> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(FromRow(r));
  return out;
}

Status MarkLetterPrinted(Connection& conn, int64_t id) {
  CP_ASSIGN_OR_RETURN(
      auto r, Sql(conn).Exec("UPDATE pin_letters SET state = ?, printed_at = CURRENT_TIMESTAMP(6), "
                             "print_count = print_count + 1, sealed = NULL, wrapped_key = NULL "
                             "WHERE id = ? AND state = ?",
                             {kLetterPrinted, id, kLetterCreated}));
  if (r.affected_rows != 1) return NotMoved(conn, id, kLetterCreated, kLetterPrinted);
  return Status::Ok();
}

Status VoidUnprintedLetters(Connection& conn, int64_t request_id, const std::string& kind) {
  return Sql(conn)
      .Exec(
          "UPDATE pin_letters SET state = ?, sealed = NULL, wrapped_key = NULL WHERE "
          "request_id = ? AND kind = ? AND state = ?",
          {kLetterVoid, request_id, std::string_view(kind), kLetterCreated})
      .status();
}

Status MarkLetterMailed(Connection& conn, int64_t id) {
  CP_ASSIGN_OR_RETURN(
      auto r, Sql(conn).Exec("UPDATE pin_letters SET state = ?, mailed_at = CURRENT_TIMESTAMP(6) "
                             "WHERE id = ? AND state = ?",
                             {kLetterMailed, id, kLetterPrinted}));
  if (r.affected_rows != 1) return NotMoved(conn, id, kLetterPrinted, kLetterMailed);
  return Status::Ok();
}

}  // namespace certpress::store
