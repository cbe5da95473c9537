// Card states after the station (issue 13) on the real stack, through the certpress command
// line: printing a card's PIN letter moves the card from personalized to letter-printed in the
// same transaction; `card activate` moves it to active once the holder confirmed receipt and
// refuses, with a message that says why, every card that is not letter-printed; `card list`
// and `card show` report it. The cards are rows as a station writes them (store/cards.h),
// inserted here without a card reader.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "kgs/audit_keys.h"
#include "kgs/letters.h"
#include "store/sql.h"
#include "tests/support/test_env.h"

namespace certpress {
namespace {

using testing::RunResult;
using testing::TestDb;
using testing::TestToken;

constexpr const char* kKek = "certpress-kek";  // app::kKekLabel

class CardsIT : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = OpenToken(testing::ConfigFor(token_));
    ASSERT_TRUE(t.ok()) << t.status().message();
    hsm_ = std::move(t).value();
    conn_ = db_.Connect();
    ASSERT_TRUE(conn_);
    auto keys = kgs::LoadAuditKeys(*conn_, *hsm_, kKek, /*create=*/true);
    ASSERT_TRUE(keys.ok()) << keys.status().message();
    conn_->SetAuditKeys(*keys);
  }

  // Card inserts what a station leaves for a card it personalized (or failed): a request of
  // employee-piv, issued, and the card's row in |state|. Returns the request id. The request
  // needs no approval (`audit verify` recounts the approvals of every issued request, and this
  // one was never decided on).
  int64_t Card(const std::string& serial, const std::string& state, int64_t request_id = 0) {
    if (request_id == 0) {
      auto r = store::Sql(*conn_).Exec(
          "INSERT INTO requests (profile, profile_hash, approvals_needed, state) VALUES "
          "('employee-piv', REPEAT(X'00', 32), 0, 'issued')");
      EXPECT_TRUE(r.ok()) << r.status().message();
      request_id = r.ok() ? static_cast<int64_t>(r->insert_id) : 0;
    }
    auto c = store::Sql(*conn_).Exec(
        "INSERT INTO cards (serial, atr, profile, request_id, state, station, reader, reason) "
        "VALUES (?, X'3B8C8001', 'employee-piv', ?, ?, 'station-1', 'Virtual PCD 00 00', ?)",
        {std::string_view(serial), request_id, std::string_view(state),
         state == "failed" ? store::Param(std::string_view("card removed mid-command"))
                           : store::Param(nullptr)});
    EXPECT_TRUE(c.ok()) << c.status().message();
    return request_id;
  }

  // Letter queues the card's PIN letter as the station does once the card passed its checks.
  int64_t Letter(const std::string& serial, int64_t request_id) {
    kgs::PinLetterInput in;
    in.request_id = request_id;
    in.card_serial = serial;
    in.profile = "employee-piv";
    in.holder_name = "Ingrid Bergström";
    in.postal_address = {"Storgatan 1", "111 22 Stockholm", "SWEDEN"};
    in.pin = SecureString("40593817");
    in.puk = SecureString("72615348");
    auto id = kgs::QueueLetter(*conn_, *hsm_, kKek, in, "station:test");
    EXPECT_TRUE(id.ok()) << id.status().message();
    return id.ok() ? *id : 0;
  }

  RunResult Print(int64_t letter) {
    return cli_.Run(
        {"pinletter", "print", "--id", std::to_string(letter), "--out-dir", cli_.dir() + "/queue"});
  }

