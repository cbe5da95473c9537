#include "web/invitations.h"

#include <openssl/rand.h>

#include <fstream>

#include "batch/csv.h"
#include "common/utf8.h"
#include "kgs/invitation_links.h"
#include "ra/submit.h"
#include "store/activations.h"
#include "store/audit.h"
#include "store/requests.h"

namespace certpress::web {

namespace {

std::string Where(const std::string& path, size_t line, size_t column) {
  return path + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
}

constexpr size_t kMaxNameChars = 128;

// QueueInvitationMail puts invitation |id|'s mail in the outbox, in the caller's transaction.
// The mailer mints the link when it sends (kgs::MintInvitationLink).
Status QueueInvitationMail(store::Connection& c, int64_t id, const std::string& profile,
                           const NewInvitation& who) {
  store::OutboxRow row;
  row.kind = "invitation";
  row.ref_id = id;
  row.recipient_email = who.email;
  row.recipient_name = who.name;
  row.profile = profile;
  unsigned char salt[8];
  if (RAND_bytes(salt, sizeof salt) != 1) return Internal("RAND_bytes failed");
  return store::QueueMail(c, row, HexEncode(ByteSpan(salt, sizeof salt))).status();
}
constexpr size_t kMaxEmailChars = 254;  // RFC 5321 4.5.3.1.3 (a path is at most 256 octets)

}  // namespace

Status CheckInvitee(const NewInvitation& who) {
  if (who.email.size() > kMaxEmailChars || !ra::IsEmailAddress(who.email)) {
    return InvalidInput("email: '" + who.email + "' is not an email address");
  }
  if (who.name.empty()) return InvalidInput("name: is required");
  size_t offset = 0;
  if (Status st = CheckFieldText(who.name, &offset); !st.ok()) return st.Wrap("name");
  if (Utf8Length(who.name) > kMaxNameChars) {
    return InvalidInput("name: longer than " + std::to_string(kMaxNameChars) + " characters");
  }
  if (who.name.front() == ' ' || who.name.back() == ' ') {
    return InvalidInput("name: has leading or trailing spaces");
  }
  return Status::Ok();
}

Result<int64_t> Invite(store::Connection& db, const profiles::CardProfile& profile,
                       const NewInvitation& who, const InviteOptions& options) {
  CP_RETURN_IF_ERROR(CheckInvitee(who));
  CP_ASSIGN_OR_RETURN(int64_t ca_id, ra::ResolveCa(db, profile, options.ca_label));
  store::NewInvitation row;
  row.profile = profile.name;
  row.ca_id = ca_id;
  row.email = who.email;
  row.name = who.name;
  row.validity_seconds = options.validity_seconds;
  row.created_by = options.actor;
  int64_t id = 0;
  CP_RETURN_IF_ERROR(store::RunTransaction(db, [&](store::Connection& c) -> Status {
    CP_ASSIGN_OR_RETURN(id, store::InsertInvitation(c, row));
    CP_RETURN_IF_ERROR(QueueInvitationMail(c, id, profile.name, who));
    return store::AppendAudit(
        c, {options.actor, "invitation.create", "invitation:" + std::to_string(id),
            "profile=" + profile.name + " email=" + who.email});
  }));
  return id;
}

Result<std::vector<NewInvitation>> ReadInviteesCsv(
    const std::string& path, const std::function<void(const std::string&)>& on_error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open " + path);
  batch::CsvReader reader(in);
  batch::CsvRecord header, rec;
  batch::CsvError err;
  if (!reader.Next(&header, &err)) return InvalidInput(path + ": the file is empty");
  if (header.fields.empty()) {
    return InvalidInput(Where(path, err.line, err.column) + "header: " + err.message);
  }
  int email_col = -1, name_col = -1;
  for (size_t i = 0; i < header.fields.size(); ++i) {
    const auto& f = header.fields[i];
    int* col = f.value == "email" ? &email_col : f.value == "name" ? &name_col : nullptr;
    if (col == nullptr) {
      return InvalidInput(Where(path, f.line, f.column) + "unknown column '" + f.value +
                          "' (an invitation list has the columns email and name)");
    }
    if (*col >= 0) {
      return InvalidInput(Where(path, f.line, f.column) + "column '" + f.value + "' appears twice");
    }
    *col = static_cast<int>(i);
  }
  if (email_col < 0 || name_col < 0) {
    return InvalidInput(Where(path, header.line, 1) + "the columns email and name are required");
  }
  std::vector<NewInvitation> out;
  while (reader.Next(&rec, &err)) {
    if (rec.fields.empty()) {
      on_error(Where(path, err.line, err.column) + err.message);
      continue;
    }
    if (rec.fields.size() != header.fields.size()) {
      on_error(Where(path, rec.line, 1) + "expected " + std::to_string(header.fields.size()) +
               " fields, found " + std::to_string(rec.fields.size()));
      continue;
    }
    NewInvitation who{rec.fields[email_col].value, rec.fields[name_col].value};
    if (Status st = CheckInvitee(who); !st.ok()) {
      const auto& at =
          st.message().rfind("name", 0) == 0 ? rec.fields[name_col] : rec.fields[email_col];
      on_error(Where(path, at.line, at.column) + st.message());
      continue;
    }
    out.push_back(std::move(who));
  }
  return out;
}

Result<store::InvitationRow> FindOpenInvitation(store::Connection& db,
                                                const kgs::ActivationKeys& keys,
                                                std::string_view token, kgs::KnownLink* known) {
  static const char* kInvalid = "this invitation link is not valid";
  if (known != nullptr) *known = kgs::KnownLink{};
  if (!kgs::WellFormedLinkToken(token)) return NotFound(kInvalid);
  CP_ASSIGN_OR_RETURN(auto row,
                      store::FindInvitationByToken(db, kgs::InvitationMacs(keys, token), false));
  if (!row) return NotFound(kInvalid);
  if (row->state != store::kInvSent || row->expired) {
    if (known != nullptr) {
      *known = kgs::KnownLink{row->id, row->state == store::kInvSent ? "expired" : row->state};
    }
    return NotFound(kInvalid);
  }
  return *row;
}

std::map<std::string, std::string> InvitationFixedFields(const profiles::CardProfile& profile,
                                                         const store::InvitationRow& inv) {
  std::map<std::string, std::string> fixed;
  for (const auto& f : profile.fields) {
    if (f.kind == profiles::FieldKind::kEmail) fixed[f.name] = inv.email;
  }
  if (profile.Field("name") != nullptr) fixed["name"] = inv.name;
  const size_t space = inv.name.rfind(' ');
  if (profile.Field("given_name") != nullptr && profile.Field("surname") != nullptr &&
      space != std::string::npos) {
    fixed["given_name"] = inv.name.substr(0, space);
    fixed["surname"] = inv.name.substr(space + 1);
  }
  return fixed;
}

Result<ApplyOutcome> Apply(store::Connection& db, const profiles::ProfileSet& profiles,
                           const kgs::ActivationKeys& keys, std::string_view token,
                           const Application& app, const std::string& actor) {
  CP_ASSIGN_OR_RETURN(store::InvitationRow inv, FindOpenInvitation(db, keys, token));
  CP_ASSIGN_OR_RETURN(const profiles::CardProfile* profile, profiles.Card(inv.profile));
  ApplyOutcome out;
  // Empty optional fields are left out, as an empty CSV cell is.
  ra::Fields fields;
  for (const auto& [k, v] : app.fields) {
    if (!v.empty()) fields[k] = v;
  }
  // What the invitation fixed is the invitation's: refused when changed, as EJBCA-like RAs
  // refuse a request whose DN or email differs from a non-modifiable end-entity field (rather
  // than overwrite it silently, which would leave the applicant believing the certificate and
  // its mail go to the address they typed).
  // The other fields are still checked (with the invitation's values), so the form shows every
  // problem at once.
  std::vector<ra::FieldProblem> changed;
  for (const auto& [name, value] : InvitationFixedFields(*profile, inv)) {
    auto it = fields.find(name);
    if (it != fields.end() && it->second != value) {
      ra::FieldProblem p;
      p.field = name;
      p.message = name + ": is set by the invitation to '" + value + "' and cannot be changed";
      p.value = value;
      changed.push_back(std::move(p));
    }
    fields[name] = value;
  }
  const std::string object = "invitation:" + std::to_string(inv.id);
  const bool csr_profile = profile->token == profiles::TokenKind::kCsr;
  if (csr_profile) {
    out.problems = changed;
    if (app.csr.empty()) {
      out.problems.push_back({"csr", 0, "a certificate signing request (PKCS#10) is required"});
    }
    if (!out.problems.empty()) return out;
    // The invitation is taken first (sent -> applying), so that of two concurrent
    // applications exactly one submits; a refused CSR gives it back.
    Status taken = store::RunTransaction(db, [&](store::Connection& c) {
      return store::SetInvitationState(c, inv.id, store::kInvSent, store::kInvApplying);
    });
    if (taken.kind() == ErrorKind::kConflict) return NotFound("this invitation link is not valid");
    CP_RETURN_IF_ERROR(taken);
    ra::CsrSubmission s;
    s.source = "the application form";
    s.csr = app.csr;
    s.fields = fields;
    s.ca_id = inv.ca_id;
    s.actor = actor + " " + object;
    auto submitted = ra::SubmitCsr(db, profiles, *profile, s);
    if (!submitted.ok()) {
      store::RunTransaction(db, [&](store::Connection& c) {
        return store::SetInvitationState(c, inv.id, store::kInvApplying, store::kInvSent);
      }).IgnoreError();
      if (submitted.status().kind() != ErrorKind::kInvalidInput &&
          submitted.status().kind() != ErrorKind::kConflict) {
        return submitted.status();
      }
      out.problems.push_back({"csr", 0, submitted.status().message()});
      return out;
    }
    CP_RETURN_IF_ERROR(store::RunTransaction(db, [&](store::Connection& c) -> Status {
      CP_RETURN_IF_ERROR(store::SetInvitationState(c, inv.id, store::kInvApplying, store::kInvUsed,
                                                   submitted->id));
      return store::AppendAudit(
          c, {actor, "invitation.apply", object,
              "request=" + std::to_string(submitted->id) + " profile=" + profile->name});
    }));
    out.request_id = submitted->id;
    return out;
  }

  CP_ASSIGN_OR_RETURN(ra::RequestBuilder builder, ra::RequestBuilder::Create(*profile));
  out.problems = std::move(changed);
  for (auto& p : builder.Check(fields)) out.problems.push_back(std::move(p));
  if (!out.problems.empty()) return out;
  ra::FieldProblem problem;
  auto built = builder.Build(fields, &problem);
  if (!built.ok()) {
    problem.message = built.status().message();
    out.problems.push_back(problem);
    return out;
  }
  const std::string natural = profile->natural_key.empty() ? object : built->natural_key;
  store::NewRequest row = ra::NewRequestRow(*profile, inv.ca_id, std::move(built).value());
  row.submitted_by = object;
  row.natural_key = natural;
  std::string what;
  if (Status limit = store::CheckRequestLimits(row, &what); !limit.ok()) {
    out.problems.push_back({what == "natural_key" ? profile->natural_key : "", 0, limit.message()});
    return out;
  }
  Status st = store::RunTransaction(db, [&](store::Connection& c) -> Status {
    out.request_id = 0;  // a retried transaction starts over
    // Locked and checked again inside the transaction: one invitation, one application.
    CP_ASSIGN_OR_RETURN(auto locked, store::FindInvitationById(c, inv.id, true));
    if (!locked || locked->state != store::kInvSent || locked->expired) {
      return NotFound("this invitation link is not valid");
    }
    CP_ASSIGN_OR_RETURN(out.request_id, store::InsertRequest(c, row));
    CP_RETURN_IF_ERROR(
        store::SetInvitationState(c, inv.id, store::kInvSent, store::kInvUsed, out.request_id));
    return store::AppendAudit(
        c, {actor, "invitation.apply", object,
            "request=" + std::to_string(out.request_id) + " profile=" + profile->name});
  });
  if (st.kind() == ErrorKind::kConflict && out.request_id == 0) {
    // The natural key is taken by another request.
    out.problems.push_back({profile->natural_key, 0,
                            "a request with this " + profile->natural_key + " already exists"});
    return out;
  }
  CP_RETURN_IF_ERROR(st);
  return out;
}

}  // namespace certpress::web
