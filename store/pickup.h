// pickup.h: what a pickup changes besides its activation: the request becomes delivered and,
// unless its profile archives keys, its stored private keys are destroyed.
#pragma once

#include <cstdint>

#include "common/status.h"
#include "store/db.h"

namespace certpress::store {

inline constexpr const char* kDelivered = "delivered";

// DestroyPrivateKeys deletes the sealed private keys of |request_id|; returns how many.
Result<int64_t> DestroyPrivateKeys(Connection& conn, int64_t request_id);

// MarkDelivered moves issued request |request_id| to delivered (a request already delivered
// stays so: a re-sent link picked up again is not an error here).
[[nodiscard]] Status MarkDelivered(Connection& conn, int64_t request_id);

}  // namespace certpress::store
