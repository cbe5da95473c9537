#include "ra/decisions.h"

#include <openssl/evp.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "common/ossl.h"
#include "ra/operators.h"
#include "store/audit.h"
#include "store/operators.h"
#include "store/requests.h"

namespace certpress::ra {

namespace {

constexpr size_t kPage = 500;
constexpr std::string_view kStatementHeader = "certpress-decision-v1";

void PutField(EVP_MD_CTX* md, std::string_view v) {
  uint8_t len[8];
  uint64_t n = v.size();
  for (int i = 7; i >= 0; --i, n >>= 8) len[i] = static_cast<uint8_t>(n & 0xff);
  EVP_DigestUpdate(md, len, sizeof len);
  EVP_DigestUpdate(md, v.data(), v.size());
}

// OneLine keeps a free-text value on its line of the statement.
std::string OneLine(std::string_view v) {
  std::string out;
  for (char c : v) out += (c == '\n' || c == '\r') ? ' ' : c;
  return out;
}

Listed ListedOf(const store::DecisionView& v) {
  return {v.id, v.profile, v.ca_label, v.subject, v.sans_json, ContentHash(v)};
}

// DecidePage decides |ids| with one signed statement and adds the outcome to |tally|.
Status DecidePage(store::Connection& db, const DecisionRequest& req, const std::string& op,
                  const std::vector<int64_t>& ids, DecisionTally& tally) {
  CP_ASSIGN_OR_RETURN(auto views, store::DecisionViews(db, ids, false));
  std::map<int64_t, std::string> listed_hash;
  for (const auto& v : views) listed_hash[v.id] = ContentHash(v);
  if (req.dry_run) {
    for (const auto& v : views) tally.listed.push_back(ListedOf(v));
    for (int64_t id : ids) {
      if (!listed_hash.count(id))
        tally.refused.push_back("request " + std::to_string(id) + " does not exist");
    }
    return Status::Ok();
  }
  // The statement names what the operator saw; the transaction below refuses any request
  // that is no longer exactly that.
  Statement st;
  st.decision = req.approve ? "approve" : "reject";
  st.op = op;
  st.time = store::FormatUtc(std::time(nullptr));
  st.reason = OneLine(req.reason);
  for (const auto& [id, hash] : listed_hash) st.requests.emplace_back(id, hash);
  const std::string text = FormatStatement(st);
  CP_ASSIGN_OR_RETURN(Bytes signature, req.key->Sign(AsBytes(text)));

  std::vector<std::string> errors;
  int64_t a = 0, w = 0, rj = 0;
  CP_RETURN_IF_ERROR(store::RunTransaction(db, [&](store::Connection& c) -> Status {
    errors.clear();
    a = w = rj = 0;
    // Checked before it counts: a registered, active operator whose certificate's key made
    // this signature.
    CP_ASSIGN_OR_RETURN(store::OperatorRecord opr, ActiveOperator(c, op));
    CP_RETURN_IF_ERROR(VerifyStatementSignature(AsBytes(opr.cert_der), AsBytes(text), signature)
                           .Wrap("operator '" + op + "'"));
    CP_ASSIGN_OR_RETURN(auto now, store::DecisionViews(c, ids, true));
    std::map<int64_t, const store::DecisionView*> current;
    for (const auto& v : now) current[v.id] = &v;
    std::vector<int64_t> decide;
    std::map<int64_t, std::string> refusal;
    for (int64_t id : ids) {
      const std::string what = "request " + std::to_string(id);
      auto it = current.find(id);
      auto listed = listed_hash.find(id);
      if (it == current.end() || listed == listed_hash.end()) {
        refusal[id] = what + " does not exist";
        continue;
      }
      const store::DecisionView& v = *it->second;
      if (ContentHash(v) != listed->second) {
        refusal[id] = what + " changed since it was listed; list it again";
        continue;
      }
      if (req.approve && req.profiles != nullptr) {
        auto profile = req.profiles->Card(v.profile);
        const bool may = profile.ok() ? (*profile)->submitter_may_approve : false;
        auto submitter = CanonicalOperatorName(v.submitted_by);
        if (!may && submitter.ok() && *submitter == op) {
          refusal[id] = what + ": operator '" + op + "' submitted it, and profile '" + v.profile +
                        "' wants its approvers to be others";
          continue;
        }
      }
      decide.push_back(id);
    }
    CP_ASSIGN_OR_RETURN(int64_t statement_id, store::StoreStatement(c, opr.id, text, signature));
    std::map<int64_t, Result<store::Decision>> decided;
    if (req.approve) {
      CP_ASSIGN_OR_RETURN(auto out, store::ApproveMany(c, decide, op, statement_id));
      for (size_t k = 0; k < decide.size(); ++k) decided.emplace(decide[k], std::move(out[k]));
    } else {
      for (int64_t id : decide) {
        auto d = store::Reject(c, id, op, req.reason, statement_id);
        if (!d.ok() && d.status().kind() != ErrorKind::kConflict &&
            d.status().kind() != ErrorKind::kNotFound) {
          return d.status();
        }
        decided.emplace(id, std::move(d));
      }
    }
    std::vector<store::AuditEvent> audit;
    for (int64_t id : ids) {
      if (auto r = refusal.find(id); r != refusal.end()) {
        errors.push_back(r->second);
        continue;
      }
      auto& d = decided.at(id);
      if (!d.ok()) {
        errors.push_back(d.status().message());
        continue;
      }
      const std::string object = "request:" + std::to_string(id);
      const std::string signed_by = " statement=" + std::to_string(statement_id);
      if (req.approve) {
        audit.push_back(
            {op, "request.approve", object,
             "approvals=" + std::to_string(d->approvals) + " state=" + d->new_state + signed_by});
        (d->new_state == store::kApproved ? a : w)++;
      } else {
        audit.push_back({op, "request.reject", object, "reason=" + req.reason + signed_by});
        ++rj;
      }
    }
    return store::AppendAuditBatch(c, audit);
  }));
  tally.approved += a;
  tally.waiting += w;
  tally.rejected += rj;
  tally.refused.insert(tally.refused.end(), errors.begin(), errors.end());
  return Status::Ok();
}

}  // namespace

std::string ContentHash(const store::DecisionView& v) {
  UniquePtr<EVP_MD_CTX> md(EVP_MD_CTX_new());
  EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr);
  PutField(md.get(), v.profile);
  PutField(md.get(), v.profile_hash);
  PutField(md.get(), v.ca_label);
  PutField(md.get(), v.subject_der);
  PutField(md.get(), v.sans_json);
  PutField(md.get(), v.csr_der);
  uint8_t h[32];
  unsigned int len = 0;
  EVP_DigestFinal_ex(md.get(), h, &len);
  return HexEncode(ByteSpan(h, 32));
}