  nlohmann::json Show(const std::string& serial) {
    RunResult r = cli_.Run({"card", "show", "--serial", serial, "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  }

  std::vector<std::string> Audit(const std::string& object) {
    auto rows = store::Sql(*conn_).Query(
        "SELECT action, details FROM audit_log WHERE object = ? ORDER BY seq", {object});
    EXPECT_TRUE(rows.ok()) << rows.status().message();
    std::vector<std::string> out;
    if (rows.ok()) {
      for (const auto& r : *rows) out.push_back(r.Str(0) + " " + r.Str(1));
    }
    return out;
  }

  TestDb db_;
  TestToken token_;
  std::unique_ptr<CryptoToken> hsm_;
  std::unique_ptr<store::Connection> conn_;
  testing::Cli cli_{db_, token_};
};

TEST_F(CardsIT, PrintingThePinLetterMovesTheCardOnAndActivateMakesItActive) {
  const int64_t req = Card("SN-1001", "personalized");
  const int64_t letter = Letter("SN-1001", req);
  EXPECT_EQ(Show("SN-1001")["state"], "personalized");

  // Not yet: the holder cannot have the PIN.
  RunResult early = cli_.Run({"card", "activate", "--serial", "SN-1001"});
  EXPECT_EQ(early.exit_code, 1);
  EXPECT_NE(early.err.find("card SN-1001 is personalized but its PIN letter has not been "
                           "printed yet"),
            std::string::npos)
      << early.err;

  RunResult printed = Print(letter);
  ASSERT_EQ(printed.exit_code, 0) << printed.err;
  nlohmann::json card = Show("SN-1001");
  EXPECT_EQ(card["state"], "letter-printed") << card;
  EXPECT_EQ(card["request_id"], req);
  // In the transaction that printed the letter: the letter is printed, the card moved.
  auto both = store::Sql(*conn_).Query(
      "SELECT l.state, c.state FROM pin_letters l JOIN cards c ON c.serial = l.card_serial "
      "WHERE l.id = ?",
      {letter});
  ASSERT_TRUE(both.ok() && both->size() == 1u);
  EXPECT_EQ((*both)[0].Str(0), "printed");
  EXPECT_EQ((*both)[0].Str(1), "letter-printed");

  RunResult active = cli_.Run({"card", "activate", "--serial", "SN-1001"});
  ASSERT_EQ(active.exit_code, 0) << active.err;
  EXPECT_EQ(active.out, "card SN-1001 is active\n");
  EXPECT_EQ(Show("SN-1001")["state"], "active");

  RunResult twice = cli_.Run({"card", "activate", "--serial", "SN-1001"});
  EXPECT_EQ(twice.exit_code, 1);
  EXPECT_NE(twice.err.find("card SN-1001 is already active (since "), std::string::npos)
      << twice.err;

  auto audit = Audit("card:SN-1001");
  ASSERT_EQ(audit.size(), 2u) << ::testing::PrintToString(audit);
  EXPECT_EQ(audit[0].rfind("card.letter-printed card_id=", 0), 0u) << audit[0];
  EXPECT_NE(audit[0].find("request=" + std::to_string(req)), std::string::npos) << audit[0];
  EXPECT_EQ(audit[1].rfind("card.active card_id=", 0), 0u) << audit[1];
  EXPECT_NE(audit[1].find("receipt confirmed"), std::string::npos) << audit[1];
  // The command line's entries chain with everyone's: the log verifies.
  RunResult v = cli_.Run({"audit", "verify"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

TEST_F(CardsIT, ActivateRefusesEveryCardThatIsNotLetterPrinted) {
  Card("SN-2001", "personalizing");
  Card("SN-2002", "failed");
  struct Case {
    std::string serial, want;
  } cases[] = {
      {"SN-2001", "card SN-2001 is still being personalized at station station-1"},
      {"SN-2002",
       "card SN-2002 failed (card removed mid-command) and cannot be activated: personalize it "
       "again at a station"},
      {"SN-NONE", "no card with serial 'SN-NONE' in the store"},
  };
  for (const auto& c : cases) {
    RunResult r = cli_.Run({"card", "activate", "--serial", c.serial});
    EXPECT_EQ(r.exit_code, 1) << c.serial;
    EXPECT_NE(r.err.find(c.want), std::string::npos) << r.err;
  }
  // Nothing moved, nothing audited.
  EXPECT_EQ(Show("SN-2001")["state"], "personalizing");
  EXPECT_EQ(Show("SN-2002")["state"], "failed");
  EXPECT_TRUE(Audit("card:SN-2001").empty());
  RunResult no_serial = cli_.Run({"card", "activate"});
  EXPECT_EQ(no_serial.exit_code, 2) << no_serial.err;
}

TEST_F(CardsIT, ACardPersonalizedAgainIsJudgedByItsNewestPersonalization) {
  // Failed once, personalized again for the same request: the letter moves the new one.
  const int64_t req = Card("SN-3001", "failed");
  Card("SN-3001", "personalized", req);
  ASSERT_EQ(Print(Letter("SN-3001", req)).exit_code, 0);
  nlohmann::json card = Show("SN-3001");
  EXPECT_EQ(card["state"], "letter-printed");
  ASSERT_EQ(card["personalizations"].size(), 2u) << card;
  EXPECT_EQ(card["personalizations"][0]["state"], "failed");
  ASSERT_EQ(cli_.Run({"card", "activate", "--serial", "SN-3001"}).exit_code, 0);
  EXPECT_EQ(Show("SN-3001")["personalizations"][0]["state"], "failed");

  RunResult text = cli_.Run({"card", "show", "--serial", "SN-3001"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("card SN-3001: active (since "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("personalized 2 times; earlier: failed"), std::string::npos) << text.out;
}

TEST_F(CardsIT, ALetterForACardAlreadyActiveLeavesItActive) {
  // A new PIN letter (the PIN was reset) for an active card: the card stays active.
  const int64_t req = Card("SN-4001", "active");
  ASSERT_EQ(Print(Letter("SN-4001", req)).exit_code, 0);
  EXPECT_EQ(Show("SN-4001")["state"], "active");
  EXPECT_TRUE(Audit("card:SN-4001").empty());
}

TEST_F(CardsIT, ListFiltersByState) {
  Card("SN-5001", "personalized");
  Card("SN-5002", "active");
  Card("SN-5003", "failed");
  RunResult all = cli_.Run({"card", "list", "--json"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  auto j = nlohmann::json::parse(all.out);
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j[0]["serial"], "SN-5001");
  EXPECT_EQ(j[2]["reason"], "card removed mid-command");
  RunResult active = cli_.Run({"card", "list", "--json", "--state", "active"});
  ASSERT_EQ(active.exit_code, 0) << active.err;
  auto a = nlohmann::json::parse(active.out);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0]["serial"], "SN-5002");
  RunResult table = cli_.Run({"card", "list", "--state", "failed"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("SN-5003           failed"), std::string::npos) << table.out;
  EXPECT_EQ(table.out.find("SN-5001"), std::string::npos) << table.out;
  RunResult bad = cli_.Run({"card", "list", "--state", "lost"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--state must be personalizing, personalized, letter-printed, active "
                         "or failed"),
            std::string::npos)
      << bad.err;
  RunResult unknown = cli_.Run({"card", "show", "--serial", "SN-NONE"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no card with serial 'SN-NONE'"), std::string::npos) << unknown.err;
}

}  // namespace
}  // namespace certpress
