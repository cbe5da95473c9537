#include "common/merkle.h"

#include <openssl/sha.h>

namespace certpress::merkle {

namespace {

Hash NodeHash(const Hash& left, const Hash& right) {
  uint8_t buf[65];
  buf[0] = 0x01;
  std::copy(left.begin(), left.end(), buf + 1);
  std::copy(right.begin(), right.end(), buf + 33);
  Hash h;
  SHA256(buf, sizeof buf, h.data());
  return h;
}

// Split is the largest power of two smaller than n (n > 1).
size_t Split(size_t n) {
  size_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

Hash RootOf(const Hash* leaves, size_t n) {
  if (n == 1) return leaves[0];
  const size_t k = Split(n);
  return NodeHash(RootOf(leaves, k), RootOf(leaves + k, n - k));
}

void PathOf(const Hash* leaves, size_t n, size_t m, std::vector<Hash>& out) {
  if (n <= 1) return;
  const size_t k = Split(n);
  if (m < k) {
    PathOf(leaves, k, m, out);
    out.push_back(RootOf(leaves + k, n - k));
  } else {
    PathOf(leaves + k, n - k, m - k, out);
    out.push_back(RootOf(leaves, k));
  }
}

}  // namespace

Hash LeafHash(ByteSpan data) {
  Bytes buf;
  buf.reserve(data.size() + 1);
  buf.push_back(0x00);
  buf.insert(buf.end(), data.begin(), data.end());
  Hash h;
  SHA256(buf.data(), buf.size(), h.data());
  return h;
}

Hash Root(const std::vector<Hash>& leaves) {
  if (leaves.empty()) {
    Hash h;
    SHA256(nullptr, 0, h.data());
    return h;
  }
  return RootOf(leaves.data(), leaves.size());
}

std::vector<Hash> InclusionPath(const std::vector<Hash>& leaves, size_t index) {
  std::vector<Hash> out;
  if (index < leaves.size()) PathOf(leaves.data(), leaves.size(), index, out);
  return out;
}

bool VerifyInclusion(const Hash& leaf, size_t index, size_t size, const std::vector<Hash>& path,
                     const Hash& root) {
  if (index >= size) return false;
  size_t fn = index, sn = size - 1;
  Hash r = leaf;
  for (const Hash& p : path) {
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      r = NodeHash(p, r);
      if (!(fn & 1)) {
        while (fn != 0 && !(fn & 1)) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

}  // namespace certpress::merkle
