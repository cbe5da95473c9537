// The streaming CSV reader (batch/csv.h) and cron schedules (scheduler/cron.h).
#include <gtest/gtest.h>

#include <sstream>

#include "batch/csv.h"
#include "scheduler/cron.h"

namespace certpress {
namespace {

using batch::CsvError;
using batch::CsvReader;
using batch::CsvRecord;

std::vector<std::string> Values(const CsvRecord& r) {
  std::vector<std::string> v;
  for (const auto& f : r.fields) v.push_back(f.value);
  return v;
}

TEST(CsvTest, Rfc4180QuotingBomCrlfAndPositions) {
  std::stringstream in(std::string("\xEF\xBB\xBF") +
                       "name,dept\r\n"
                       "\"Fiona \"\"Fi\"\"\",\"Risk, Audit\"\r\n"
                       "\r\n"
                       "\"two\nlines\",x\n"
                       "Søren,y\n");
  CsvReader r(in);
  CsvRecord rec;
  CsvError err;
  ASSERT_TRUE(r.Next(&rec, &err));
  EXPECT_EQ(Values(rec), (std::vector<std::string>{"name", "dept"}));
  ASSERT_TRUE(r.Next(&rec, &err));
  EXPECT_EQ(Values(rec), (std::vector<std::string>{"Fiona \"Fi\"", "Risk, Audit"}));
  EXPECT_EQ(rec.line, 2u);
  EXPECT_EQ(rec.fields[1].column, 16u);  // the opening quote of "Risk, Audit"
  ASSERT_TRUE(r.Next(&rec, &err));       // the blank line is skipped
  EXPECT_EQ(Values(rec), (std::vector<std::string>{"two\nlines", "x"}));
  EXPECT_EQ(rec.line, 4u);
  EXPECT_EQ(rec.fields[1].line, 5u);
  EXPECT_EQ(rec.fields[1].column, 8u);
  ASSERT_TRUE(r.Next(&rec, &err));
  EXPECT_EQ(rec.line, 6u);
  EXPECT_EQ(rec.fields[1].column, 7u);  // characters, not bytes
  EXPECT_FALSE(r.Next(&rec, &err));
}

TEST(CsvTest, MalformedRecordsAreReportedAndTheReaderResynchronises) {
  std::stringstream in("a,b\nbad\"quote,x\n\"closed\"junk,y\nok,1\n" + std::string("long,") +
                       std::string(50, 'z') + "\nlast,2\n\"never closed,3\n");
  batch::CsvOptions opt;
  opt.max_field_bytes = 40;
  CsvReader r(in, opt);
  CsvRecord rec;
  CsvError err;
  ASSERT_TRUE(r.Next(&rec, &err));
  ASSERT_TRUE(r.Next(&rec, &err));
  EXPECT_TRUE(rec.fields.empty());
  EXPECT_EQ(err.line, 2u);
  EXPECT_EQ(err.column, 4u);
  EXPECT_NE(err.message.find("quote inside an unquoted field"), std::string::npos);
  ASSERT_TRUE(r.Next(&rec, &err));
  EXPECT_TRUE(rec.fields.empty());
  EXPECT_EQ(err.line, 3u);
  EXPECT_NE(err.message.find("after the closing quote"), std::string::npos);
  ASSERT_TRUE(r.Next(&rec, &err));
  EXPECT_EQ(Values(rec), (std::vector<std::string>{"ok", "1"}));
  ASSERT_TRUE(r.Next(&rec, &err));
  EXPECT_TRUE(rec.fields.empty());
  EXPECT_EQ(err.line, 5u);
  EXPECT_EQ(err.column, 6u);
  EXPECT_NE(err.message.find("longer than 40 bytes"), std::string::npos);
  ASSERT_TRUE(r.Next(&rec, &err));
  EXPECT_EQ(Values(rec), (std::vector<std::string>{"last", "2"}));
  ASSERT_TRUE(r.Next(&rec, &err));
  EXPECT_TRUE(rec.fields.empty());
  EXPECT_EQ(err.line, 7u);
  EXPECT_EQ(err.column, 1u);
  EXPECT_NE(err.message.find("unterminated quoted field"), std::string::npos);
  EXPECT_FALSE(r.Next(&rec, &err));
}

// Found by csv_fuzz (tests/fuzz/corpus/csv_fuzz/doubled-quotes-past-the-limit): a doubled
// quote was appended without the length check, so a quoted field of "" pairs grew without
// bound past max_field_bytes.
TEST(CsvTest, DoubledQuotesCountTowardsTheFieldLimit) {
  std::stringstream in("\"" + std::string(100, '"') + "\",x\nnext,1\n");
  batch::CsvOptions opt;
  opt.max_field_bytes = 40;
  CsvReader r(in, opt);
  CsvRecord rec;
  CsvError err;
  ASSERT_TRUE(r.Next(&rec, &err));
  EXPECT_TRUE(rec.fields.empty());
  EXPECT_EQ(err.line, 1u);
  EXPECT_EQ(err.column, 1u);
  EXPECT_NE(err.message.find("longer than 40 bytes"), std::string::npos);
  ASSERT_TRUE(r.Next(&rec, &err));
  EXPECT_EQ(Values(rec), (std::vector<std::string>{"next", "1"}));
}

TEST(CsvTest, FieldsCrossingReadBlocksStayWhole) {
  std::stringstream in;
  for (int i = 0; i < 20000; ++i) in << "row" << i << ",\"quoted, " << i << "\"\n";
  CsvReader r(in);
  CsvRecord rec;
  CsvError err;
  int n = 0;
  while (r.Next(&rec, &err)) {
    ASSERT_EQ(rec.fields.size(), 2u) << err.message;
    ASSERT_EQ(rec.fields[1].value, "quoted, " + std::to_string(n));
    ++n;
  }
  EXPECT_EQ(n, 20000);
  EXPECT_EQ(rec.line, 20000u);
}

TEST(CsvTest, FieldTextRefusesControlAndBidiCharacters) {
  size_t off = 99;
  EXPECT_TRUE(CheckFieldText("Olúwaseun 王", &off).ok());
  auto bad = CheckFieldText("ab\xC3\x28", &off);
  EXPECT_NE(bad.message().find("invalid UTF-8"), std::string::npos);
  EXPECT_EQ(off, 2u);
  auto tab = CheckFieldText("a\tb", &off);
  EXPECT_NE(tab.message().find("control character U+0009"), std::string::npos);
  auto rlo = CheckFieldText("ø\xE2\x80\xAEx", &off);
  EXPECT_NE(rlo.message().find("bidirectional formatting character U+202E"), std::string::npos);
  EXPECT_EQ(off, 1u);
  auto c1 = CheckFieldText("\xC2\x85", &off);
  EXPECT_FALSE(c1.ok());
}

// Trust issue: an unterminated quote swallowed the records after it. It now costs its own
// line: the error points at the quote and the next lines are read as records.
TEST(CsvTest, AnUnterminatedQuoteCostsOnlyItsOwnLine) {
  {
    std::stringstream in("a,b\n\"Alice,1\nBob,2\nCarol,3\n");
    CsvReader r(in);
    CsvRecord rec;
    CsvError err;
    ASSERT_TRUE(r.Next(&rec, &err));
    ASSERT_TRUE(r.Next(&rec, &err));
    EXPECT_TRUE(rec.fields.empty());
    EXPECT_EQ(err.line, 2u);
    EXPECT_EQ(err.column, 1u);
    EXPECT_NE(err.message.find("quote opened here is not closed"), std::string::npos)
        << err.message;
    ASSERT_TRUE(r.Next(&rec, &err));
    EXPECT_EQ(Values(rec), (std::vector<std::string>{"Bob", "2"}));
    EXPECT_EQ(rec.line, 3u);
    ASSERT_TRUE(r.Next(&rec, &err));
    EXPECT_EQ(Values(rec), (std::vector<std::string>{"Carol", "3"}));
    EXPECT_FALSE(r.Next(&rec, &err));
  }
  {
    // The stray quote would be "closed" by the next record's quoted field.
    std::stringstream in("a,b\n\"Ann,1\nBob,\"x, y\"\nCarol,3\n");
    CsvReader r(in);
    CsvRecord rec;
    CsvError err;
    ASSERT_TRUE(r.Next(&rec, &err));
    ASSERT_TRUE(r.Next(&rec, &err));
    EXPECT_TRUE(rec.fields.empty());
    EXPECT_EQ(err.line, 2u);
    ASSERT_TRUE(r.Next(&rec, &err));
    EXPECT_EQ(Values(rec), (std::vector<std::string>{"Bob", "x, y"}));
    EXPECT_EQ(rec.fields[1].line, 3u);
    EXPECT_EQ(rec.fields[1].column, 5u);
    ASSERT_TRUE(r.Next(&rec, &err));
    EXPECT_EQ(Values(rec), (std::vector<std::string>{"Carol", "3"}));
    EXPECT_FALSE(r.Next(&rec, &err));
  }
}

// Trust issue: zero-width characters, line separators and mid-field BOMs got through.
TEST(CsvTest, FieldTextRefusesInvisibleCharactersAndLineSeparators) {
  size_t off = 99;
  for (const char* zw : {"\xE2\x80\x8B", "\xE2\x80\x8C", "\xE2\x80\x8D", "\xE2\x81\xA0"}) {
    auto st = CheckFieldText(std::string("Ann") + zw + "a", &off);
    EXPECT_NE(st.message().find("zero-width character U+"), std::string::npos) << st.message();
    EXPECT_EQ(off, 3u);
  }
  auto bom = CheckFieldText("E1\xEF\xBB\xBF", &off);
  EXPECT_NE(bom.message().find("byte order mark U+FEFF"), std::string::npos) << bom.message();
  EXPECT_EQ(off, 2u);
  auto ls = CheckFieldText(
      "a\xE2\x80\xA8"
      "b",
      &off);
  EXPECT_NE(ls.message().find("line or paragraph separator U+2028"), std::string::npos);
  auto ps = CheckFieldText(
      "a\xE2\x80\xA9"
      "b",
      &off);
  EXPECT_NE(ps.message().find("U+2029"), std::string::npos);
}

time_t Utc(int y, int mo, int d, int h, int mi) {
  struct tm tm = {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  return timegm(&tm);
}

TEST(CronTest, NextMatches) {
  const time_t now = Utc(2026, 11, 23, 10, 7);  // a Monday
  EXPECT_EQ(scheduler::CronSchedule::Parse("0 * * * *")->Next(now), Utc(2026, 11, 23, 11, 0));
  EXPECT_EQ(scheduler::CronSchedule::Parse("*/15 9-17 * * mon-fri")->Next(now),
            Utc(2026, 11, 23, 10, 15));
  EXPECT_EQ(scheduler::CronSchedule::Parse("30 2 * * SUN")->Next(now), Utc(2026, 11, 29, 2, 30));
  EXPECT_EQ(scheduler::CronSchedule::Parse("30 2 * * 7")->Next(now), Utc(2026, 11, 29, 2, 30));
  EXPECT_EQ(scheduler::CronSchedule::Parse("0 0 29 2 *")->Next(now), Utc(2028, 2, 29, 0, 0));
  // Both day fields restricted: either matches (the 1st, or a Monday).
  EXPECT_EQ(scheduler::CronSchedule::Parse("0 0 1 * mon")->Next(now), Utc(2026, 11, 30, 0, 0));
  EXPECT_EQ(scheduler::CronSchedule::Parse("0 0 30 2 *")->Next(now), 0);
}

TEST(CronTest, ErrorsNameTheField) {
  struct Case {
    const char* expr;
    const char* expect;
  } cases[] = {{"* * *", "expected 5"},
               {"60 * * * *", "minute: 60 is outside"},
               {"* 24 * * *", "hour"},
               {"* * 0 * *", "day-of-month"},
               {"* * * foo *", "month: unknown name"},
               {"* * * * */0", "day-of-week: bad step"},
               {"5-1 * * * *", "runs backwards"}};
  for (const auto& c : cases) {
    auto r = scheduler::CronSchedule::Parse(c.expr);
    ASSERT_FALSE(r.ok()) << c.expr;
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos)
        << c.expr << " -> " << r.status().message();
  }
}

}  // namespace
}  // namespace certpress
