// apdu_test.cc: the APDU transport (kgs/apdu.h) and BER-TLV (kgs/tlv.h) against a scripted
// card: encodings, chaining, 61xx and 6Cxx, bounds on loops and lengths, faults, resets.
#include "kgs/apdu.h"

#include <gtest/gtest.h>

#include "kgs/tlv.h"
#include "tests/support/scripted_card.h"

namespace certpress::kgs {
namespace {

using testing::ScriptedCard;

Command Cmd(uint8_t ins, Bytes data = {}, std::optional<uint32_t> le = std::nullopt) {
  Command c;
  c.ins = ins;
  c.data = std::move(data);
  c.le = le;
  return c;
}

TEST(ApduEncodingTest, ShortAndExtendedCases) {
  // ISO 7816-4 5.1: case 1, 2 (Le 256 as 00), 3, 4.
  EXPECT_EQ(*EncodeCommand(Cmd(0xA4), false), (Bytes{0, 0xA4, 0, 0}));
  EXPECT_EQ(*EncodeCommand(Cmd(0xCB, {}, 256), false), (Bytes{0, 0xCB, 0, 0, 0x00}));
  EXPECT_EQ(*EncodeCommand(Cmd(0xDB, {1, 2}), false), (Bytes{0, 0xDB, 0, 0, 2, 1, 2}));
  EXPECT_EQ(*EncodeCommand(Cmd(0x87, {9}, 16), false), (Bytes{0, 0x87, 0, 0, 1, 9, 16}));
  // Extended: 00 Lc Lc data Le Le, Le 65536 as 0000.
  EXPECT_EQ(*EncodeCommand(Cmd(0x87, {9}, 65536), true), (Bytes{0, 0x87, 0, 0, 0, 0, 1, 9, 0, 0}));
  EXPECT_EQ(*EncodeCommand(Cmd(0xCB, {}, 300), false), (Bytes{0, 0xCB, 0, 0, 0, 0x01, 0x2C}));
  Bytes big(300, 0xAB);
  auto e = EncodeCommand(Cmd(0xDB, big), false);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->size(), 4u + 3u + 300u);
  EXPECT_EQ((*e)[4], 0);
  EXPECT_EQ((*e)[5], 0x01);
  EXPECT_EQ((*e)[6], 0x2C);
}

TEST(ApduEncodingTest, RefusesImpossibleLengths) {
  EXPECT_FALSE(EncodeCommand(Cmd(0xDB, Bytes(65536)), true).ok());
  EXPECT_FALSE(EncodeCommand(Cmd(0xCB, {}, 65537), true).ok());
  EXPECT_FALSE(EncodeCommand(Cmd(0xCB, {}, 0), false).ok());
}

TEST(ApduChannelTest, StatusWordIsDataNotAnError) {
  ScriptedCard card({ScriptedCard::Data({}, 0x6A82)});
  ApduChannel ch(card);
  auto r = ch.Send(Cmd(0xCB, {}, 256));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->sw, 0x6A82);
  auto e = ch.Expect(Cmd(0xCB, {}, 256), "GET DATA");
  EXPECT_FALSE(e.ok());
}

TEST(ApduChannelTest, ChainsLongDataWithTheChainingBit) {
  ScriptedCard card([](const Bytes&) { return ScriptedCard::Data({}); });
  ApduChannel ch(card);
  Bytes data(600);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i);
  auto r = ch.Send(Cmd(0xDB, data, 256));
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(card.sent.size(), 3u);
  // 255 + 255 + 90 bytes; CLA 10 on all but the last, which alone carries Le.
  EXPECT_EQ(card.sent[0][0], 0x10);
  EXPECT_EQ(card.sent[0][4], 255);
  EXPECT_EQ(card.sent[0].size(), 5u + 255u);
  EXPECT_EQ(card.sent[1][0], 0x10);
  EXPECT_EQ(card.sent[2][0], 0x00);
  EXPECT_EQ(card.sent[2][4], 90);
  EXPECT_EQ(card.sent[2].size(), 5u + 90u + 1u);
  Bytes joined;
  for (const Bytes& part : card.sent) {
    joined.insert(joined.end(), part.begin() + 5, part.begin() + 5 + part[4]);
  }
  EXPECT_EQ(joined, data);
}

