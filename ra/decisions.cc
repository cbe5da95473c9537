#include "ra/decisions.h"

#include <algorithm>
#include <sstream>

#include "store/audit.h"
#include "store/requests.h"

namespace certpress::ra {

namespace {

constexpr size_t kPage = 500;

// DecidePage decides |ids| in one transaction and adds the outcome to |tally|.
Status DecidePage(store::Connection& db, const DecisionRequest& req,
                  const std::vector<int64_t>& ids, DecisionTally& tally) {
  std::vector<std::string> errors;
  int64_t a = 0, w = 0, rj = 0;
  CP_RETURN_IF_ERROR(store::RunTransaction(db, [&](store::Connection& c) -> Status {
    errors.clear();
    a = w = rj = 0;
    std::vector<store::AuditEvent> audit;
    // One answer per id: a decision, or a refusal (not found, not pending, already decided)
    // that is reported while the rest go on. Anything else ends the page.
    std::vector<Result<store::Decision>> decisions;
    if (req.approve) {
      CP_ASSIGN_OR_RETURN(decisions, store::ApproveMany(c, ids, req.op));
    } else {
      for (int64_t id : ids) {
        auto d = store::Reject(c, id, req.op, req.reason);
        if (!d.ok() && d.status().kind() != ErrorKind::kConflict &&
            d.status().kind() != ErrorKind::kNotFound) {
          return d.status();
        }
        decisions.push_back(std::move(d));
      }
    }
    for (size_t k = 0; k < ids.size(); ++k) {
      auto& d = decisions[k];
      if (!d.ok()) {
        errors.push_back(d.status().message());
        continue;
      }
      const std::string object = "request:" + std::to_string(ids[k]);
      if (req.approve) {
        audit.push_back({req.op, "request.approve", object,
                         "approvals=" + std::to_string(d->approvals) + " state=" + d->new_state});
        (d->new_state == store::kApproved ? a : w)++;
      } else {
        audit.push_back({req.op, "request.reject", object, "reason=" + req.reason});
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

Result<DecisionTally> Decide(store::Connection& db, const DecisionRequest& req,
                             const std::function<void(const DecisionTally&)>& on_page) {
  if (req.op.empty()) return InvalidInput("every decision names its operator");
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
    CP_RETURN_IF_ERROR(DecidePage(db, req, page, tally));
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
