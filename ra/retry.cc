#include "ra/retry.h"

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>

#include "ra/request_builder.h"
#include "signer/csr.h"
#include "store/audit.h"
#include "store/requests.h"

namespace certpress::ra {

namespace {

constexpr size_t kPage = 500;

// FieldsFromJson reads the stored fields object back ({"name": "value", ...}).
Result<Fields> FieldsFromJson(const std::string& json) {
  Fields out;
  if (json.empty()) return out;
  auto j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Internal("stored fields are not a JSON object");
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string()) return Internal("stored field '" + k + "' is not a string");
    out[k] = v.get<std::string>();
  }
  return out;
}

}  // namespace

Result<RetryTally> RetryFailed(store::Connection& db, const profiles::ProfileSet& profiles,
                               const std::vector<int64_t>& ids, const std::string& actor) {
  RetryTally tally;
  std::map<std::string, std::unique_ptr<RequestBuilder>> builders;
  for (size_t start = 0; start < ids.size(); start += kPage) {
    std::span<const int64_t> page(ids.data() + start, std::min(kPage, ids.size() - start));
    RetryTally part;
    Status st = store::RunTransaction(db, [&](store::Connection& c) -> Status {
      part = RetryTally{};
      CP_ASSIGN_OR_RETURN(auto found, store::LoadRequestsForRetry(c, page));
      std::map<int64_t, const store::FailedRequest*> by_id;
      for (const auto& f : found) by_id[f.id] = &f;
      std::vector<store::AuditEvent> audit;
      for (int64_t id : page) {
        const std::string what = "request " + std::to_string(id);
        auto it = by_id.find(id);
        if (it == by_id.end()) {
          part.refused.push_back(what + " does not exist");
          continue;
        }
        const store::FailedRequest& f = *it->second;
        if (f.state != store::kFailed) {
          part.refused.push_back(what + " is " + f.state + ", not failed");
          continue;
        }
        auto card = profiles.Card(f.profile);
        if (!card.ok()) {
          part.refused.push_back(what + ": profile '" + f.profile + "' no longer exists");
          continue;
        }
        const profiles::CardProfile& profile = **card;
        auto& builder = builders[f.profile];
        if (!builder) {
          CP_ASSIGN_OR_RETURN(RequestBuilder b, RequestBuilder::Create(profile));
          builder = std::make_unique<RequestBuilder>(std::move(b));
        }
        CP_ASSIGN_OR_RETURN(Fields fields, FieldsFromJson(f.fields_json));
        // The fields and the CSR are checked against the profile as it stands now.
        std::string problems;
        for (const auto& p : builder->Check(fields)) {
          problems += (problems.empty() ? "" : "; ") + p.message;
        }
        if (!problems.empty()) {
          part.refused.push_back(what + " does not fit profile '" + f.profile +
                                 "' as it is now: " + problems);
          continue;
        }
        FieldProblem problem;
        auto built = builder->Build(fields, &problem);
        if (!built.ok()) {
          part.refused.push_back(what + " does not fit profile '" + f.profile +
                                 "' as it is now: " + built.status().message());
          continue;
        }
        if (!f.csr_der.empty()) {
          auto csr = CheckCsr(AsBytes(f.csr_der), profile.keys.at(0).allowed_algorithms);
          if (!csr.ok()) {
            part.refused.push_back(what + ": its CSR does not fit profile '" + f.profile +
                                   "' as it is now: " + csr.status().message());
            continue;
          }
        }
        store::NewRequest row = NewRequestRow(profile, f.ca_id, std::move(built).value());
        row.csr_der.assign(f.csr_der.begin(), f.csr_der.end());
        if (Status limit = store::CheckRequestLimits(row); !limit.ok()) {
          part.refused.push_back(what + ": " + limit.message());
          continue;
        }
        CP_RETURN_IF_ERROR(store::ResetForRetry(c, id, row));
        const bool approved = row.approvals_needed == 0;
        ++(approved ? part.approved : part.pending);
        audit.push_back({actor, "request.retry", "request:" + std::to_string(id),
                         "profile=" + f.profile +
                             " hash=" + HexEncode(ByteSpan(row.profile_hash)).substr(0, 16) +
                             " state=" + (approved ? store::kApproved : store::kPending) +
                             " was=" + f.reason});
      }
      if (audit.empty()) return Status::Ok();
      return store::AppendAuditBatch(c, audit);
    });
    if (!st.ok()) return st.Wrap("retrying requests");
    tally.approved += part.approved;
    tally.pending += part.pending;
    tally.refused.insert(tally.refused.end(), part.refused.begin(), part.refused.end());
  }
  return tally;
}

}  // namespace certpress::ra
