// log_test: common/log's two line formats, read back from a log file as a collector would,
// and its level filter. The JSON lines are checked with nlohmann's parser.
#include "common/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "common/bytes.h"

namespace certpress {
namespace {

class LogTest : public ::testing::Test {
 protected:
  LogTest()
      : file_((std::filesystem::temp_directory_path() /
               ("certpress-log-test-" + std::to_string(getpid()) + ".log"))
                  .string()) {
    std::filesystem::remove(file_);
  }
  ~LogTest() override {
    // Back to the default, so that other tests' lines do not land in a removed file.
    log::Configure({}).IgnoreError();
    std::filesystem::remove(file_);
  }

  void Use(log::Level level, log::Format format) {
    ASSERT_TRUE(log::Configure({level, format, file_}).ok());
  }

  std::vector<std::string> Lines() {
    auto text = ReadFile(file_);
    EXPECT_TRUE(text.ok()) << text.status().message();
    std::vector<std::string> lines;
    std::istringstream in(text.ok() ? *text : "");
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

  std::string file_;
};

TEST_F(LogTest, JsonLinesCarryTimeLevelComponentMessageAndFields) {
  Use(log::Level::kInfo, log::Format::kJson);
  log::Get("scheduler").Info("run finished", {{"run", 17}, {"outcome", "done"}, {"ok", true}});
  log::Get("batch").Warn("run stopped", {{"seconds", 1.5}, {"claimed", size_t{512}}});
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  auto a = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(a["level"], "info");
  EXPECT_EQ(a["component"], "scheduler");
  EXPECT_EQ(a["msg"], "run finished");
  EXPECT_EQ(a["run"], 17);
  EXPECT_EQ(a["outcome"], "done");
  EXPECT_EQ(a["ok"], true);
  // RFC 3339, UTC, milliseconds: 2025-03-01T12:00:00.123Z.
  const std::string time = a["time"];
  ASSERT_EQ(time.size(), 24u) << time;
  EXPECT_EQ(time[10], 'T');
  EXPECT_EQ(time[19], '.');
  EXPECT_EQ(time.back(), 'Z');
  auto b = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(b["level"], "warn");
  EXPECT_EQ(b["component"], "batch");
  EXPECT_EQ(b["seconds"], 1.5);
  EXPECT_EQ(b["claimed"], 512);
}

TEST_F(LogTest, TextLinesHaveKeyValueFields) {
  Use(log::Level::kInfo, log::Format::kText);
  log::Get("scheduler").Info("run finished", {{"run", 17}, {"error", "token gone"}, {"n", -2}});
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find(" info scheduler: run finished run=17 error=\"token gone\" n=-2"),
            std::string::npos)
      << lines[0];
  EXPECT_EQ(lines[0][23], 'Z') << lines[0];
}

TEST_F(LogTest, LevelFilterDropsLowerLevels) {
  Use(log::Level::kWarn, log::Format::kJson);
  auto l = log::Get("batch");
  EXPECT_FALSE(l.Enabled(log::Level::kInfo));
  EXPECT_TRUE(l.Enabled(log::Level::kError));
  l.Trace("t");
  l.Debug("d");
  l.Info("i");
  l.Warn("w");
  l.Error("e");
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(lines[0])["msg"], "w");
  EXPECT_EQ(nlohmann::json::parse(lines[1])["msg"], "e");
}

TEST_F(LogTest, QuotesNewlinesAndUtf8StayOneValidJsonLine) {
  Use(log::Level::kTrace, log::Format::kJson);
  const std::string msg = "say \"hi\"\nand \\ leave\ttab \x01 Søren 日本 🙂";
  const std::string invalid = "bad \xff\xfe utf-8";
  log::Get("web").Debug(msg, {{"subject", "CN=\"Ø\",O=x\r\n"}, {"raw", invalid}, {"msg", "f"}});
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  auto j = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(j["msg"], msg);
  EXPECT_EQ(j["subject"], "CN=\"Ø\",O=x\r\n");
  // Invalid UTF-8 is replaced, not a reason to throw or to write broken JSON.
  EXPECT_EQ(j["raw"], "bad \xEF\xBF\xBD\xEF\xBF\xBD utf-8");
  // A field may not overwrite the line's own members.
  EXPECT_EQ(j["_msg"], "f");
}

TEST_F(LogTest, TextMessagesStayOnOneLine) {
  Use(log::Level::kInfo, log::Format::kText);
  log::Get("batch").Error("two\nlines", {{"why", "a\nb"}});
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("batch: two\\nlines why=\"a\\nb\""), std::string::npos) << lines[0];
}

TEST(LogParseTest, LevelsAndFormatsParseByName) {
  for (auto name : {"trace", "debug", "info", "warn", "error"}) {
    auto l = log::ParseLevel(name);
    ASSERT_TRUE(l.ok()) << name;
    EXPECT_EQ(log::LevelName(*l), name);
  }
  EXPECT_FALSE(log::ParseLevel("warning").ok());
  EXPECT_FALSE(log::ParseLevel("INFO").ok());
  EXPECT_EQ(*log::ParseFormat("json"), log::Format::kJson);
  EXPECT_FALSE(log::ParseFormat("xml").ok());
}

TEST(LogConfigureTest, AFileInAMissingDirectoryIsAnErrorAndNoDirectoryIsMade) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("certpress-no-such-dir-" + std::to_string(getpid()));
  const std::string file = (dir / "x.log").string();
  auto st = log::Configure({log::Level::kInfo, log::Format::kText, file});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find(file), std::string::npos) << st.message();
  EXPECT_FALSE(std::filesystem::exists(dir));
}

}  // namespace
}  // namespace certpress