std::string FormatStatement(const Statement& s) {
  std::string out(kStatementHeader);
  out += "\ndecision: " + s.decision + "\noperator: " + s.op + "\ntime: " + s.time +
         "\nreason: " + OneLine(s.reason) + "\n";
  for (const auto& [id, hash] : s.requests) {
    out += "request: " + std::to_string(id) + " " + hash + "\n";
  }
  return out;
}

namespace {

bool AllOf(std::string_view s, bool (*pred)(char)) {
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
bool IsLowerHex(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f');
}

// "YYYY-MM-DD HH:MM:SS", as store::FormatUtc writes it.
bool IsStatementTime(std::string_view t) {
  if (t.size() != 19) return false;
  for (size_t i = 0; i < t.size(); ++i) {
    const char want = i == 4 || i == 7 ? '-' : i == 10 ? ' ' : i == 13 || i == 16 ? ':' : '0';
    if (want == '0' ? !IsDigit(t[i]) : t[i] != want) return false;
  }
  return true;
}

}  // namespace

// ParseStatement accepts exactly what FormatStatement writes, and nothing else: the statement
// is signed evidence, so a text that two readers could read two ways (a repeated field, an id
// with trailing characters, a field out of order) must not verify. FormatStatement of the
// result gives back the input, byte for byte (tests/fuzz/statement_fuzz.cc checks it).
Result<Statement> ParseStatement(std::string_view text) {
  Statement s;
  size_t pos = 0;
  size_t line_no = 0;
  constexpr std::string_view kFields[] = {"decision: ", "operator: ", "time: ", "reason: "};
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) return InvalidInput("statement does not end in a newline");
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    const size_t n = line_no++;
    const std::string where = "statement line " + std::to_string(n + 1) + ": ";
    if (n == 0) {
      if (line != kStatementHeader) return InvalidInput("not a certpress-decision-v1 statement");
      continue;
    }
    if (n <= std::size(kFields)) {
      const std::string_view key = kFields[n - 1];
      if (line.substr(0, key.size()) != key) {
        return InvalidInput(where + "expected '" + std::string(key.substr(0, key.size() - 2)) +
                            "'");
      }
      const std::string value(line.substr(key.size()));
      switch (n) {
        case 1:
          if (value != "approve" && value != "reject") {
            return InvalidInput(where + "decision is neither approve nor reject");
          }
          s.decision = value;
          break;
        case 2: {
          auto canonical = CanonicalOperatorName(value);
          if (!canonical.ok() || *canonical != value) {
            return InvalidInput(where + "not a canonical operator name");
          }
          s.op = value;
          break;
        }
        case 3:
          if (!IsStatementTime(value))
            return InvalidInput(where + "time is not YYYY-MM-DD HH:MM:SS");
          s.time = value;
          break;
        default:
          if (value.find('\r') != std::string::npos) {
            return InvalidInput(where + "reason holds a carriage return");
          }
          s.reason = value;
      }
      continue;
    }
    constexpr std::string_view kRequest = "request: ";
    if (line.substr(0, kRequest.size()) != kRequest) {
      return InvalidInput(where + "expected 'request'");
    }
    std::string_view v = line.substr(kRequest.size());
    const size_t sp = v.find(' ');
    if (sp == std::string_view::npos) return InvalidInput(where + "request line has no hash");
    std::string_view id = v.substr(0, sp), hash = v.substr(sp + 1);
    // Decimal as std::to_string writes it: no sign, no leading zero, fits in int64.
    if (id.empty() || id.size() > 18 || !AllOf(id, IsDigit) || (id[0] == '0' && id.size() > 1)) {
      return InvalidInput(where + "request id is not a decimal number");
    }
    if (hash.size() != 64 || !AllOf(hash, IsLowerHex)) {
      return InvalidInput(where + "content hash is not 64 lower-case hex digits");
    }
    s.requests.emplace_back(std::stoll(std::string(id)), std::string(hash));
  }
  if (line_no <= std::size(kFields)) return InvalidInput("statement ends before its reason line");
  return s;
}

