#include "kgs/invitation_links.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>

#include "common/texts.h"
#include "kgs/mailer.h"
#include "store/invitations.h"

namespace certpress::kgs {

namespace {

// RFC 4648 5, unpadded.
std::string Base64Url(const unsigned char* p, size_t n) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    acc = (acc << 8) | p[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
  return out;
}

}  // namespace

bool WellFormedLinkToken(std::string_view token) {
  return token.size() == 43 && std::all_of(token.begin(), token.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
         });
}

std::vector<std::string> InvitationMacs(const ActivationKeys& keys, std::string_view token) {
  std::vector<std::string> out;
  for (int64_t id = keys.current_id(); id >= 1; --id) {
    std::string mac = keys.Mac(id, kInvitationLinkLabel, token);
    if (!mac.empty()) out.push_back(std::move(mac));
  }
  return out;
}

Result<MintedLink> MintInvitationLink(store::Connection& db, const ActivationKeys& keys,
                                      int64_t invitation_id) {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return Internal("RAND_bytes failed");
  SecureString token(Base64Url(raw, sizeof raw));
  OPENSSL_cleanse(raw, sizeof raw);
  const std::string mac = keys.Mac(keys.current_id(), kInvitationLinkLabel, token.view());
  if (mac.empty()) return Internal("no activation key to protect the invitation link");
  CP_RETURN_IF_ERROR(store::SetInvitationLink(db, invitation_id, keys.current_id(), mac));
  CP_ASSIGN_OR_RETURN(auto row, store::FindInvitationById(db, invitation_id, false));
  MintedLink out;
  out.token = std::move(token);
  out.expires_at = row ? row->expires_at : "";
  return out;
}

Result<RenderedMail> RenderInvitationMail(Lang lang, std::string_view name, std::string_view link,
                                          std::string_view expiry) {
  profiles::ActivationSpec spec;
  spec.mail_subject = std::string(T(lang, Txt::kInvitationSubject));
  spec.mail_text = std::string(T(lang, Txt::kInvitationText));
  spec.mail_html = std::string(T(lang, Txt::kInvitationHtml));
  return RenderMail(spec, name, link, expiry);
}

Composer InvitationComposer(std::shared_ptr<const ActivationKeys> keys, std::string public_url) {
  while (!public_url.empty() && public_url.back() == '/') public_url.pop_back();
  return [keys = std::move(keys), base = std::move(public_url)](
             store::Connection& db, const store::OutboxRow& row,
             const profiles::ProfileSet& profiles) -> Result<RenderedMail> {
    // A profile since removed from the configuration still gets its mail, in English.
    Lang lang = Lang::kEn;
    if (auto card = profiles.Card(row.profile); card.ok()) lang = (*card)->activation.language;
    // The link is minted now, in memory only, and is gone once the mail is rendered.
    CP_ASSIGN_OR_RETURN(MintedLink minted, MintInvitationLink(db, *keys, row.ref_id));
    SecureString link(base + "/apply/" + minted.token.str());
    return RenderInvitationMail(lang, row.recipient_name, link.view(),
                                minted.expires_at.substr(0, 16) + " UTC");
  };
}

}  // namespace certpress::kgs
