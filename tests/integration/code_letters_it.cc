// Activation codes sent by post (issue 12: a profile's activation.code = "letter") on the real
// stack: a batch issues soft certificates of such a profile, and the issuing transaction
// queues one activation-code letter per request with the code sealed; `pinletter print` lays
// it out; poppler's pdftotext reads the code off the PDF, and the link (minted as the mailer
// mints it) is redeemed through the activation API with that code. The code is looked for
// where it must not be: a dump of the database and MariaDB's own files, before and after
// printing.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "kgs/activations.h"
#include "kgs/audit_keys.h"
#include "store/sql.h"
#include "tests/support/test_env.h"

namespace certpress {
namespace {

using testing::Quote;
using testing::RunResult;
using testing::Sh;
using testing::TestDb;
using testing::TestToken;

constexpr const char* kKek = "certpress-kek";  // app::kKekLabel

// employee-soft with the code posted to the holder: the letter's wording is the defaults'
// (CodeLetterTemplate, English), the sender and the address templates the profile's.
constexpr const char* kProfile = R"(
[card.soft-letter]
description = "Soft certificate, activation code by letter"
token = "soft"
approvals = 1
delivery = "activation-email"
natural_key = "employee_id"
cas = ["issuing"]
ca = "issuing"
subject = [["CN", "{given_name} {surname}"], ["O", "CertPress Test"], ["C", "{country}"]]
sans = [["email", "{email}"]]

[card.soft-letter.fields]
given_name = { required = true, max_length = 64 }
surname = { required = true, max_length = 64 }
email = { required = true, kind = "email", max_length = 128 }
employee_id = { required = true, pattern = "E[0-9]{6}", max_length = 7 }
address_line1 = { max_length = 128 }
postal_code = { max_length = 16 }
city = { max_length = 64 }
country = { required = true, pattern = "[A-Z]{2}", max_length = 2 }

[[card.soft-letter.keys]]
name = "auth"
algorithm = "ec-p256"
source = "server"
certificate = "employee-auth"

[card.soft-letter.activation]
recipient = "{email}"
name = "{given_name} {surname}"
code = "letter"

[card.soft-letter.letter]
sender = ["CertPress Test Bank", "Certificate Services", "1 Test Street", "Testville"]
recipient = "{given_name} {surname}"
address = ["{address_line1}", "{postal_code} {city}", "{country}"]
)";

// The third row's street does not fit the envelope window: that request fails alone.
constexpr const char* kRows =
    "given_name,surname,email,employee_id,address_line1,postal_code,city,country\n"
    "Zoë,Ångström,zoe@example.org,E300001,Hauptstraße 5,80331,München,DE\n"
    "Pierre,Lefèvre,pierre@example.fr,E300002,12 rue de la Paix,75002,Paris,FR\n"
    "Wide,Street,wide@example.org,E300003,"
    "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW 1,12345,Ort,DE\n";

class CodeLettersIT : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(Run({"ca", "create-root", "--label", "root", "--name",
                   "CN=Letters Test Root,O=CertPress Test,C=DK", "--key-type", "ec-p256"})
                  .exit_code,
              0);
    ASSERT_EQ(Run({"ca", "create-sub", "--parent", "root", "--label", "issuing", "--name",
                   "CN=Letters Test Issuing CA,O=CertPress Test,C=DK", "--key-type", "ec-p256"})
                  .exit_code,
              0);
    ASSERT_TRUE(WriteFile(cli_.dir() + "/profiles/soft-letter.toml", kProfile).ok());
    auto t = OpenToken(testing::ConfigFor(token_));
    ASSERT_TRUE(t.ok()) << t.status().message();
    hsm_ = std::move(t).value();
    conn_ = db_.Connect();
    ASSERT_TRUE(conn_);
    auto audit = kgs::LoadAuditKeys(*conn_, *hsm_, kKek, /*create=*/true);
    ASSERT_TRUE(audit.ok()) << audit.status().message();
    conn_->SetAuditKeys(*audit);
  }

  RunResult Run(const std::vector<std::string>& args) { return cli_.Run(args); }

  // Issue imports kRows, approves and issues them; returns request ids by email.
  std::map<std::string, int64_t> Issue() {
    EXPECT_TRUE(WriteFile(cli_.dir() + "/rows.csv", kRows).ok());
    RunResult imp = Run({"import", cli_.dir() + "/rows.csv", "--profile", "soft-letter"});
    EXPECT_EQ(imp.exit_code, 0) << imp.err;
    RunResult ok = cli_.Decide({"approve", "--all", "--profile", "soft-letter"}, "alice");
    EXPECT_EQ(ok.exit_code, 0) << ok.err;
    RunResult run = Run({"run-batch"});
    EXPECT_EQ(run.exit_code, 0) << run.err;
    EXPECT_NE(run.out.find("issued 2, failed 1"), std::string::npos) << run.out;
    std::map<std::string, int64_t> ids;
    auto rows =
        store::Sql(*conn_).Query("SELECT id, JSON_VALUE(fields_json, '$.email') FROM requests");
    EXPECT_TRUE(rows.ok()) << rows.status().message();
    if (rows.ok()) {
      for (const auto& r : *rows) ids[r.Str(1)] = r.Int(0);
    }
    return ids;
  }

  nlohmann::json Letters() {
    RunResult r = Run({"pinletter", "list", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out, nullptr, false);
  }

  // PrintedCode prints letter |id| and reads its code back with pdftotext.
  std::string PrintedCode(int64_t id, std::string* text_out = nullptr) {
    RunResult p = Run({"pinletter", "print", "--id", std::to_string(id), "--out-dir", Queue()});
    EXPECT_EQ(p.exit_code, 0) << p.err;
    RunResult t = Sh("pdftotext -enc UTF-8 " +
                     Quote(Queue() + "/pinletter-" + std::to_string(id) + ".pdf") + " -");
    EXPECT_EQ(t.exit_code, 0) << t.err;
    if (text_out != nullptr) *text_out = t.out;
    std::smatch m;
    static const std::regex kCode("\\b([0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5})\\b");
    return std::regex_search(t.out, m, kCode) ? m[1].str() : "";
  }
  std::string Queue() const { return cli_.dir() + "/queue"; }

  // Link mints request |request|'s activation link as the mailer does when it sends the mail.
  std::string Link(int64_t request) {
    auto row = store::LatestActivation(*conn_, request, false);
    EXPECT_TRUE(row.ok() && row->has_value());
    if (!row.ok() || !row->has_value()) return "";
    auto link = kgs::MintLink(*conn_, Keys(), (*row)->id);
    EXPECT_TRUE(link.ok()) << link.status().message();
    return link.ok() ? link->token.str() : "";
  }
  const kgs::ActivationKeys& Keys() {
    if (!keys_) {
      auto k = kgs::ActivationKeys::Load(*conn_, *hsm_, kKek, false);
      EXPECT_TRUE(k.ok()) << k.status().message();
      keys_ = *k;
    }
    return *keys_;
  }
  kgs::Redemption Redeem(const std::string& link, const std::string& code) {
    auto r = kgs::Redeem(*conn_, Keys(), link, code, "test:web");
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : kgs::Redemption{};
  }

  std::string Dump() {
    RunResult r = Sh("mariadb-dump --no-defaults -uroot --socket=" +
                     Quote(testing::RequireEnv("CERTPRESS_DB_SOCKET")) + " " + Quote(db_.name()));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("pin_letters"), std::string::npos);
    return r.out;
  }
  std::string DatadirFilesWith(const std::string& needle) {
    return Sh("grep -r -a -l -F " + Quote(needle) + " " +
              Quote(testing::RequireEnv("CERTPRESS_STATE") + "/mariadb/data"))
        .out;
  }

  TestDb db_;
  TestToken token_;
  testing::Cli cli_{db_, token_};
  std::unique_ptr<CryptoToken> hsm_;
  std::unique_ptr<store::Connection> conn_;
  std::shared_ptr<const kgs::ActivationKeys> keys_;
};