TEST(ApduChannelTest, ChainEndsAtTheFirstRefusedPart) {
  ScriptedCard card(
      {ScriptedCard::Data({}), ScriptedCard::Data({}, 0x6A80), ScriptedCard::Data({})});
  ApduChannel ch(card);
  auto r = ch.Send(Cmd(0xDB, Bytes(700)));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->sw, 0x6A80);
  EXPECT_EQ(card.sent.size(), 2u);
}

TEST(ApduChannelTest, ExtendedLengthWhereTheLinkTakesIt) {
  ScriptedCard card([](const Bytes&) { return ScriptedCard::Data({}); });
  card.extended = true;
  ApduChannel ch(card);
  ASSERT_TRUE(ch.Send(Cmd(0xDB, Bytes(600))).ok());
  ASSERT_EQ(card.sent.size(), 1u);
  EXPECT_EQ(card.sent[0][4], 0x00);  // extended Lc
  EXPECT_EQ(card.sent[0].size(), 4u + 3u + 600u);
}

TEST(ApduChannelTest, GetResponseAssemblesTheWholeAnswer) {
  ScriptedCard card({ScriptedCard::Data({1, 2, 3}, 0x6103), ScriptedCard::Data({4, 5, 6}, 0x6100),
                     ScriptedCard::Data(Bytes(256, 7))});
  ApduChannel ch(card);
  auto r = ch.Send(Cmd(0x47, {1}, 256));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->sw, 0x9000);
  ASSERT_EQ(r->data.size(), 3u + 3u + 256u);
  EXPECT_EQ(r->data[3], 4);
  // GET RESPONSE with Le = 03, then 00 (256).
  EXPECT_EQ(card.sent[1], (Bytes{0x00, 0xC0, 0x00, 0x00, 0x03}));
  EXPECT_EQ(card.sent[2], (Bytes{0x00, 0xC0, 0x00, 0x00, 0x00}));
}

TEST(ApduChannelTest, GetResponseLoopEnds) {
  ScriptedCard card([](const Bytes&) { return ScriptedCard::Data({1}, 0x6101); });
  Limits limits;
  limits.max_get_response = 10;
  ApduChannel ch(card, limits);
  auto r = ch.Send(Cmd(0xCB, {}, 256));
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("61xx"), std::string::npos);
  EXPECT_EQ(card.sent.size(), 11u);
}

TEST(ApduChannelTest, ResponseGrowingPastTheLimitIsRefused) {
  ScriptedCard card([](const Bytes&) { return ScriptedCard::Data(Bytes(200, 1), 0x6100); });
  Limits limits;
  limits.max_response_data = 1000;
  ApduChannel ch(card, limits);
  auto r = ch.Send(Cmd(0xCB, {}, 256));
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("limit"), std::string::npos);
  EXPECT_LE(card.sent.size(), 6u);
}

TEST(ApduChannelTest, WrongLeIsRetriedWithTheCardsLength) {
  ScriptedCard card({ScriptedCard::Data({}, 0x6C05), ScriptedCard::Data({1, 2, 3, 4, 5})});
  ApduChannel ch(card);
  auto r = ch.Send(Cmd(0xF8, {}, 256));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->data.size(), 5u);
  EXPECT_EQ(card.sent[1], (Bytes{0x00, 0xF8, 0x00, 0x00, 0x05}));
}

TEST(ApduChannelTest, WrongLeLoopEnds) {
  ScriptedCard card([](const Bytes&) { return ScriptedCard::Data({}, 0x6C10); });
  ApduChannel ch(card);
  auto r = ch.Send(Cmd(0xF8, {}, 256));
  EXPECT_FALSE(r.ok());
  EXPECT_LE(card.sent.size(), 3u);
}

TEST(ApduChannelTest, AnswerWithoutStatusWordIsAnError) {
  ScriptedCard card({ScriptedCard::Ok({0x90})});
  ApduChannel ch(card);
  auto r = ch.Send(Cmd(0xA4));
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no status word"), std::string::npos);
}

TEST(ApduChannelTest, OversizedSingleAnswerIsRefused) {
  ScriptedCard card({ScriptedCard::Data(Bytes(5000))});
  Limits limits;
  limits.max_response_data = 4096;
  ApduChannel ch(card, limits);
  EXPECT_FALSE(ch.Send(Cmd(0xCB, {}, 256)).ok());
}

