// invitation_links.h: the link tokens of invitations (store/invitations.h), kept as activation
// links are (kgs/activations.h): 256 random bits, base64url, minted when the invitation mail is
// sent so the clear token lives only in memory between minting and sending, and stored only as
// HMAC-SHA256 under an activation key (label "certpress-invitation-link-v1", so an invitation
// token is never an activation token or the reverse).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"
#include "kgs/activations.h"
#include "kgs/mailer.h"
#include "store/db.h"

namespace certpress::kgs {

inline constexpr std::string_view kInvitationLinkLabel = "certpress-invitation-link-v1";

// MintInvitationLink draws a new token for invitation |invitation_id| and stores its HMAC under
// the current activation key (state sent, expiry from now by the database clock); an earlier
// link stops working. Conflict if the invitation is no longer open (applied for, or missing).
Result<MintedLink> MintInvitationLink(store::Connection& db, const ActivationKeys& keys,
                                      int64_t invitation_id);

// InvitationComposer is the mailer's composer for outbox rows of kind "invitation"
// (MailSettings::composers): it mints the row's invitation link under |keys| and renders the
// mail with |public_url| + "/apply/" + token, in the language of the invited profile (its
// activation.language). An invitation no longer open voids its mail.
Composer InvitationComposer(std::shared_ptr<const ActivationKeys> keys, std::string public_url);

// RenderInvitationMail is the invitation's mail in |lang| (common/texts.h): |name| invited to
// apply at |link| before |expiry| (values HTML-escaped in the HTML part; kgs/mailer.h
// RenderMail).
Result<RenderedMail> RenderInvitationMail(Lang lang, std::string_view name, std::string_view link,
                                          std::string_view expiry);

// InvitationMacs returns the HMAC of |token| under each activation key up to the current one
// (a lookup tries them all, so a key rotation does not orphan links).
std::vector<std::string> InvitationMacs(const ActivationKeys& keys, std::string_view token);

// WellFormedLinkToken: 43 base64url characters (256 bits), as minted. Anything else is not
// looked up.
bool WellFormedLinkToken(std::string_view token);

}  // namespace certpress::kgs
