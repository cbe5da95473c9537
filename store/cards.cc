#include "store/cards.h"

#include "store/audit.h"
#include "store/requests.h"
#include "store/sql.h"

namespace certpress::store {

namespace {

constexpr const char* kRequestColumns =
    "id, fence, profile, profile_hash, ca_id, subject, subject_der, sans_json, fields_json";

CardRequest RequestOf(const Row& r) {
  CardRequest q;
  q.id = r.Int(0);
  q.fence = r.Int(1) + 1;  // the UPDATE that takes it, on a row this transaction locked
  q.profile = r.Str(2);
  q.profile_hash = r.Str(3);
  q.ca_id = r.Int(4);
  q.subject = r.IsNull(5) ? "" : r.Str(5);
  q.subject_der = r.IsNull(6) ? "" : r.Str(6);
  q.sans_json = r.IsNull(7) ? "[]" : r.Str(7);
  q.fields_json = r.IsNull(8) ? "{}" : r.Str(8);
  return q;
}

// RevokeRows revokes each (issuer_id, serial) of |rows| with |reason| (RFC 5280 5.3.1),
// recording |comment|, and marks the stored certificate revoked; returns "issuer:serial,..."
// for the audit entry ("none" when there were none).
Result<std::string> RevokeRows(Connection& c, const std::vector<Row>& rows, RevocationReason reason,
                               const std::string& actor, const std::string& comment) {
  std::string revoked;
  for (const auto& s : rows) {
    CP_RETURN_IF_ERROR(
        Sql(c)
            .Exec("INSERT INTO revocations (issuer_id, serial, reason_code, revoked_at, "
                  "revoked_by, comment) VALUES (?, ?, ?, UTC_TIMESTAMP(6), ?, ?)",
                  {s.Int(0), std::string_view(s.Str(1)), int64_t{static_cast<int>(reason)},
                   std::string_view(actor), std::string_view(comment)})
            .status());
    CP_RETURN_IF_ERROR(Sql(c)
                           .Exec("UPDATE certificates SET status = 'revoked' WHERE issuer_id = ? "
                                 "AND serial = ?",
                                 {s.Int(0), std::string_view(s.Str(1))})
                           .status());
    revoked += (revoked.empty() ? "" : ",") + std::to_string(s.Int(0)) + ":" + s.Str(1);
  }
  return revoked.empty() ? std::string("none") : revoked;
}

// FailCardIn is FailCard inside the caller's transaction. |claimer| empty: the request is
// given back whoever held it (a dead station's card).
Result<int> FailCardIn(Connection& c, int64_t card_id, const std::string& reason,
                       RevocationReason revocation, const std::string& claimer,
                       const std::string& actor) {
  CP_ASSIGN_OR_RETURN(auto rows, Sql(c).Query("SELECT request_id, state, serial, started_at "
                                              "FROM cards WHERE id = ? FOR UPDATE",
                                              {card_id}));
  if (rows.empty()) return NotFound("card " + std::to_string(card_id) + " is not in the store");
  if (rows[0].Str(1) != kCardPersonalizing) return 0;
  const int64_t request_id = rows[0].Int(0);
  const std::string serial = rows[0].Str(2);
  const std::string started = rows[0].Str(3);
  // Every serial drawn for the request since this card started: stored certificates and
  // serials signed but never stored alike (RFC 5280 5.3.1; ready for a CRL).
  CP_ASSIGN_OR_RETURN(
      auto serials,
      Sql(c).Query("SELECT s.issuer_id, s.serial FROM serials s WHERE s.request_id = ? AND "
                   "s.created_at >= ? AND NOT EXISTS (SELECT 1 FROM revocations r WHERE "
                   "r.issuer_id = s.issuer_id AND r.serial = s.serial) ORDER BY s.serial",
                   {request_id, std::string_view(started)}));
  CP_ASSIGN_OR_RETURN(const std::string revoked,
                      RevokeRows(c, serials, revocation, actor, "card " + serial + " failed"));
  CP_RETURN_IF_ERROR(Sql(c)
                         .Exec("UPDATE cards SET state = 'failed', reason = ?, finished_at = "
                               "UTC_TIMESTAMP(6), updated_at = UTC_TIMESTAMP(6) WHERE id = ?",
                               {std::string_view(reason), card_id})
                         .status());
  // The request is not lost: back to approved for the next card.
  CP_RETURN_IF_ERROR(Sql(c)
                         .Exec("UPDATE requests SET state = 'approved', claimed_by = NULL, "
                               "lease_until = NULL, updated_at = UTC_TIMESTAMP(6) WHERE id = ? "
                               "AND state = 'issuing' AND (claimed_by = ? OR ? = '')",
                               {request_id, std::string_view(claimer), std::string_view(claimer)})
                         .status());
  CP_RETURN_IF_ERROR(AppendAudit(
      c, {actor, "card.fail", "card:" + serial,
          "card_id=" + std::to_string(card_id) + " request=" + std::to_string(request_id) +
              " revoked=" + revoked + " crl_reason=" +
              std::to_string(static_cast<int>(revocation)) + " reason=" + reason}));
  return static_cast<int>(serials.size());
}

// RetireCardIn ends live card |card_id| (personalized, letter-printed or active) whose card
// came back factory-reset: its keys are gone, so its certificates are revoked
// (cessationOfOperation, RFC 5280 5.3.1) and the row is failed; its request stays issued.
Status RetireCardIn(Connection& c, int64_t card_id, const std::string& serial,
                    const std::string& actor) {
  CP_ASSIGN_OR_RETURN(
      auto certs,
      Sql(c).Query("SELECT cc.issuer_id, cc.serial FROM card_certificates cc WHERE cc.card_id = ? "
                   "AND NOT EXISTS (SELECT 1 FROM revocations r WHERE r.issuer_id = cc.issuer_id "
                   "AND r.serial = cc.serial) ORDER BY cc.serial",
                   {card_id}));
  CP_ASSIGN_OR_RETURN(const std::string revoked,
                      RevokeRows(c, certs, RevocationReason::kCessationOfOperation, actor,
                                 "card " + serial + " was reset"));
  CP_RETURN_IF_ERROR(Sql(c)
                         .Exec("UPDATE cards SET state = 'failed', reason = 'the card was "
                               "factory-reset and taken again', updated_at = UTC_TIMESTAMP(6) "
                               "WHERE id = ?",
                               {card_id})
                         .status());
  return AppendAudit(c, {actor, "card.reset", "card:" + serial,
                         "card_id=" + std::to_string(card_id) + " revoked=" + revoked});
}

constexpr const char* kCardColumns =
    "id, serial, atr, chuid_guid, profile, request_id, state, station, reader, reason, "
    "DATE_FORMAT(started_at, '%Y-%m-%d %H:%i:%s'), DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i:%s')";

CardRecord CardOf(const Row& r) {
  CardRecord card;
  card.id = r.Int(0);
  card.serial = r.Str(1);
  card.atr = r.Str(2);
  card.chuid_guid = r.IsNull(3) ? "" : r.Str(3);
  card.profile = r.Str(4);
  card.request_id = r.Int(5);
  card.state = r.Str(6);
  card.station = r.Str(7);
  card.reader = r.Str(8);
  card.reason = r.IsNull(9) ? "" : r.Str(9);
  card.started_at = r.Str(10);
  card.updated_at = r.Str(11);
  return card;
}

Result<std::vector<CardRecord>> LoadCards(Connection& c, std::string_view where, Param p) {
  CP_ASSIGN_OR_RETURN(auto rows,
                      Sql(c).QueryV(std::string("SELECT ") + kCardColumns + " FROM cards WHERE " +
                                        std::string(where) + " ORDER BY id",
                                    {p}));
  std::vector<CardRecord> out;
  for (const auto& r : rows) {
    CardRecord card = CardOf(r);
    CP_ASSIGN_OR_RETURN(
        auto certs,
        Sql(c).Query("SELECT cc.slot, cc.issuer_id, cc.serial, r.reason_code FROM "
                     "card_certificates cc LEFT JOIN revocations r ON r.issuer_id = "
                     "cc.issuer_id AND r.serial = cc.serial WHERE cc.card_id = ? ORDER BY cc.slot",
                     {card.id}));
    for (const auto& cr : certs) {
      CardRecord::Cert cert;
      cert.slot = cr.Str(0);
      cert.issuer_id = cr.Int(1);
      cert.serial_hex = cr.Str(2);
      cert.revoked = !cr.IsNull(3);
      cert.reason_code = cr.IsNull(3) ? -1 : static_cast<int>(cr.Int(3));
      card.certs.push_back(std::move(cert));
    }
    out.push_back(std::move(card));
  }
  return out;
}

}  // namespace

Result<CardRequest> BeginCard(Connection& conn, const NewCard& card,
                              std::optional<int64_t> request_id, const std::string& claimer,
                              int lease_seconds, const std::string& actor, int64_t* card_id) {
  CardRequest out;
  Status st = RunTransaction(conn, [&](Connection& c) -> Status {
    // A card personalized for someone is never taken again as it is: its holder's keys and
    // certificates would be overwritten. Only a card that proved it was reset may be.
    CP_ASSIGN_OR_RETURN(auto live,
                        Sql(c).Query("SELECT id, request_id, state FROM cards WHERE serial = ? "
                                     "AND state IN ('personalized', 'letter-printed', 'active') "
                                     "ORDER BY id FOR UPDATE",
                                     {std::string_view(card.serial)}));
    if (!live.empty() && !card.factory_reset) {
      return Conflict("card " + card.serial + " is already personalized for request " +
                      std::to_string(live.back().Int(1)) + " (state " + live.back().Str(2) +
                      "); reset it first");
    }
    std::vector<Row> rows;
    const std::string cols = kRequestColumns;
    if (request_id) {
      CP_ASSIGN_OR_RETURN(
          rows, Sql(c).Query("SELECT " + cols +
                                 " FROM requests WHERE id = ? AND profile = ? AND (state = "
                                 "'approved' OR (state = 'issuing' AND lease_until < "
                                 "UTC_TIMESTAMP(6))) FOR UPDATE",
                             {*request_id, std::string_view(card.profile)}));
      if (rows.empty()) {
        return NotFound("request " + std::to_string(*request_id) + " of profile '" + card.profile +
                        "' is not approved and free to take");
      }
    } else {
      // The oldest approved request; else one whose station's lease ran out.
      for (const char* cond : {"state = 'approved' AND lease_until IS NULL",
                               "state = 'issuing' AND lease_until < UTC_TIMESTAMP(6)"}) {
        CP_ASSIGN_OR_RETURN(rows, Sql(c).Query("SELECT " + cols +
                                                   " FROM requests FORCE INDEX "
                                                   "(ix_requests_queue) WHERE " +
                                                   std::string(cond) +
                                                   " AND profile = ? ORDER BY id LIMIT 1 FOR "
                                                   "UPDATE SKIP LOCKED",
                                               {std::string_view(card.profile)}));
        if (!rows.empty()) break;
      }
      if (rows.empty()) {
        return NotFound("no approved request of profile '" + card.profile + "' to take");
      }
    }
    out = RequestOf(rows[0]);
    // A card a dead station left half-way on this request ends failed first.
    CP_ASSIGN_OR_RETURN(auto stale, Sql(c).Query("SELECT id FROM cards WHERE request_id = ? AND "
                                                 "state = 'personalizing'",
                                                 {out.id}));
    for (const auto& s : stale) {
      CP_RETURN_IF_ERROR(FailCardIn(c, s.Int(0), "abandoned by its station",
                                    RevocationReason::kCessationOfOperation, "", actor)
                             .status());
    }
    for (const auto& l : live) CP_RETURN_IF_ERROR(RetireCardIn(c, l.Int(0), card.serial, actor));
    CP_RETURN_IF_ERROR(Sql(c)
                           .Exec("UPDATE requests SET state = 'issuing', claimed_by = ?, fence = "
                                 "fence + 1, lease_until = UTC_TIMESTAMP(6) + INTERVAL ? SECOND, "
                                 "updated_at = UTC_TIMESTAMP(6) WHERE id = ?",
                                 {std::string_view(claimer), int64_t{lease_seconds}, out.id})
                           .status());
    CP_ASSIGN_OR_RETURN(
        ExecResult ins,
        Sql(c).Exec("INSERT INTO cards (serial, atr, profile, request_id, state, station, reader) "
                    "VALUES (?, ?, ?, ?, 'personalizing', ?, ?)",
                    {std::string_view(card.serial), Blob{AsString(card.atr)},
                     std::string_view(card.profile), out.id, std::string_view(card.station),
                     std::string_view(card.reader)}));
    *card_id = static_cast<int64_t>(ins.insert_id);
    return AppendAudit(c, {actor, "card.start", "card:" + card.serial,
                           "card_id=" + std::to_string(*card_id) +
                               " request=" + std::to_string(out.id) + " profile=" + card.profile +
                               " station=" + card.station + " reader=" + card.reader});
  });
  if (!st.ok()) return st;
  return out;
}

namespace {

// StillHeld checks, locking both rows, that card |card_id| is still personalizing and that
// request |request_id| is still this station's claim at |fence| (another station that took
// it over moved the fence).
Status StillHeld(Connection& c, int64_t card_id, int64_t request_id, int64_t fence,
                 const std::string& claimer) {
  CP_ASSIGN_OR_RETURN(auto card,
                      Sql(c).Query("SELECT state FROM cards WHERE id = ? FOR UPDATE", {card_id}));
  if (card.empty() || card[0].Str(0) != kCardPersonalizing) {
    return Conflict("card " + std::to_string(card_id) + " is no longer personalizing" +
                    (card.empty() ? "" : " (" + card[0].Str(0) + ")"));
  }
  CP_ASSIGN_OR_RETURN(auto req, Sql(c).Query("SELECT id FROM requests WHERE id = ? AND state = "
                                             "'issuing' AND claimed_by = ? AND fence = ? FOR "
                                             "UPDATE",
                                             {request_id, std::string_view(claimer), fence}));
  if (req.empty()) {
    return Conflict("request " + std::to_string(request_id) +
                    " is no longer held by this station (another took it)");
  }
  return Status::Ok();
}

}  // namespace

Status HoldCard(Connection& c, int64_t card_id, int64_t request_id, int64_t fence,
                const std::string& claimer, int lease_seconds) {
  CP_RETURN_IF_ERROR(StillHeld(c, card_id, request_id, fence, claimer));
  return Sql(c)
      .Exec(
          "UPDATE requests SET lease_until = UTC_TIMESTAMP(6) + INTERVAL ? SECOND, "
          "updated_at = UTC_TIMESTAMP(6) WHERE id = ?",
          {int64_t{lease_seconds}, request_id})
      .status();
}

Status AddCardCertificate(Connection& conn, int64_t card_id, std::string_view slot,
                          int64_t issuer_id, std::string_view serial_hex) {
  return Sql(conn)
      .Exec("INSERT INTO card_certificates (card_id, slot, issuer_id, serial) VALUES (?, ?, ?, ?)",
            {card_id, slot, issuer_id, serial_hex})
      .status();
}

Status FinishCard(Connection& conn, int64_t card_id, int64_t request_id, int64_t fence,
                  const std::string& claimer, ByteSpan chuid_guid, const std::string& actor,
                  const std::function<Status(Connection&)>& also) {
  return RunTransaction(conn, [&](Connection& c) -> Status {
    CP_RETURN_IF_ERROR(StillHeld(c, card_id, request_id, fence, claimer));
    CP_ASSIGN_OR_RETURN(auto card,
                        Sql(c).Query("SELECT serial FROM cards WHERE id = ?", {card_id}));
    CP_RETURN_IF_ERROR(Sql(c)
                           .Exec("UPDATE cards SET state = 'personalized', chuid_guid = ?, "
                                 "finished_at = UTC_TIMESTAMP(6), updated_at = UTC_TIMESTAMP(6) "
                                 "WHERE id = ?",
                                 {Blob{AsString(chuid_guid)}, card_id})
                           .status());
    CP_RETURN_IF_ERROR(MarkIssued(c, {request_id}));
    if (also) CP_RETURN_IF_ERROR(also(c));
    return AppendAudit(c, {actor, "card.personalized", "card:" + card[0].Str(0),
                           "card_id=" + std::to_string(card_id) + " request=" +
                               std::to_string(request_id) + " guid=" + HexEncode(chuid_guid)});
  });
}

Result<int> FailCard(Connection& conn, int64_t card_id, const std::string& reason,
                     RevocationReason revocation, const std::string& claimer,
                     const std::string& actor) {
  int revoked = 0;
  Status st = RunTransaction(conn, [&](Connection& c) -> Status {
    CP_ASSIGN_OR_RETURN(revoked, FailCardIn(c, card_id, reason, revocation, claimer, actor));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return revoked;
}

Result<int> FailAbandonedCards(Connection& conn, const std::string& actor) {
  int failed = 0;
  Status st = RunTransaction(conn, [&](Connection& c) -> Status {
    failed = 0;
    CP_ASSIGN_OR_RETURN(
        auto rows,
        Sql(c).Query("SELECT c.id FROM cards c JOIN requests r ON r.id = c.request_id WHERE "
                     "c.state = 'personalizing' AND NOT (r.state = 'issuing' AND r.lease_until "
                     ">= UTC_TIMESTAMP(6)) FOR UPDATE"));
    for (const auto& r : rows) {
      CP_RETURN_IF_ERROR(FailCardIn(c, r.Int(0), "abandoned by its station",
                                    RevocationReason::kCessationOfOperation, "", actor)
                             .status());
      ++failed;
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return failed;
}

Status MoveCardState(Connection& c, int64_t card_id, std::string_view from, std::string_view to,
                     const std::string& actor, const std::string& details) {
  CP_ASSIGN_OR_RETURN(auto card, Sql(c).Query("SELECT state, serial FROM cards WHERE id = ? "
                                              "FOR UPDATE",
                                              {card_id}));
  if (card.empty()) return NotFound("card " + std::to_string(card_id) + " is not in the store");
  if (card[0].Str(0) != from) {
    return Conflict("card " + card[0].Str(1) + " is " + card[0].Str(0) + ", not " +
                    std::string(from));
  }
  CP_RETURN_IF_ERROR(Sql(c)
                         .Exec("UPDATE cards SET state = ?, updated_at = UTC_TIMESTAMP(6) "
                               "WHERE id = ? AND state = ?",
                               {to, card_id, from})
                         .status());
  return AppendAudit(
      c, {actor, "card." + std::string(to), "card:" + card[0].Str(1),
          "card_id=" + std::to_string(card_id) + (details.empty() ? "" : " " + details)});
}

Status SetCardState(Connection& conn, int64_t card_id, std::string_view from, std::string_view to,
                    const std::string& actor) {
  return RunTransaction(
      conn, [&](Connection& c) -> Status { return MoveCardState(c, card_id, from, to, actor); });
}

Result<std::string> CardLetterPrinted(Connection& tx, std::string_view serial, int64_t request_id,
                                      const std::string& actor) {
  CP_ASSIGN_OR_RETURN(auto rows, Sql(tx).Query("SELECT id, state FROM cards WHERE serial = ? AND "
                                               "request_id = ? ORDER BY id DESC LIMIT 1 FOR UPDATE",
                                               {serial, request_id}));
  if (rows.empty()) return std::string();
  if (rows[0].Str(1) != kCardPersonalized) return rows[0].Str(1);
  CP_RETURN_IF_ERROR(MoveCardState(tx, rows[0].Int(0), kCardPersonalized, kCardLetterPrinted, actor,
                                   "request=" + std::to_string(request_id)));
  return std::string(kCardLetterPrinted);
}

Result<std::vector<CardRecord>> ListCards(Connection& conn, const std::string& state,
                                          int64_t after_id, int limit) {
  CP_ASSIGN_OR_RETURN(auto rows,
                      Sql(conn).PageByState(kCardColumns, "cards", state, after_id, limit));
  std::vector<CardRecord> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(CardOf(r));
  return out;
}

Result<std::vector<CardRecord>> CardsBySerial(Connection& conn, std::string_view serial) {
  return LoadCards(conn, "serial = ?", serial);
}

Result<std::optional<CardRecord>> FindCard(Connection& conn, int64_t card_id) {
  CP_ASSIGN_OR_RETURN(auto cards, LoadCards(conn, "id = ?", card_id));
  if (cards.empty()) return std::optional<CardRecord>();
  return std::optional<CardRecord>(std::move(cards[0]));
}

Result<std::vector<Revocation>> ListRevocations(Connection& conn, int64_t issuer_id) {
  CP_ASSIGN_OR_RETURN(auto rows, Sql(conn).Query("SELECT issuer_id, serial, reason_code, "
                                                 "revoked_at FROM revocations WHERE ? = 0 OR "
                                                 "issuer_id = ? ORDER BY issuer_id, serial",
                                                 {issuer_id, issuer_id}));
  std::vector<Revocation> out;
  for (const auto& r : rows) {
    out.push_back({r.Int(0), r.Str(1), static_cast<int>(r.Int(2)), r.Str(3)});
  }
  return out;
}

}  // namespace certpress::store
