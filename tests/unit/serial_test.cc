#include "signer/serial.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>

#include "signer/der.h"

namespace certpress {
namespace {

TEST(SerialTest, TenThousandSerialsArePositiveShortUniqueAndRandom) {
  constexpr int kN = 10000;
  std::set<std::string> seen;
  std::array<int, 128> ones{};
  for (int i = 0; i < kN; ++i) {
    auto s = RandomSerial();
    ASSERT_TRUE(s.ok());
    // DER INTEGER: positive and at most 20 octets (RFC 5280 4.1.2.2).
    der::Writer w;
    w.Integer(s->span());
    der::Reader r(w.bytes());
    ByteSpan content;
    ASSERT_TRUE(r.Read(der::kInteger, &content));
    ASSERT_LE(content.size(), 20u);
    ASSERT_GE(content.size(), 1u);
    ASSERT_EQ(content[0] & 0x80, 0) << "negative serial";
    ASSERT_TRUE(seen.insert(s->Hex()).second) << "duplicate serial " << s->Hex();
    // Count bits over the 128-bit value (leading zero octets were stripped).
    uint8_t full[16] = {};
    std::memcpy(full + 16 - s->len, s->bytes, s->len);
    for (int b = 0; b < 128; ++b) ones[b] += (full[b / 8] >> (7 - b % 8)) & 1;
  }
  // Each bit is set about half the time: mean 5000, sigma 50; 4700..5300 is six sigma.
  for (int b = 0; b < 128; ++b) {
    EXPECT_GT(ones[b], 4700) << "bit " << b;
    EXPECT_LT(ones[b], 5300) << "bit " << b;
  }
}

TEST(SerialTest, HexRoundTrip) {
  auto s = SerialFromHex("00A1B2");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->Hex(), "A1B2");
  EXPECT_FALSE(SerialFromHex("00").ok());
  EXPECT_FALSE(SerialFromHex(std::string(42, 'F')).ok());
  EXPECT_FALSE(SerialFromHex("XYZ").ok());
}

}  // namespace
}  // namespace certpress