namespace {

// A stored statement as `audit verify` trusts it: its signature verified against its
// operator's registered certificate, and what it decided about which content.
struct CheckedStatement {
  bool ok = false;
  std::string signer;  // the registered operator whose certificate verified it
  std::string decision;
  std::map<int64_t, std::string> hashes;  // request id -> content hash
};

Result<CheckedStatement> CheckStatement(store::Connection& db, int64_t id) {
  CheckedStatement out;
  CP_ASSIGN_OR_RETURN(auto st, store::FindStatement(db, id));
  if (!st) return out;
  CP_ASSIGN_OR_RETURN(auto op, store::FindOperatorById(db, st->operator_id));
  if (!op) return out;
  if (!VerifyStatementSignature(AsBytes(op->cert_der), AsBytes(st->statement),
                                AsBytes(st->signature))
           .ok()) {
    return out;
  }
  auto parsed = ParseStatement(st->statement);
  if (!parsed.ok() || parsed->op != op->name) return out;
  out.ok = true;
  out.signer = op->name;
  out.decision = parsed->decision;
  for (auto& [rid, hash] : parsed->requests) out.hashes.emplace(rid, std::move(hash));
  return out;
}

// VerifyApprovals walks every request that reached a state only approval leads to, and
// recounts its approvals from the signed statements alone: each must be a verified statement
// by the operator the approval row names, approving the request's content as it is now, and
// the distinct operators must be as many as the request needed (the more of its row and,
// where the request still pins the loaded profile, that profile). A bare
// `UPDATE requests SET state = 'approved'`, a lowered approvals_needed, an approval row
// pointing at another operator's statement or a forged statement row are caught here: the
// run-time account can write those rows, but not an operator's signature.
Status VerifyApprovals(store::Connection& db, const profiles::ProfileSet* profiles,
                       DecisionAudit& audit) {
  std::map<int64_t, CheckedStatement> cache;
  for (int64_t after = 0;;) {
    CP_ASSIGN_OR_RETURN(auto page, store::PastApprovals(db, after, static_cast<int>(kPage)));
    if (page.empty()) break;
    after = page.back().view.id;
    std::vector<int64_t> ids;
    for (const auto& p : page) ids.push_back(p.view.id);
    CP_ASSIGN_OR_RETURN(auto rows, store::ApprovalsOf(db, ids));
    std::map<int64_t, std::vector<const store::ApprovalRow*>> by_request;
    for (const auto& r : rows) by_request[r.request_id].push_back(&r);
    for (const auto& p : page) {
      const store::DecisionView& v = p.view;
      ++audit.approved_requests;
      const std::string what = "request " + std::to_string(v.id) + " (" + v.state + ")";
      int needed = p.approvals_needed;
      const profiles::CardProfile* profile = nullptr;
      if (profiles != nullptr) {
        auto c = profiles->Card(v.profile);
        if (c.ok() && v.profile_hash.size() == (*c)->content_hash.size() &&
            std::equal((*c)->content_hash.begin(), (*c)->content_hash.end(),
                       reinterpret_cast<const uint8_t*>(v.profile_hash.data()))) {
          profile = *c;
        }
      }
      if (profile != nullptr && profile->approvals > needed) {
        audit.problems.push_back(what + " needed " + std::to_string(profile->approvals) +
                                 " approval(s) by profile '" + v.profile + "', but its row says " +
                                 std::to_string(needed));
        needed = profile->approvals;
      }
      if (needed <= 0) continue;
      const std::string hash = ContentHash(v);
      std::set<std::string> approvers;
      int legacy = 0;
      for (const store::ApprovalRow* a : by_request[v.id]) {
        if (a->statement_id == 0) {
          ++legacy;  // schema < 6; counted in unsigned_legacy
          continue;
        }
        if (cache.size() > 256) cache.clear();
        auto it = cache.find(a->statement_id);
        if (it == cache.end()) {
          CP_ASSIGN_OR_RETURN(auto checked, CheckStatement(db, a->statement_id));
          it = cache.emplace(a->statement_id, std::move(checked)).first;
        }
        const CheckedStatement& st = it->second;
        const std::string by =
            "the approval by '" + a->op + "' (statement " + std::to_string(a->statement_id) + ")";
        if (!st.ok) {
          audit.problems.push_back(what + ": " + by + " is not a verified statement");
          continue;
        }
        if (st.signer != a->op || st.decision != "approve") {
          audit.problems.push_back(what + ": " + by + " points at a statement by '" + st.signer +
                                   "' (" + st.decision + ")");
          continue;
        }
        auto h = st.hashes.find(v.id);
        if (h == st.hashes.end() || h->second != hash) {
          audit.problems.push_back(what + ": " + by +
                                   " does not approve what the request holds now");
          continue;
        }
        if (profile != nullptr && !profile->submitter_may_approve) {
          auto submitter = CanonicalOperatorName(v.submitted_by);
          if (submitter.ok() && *submitter == a->op) {
            audit.problems.push_back(what + ": " + by + " is its submitter's own");
            continue;
          }
        }
        approvers.insert(a->op);
      }
      if (static_cast<int>(approvers.size()) + legacy < needed) {
        audit.problems.push_back(what + " has " + std::to_string(approvers.size()) +
                                 " verified approval(s) of the " + std::to_string(needed) +
                                 " it needed");
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Result<DecisionAudit> VerifyDecisions(store::Connection& db, const profiles::ProfileSet* profiles) {
  DecisionAudit audit;
  CP_ASSIGN_OR_RETURN(audit.unsigned_legacy, store::UnsignedDecisions(db));
  std::map<int64_t, store::OperatorRecord> operators;
  for (int64_t after = 0;;) {
    CP_ASSIGN_OR_RETURN(auto page, store::ListStatements(db, after, 500));
    if (page.empty()) break;
    for (const auto& st : page) {
      after = st.id;
      ++audit.statements;
      const std::string what = "decision statement " + std::to_string(st.id);
      auto op = operators.find(st.operator_id);
      if (op == operators.end()) {
        CP_ASSIGN_OR_RETURN(auto rec, store::FindOperatorById(db, st.operator_id));
        if (!rec) {
          audit.problems.push_back(what + ": its operator is not registered");
          continue;
        }
        op = operators.emplace(st.operator_id, *rec).first;
      }
      Status sig = VerifyStatementSignature(AsBytes(op->second.cert_der), AsBytes(st.statement),
                                            AsBytes(st.signature));
      if (!sig.ok()) {
        audit.problems.push_back(what + " by '" + op->second.name + "': " + sig.message());
        continue;
      }
      auto parsed = ParseStatement(st.statement);
      if (!parsed.ok()) {
        audit.problems.push_back(what + ": " + parsed.status().message());
        continue;
      }
      if (parsed->op != op->second.name) {
        audit.problems.push_back(what + " names operator '" + parsed->op + "' but was signed by '" +
                                 op->second.name + "'");
      }
      std::set<int64_t> named;
      for (const auto& [id, hash] : parsed->requests) named.insert(id);
      CP_ASSIGN_OR_RETURN(auto decisions, store::DecisionsOf(db, st.id));
      for (const auto& [id, decision] : decisions) {
        ++audit.decisions;
        if (!named.count(id) || decision != parsed->decision) {
          audit.problems.push_back("the " + decision + " of request " + std::to_string(id) +
                                   " is not what " + what + " says");
        }
      }
    }
  }
  CP_RETURN_IF_ERROR(VerifyApprovals(db, profiles, audit));
  return audit;
}

Result<DecisionTally> Decide(store::Connection& db, const DecisionRequest& req,
                             const std::function<void(const DecisionTally&)>& on_page) {
  CP_ASSIGN_OR_RETURN(const std::string op, CanonicalOperatorName(req.op));
  if (!req.dry_run && req.key == nullptr) {
    return InvalidInput("a decision is signed: give the operator's key");
  }
  if (!req.approve && req.reason.empty()) return InvalidInput("a rejection needs a reason");
  const bool all = req.ids.empty();
  if (all && req.all_of_profile.empty()) return InvalidInput("no request ids and no profile");
  DecisionTally tally;
  int64_t after = 0;
  for (size_t pos = 0;;) {
    std::vector<int64_t> page;
    if (all) {
      CP_ASSIGN_OR_RETURN(
          page, store::PendingIds(db, req.all_of_profile, after, static_cast<int>(kPage)));
      if (!page.empty()) after = page.back();
    } else {
      const size_t end = std::min(req.ids.size(), pos + kPage);
      page.assign(req.ids.begin() + static_cast<long>(pos),
                  req.ids.begin() + static_cast<long>(end));
      pos = end;
    }
    if (page.empty()) break;
    CP_RETURN_IF_ERROR(DecidePage(db, req, op, page, tally));
    if (on_page) on_page(tally);
    if (!all && pos >= req.ids.size()) break;
  }
  return tally;
}

Result<std::vector<int64_t>> ParseIds(const std::string& text) {
  std::vector<int64_t> ids;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    size_t dash = item.find('-');
    try {
      if (dash != std::string::npos) {
        int64_t a = std::stoll(item.substr(0, dash)), b = std::stoll(item.substr(dash + 1));
        if (b < a || b - a > 1000000) return InvalidInput("bad id range '" + item + "'");
        for (int64_t i = a; i <= b; ++i) ids.push_back(i);
      } else {
        size_t used = 0;
        ids.push_back(std::stoll(item, &used));
        if (used != item.size()) return InvalidInput("bad request id '" + item + "'");
      }
    } catch (const std::exception&) {
      return InvalidInput("bad request id '" + item + "'");
    }
  }
  if (ids.empty()) return InvalidInput("--ids lists no request ids");
  return ids;
}

}  // namespace certpress::ra
