#include "kgs/invitation_links.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>

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

Result<SecureString> MintInvitationLink(store::Connection& db, const ActivationKeys& keys,
                                        int64_t invitation_id) {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return Internal("RAND_bytes failed");
  SecureString token(Base64Url(raw, sizeof raw));
  OPENSSL_cleanse(raw, sizeof raw);
  const std::string mac = keys.Mac(keys.current_id(), kInvitationLinkLabel, token.view());
  if (mac.empty()) return Internal("no activation key to protect the invitation link");
  CP_RETURN_IF_ERROR(store::SetInvitationLink(db, invitation_id, keys.current_id(), mac));
  return token;
}

}  // namespace certpress::kgs
