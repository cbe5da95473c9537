// The readers of evidence kept outside the audit chain: signed decision statements and the
// checkpoint file. Both must read a text exactly one way and refuse any other shape with an
// error, never an exception (tests/fuzz/statement_fuzz.cc and checkpoint_fuzz.cc search the
// rest of the input space).
#include <gtest/gtest.h>

#include <string>

#include "kgs/audit_keys.h"
#include "ra/decisions.h"

namespace certpress {
namespace {

const std::string kHash(64, 'a');

std::string Statement(const std::string& body) {
  return "certpress-decision-v1\n" + body;
}

TEST(StatementParse, ReadsWhatFormatWritesAndWritesItBack) {
  ra::Statement s{"approve", "alice", "2026-11-30 06:40:00", "quarterly", {{7, kHash}, {9, kHash}}};
  const std::string text = ra::FormatStatement(s);
  auto parsed = ra::ParseStatement(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->decision, "approve");
  EXPECT_EQ(parsed->op, "alice");
  ASSERT_EQ(parsed->requests.size(), 2u);
  EXPECT_EQ(parsed->requests[1].first, 9);
  EXPECT_EQ(ra::FormatStatement(*parsed), text);
}

TEST(StatementParse, RefusesATextWithTwoReadings) {
  const std::string head = "decision: approve\noperator: alice\ntime: 2026-11-30 06:40:00\n";
  const std::string cases[] = {
      // A repeated field: one reader takes the first, another the last.
      Statement("decision: reject\n" + head + "reason: x\nrequest: 1 " + kHash + "\n"),
      Statement(head + "operator: bob\nreason: x\nrequest: 1 " + kHash + "\n"),
      // An id with trailing characters (std::stoll read "12abc" as 12), a sign, a zero pad.
      Statement(head + "reason: x\nrequest: 12abc " + kHash + "\n"),
      Statement(head + "reason: x\nrequest: +12 " + kHash + "\n"),
      Statement(head + "reason: x\nrequest: 012 " + kHash + "\n"),
      Statement(head + "reason: x\nrequest: 99999999999999999999 " + kHash + "\n"),
      // Hashes that are not what ContentHash writes.
      Statement(head + "reason: x\nrequest: 12 " + std::string(64, 'A') + "\n"),
      Statement(head + "reason: x\nrequest: 12 abc\n"),
      // Fields out of order, missing, or not canonical.
      Statement("operator: alice\ndecision: approve\ntime: 2026-11-30 06:40:00\nreason: x\n"),
      Statement("decision: approve\noperator: alice\ntime: 2026-11-30 06:40:00\n"),
      Statement("decision: approve\noperator: Alice\ntime: 2026-11-30 06:40:00\nreason: x\n"),
      Statement("decision: approve\noperator: alice\ntime: yesterday\nreason: x\n"),
      Statement("decision: maybe\noperator: alice\ntime: 2026-11-30 06:40:00\nreason: x\n"),
      Statement(head + "reason: x\r\n"),
  };
  for (const auto& text : cases) {
    auto parsed = ra::ParseStatement(text);
    EXPECT_FALSE(parsed.ok()) << text;
  }
}

TEST(CheckpointLine, RoundTrips) {
  store::Checkpoint cp;
  cp.seq = 42;
  cp.hash = std::string(32, '\x11');
  cp.at = "2026-11-30 06:40:00";
  cp.signature = "\x30\x45\x02\x21";
  auto back = kgs::ParseCheckpointLine(kgs::FormatCheckpointLine(cp));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->seq, 42);
  EXPECT_EQ(back->hash, cp.hash);
  EXPECT_EQ(back->at, cp.at);
  EXPECT_EQ(back->signature, cp.signature);
}

// Each of these made nlohmann::json throw type_error out of the reader (a crash of `audit
// verify`), or was accepted with a value of the wrong shape.
TEST(CheckpointLine, RefusesWrongTypesAndShapesWithAnError) {
  const std::string hash = std::string(64, 'a');
  const std::string good_rest = "\"time\":\"2026-11-30 06:40:00\",\"signature\":\"3045\"}";
  const std::string cases[] = {
      "{\"seq\":\"12\",\"hash\":\"" + hash + "\"," + good_rest,
      "{\"seq\":12,\"hash\":1," + good_rest,
      "{\"seq\":-1,\"hash\":\"" + hash + "\"," + good_rest,
      "{\"seq\":1.5,\"hash\":\"" + hash + "\"," + good_rest,
      "{\"seq\":12,\"hash\":\"" + hash + "\",\"time\":7,\"signature\":\"3045\"}",
      "{\"seq\":12,\"hash\":\"" + hash + "\",\"time\":\"soon\",\"signature\":\"3045\"}",
      "{\"seq\":12,\"hash\":\"" + hash + "\",\"time\":\"2026-11-30 06:40:00\",\"signature\":[]}",
      "{\"seq\":12,\"hash\":\"" + hash + "\",\"time\":\"2026-11-30 06:40:00\",\"signature\":\"\"}",
      "{\"seq\":12,\"hash\":\"abcd\"," + good_rest,
      "{\"seq\":12,\"hash\":\"" + hash + "\",\"extra\":1," + good_rest,
      "[{\"seq\":12}]",
      "12",
      "{",
  };
  for (const auto& line : cases) {
    auto cp = kgs::ParseCheckpointLine(line);
    EXPECT_FALSE(cp.ok()) << line;
    EXPECT_EQ(cp.status().kind(), ErrorKind::kInvalidInput) << line;
  }
}

}  // namespace
}  // namespace certpress
