#include "ra/submit.h"

#include "signer/csr.h"
#include "store/audit.h"
#include "store/cas.h"
#include "store/requests.h"

namespace certpress::ra {

Result<Submitted> SubmitCsr(store::Connection& db, const profiles::ProfileSet& profiles,
                            const profiles::CardProfile& profile, const CsrSubmission& s) {
  if (profile.token != profiles::TokenKind::kCsr) {
    return InvalidInput("profile '" + profile.name + "' does not take CSRs (its keys are made by " +
                        std::string(profiles::KeySourceName(profile.keys[0].source)) + ")");
  }
  const auto& key = profile.keys[0];
  // Sizes are checked here, before anything is parsed or stored (csr_der would otherwise be
  // cut or refused later, at issuance). PEM is base64: 4 characters per 3 bytes, plus lines.
  if (s.csr.size() > store::kCsrMaxBytes * 3 / 2) {
    return InvalidInput(s.source + ": the CSR file is " + std::to_string(s.csr.size()) +
                        " bytes; the limit is " + std::to_string(store::kCsrMaxBytes) +
                        " bytes of DER");
  }
  // One parse: proof of possession and the profile's key policy together.
  auto csr = ParseCsr(AsBytes(s.csr), key.allowed_algorithms);
  if (!csr.ok()) return csr.status().Wrap(s.source);
  // Requested extensions the profile does not allow are refused, never copied.
  if (!csr->other_extensions.empty()) {
    std::string list;
    for (const auto& e : csr->other_extensions) list += (list.empty() ? "" : ", ") + e;
    return InvalidInput(s.source + ": the request asks for extensions the profile '" +
                        profile.name + "' does not allow: " + list);
  }
  Fields fields = s.fields;
  // What the CSR itself says fills fields the submitter left open: its CN and DNS names.
  if (!fields.count("cn") && profile.Field("cn") && !csr->common_name.empty()) {
    fields["cn"] = csr->common_name;
  }
  std::vector<std::string> dns;
  for (const auto& san : csr->sans) {
    bool allowed = false;
    for (const auto& k : profile.keys) {
      auto cp = profiles.Certificate(k.cert_profile);
      if (cp.ok() && (*cp)->AllowsSan(san.type)) allowed = true;
    }
    if (!allowed) {
      return InvalidInput(s.source + ": the request asks for a " +
                          std::string(profiles::SanTypeName(san.type)) +
                          " subjectAltName, which profile '" + profile.name + "' does not allow");
    }
    // find, not operator[]: an empty "cn" entry would fail profiles without that field.
    auto cn = fields.find("cn");
    if (san.type == profiles::SanType::kDns && (cn == fields.end() || san.value != cn->second)) {
      dns.push_back(san.value);
    }
  }
  if (!fields.count("dns") && !dns.empty() && profile.Field("dns")) {
    std::string joined;
    for (const auto& d : dns) joined += (joined.empty() ? "" : ",") + d;
    fields["dns"] = joined;
  }
  CP_ASSIGN_OR_RETURN(RequestBuilder builder, RequestBuilder::Create(profile));
  auto problems = builder.Check(fields);
  if (!problems.empty()) {
    std::string m;
    for (const auto& p : problems) m += (m.empty() ? "" : "; ") + p.message;
    return InvalidInput(m);
  }
  FieldProblem problem;
  CP_ASSIGN_OR_RETURN(BuiltRequest built, builder.Build(fields, &problem));
  store::NewRequest r = NewRequestRow(profile, s.ca_id, std::move(built));
  r.csr_der = csr->der;
  CP_RETURN_IF_ERROR(store::CheckRequestLimits(r).Wrap(s.source));
  Submitted out;
  CP_RETURN_IF_ERROR(store::RunTransaction(db, [&](store::Connection& c) -> Status {
    CP_ASSIGN_OR_RETURN(out.id, store::InsertRequest(c, r));
    return store::AppendAudit(c, {s.actor, "request.submit", "request:" + std::to_string(out.id),
                                  "profile=" + r.profile + " subject=" + r.subject +
                                      " key=" + std::string(KeyTypeName(csr->key_type))});
  }));
  out.state = profile.approvals == 0 ? store::kApproved : store::kPending;
  out.subject = r.subject;
  return out;
}

Result<int64_t> ResolveCa(store::Connection& db, const profiles::CardProfile& profile,
                          const std::string& label_in) {
  const std::string label = label_in.empty() ? profile.ca : label_in;
  if (label.empty()) {
    return InvalidInput("profile '" + profile.name + "' names no issuing CA; give --ca LABEL");
  }
  CP_ASSIGN_OR_RETURN(auto ca, store::FindCa(db, label));
  if (!ca) return NotFound("no CA labelled '" + label + "'");
  if (ca->status != "active") return InvalidInput("CA '" + label + "' is not active");
  return ca->id;
}

}  // namespace certpress::ra
