// token_keys.h: who creates the token keys CertPress makes on first use (kgs/token_keys.h).
#pragma once

#include <optional>
#include <string>

#include "common/status.h"
#include "store/db.h"

namespace certpress::store {

struct TokenKeyClaim {
  std::string label;
  std::string kind;
  std::string claimed_by;
  std::string claimed_at;  // UTC "YYYY-MM-DD HH:MM:SS"
  bool created = false;
  bool stale = false;  // claimed, not created, and claimed longer ago than the takeover age
};

// ClaimTokenKey, inside the caller's transaction, returns the row of |label| locked (SELECT
// ... FOR UPDATE), after making |claimer| its creator where nobody is: a new row, or a stale
// claim (not created |takeover_seconds| after it was made: its claimer died) taken over.
// claimed_by then equals |claimer|; otherwise the row names who holds it.
Result<TokenKeyClaim> ClaimTokenKey(Connection& conn, const std::string& label,
                                    const std::string& kind, const std::string& claimer,
                                    int takeover_seconds);

// MarkTokenKeyCreated records that |claimer| created |label|; a conflict if the claim is no
// longer theirs (taken over meanwhile).
[[nodiscard]] Status MarkTokenKeyCreated(Connection& conn, const std::string& label,
                                         const std::string& claimer);

// FindTokenKey returns the row of |label|, if any.
Result<std::optional<TokenKeyClaim>> FindTokenKey(Connection& conn, const std::string& label);

}  // namespace certpress::store