TEST_F(CodeLettersIT, TheCodeFromThePrintedLetterRedeemsTheLinkAndIsNowhereInClear) {
  auto ids = Issue();
  ASSERT_EQ(ids.size(), 3u);
  const int64_t zoe = ids["zoe@example.org"];
  // One letter per issued request, queued in the issuing transaction, code sealed.
  nlohmann::json letters = Letters();
  ASSERT_EQ(letters.size(), 2u) << letters;
  int64_t zoe_letter = 0;
  for (const auto& l : letters) {
    EXPECT_EQ(l["kind"], "activation-code");
    EXPECT_EQ(l["state"], "created");
    EXPECT_EQ(l["secret"], "sealed");
    EXPECT_EQ(l["card_serial"], "");
    EXPECT_EQ(l["profile"], "soft-letter");
    if (l["request_id"] == zoe) zoe_letter = l["id"];
  }
  ASSERT_NE(zoe_letter, 0) << letters;
  EXPECT_EQ(
      letters[0]["holder_name"].get<std::string>() + letters[1]["holder_name"].get<std::string>(),
      "Zoë ÅngströmPierre Lefèvre");
  // The activation holds the code's HMAC from the start; the request whose address does not
  // fit the window failed alone, saying why.
  auto code_set = store::Sql(*conn_).Query(
      "SELECT COUNT(*) FROM activations WHERE code_hmac IS NOT NULL AND code_needed = 1");
  ASSERT_TRUE(code_set.ok());
  EXPECT_EQ((*code_set)[0].Int(0), 2);
  auto failed = store::Sql(*conn_).Query("SELECT state, reason FROM requests WHERE id = ?",
                                         {ids["wide@example.org"]});
  ASSERT_TRUE(failed.ok() && failed->size() == 1u);
  EXPECT_EQ((*failed)[0].Str(0), "failed");
  EXPECT_NE((*failed)[0].Str(1).find("the activation-code letter: postal address line 1 is "
                                     "wider than the envelope window"),
            std::string::npos)
      << (*failed)[0].Str(1);

  const std::string before = Dump();
  std::string text;
  const std::string code = PrintedCode(zoe_letter, &text);
  ASSERT_EQ(code.size(), 11u) << text;
  // The letter as the holder reads it: name and address in the window, the code in its box,
  // the request number where a PIN letter has the card serial, the default English wording.
  for (const std::string& want : {std::string("Zoë Ångström\nHauptstraße 5\n80331 München\nDE"),
                                  std::string("Your activation code"), std::string("Request no."),
                                  std::string("Your activation code for your certificate"),
                                  std::string("CertPress Test Bank"), std::to_string(zoe)}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << " not in:\n" << text;
  }
  EXPECT_EQ(text.find("Your PIN"), std::string::npos) << text;

  // Nowhere in clear, in either form a holder may type, before or after printing.
  std::string bare = code;
  bare.erase(5, 1);
  const std::string after = Dump();
  for (const std::string& c : {code, bare}) {
    EXPECT_EQ(before.find(c), std::string::npos) << c;
    EXPECT_EQ(after.find(c), std::string::npos) << c;
    EXPECT_EQ(DatadirFilesWith(c), "") << c;
  }
  nlohmann::json printed = Letters();
  for (const auto& l : printed) {
    if (l["id"] == zoe_letter) {
      EXPECT_EQ(l["state"], "printed");
      EXPECT_EQ(l["secret"], "wiped");
    }
  }

  // The link (minted when the mail goes out) with the letter's code picks the certificate up;
  // a wrong code does not.
  const std::string link = Link(zoe);
  ASSERT_EQ(link.size(), 43u);
  auto wrong = Redeem(link, "00000-00000");
  EXPECT_FALSE(wrong.ok);
  EXPECT_EQ(wrong.refusal, kgs::Refusal::kWrongCode);
  auto good = Redeem(link, code);
  EXPECT_TRUE(good.ok) << kgs::RefusalName(good.refusal);
  EXPECT_EQ(good.activation.request_id, zoe);
  auto again = Redeem(link, code);
  EXPECT_FALSE(again.ok);

  // Issuance, the letters and their printing are in the audit log, which verifies.
  auto audit =
      store::Sql(*conn_).Query("SELECT details FROM audit_log WHERE action = 'pinletter.create'");
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_NE((*audit)[0].Str(0).find("kind=activation-code letters=2"), std::string::npos)
      << (*audit)[0].Str(0);
  RunResult v = Run({"audit", "verify"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

TEST_F(CodeLettersIT, ALostLetterIsReplacedByANewCodeAndTheOperatorIsNeverShownIt) {
  auto ids = Issue();
  const int64_t pierre = ids["pierre@example.fr"];
  ASSERT_NE(pierre, 0);
  // The code is posted, never shown.
  RunResult shown = Run({"activation", "code", "--request", std::to_string(pierre)});
  EXPECT_EQ(shown.exit_code, 1);
  EXPECT_NE(shown.err.find("sends the activation code by letter, so it is never shown here"),
            std::string::npos)
      << shown.err;
  EXPECT_EQ(shown.out, "");

  int64_t first = 0;
  for (const auto& l : Letters()) {
    if (l["request_id"] == pierre) first = l["id"];
  }
  ASSERT_NE(first, 0);
  const std::string old_code = PrintedCode(first);
  ASSERT_EQ(old_code.size(), 11u);

  // The holder reports the letter lost: a new letter with a new code.
  RunResult again = Run({"activation", "code", "--request", std::to_string(pierre), "--letter"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(again.out, m, std::regex("sealed in letter ([0-9]+)")))
      << again.out;
  const int64_t second = std::stoll(m[1].str());
  EXPECT_EQ(again.out.find(old_code), std::string::npos);
  const std::string new_code = PrintedCode(second);
  ASSERT_EQ(new_code.size(), 11u);
  EXPECT_NE(new_code, old_code);

  // A reprint of the first is refused (its code was wiped), pointing at the way above.
  const auto alice = cli_.OperatorArgs("alice");
  std::vector<std::string> reprint{"pinletter", "print", "--id", std::to_string(first),
                                   "--reprint"};
  reprint.insert(reprint.end(), alice.begin(), alice.end());
  RunResult refused = Run(reprint);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("its code was wiped when it was printed"), std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("--letter"), std::string::npos) << refused.err;

  const std::string link = Link(pierre);
  auto stale = Redeem(link, old_code);
  EXPECT_FALSE(stale.ok);
  EXPECT_EQ(stale.refusal, kgs::Refusal::kWrongCode);
  auto fresh = Redeem(link, new_code);
  EXPECT_TRUE(fresh.ok) << kgs::RefusalName(fresh.refusal);

  // The table view names the kind, and a code letter has no card serial.
  RunResult table = Run({"pinletter", "list"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find(std::to_string(second) + " "), std::string::npos) << table.out;
  char row[80];
  std::snprintf(row, sizeof row, "%-8lld %-17s %-16s", static_cast<long long>(pierre), "-",
                "soft-letter");
  EXPECT_NE(table.out.find(row), std::string::npos) << row << "\n" << table.out;
  EXPECT_NE(table.out.find("activation-code"), std::string::npos) << table.out;
  // A sample of the profile is a code letter, stamped SAMPLE.
  RunResult sample =
      Run({"pinletter", "sample", "--profile", "soft-letter", "--out", cli_.dir() + "/s.pdf"});
  ASSERT_EQ(sample.exit_code, 0) << sample.err;
  const std::string sample_text =
      Sh("pdftotext -raw -enc UTF-8 " + Quote(cli_.dir() + "/s.pdf") + " -").out;
  EXPECT_NE(sample_text.find("SAMPLE"), std::string::npos) << sample_text;
  EXPECT_NE(sample_text.find("Your activation code"), std::string::npos) << sample_text;
  EXPECT_EQ(sample_text.find("Your PIN"), std::string::npos) << sample_text;

  // A profile whose code an operator shows has no letter to ask for.
  RunResult wrong_kind = Run({"activation", "code", "--request", "999999", "--letter"});
  EXPECT_EQ(wrong_kind.exit_code, 1);
  RunResult v = Run({"audit", "verify"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

// The rule that a posted code is never shown does not hang on the profiles the showing
// process loaded: with --profiles.dir at a directory without the request's profile (the
// shipped ones only; an empty directory is refused as a whole), `activation code` still
// refuses, no code is minted, and the letter's code still redeems.
TEST_F(CodeLettersIT, APostedCodeIsNotShownWhenTheProfileIsNotLoaded) {
  auto ids = Issue();
  const int64_t zoe = ids["zoe@example.org"];
  ASSERT_NE(zoe, 0);
  const std::string empty = cli_.dir() + "/other-profiles";
  ASSERT_EQ(Sh("mkdir -p " + Quote(empty) + " && cp " + Quote(cli_.dir() + "/profiles") +
               "/*.toml " + Quote(empty) + " && rm " + Quote(empty + "/soft-letter.toml"))
                .exit_code,
            0);
  RunResult shown =
      Run({"activation", "code", "--request", std::to_string(zoe), "--profiles.dir", empty});
  EXPECT_EQ(shown.exit_code, 1) << shown.out;
  EXPECT_FALSE(
      std::regex_search(shown.out, std::regex("[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}")))
      << shown.out;
  EXPECT_NE(shown.err.find("sent by letter, so it is never shown"), std::string::npos) << shown.err;
  auto minted =
      store::Sql(*conn_).Query("SELECT COUNT(*) FROM audit_log WHERE action = 'activation.code'");
  ASSERT_TRUE(minted.ok()) << minted.status().message();
  EXPECT_EQ((*minted)[0].Int(0), 0);
  auto channel = store::Sql(*conn_).Query(
      "SELECT COUNT(*) FROM activations WHERE request_id = ? AND code_channel = 'letter'", {zoe});
  ASSERT_TRUE(channel.ok()) << channel.status().message();
  EXPECT_GE((*channel)[0].Int(0), 1);

  int64_t letter = 0;
  for (const auto& l : Letters()) {
    if (l["request_id"] == zoe) letter = l["id"];
  }
  ASSERT_NE(letter, 0);
  const std::string code = PrintedCode(letter);
  ASSERT_EQ(code.size(), 11u);
  auto redeemed = Redeem(Link(zoe), code);
  EXPECT_TRUE(redeemed.ok) << kgs::RefusalName(redeemed.refusal);
}

// Review: a resend of a locked activation carried its code over with fresh attempts. For a
// profile that posts its codes the resend queues a new code letter: the locked code does not
// open the new link, the new letter's code does, and the operator is not shown it.
TEST_F(CodeLettersIT, ALockedActivationsResendPostsANewCodeInANewLetter) {
  auto ids = Issue();
  const int64_t pierre = ids["pierre@example.fr"];
  ASSERT_NE(pierre, 0);
  int64_t first = 0;
  for (const auto& l : Letters()) {
    if (l["request_id"] == pierre) first = l["id"];
  }
  ASSERT_NE(first, 0);
  const std::string old_code = PrintedCode(first);
  ASSERT_EQ(old_code.size(), 11u);
  const std::string link = Link(pierre);
  kgs::Redemption r;
  for (int n = 0; n < 20 && r.refusal != kgs::Refusal::kLocked; ++n)
    r = Redeem(link, "00000-0000" + std::to_string(n % 10));
  ASSERT_EQ(r.refusal, kgs::Refusal::kLocked);
  EXPECT_EQ(Redeem(link, old_code).refusal, kgs::Refusal::kLocked);

  RunResult resend = Run({"activation", "resend", "--request", std::to_string(pierre)});
  ASSERT_EQ(resend.exit_code, 0) << resend.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(resend.out, m, std::regex("sealed in letter ([0-9]+)")))
      << resend.out;
  EXPECT_FALSE(std::regex_search(resend.out, std::regex("[0-9A-Z]{5}-[0-9A-Z]{5}"))) << resend.out;
  const std::string new_code = PrintedCode(std::stoll(m[1].str()));
  ASSERT_EQ(new_code.size(), 11u);
  EXPECT_NE(new_code, old_code);
  const std::string fresh = Link(pierre);
  auto stale = Redeem(fresh, old_code);
  EXPECT_FALSE(stale.ok);
  EXPECT_EQ(stale.refusal, kgs::Refusal::kWrongCode);
  auto good = Redeem(fresh, new_code);
  EXPECT_TRUE(good.ok) << kgs::RefusalName(good.refusal);
  RunResult v = Run({"audit", "verify"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

}  // namespace
}  // namespace certpress
