#include "signer/der.h"

#include <gtest/gtest.h>

namespace certpress::der {
namespace {

TEST(DerTest, EncodesOidsLikeX690) {
  auto oid = EncodeOid("1.2.840.10045.2.1");
  ASSERT_TRUE(oid.ok());
  EXPECT_EQ(HexEncode(*oid), "2a8648ce3d0201");
  EXPECT_EQ(OidToString(*oid), "1.2.840.10045.2.1");
  EXPECT_EQ(HexEncode(*EncodeOid("2.5.29.19")), "551d13");
  EXPECT_FALSE(EncodeOid("1").ok());
  EXPECT_FALSE(EncodeOid("3.1").ok());
  EXPECT_FALSE(EncodeOid("1..2").ok());
  EXPECT_FALSE(EncodeOid("1.40").ok());
}

TEST(DerTest, IntegersAreMinimalAndPositive) {
  Writer w;
  const uint8_t high[] = {0x00, 0x00, 0x80, 0x01};
  w.Integer(high);
  EXPECT_EQ(HexEncode(w.bytes()), "0203008001");
  Writer z;
  const uint8_t zero[] = {0x00, 0x00};
  z.Integer(zero);
  EXPECT_EQ(HexEncode(z.bytes()), "020100");
  Writer s;
  s.SmallInteger(2);
  EXPECT_EQ(HexEncode(s.bytes()), "020102");
}

TEST(DerTest, LongLengthsAreFixedUpOnEnd) {
  Writer w;
  size_t m = w.Begin(kSequence);
  Bytes big(300, 0xab);
  w.Primitive(kOctetString, big);
  w.End(m);
  // 30 82 01 30 | 04 82 01 2c ...
  EXPECT_EQ(HexEncode(ByteSpan(w.bytes()).subspan(0, 8)),
            "30820130"
            "0482012c");
  Reader r(w.bytes());
  ByteSpan content;
  ASSERT_TRUE(r.Read(kSequence, &content));
  EXPECT_TRUE(r.empty());
  Reader inner(content);
  ByteSpan os;
  ASSERT_TRUE(inner.Read(kOctetString, &os));
  EXPECT_EQ(os.size(), 300u);
}

TEST(DerTest, ReaderRejectsMalformedInput) {
  const uint8_t truncated[] = {0x30, 0x05, 0x02, 0x01};
  ByteSpan c;
  EXPECT_FALSE(Reader(truncated).Read(kSequence, &c));
  const uint8_t indefinite[] = {0x30, 0x80, 0x00, 0x00};
  EXPECT_FALSE(Reader(indefinite).Read(kSequence, &c));
  const uint8_t nonminimal[] = {0x04, 0x81, 0x01, 0xff};  // length 1 in long form
  EXPECT_FALSE(Reader(nonminimal).Read(kOctetString, &c));
  const uint8_t wrong_tag[] = {0x02, 0x01, 0x01};
  EXPECT_FALSE(Reader(wrong_tag).Read(kSequence, &c));
}

TEST(DerTest, TimeSwitchesToGeneralizedTimeIn2050) {
  Writer w;
  w.Time(2524607999);  // 2049-12-31 23:59:59Z
  w.Time(2524608000);  // 2050-01-01 00:00:00Z
  Reader r(w.bytes());
  uint8_t t1, t2;
  ByteSpan c1, c2;
  ASSERT_TRUE(r.ReadAny(&t1, &c1));
  ASSERT_TRUE(r.ReadAny(&t2, &c2));
  EXPECT_EQ(t1, kUtcTime);
  EXPECT_EQ(AsString(c1), "491231235959Z");
  EXPECT_EQ(t2, kGeneralizedTime);
  EXPECT_EQ(AsString(c2), "20500101000000Z");
  time_t back;
  ASSERT_TRUE(ParseTime(t2, c2, &back));
  EXPECT_EQ(back, 2524608000);
}

}  // namespace
}  // namespace certpress::der