TEST(ApduChannelTest, RemovedCardIsReportedAndEndsTheWork) {
  ScriptedCard card({ScriptedCard::Fault(Link::kRemoved)});
  ApduChannel ch(card);
  auto r = ch.Send(Cmd(0xA4));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), ErrorKind::kCard);
  EXPECT_NE(r.status().message().find("removed"), std::string::npos);
  EXPECT_TRUE(ch.removed());
  EXPECT_FALSE(ch.Send(Cmd(0xA4)).ok());
  EXPECT_EQ(card.sent.size(), 1u);  // nothing more goes to a card that is gone
}

TEST(ApduChannelTest, ResetReconnectsReselectsAndRepeatsTheCommand) {
  int calls = 0;
  ScriptedCard card([&](const Bytes& cmd) {
    ++calls;
    if (calls == 1) return ScriptedCard::Fault(Link::kReset);
    if (cmd[1] == 0xA4) return ScriptedCard::Data({});  // the reselect
    return ScriptedCard::Data({0x42});
  });
  ApduChannel ch(card);
  int recovered = 0;
  ch.SetRecovery([&](const Bytes&) {
    ++recovered;
    auto r = ch.Expect(Cmd(0xA4), "SELECT");
    return r.ok() ? Status::Ok() : r.status();
  });
  auto r = ch.Send(Cmd(0xCB, {}, 256));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->data, Bytes{0x42});
  EXPECT_EQ(card.reconnects, 1);
  EXPECT_EQ(recovered, 1);
  ASSERT_EQ(card.sent.size(), 3u);  // the reset one, SELECT, the command again
  EXPECT_EQ(card.sent[1][1], 0xA4);
  EXPECT_EQ(card.sent[2][1], 0xCB);
}

TEST(ApduChannelTest, ResetRecoveryThatFindsAnotherCardFails) {
  ScriptedCard card({ScriptedCard::Fault(Link::kReset)});
  ApduChannel ch(card);
  ch.SetRecovery([](const Bytes&) { return CardError("another card"); });
  auto r = ch.Send(Cmd(0xCB, {}, 256));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("another card"), std::string::npos);
  EXPECT_EQ(card.sent.size(), 1u);
}

TEST(ApduChannelTest, ResetsAreRecoveredAtMostOncePerCommand) {
  ScriptedCard card([](const Bytes&) { return ScriptedCard::Fault(Link::kReset); });
  ApduChannel ch(card);
  ch.SetRecovery([](const Bytes&) { return Status::Ok(); });
  EXPECT_FALSE(ch.Send(Cmd(0xCB, {}, 256)).ok());
  EXPECT_EQ(card.reconnects, 1);
  EXPECT_EQ(card.sent.size(), 2u);
}

TEST(ApduChannelTest, ACommandThatOutlastsItsDeadlineTimesOut) {
  auto now = std::chrono::steady_clock::time_point{};
  ScriptedCard card([&](const Bytes&) {
    now += std::chrono::seconds(20);  // a slow card: 20 s per answer
    return ScriptedCard::Data({1}, 0x6101);
  });
  Limits limits;
  limits.command_timeout = std::chrono::seconds(30);
  ApduChannel ch(card, limits, [&] { return now; });
  auto r = ch.Send(Cmd(0xCB, {}, 256));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), ErrorKind::kUnavailable);
  EXPECT_EQ(card.sent.size(), 2u);
}

TEST(ApduChannelTest, TransportTimeoutIsUnavailable) {
  ScriptedCard card({ScriptedCard::Fault(Link::kTimeout)});
  ApduChannel ch(card);
  auto r = ch.Send(Cmd(0xA4));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), ErrorKind::kUnavailable);
  // The message names the command that got no answer, and the transport's detail.
  EXPECT_NE(r.status().message().find("did not answer SELECT (INS A4)"), std::string::npos)
      << r.status().message();
  ScriptedCard other({ScriptedCard::Fault(Link::kTimeout)});
  ApduChannel ch2(other);
  auto unknown = ch2.Send(Cmd(0x99));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("did not answer INS 99"), std::string::npos)
      << unknown.status().message();
}

