// merkle.h: RFC 6962 Merkle trees (2.1): leaf hash SHA-256(0x00 || data), node hash
// SHA-256(0x01 || left || right), a tree of n leaves split at the largest power of two below n.
// The audit log records one root per issued chunk, so every certificate stays provable
// (`certpress audit prove`) with one audit row per chunk instead of one per certificate.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"

namespace certpress::merkle {

using Hash = std::array<uint8_t, 32>;

// LeafHash is SHA-256(0x00 || data) (RFC 6962 2.1).
Hash LeafHash(ByteSpan data);
// Root is MTH(leaves) over leaf hashes; the root of no leaves is SHA-256 of nothing.
Hash Root(const std::vector<Hash>& leaves);
// InclusionPath is PATH(index, leaves) (RFC 6962 2.1.1); |index| must be below the size.
std::vector<Hash> InclusionPath(const std::vector<Hash>& leaves, size_t index);
// VerifyInclusion recomputes the root from |leaf| at |index| of a tree of |size| leaves and
// |path|, and compares it with |root| (RFC 9162 2.1.3.2).
bool VerifyInclusion(const Hash& leaf, size_t index, size_t size, const std::vector<Hash>& path,
                     const Hash& root);

}  // namespace certpress::merkle
