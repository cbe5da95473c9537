#include "store/pin_letters.h"

#include "store/sql.h"

namespace certpress::store {

namespace {

constexpr const char* kColumns =
    "id, request_id, card_serial, profile, holder_name, address, has_puk, state, kek_label, "
    "wrapped_key, sealed, print_count, DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:%s'), "
    "DATE_FORMAT(printed_at, '%Y-%m-%d %H:%i:%s'), DATE_FORMAT(mailed_at, '%Y-%m-%d %H:%i:%s')";

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

}  // namespace

Result<int64_t> InsertPinLetter(Connection& conn, const PinLetterRecord& letter) {
  std::string address;
  for (const auto& line : letter.address) address += (address.empty() ? "" : "\n") + line;
  CP_ASSIGN_OR_RETURN(auto r, Sql(conn).Exec("INSERT INTO pin_letters (request_id, card_serial, "
                                             "profile, holder_name, address, has_puk, state) "
                                             "VALUES (?, ?, ?, ?, ?, ?, ?)",
                                             {letter.request_id, letter.card_serial, letter.profile,
                                              letter.holder_name, address,
                                              int64_t{letter.has_puk ? 1 : 0}, kLetterCreated}));
  return static_cast<int64_t>(r.insert_id);
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
  std::vector<Param> params{after_id};
  std::string sql = std::string("SELECT ") + kColumns + " FROM pin_letters WHERE id > ?";
  if (!state.empty()) {
    sql += " AND state = ?";
    params.push_back(std::string_view(state));
  }
  sql += " ORDER BY id LIMIT ?";
  params.push_back(int64_t{limit});
  CP_ASSIGN_OR_RETURN(auto rows, Sql(conn).QueryV(sql, params));
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

Status MarkLetterMailed(Connection& conn, int64_t id) {
  CP_ASSIGN_OR_RETURN(
      auto r, Sql(conn).Exec("UPDATE pin_letters SET state = ?, mailed_at = CURRENT_TIMESTAMP(6) "
                             "WHERE id = ? AND state = ?",
                             {kLetterMailed, id, kLetterPrinted}));
  if (r.affected_rows != 1) return NotMoved(conn, id, kLetterPrinted, kLetterMailed);
  return Status::Ok();
}

}  // namespace certpress::store
