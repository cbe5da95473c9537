#include "ra/submit.h"

#include <arpa/inet.h>

#include <algorithm>

#include "signer/cert_info.h"
#include "signer/csr.h"
#include "signer/lint.h"
#include "store/audit.h"
#include "store/cas.h"
#include "store/requests.h"

namespace certpress::ra {

namespace {

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

// CheckInternalNames refuses internal host names and reserved IP addresses in a request for
// a TLS server profile (one whose certificate says serverAuth) unless the certificate profile
// allows them; the issuer's lint (e_dnsname_not_valid_tld, e_ext_san_contains_reserved_ip)
// would refuse the certificate later, this says so before the request is stored.
Status CheckInternalNames(const profiles::ProfileSet& profiles,
                          const profiles::CardProfile& profile, const BuiltRequest& built) {
  for (const auto& k : profile.keys) {
    auto cp = profiles.Certificate(k.cert_profile);
    if (!cp.ok()) continue;
    const auto& eku = (*cp)->extended_key_usage;
    const bool tls = std::find(eku.begin(), eku.end(), "1.3.6.1.5.5.7.3.1") != eku.end();
    if (!tls || (*cp)->allow_internal_names) continue;
    for (const auto& san : built.sans) {
      if (san.type == profiles::SanType::kDns && IsInternalDnsName(san.value)) {
        return InvalidInput("'" + san.value + "' is an internal name, which certificate profile '" +
                            (*cp)->name + "' does not allow (allow_internal_names)");
      }
      uint8_t buf[16];
      if (san.type == profiles::SanType::kIp) {
        int len = inet_pton(AF_INET, san.value.c_str(), buf) == 1    ? 4
                  : inet_pton(AF_INET6, san.value.c_str(), buf) == 1 ? 16
                                                                     : 0;
        if (len > 0 && IsReservedIpAddress(ByteSpan(buf, static_cast<size_t>(len)))) {
          return InvalidInput("'" + san.value + "' is a reserved IP address, which certificate " +
                              "profile '" + (*cp)->name +
                              "' does not allow (allow_internal_names)");
        }
      }
    }
  }
  return Status::Ok();
}

}  // namespace

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
  std::vector<std::string> dns, ips;
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
    if (san.type == profiles::SanType::kIp) ips.push_back(san.value);
  }
  auto fill = [&](const char* field, const std::vector<std::string>& values) {
    if (fields.count(field) || values.empty() || !profile.Field(field)) return;
    std::string joined;
    for (const auto& d : values) joined += (joined.empty() ? "" : ",") + d;
    fields[field] = joined;
  };
  fill("dns", dns);
  fill("ip", ips);
  // A declared field the submitter and the CSR leave open renders empty (and its SAN is left
  // out), as an empty CSV column does.
  for (const auto& f : profile.fields) fields.try_emplace(f.name, "");
  CP_ASSIGN_OR_RETURN(RequestBuilder builder, RequestBuilder::Create(profile));
  auto problems = builder.Check(fields);
  if (!problems.empty()) {
    std::string m;
    for (const auto& p : problems) m += (m.empty() ? "" : "; ") + p.message;
    return InvalidInput(m);
  }
  FieldProblem problem;
  CP_ASSIGN_OR_RETURN(BuiltRequest built, builder.Build(fields, &problem));
  // Every name the CSR asks for is in the certificate, or the request is refused: nothing is
  // dropped silently.
  for (const auto& san : csr->sans) {
    bool carried = false;
    for (const auto& b : built.sans)
      carried = carried || (b.type == san.type && b.value == san.value);
    if (!carried) {
      return InvalidInput(s.source + ": the request asks for the " +
                          std::string(profiles::SanTypeName(san.type)) + " subjectAltName '" +
                          san.value + "', which profile '" + profile.name +
                          "' has no field to carry" +
                          (fields.count(san.type == profiles::SanType::kIp ? "ip" : "dns")
                               ? " (the --field values given replace the request's names)"
                               : ""));
    }
  }
  CP_RETURN_IF_ERROR(CheckInternalNames(profiles, profile, built).Wrap(s.source));
  store::NewRequest r = NewRequestRow(profile, s.ca_id, std::move(built));
  r.csr_der = csr->der;
  r.submitted_by = s.actor;
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
    return InvalidInput("profile '" + profile.name + "' names no default CA; give --ca LABEL" +
                        (profile.cas.empty() ? "" : " (one of: " + Join(profile.cas) + ")"));
  }
  // The profile says which CAs may sign for it; a request chooses among them, never beyond.
  if (!profile.cas.empty() &&
      std::find(profile.cas.begin(), profile.cas.end(), label) == profile.cas.end()) {
    return InvalidInput("CA '" + label + "' may not sign for profile '" + profile.name +
                        "' (allowed: " + Join(profile.cas) + ")");
  }
  CP_ASSIGN_OR_RETURN(auto ca, store::FindCa(db, label));
  if (!ca) return NotFound("no CA labelled '" + label + "'");
  if (ca->status != "active") return InvalidInput("CA '" + label + "' is not active");
  // A root signs CAs, never end entities: its key stays offline in spirit, and a leaf signed
  // by it cannot be revoked by retiring an issuing CA. Every card profile is end-entity.
  auto cert = ParseCertificate(AsBytes(ca->cert_der));
  if (!cert.ok()) return cert.status().Wrap("CA '" + label + "'");
  if (cert->self_signed || cert->subject_der == cert->issuer_der) {
    return InvalidInput("CA '" + label + "' is a root CA; it does not sign end-entity " +
                        "certificates of profile '" + profile.name + "' (use an issuing CA)");
  }
  return ca->id;
}

}  // namespace certpress::ra
