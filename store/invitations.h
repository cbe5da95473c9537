// invitations.h: the invitations repository (schema 12). An operator invites a person to
// apply for a certificate of a card profile; the person's application (web/) becomes a
// pending request. The link token is never stored: only its HMAC under an activation key
// (computed in kgs/web; this file moves bytes). Times are the database clock's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/db.h"

namespace certpress::store {

inline constexpr const char* kInvQueued = "queued";
inline constexpr const char* kInvSent = "sent";
inline constexpr const char* kInvApplying = "applying";
inline constexpr const char* kInvUsed = "used";
inline constexpr const char* kInvVoid = "void";

struct NewInvitation {
  std::string profile;
  int64_t ca_id = 0;
  std::string email;
  std::string name;
  int64_t validity_seconds = 14 * 24 * 3600;
  std::string created_by;
};

struct InvitationRow {
  int64_t id = 0;
  std::string profile;
  int64_t ca_id = 0;
  std::string email;
  std::string name;
  std::string state;
  std::optional<int64_t> request_id;
  std::string expires_at;  // "YYYY-MM-DD HH:MM:SS" UTC, empty before the link exists
  bool expired = false;    // expires_at <= NOW(6) when read
  std::string created_at;
};

// InsertInvitation stores a queued invitation (no link yet) and returns its id.
Result<int64_t> InsertInvitation(Connection& conn, const NewInvitation& inv);

// SetInvitationLink stores the HMAC of a new link token for invitation |id| (state sent, expiry
// validity_seconds from now by the database clock); a previous link stops working. Conflict
// unless the invitation is queued or sent.
[[nodiscard]] Status SetInvitationLink(Connection& conn, int64_t id, int64_t key_id,
                                       std::string_view token_hmac);

// FindInvitationByToken reads (and with |lock| locks) the invitation whose token HMAC is one of
// |hmacs|.
Result<std::optional<InvitationRow>> FindInvitationByToken(Connection& conn,
                                                           const std::vector<std::string>& hmacs,
                                                           bool lock);
Result<std::optional<InvitationRow>> FindInvitationById(Connection& conn, int64_t id, bool lock);

// SetInvitationState moves invitation |id| from |from| to |to| (and records |request_id| when
// given): Conflict if it was not in |from| (another application got there first).
[[nodiscard]] Status SetInvitationState(Connection& conn, int64_t id, const char* from,
                                        const char* to,
                                        std::optional<int64_t> request_id = std::nullopt);

Result<std::vector<InvitationRow>> ListInvitations(Connection& conn);

}  // namespace certpress::store