TEST(StatusWordTest, OneTableMapsStatusWords) {
  EXPECT_TRUE(StatusWordError(0x9000, "x").ok());
  Status pin = StatusWordError(0x63C2, "VERIFY");
  EXPECT_EQ(pin.kind(), ErrorKind::kLoginRefused);
  EXPECT_NE(pin.message().find("2 tries left"), std::string::npos);
  EXPECT_NE(pin.message().find("VERIFY: 63C2"), std::string::npos);
  EXPECT_EQ(StatusWordError(0x6A82, "GET DATA").kind(), ErrorKind::kNotFound);
  EXPECT_EQ(StatusWordError(0x6983, "VERIFY").kind(), ErrorKind::kLoginRefused);
  EXPECT_EQ(StatusWordError(0x6982, "x").kind(), ErrorKind::kCard);
  Status unknown = StatusWordError(0x6789, "x");
  EXPECT_EQ(unknown.kind(), ErrorKind::kCard);
  EXPECT_NE(unknown.message().find("6789 unknown status word"), std::string::npos);
}

TEST(TlvTest, ReadsNestedAndMultiByteTags) {
  // 53 { 70 <3 bytes> 71 01 00 } and a three-byte tag 5FC105.
  Bytes obj = {0x53, 0x08, 0x70, 0x03, 1, 2, 3, 0x71, 0x01, 0x00};
  auto v = Unwrap(obj, 0x53, "object");
  ASSERT_TRUE(v.ok());
  auto cert = ExpectTlv(*v, 0x70, "cert");
  ASSERT_TRUE(cert.ok());
  EXPECT_EQ(Bytes(cert->begin(), cert->end()), (Bytes{1, 2, 3}));
  Bytes sel = {0x5C, 0x03, 0x5F, 0xC1, 0x05};
  auto tlvs = ReadAll(sel);
  ASSERT_TRUE(tlvs.ok());
  EXPECT_EQ((*tlvs)[0].tag, 0x5Cu);
  Bytes three = {0x5F, 0xC1, 0x05, 0x00};
  auto t = ReadAll(three);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*t)[0].tag, 0x5FC105u);
  Bytes gen = {0x7F, 0x49, 0x02, 0x86, 0x00};
  auto g = Unwrap(gen, 0x7F49, "key");
  ASSERT_TRUE(g.ok());
}

TEST(TlvTest, LongLengthsRoundTrip) {
  for (size_t n : {0u, 1u, 127u, 128u, 255u, 256u, 65535u, 65536u}) {
    Bytes value(n, 0x5A);
    Bytes enc = MakeTlv(0x70, value);
    auto back = Unwrap(enc, 0x70, "value");
    ASSERT_TRUE(back.ok()) << n;
    EXPECT_EQ(back->size(), n);
  }
  EXPECT_EQ(MakeTlv(0x70, Bytes(128))[1], 0x81);
  EXPECT_EQ(MakeTlv(0x70, Bytes(256))[1], 0x82);
}

TEST(TlvTest, TruncatedTlvsAreErrors) {
  const Bytes cases[] = {
      {0x70, 0x05, 1, 2},                 // value shorter than its length
      {0x70},                             // no length
      {0x70, 0x82, 0x01},                 // length bytes missing
      {0x5F},                             // tag runs off
      {0x5F, 0xC1},                       // tag runs off
      {0x70, 0x80, 1, 0, 0},              // indefinite length
      {0x70, 0x84, 0, 0, 0, 1, 0},        // four length bytes
      {0x5F, 0xC1, 0x85, 0x01, 0},        // four-byte tag
      {0x70, 0x83, 0xFF, 0xFF, 0xFF, 1},  // claims 16 MiB
  };
  for (const Bytes& c : cases) {
    auto r = ReadAll(c);
    EXPECT_FALSE(r.ok()) << HexEncode(c);
    if (!r.ok()) EXPECT_EQ(r.status().kind(), ErrorKind::kInvalidInput);
  }
  // A truncated TLV after a good one fails the whole read.
  EXPECT_FALSE(FindTlv(Bytes{0x01, 0x01, 0x00, 0x02, 0x03}, 0x01).ok());
  // Bytes after the one expected TLV.
  EXPECT_FALSE(Unwrap(Bytes{0x53, 0x00, 0x00}, 0x53, "x").ok());
}

}  // namespace
}  // namespace certpress::kgs
