// invitations.h: inviting people to apply for a certificate, and their applications. An
// operator invites one person (email and name) or many (a CSV with email and name columns);
// each invitation is stored and its mail queued in the outbox (the mailer mints the link when
// it sends, kgs/invitation_links.h). The person's application is the profile's fields, checked
// exactly as a CSV row is (ra::RequestBuilder, store::CheckRequestLimits), and, for a profile
// whose key is the requester's, a PKCS#10 request (ra::SubmitCsr); it becomes a pending
// request for the usual approval. One invitation, one application.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cardprofiles/profile.h"
#include "common/status.h"
#include "kgs/activations.h"
#include "ra/request_builder.h"
#include "store/db.h"
#include "store/invitations.h"

namespace certpress::web {

struct NewInvitation {
  std::string email;
  std::string name;
};

struct InviteOptions {
  std::string ca_label;  // empty: the profile's default CA
  int64_t validity_seconds = 14 * 24 * 3600;
  std::string actor;
};

// CheckInvitee checks an address and a name (the name's text as request fields are checked).
[[nodiscard]] Status CheckInvitee(const NewInvitation& who);

// Invite stores the invitation and queues its mail in one transaction, audited
// ("invitation.create"). Returns its id.
Result<int64_t> Invite(store::Connection& db, const profiles::CardProfile& profile,
                       const NewInvitation& who, const InviteOptions& options);

// ReadInviteesCsv reads a CSV with columns email and name (a header row naming them, in any
// order, other columns refused). Each bad row is reported as "FILE:LINE:COLUMN: reason" to
// |on_error| and skipped.
Result<std::vector<NewInvitation>> ReadInviteesCsv(
    const std::string& path, const std::function<void(const std::string&)>& on_error);

// FindOpenInvitation looks up a link: a sent invitation whose link has not expired. Unknown,
// used, expired and replaced links are all the same NotFound; |known| (when given) is set for
// an invitation that exists but is not open (its id, and "expired", "used", "applying" or
// "void"), so the caller audits only refusals of real links.
Result<store::InvitationRow> FindOpenInvitation(store::Connection& db,
                                                const kgs::ActivationKeys& keys,
                                                std::string_view token,
                                                kgs::KnownLink* known = nullptr);

// InvitationFixedFields are the fields of |profile| that invitation |inv| already decides:
// every email field is the invited address, and the invited name fills a "name" field, or
// "given_name" and "surname" (split at the last space) where the profile has both. The form
// shows them read-only and Apply refuses an application that changes one, so that the
// certificate's address (rfc822Name, UPN) and the activation mail go to the invited person,
// not to whoever the invitation mail was forwarded to.
std::map<std::string, std::string> InvitationFixedFields(const profiles::CardProfile& profile,
                                                         const store::InvitationRow& inv);

struct Application {
  ra::Fields fields;
  std::string csr;  // PEM, for profiles whose key is the requester's; else empty
};

struct ApplyOutcome {
  int64_t request_id = 0;                  // set when the request was created
  std::vector<ra::FieldProblem> problems;  // per field (field empty: the application)
};

// Apply turns an application into a pending request. Problems with the fields or the CSR
// come back in the outcome (nothing stored, the invitation still open); a link that is not
// open is NotFound. A field the invitation fixed (InvitationFixedFields) takes the
// invitation's value when left empty and is a problem when it differs. Audited
// ("invitation.apply").
Result<ApplyOutcome> Apply(store::Connection& db, const profiles::ProfileSet& profiles,
                           const kgs::ActivationKeys& keys, std::string_view token,
                           const Application& app, const std::string& actor);

}  // namespace certpress::web
