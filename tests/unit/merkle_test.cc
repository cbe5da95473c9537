// RFC 6962 Merkle trees: every leaf's inclusion path verifies against the root, nothing else
// does, and the root agrees with a bottom-up construction written independently here.
#include "common/merkle.h"

#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <string>

namespace certpress::merkle {
namespace {

std::vector<Hash> Leaves(size_t n) {
  std::vector<Hash> out;
  for (size_t i = 0; i < n; ++i) {
    const std::string d = "leaf " + std::to_string(i);
    out.push_back(LeafHash(AsBytes(d)));
  }
  return out;
}

// BottomUp pairs neighbours level by level and carries an odd last node up unchanged, which
// is the same tree as RFC 6962's split at the largest power of two.
Hash BottomUp(std::vector<Hash> level) {
  while (level.size() > 1) {
    std::vector<Hash> up;
    for (size_t i = 0; i + 1 < level.size(); i += 2) {
      uint8_t buf[65];
      buf[0] = 0x01;
      std::copy(level[i].begin(), level[i].end(), buf + 1);
      std::copy(level[i + 1].begin(), level[i + 1].end(), buf + 33);
      Hash h;
      SHA256(buf, sizeof buf, h.data());
      up.push_back(h);
    }
    if (level.size() % 2) up.push_back(level.back());
    level = std::move(up);
  }
  return level[0];
}

TEST(MerkleTest, LeafHashHasTheZeroPrefix) {
  const uint8_t data[] = {0x00, 'a', 'b', 'c'};
  Hash want;
  SHA256(data, sizeof data, want.data());
  const std::string abc = "abc";
  EXPECT_EQ(LeafHash(AsBytes(abc)), want);
}

TEST(MerkleTest, EveryPathVerifiesAndTheRootMatchesABottomUpTree) {
  for (size_t n = 1; n <= 40; ++n) {
    const auto leaves = Leaves(n);
    const Hash root = Root(leaves);
    EXPECT_EQ(root, BottomUp(leaves)) << n;
    for (size_t i = 0; i < n; ++i) {
      const auto path = InclusionPath(leaves, i);
      EXPECT_TRUE(VerifyInclusion(leaves[i], i, n, path, root)) << n << " " << i;
    }
  }
}

TEST(MerkleTest, AChangedLeafIndexOrPathDoesNotVerify) {
  const auto leaves = Leaves(13);
  const Hash root = Root(leaves);
  const auto path = InclusionPath(leaves, 6);
  ASSERT_TRUE(VerifyInclusion(leaves[6], 6, 13, path, root));
  EXPECT_FALSE(VerifyInclusion(leaves[7], 6, 13, path, root));   // another leaf
  EXPECT_FALSE(VerifyInclusion(leaves[6], 7, 13, path, root));   // another place
  EXPECT_FALSE(VerifyInclusion(leaves[6], 6, 8, path, root));    // a tree of another shape
  EXPECT_FALSE(VerifyInclusion(leaves[6], 13, 13, path, root));  // out of range
  auto bad = path;
  bad[1][0] ^= 1;
  EXPECT_FALSE(VerifyInclusion(leaves[6], 6, 13, bad, root));
  bad = path;
  bad.pop_back();
  EXPECT_FALSE(VerifyInclusion(leaves[6], 6, 13, bad, root));
}

}  // namespace
}  // namespace certpress::merkle
