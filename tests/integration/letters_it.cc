// PIN letters (kgs/letters.h) on the real stack: queued through the API a station calls, with
// the token of a fresh SoftHSM store and a private database; then listed, printed, reprinted
// and marked mailed through the certpress command line. The secret is looked for where it must
// not be: a dump of the database, MariaDB's own files and the log.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "kgs/audit_keys.h"
#include "kgs/letters.h"
#include "store/pin_letters.h"
#include "store/sql.h"
#include "tests/support/test_env.h"

namespace certpress {
namespace {

namespace fs = std::filesystem;
using testing::Quote;
using testing::RunResult;
using testing::Sh;
using testing::TestDb;
using testing::TestToken;

// The key encryption key the command line uses (app::kKekLabel), so letters queued here open
// there, and audit entries written here chain with the command line's.
constexpr const char* kKek = "certpress-kek";

// A random 8-digit PIN or PUK, different in every test so that a search for it finds this
// test's secret only.
std::string RandomDigits() {
  std::string hex = testing::RandomSuffix(), out;
  for (char c : hex) out += static_cast<char>('0' + (c % 10));
  return out.substr(0, 8);
}

kgs::PinLetterInput Input(const std::string& pin, const std::string& puk) {
  kgs::PinLetterInput in;
  in.request_id = 42;
  in.card_serial = "12345678";
  in.profile = "employee-piv";
  in.holder_name = "Zoë Łukasiewicz-Ångström";
  in.postal_address = {"Hauptstraße 5", "80331 München", "GERMANY"};
  in.pin = SecureString(pin);
  in.puk = SecureString(puk);
  return in;
}

// DumpDatabase is mariadb-dump's text of |db| (binary columns as they are, not hex, so that a
// secret stored in clear in a blob shows as itself).
std::string DumpDatabase(const TestDb& db) {
  RunResult r = Sh("mariadb-dump --no-defaults -uroot --socket=" +
                   Quote(testing::RequireEnv("CERTPRESS_DB_SOCKET")) + " " + Quote(db.name()));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("pin_letters"), std::string::npos);
  return r.out;
}

// DatadirFilesWith lists the files of MariaDB's datadir (tables, redo and undo logs) that hold
// |needle| anywhere in their bytes.
std::string DatadirFilesWith(const std::string& needle) {
  const std::string datadir = testing::RequireEnv("CERTPRESS_STATE") + "/mariadb/data";
  RunResult r = Sh("grep -r -a -l -F " + Quote(needle) + " " + Quote(datadir));
  return r.out;  // grep exits 1 when nothing matches
}

class LettersIT : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = OpenToken(ConfigFor(token_));
    ASSERT_TRUE(t.ok()) << t.status().message();
    hsm_ = std::move(t).value();
    conn_ = db_.Connect();
    ASSERT_TRUE(conn_);
    auto keys = kgs::LoadAuditKeys(*conn_, *hsm_, kKek, /*create=*/true);
    ASSERT_TRUE(keys.ok()) << keys.status().message();
    conn_->SetAuditKeys(*keys);
  }

  Result<int64_t> Queue(const std::string& pin, const std::string& puk) {
    return kgs::QueueLetter(*conn_, *hsm_, kKek, Input(pin, puk), "station:test");
  }

  std::vector<std::string> AuditActions(const std::string& object) {
    auto rows = store::Sql(*conn_).Query(
        "SELECT action, details FROM audit_log WHERE object = ? ORDER BY seq", {object});
    EXPECT_TRUE(rows.ok()) << rows.status().message();
    std::vector<std::string> out;
    for (const auto& r : *rows) out.push_back(r.Str(0) + " " + r.Str(1));
    return out;
  }

  // Print runs `pinletter print` with the letters written to a directory of this test.
  RunResult Print(std::vector<std::string> args) {
    args.insert(args.begin(), {"pinletter", "print", "--out-dir", QueueDir()});
    return cli_.Run(args);
  }
  std::string QueueDir() const { return cli_.dir() + "/queue"; }

  nlohmann::json ListJson(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{"pinletter", "list", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    RunResult r = cli_.Run(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  }

  // PdfText is pdftotext's reading; |raw| also reads text set at an angle (the SAMPLE stamp).
  std::string PdfText(const std::string& path, bool raw = false) {
    RunResult r =
        Sh(std::string("pdftotext ") + (raw ? "-raw " : "") + "-enc UTF-8 " + Quote(path) + " -");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  TestDb db_;
  TestToken token_;
  std::unique_ptr<CryptoToken> hsm_;
  std::unique_ptr<store::Connection> conn_;
  testing::Cli cli_{db_, token_};
};

TEST_F(LettersIT, AQueuedLetterKeepsItsPinAndPukOnlySealed) {
  const std::string pin = RandomDigits(), puk = RandomDigits();
  auto id = Queue(pin, puk);
  ASSERT_TRUE(id.ok()) << id.status().message();
  auto rec = store::FindPinLetter(*conn_, *id);
  ASSERT_TRUE(rec.ok()) << rec.status().message();
  EXPECT_EQ(rec->state, "created");
  EXPECT_EQ(rec->card_serial, "12345678");
  EXPECT_EQ(rec->holder_name, "Zoë Łukasiewicz-Ångström");
  EXPECT_EQ(rec->address.size(), 3u);
  EXPECT_TRUE(rec->has_puk);
  EXPECT_EQ(rec->kek_label, kKek);
  // IV (12) || ciphertext of "PIN\nPUK" (17) || tag (16).
  EXPECT_EQ(rec->sealed.size(), 12u + 17u + 16u);
  EXPECT_FALSE(rec->wrapped_key.empty());
  // Nowhere in clear: not in a dump of the database, not in any of MariaDB's files.
  const std::string dump = DumpDatabase(db_);
  EXPECT_EQ(dump.find(pin), std::string::npos);
  EXPECT_EQ(dump.find(puk), std::string::npos);
  EXPECT_EQ(DatadirFilesWith(pin), "");
  EXPECT_EQ(DatadirFilesWith(puk), "");
  auto audit = AuditActions("pinletter:" + std::to_string(*id));
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0], "pinletter.create request=42 card=12345678 profile=employee-piv pin+puk");
}

TEST_F(LettersIT, BadInputIsRefusedByNameAndNeverEchoesTheSecret) {
  auto bad_pin = Queue("12a4567", "");
  ASSERT_FALSE(bad_pin.ok());
  EXPECT_EQ(bad_pin.status().kind(), ErrorKind::kInvalidInput);
  EXPECT_NE(bad_pin.status().message().find("PIN: must be digits only"), std::string::npos)
      << bad_pin.status().message();
  EXPECT_EQ(bad_pin.status().message().find("12a4567"), std::string::npos);
  auto short_puk = Queue("123456", "98765");
  ASSERT_FALSE(short_puk.ok());
  EXPECT_NE(short_puk.status().message().find("PUK: must be 6 to 8 digits"), std::string::npos)
      << short_puk.status().message();
  EXPECT_EQ(short_puk.status().message().find("98765"), std::string::npos);
  kgs::PinLetterInput no_address = Input("123456", "");
  no_address.postal_address.clear();
  auto r = kgs::QueueLetter(*conn_, *hsm_, kKek, no_address, "station:test");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("postal address: must have 1 to 5 lines"), std::string::npos)
      << r.status().message();
  auto none = store::ListPinLetters(*conn_, "");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(LettersIT, PrintWritesTheLetterAndWipesTheSecret) {
  const std::string pin = RandomDigits(), puk = RandomDigits();
  auto id = Queue(pin, puk);
  ASSERT_TRUE(id.ok()) << id.status().message();
  const std::string n = std::to_string(*id);
  auto before = ListJson();
  ASSERT_EQ(before.size(), 1u) << before;
  EXPECT_EQ(before[0]["state"], "created");
  EXPECT_EQ(before[0]["secret"], "sealed");
  EXPECT_EQ(before[0]["print_count"], 0);

  const std::string log = cli_.dir() + "/certpress.log";
  RunResult r = Print({"--id", n, "--log-level", "trace", "--log-file", log});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string pdf = QueueDir() + "/pinletter-" + n + ".pdf";
  EXPECT_NE(r.out.find("letter " + n + " printed to " + pdf), std::string::npos) << r.out;
  struct stat st {};
  ASSERT_EQ(::stat(pdf.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(QueueDir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  // poppler reads back what the holder will read.
  const std::string text = PdfText(pdf);
  for (const std::string& want :
       {pin, puk, std::string("12345678"), std::string("Zoë Łukasiewicz-Ångström"),
        std::string("80331 München"), n}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << " not in:\n" << text;
  }

  auto after = ListJson();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0]["state"], "printed");
  EXPECT_EQ(after[0]["secret"], "wiped");
  EXPECT_EQ(after[0]["print_count"], 1);
  EXPECT_FALSE(after[0]["printed_at"].is_null());
  auto rows = store::Sql(*conn_).Query(
      "SELECT sealed IS NULL, wrapped_key IS NULL FROM pin_letters WHERE id = ?", {*id});
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ((*rows)[0].Int(0), 1);
  EXPECT_EQ((*rows)[0].Int(1), 1);
  // Neither the database, nor MariaDB's files, nor the log ever held the secret in clear.
  const std::string dump = DumpDatabase(db_);
  EXPECT_EQ(dump.find(pin), std::string::npos);
  EXPECT_EQ(dump.find(puk), std::string::npos);
  EXPECT_EQ(DatadirFilesWith(pin), "");
  auto log_text = ReadFile(log);
  ASSERT_TRUE(log_text.ok()) << log_text.status().message();
  EXPECT_EQ(log_text->find(pin), std::string::npos);
  EXPECT_EQ(r.out.find(pin) + r.err.find(pin), 2 * std::string::npos);

  auto audit = AuditActions("pinletter:" + n);
  ASSERT_EQ(audit.size(), 2u);
  EXPECT_EQ(audit[1].rfind("pinletter.print card=12345678 file=" + pdf, 0), 0u) << audit[1];
  // Our entries chain with the command line's: the whole log verifies.
  RunResult v = cli_.Run({"audit", "verify"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

// With a spooler (letters.spooler), the letter goes to it and leaves the queue directory: after
// `pinletter print`, no file under the queue directory holds the PIN or the PUK (pdftotext and
// a byte search), while the stand-in spooler's own copy does. A spooler that fails leaves the
// letter created, with its secret sealed, and no file behind either.
TEST_F(LettersIT, ASpooledLetterLeavesNoFileWithThePinBehind) {
  const std::string pin = RandomDigits(), puk = RandomDigits();
  auto id = Queue(pin, puk);
  ASSERT_TRUE(id.ok()) << id.status().message();
  const std::string n = std::to_string(*id);
  const std::string spool = cli_.dir() + "/spool";
  ASSERT_EQ(Sh("mkdir -p " + Quote(spool)).exit_code, 0);

  RunResult broken = Print({"--id", n, "--letters.spooler", "false"});
  EXPECT_NE(broken.exit_code, 0);
  EXPECT_NE(broken.err.find("the spooler 'false' exited with 1"), std::string::npos) << broken.err;
  EXPECT_EQ(ListJson()[0]["state"], "created");
  EXPECT_EQ(ListJson()[0]["secret"], "sealed");
  EXPECT_EQ(Sh("find " + Quote(QueueDir()) + " -type f | wc -l").out, "0\n");

  RunResult r = Print({"--id", n, "--letters.spooler", "cp -t " + Quote(spool) + " --"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("letter " + n + " sent to the spooler"), std::string::npos) << r.out;
  EXPECT_EQ(ListJson()[0]["state"], "printed");
  // The spooler got the letter...
  const std::string spooled = PdfText(spool + "/pinletter-" + n + ".pdf");
  EXPECT_NE(spooled.find(pin), std::string::npos) << spooled;
  // ...and nothing under the queue directory holds the PIN or the PUK, as text or as bytes.
  RunResult files = Sh("find " + Quote(QueueDir()) + " -type f");
  ASSERT_EQ(files.exit_code, 0) << files.err;
  EXPECT_EQ(files.out, "");
  RunResult text = Sh("for f in $(find " + Quote(QueueDir()) +
                      " -type f); do pdftotext \"$f\" - 2>/dev/null; cat \"$f\"; done");
  EXPECT_EQ(text.out.find(pin), std::string::npos);
  EXPECT_EQ(text.out.find(puk), std::string::npos);
  auto audit = AuditActions("pinletter:" + n);
  ASSERT_EQ(audit.size(), 2u);
  EXPECT_EQ(audit[1], "pinletter.print card=12345678 spooled secret wiped");
}

TEST_F(LettersIT, APrintedLetterIsNotPrintedAgainAndAReprintIsRefusedAndAudited) {
  auto id = Queue(RandomDigits(), "");
  ASSERT_TRUE(id.ok()) << id.status().message();
  const std::string n = std::to_string(*id);
  const auto alice = cli_.OperatorArgs("alice");
  // Not printed yet: there is nothing to reprint.
  std::vector<std::string> reprint{"--id", n, "--reprint"};
  reprint.insert(reprint.end(), alice.begin(), alice.end());
  RunResult early = Print(reprint);
  EXPECT_EQ(early.exit_code, 1);
  EXPECT_NE(early.err.find("has not been printed yet: print it without --reprint"),
            std::string::npos)
      << early.err;
  ASSERT_EQ(Print({"--id", n}).exit_code, 0);

  RunResult again = Print({"--id", n});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("was printed on"), std::string::npos) << again.err;
  EXPECT_NE(again.err.find("Printing it again is a reprint"), std::string::npos) << again.err;

  RunResult refused = Print(reprint);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("its PIN and PUK were wiped when it was printed: it cannot be "
                             "printed again. Reset the card's PIN"),
            std::string::npos)
      << refused.err;
  // Without a key, or with another operator's key, nothing is even asked.
  RunResult unsigned_reprint = Print({"--id", n, "--reprint", "--operator", "alice"});
  EXPECT_EQ(unsigned_reprint.exit_code, 2) << unsigned_reprint.err;
  const auto bob = cli_.OperatorArgs("bob");
  std::vector<std::string> forged{"--id",  n,      "--reprint",           "--operator", "alice",
                                  "--key", bob[3], "--key-password-file", bob[5]};
  RunResult wrong_key = Print(forged);
  EXPECT_EQ(wrong_key.exit_code, 1);
  EXPECT_NE(wrong_key.err.find("not signed by operator alice's registered key"), std::string::npos)
      << wrong_key.err;

  auto audit = AuditActions("pinletter:" + n);
  ASSERT_EQ(audit.size(), 3u) << ::testing::PrintToString(audit);
  EXPECT_EQ(audit[2].rfind("pinletter.reprint-refused card=12345678 state=printed", 0), 0u)
      << audit[2];
  auto actor = store::Sql(*conn_).Query(
      "SELECT actor FROM audit_log WHERE action = 'pinletter.reprint-refused'");
  ASSERT_TRUE(actor.ok());
  ASSERT_EQ(actor->size(), 1u);
  EXPECT_EQ((*actor)[0].Str(0), "alice");
  auto l = ListJson();
  EXPECT_EQ(l[0]["print_count"], 1);
}

TEST_F(LettersIT, StatesMoveOnlyForward) {
  auto id = Queue(RandomDigits(), RandomDigits());
  ASSERT_TRUE(id.ok()) << id.status().message();
  const std::string n = std::to_string(*id);
  RunResult early = cli_.Run({"pinletter", "mark-mailed", "--id", n});
  EXPECT_EQ(early.exit_code, 1);
  EXPECT_NE(early.err.find("letter " + n + " is created, not printed: it cannot be marked mailed"),
            std::string::npos)
      << early.err;
  ASSERT_EQ(Print({"--id", n}).exit_code, 0);
  RunResult mailed = cli_.Run({"pinletter", "mark-mailed", "--id", n});
  ASSERT_EQ(mailed.exit_code, 0) << mailed.err;
  RunResult twice = cli_.Run({"pinletter", "mark-mailed", "--id", n});
  EXPECT_EQ(twice.exit_code, 1);
  EXPECT_NE(twice.err.find("is mailed on"), std::string::npos) << twice.err;
  RunResult print_mailed = Print({"--id", n});
  EXPECT_EQ(print_mailed.exit_code, 1);
  EXPECT_NE(print_mailed.err.find("and mailed on"), std::string::npos) << print_mailed.err;
  EXPECT_EQ(ListJson({"--state", "mailed"}).size(), 1u);
  EXPECT_EQ(ListJson({"--state", "created"}).size(), 0u);
  RunResult unknown = cli_.Run({"pinletter", "mark-mailed", "--id", "999999"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no PIN letter 999999"), std::string::npos) << unknown.err;
  auto audit = AuditActions("pinletter:" + n);
  ASSERT_EQ(audit.size(), 3u);
  EXPECT_EQ(audit[2], "pinletter.mail mailed");
  // The table view says the same.
  RunResult table = cli_.Run({"pinletter", "list"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find(n + "       mailed   42       12345678"), std::string::npos)
      << table.out;
}

TEST_F(LettersIT, TwoPrintersAtOnceGetTheLetterOnce) {
  auto id = Queue(RandomDigits(), RandomDigits());
  ASSERT_TRUE(id.ok()) << id.status().message();
  const std::string n = std::to_string(*id);
  const std::string a = cli_.dir() + "/a", b = cli_.dir() + "/b";
  auto line = [&](const std::string& out) {
    return cli_.CommandLine({"pinletter", "print", "--id", n, "--out-dir", QueueDir()}) + " >" +
           Quote(out) + ".out 2>" + Quote(out) + ".err; echo $? >" + Quote(out) + ".rc";
  };
  RunResult both = Sh("( " + line(a) + " ) & ( " + line(b) + " ) & wait");
  ASSERT_EQ(both.exit_code, 0) << both.err;
  auto rc = [](const std::string& p) {
    return ReadFile(p + ".rc").ok() ? *ReadFile(p + ".rc") : "";
  };
  // One printed it; the other found it printed (the row is locked from reading the secret
  // to the commit).
  EXPECT_EQ(rc(a) + rc(b) == "0\n1\n" || rc(a) + rc(b) == "1\n0\n", true) << rc(a) << rc(b);
  const std::string loser_err = rc(a) == "1\n" ? *ReadFile(a + ".err") : *ReadFile(b + ".err");
  EXPECT_NE(loser_err.find("was printed on"), std::string::npos) << loser_err;
  auto l = ListJson();
  EXPECT_EQ(l[0]["print_count"], 1);
  EXPECT_EQ(AuditActions("pinletter:" + n).size(), 2u);
}

TEST_F(LettersIT, PrintAllGoesOnPastALetterThatCannotBePrinted) {
  auto a = Queue(RandomDigits(), "");
  kgs::PinLetterInput orphan = Input(RandomDigits(), "");
  orphan.profile = "no-such-profile";
  auto b = kgs::QueueLetter(*conn_, *hsm_, kKek, orphan, "station:test");
  auto c = Queue(RandomDigits(), "");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  // Default queue directory: $CERTPRESS_STATE/pinletters.
  const std::string state = cli_.dir() + "/state";
  RunResult r = Sh("CERTPRESS_STATE=" + Quote(state) + " " +
                   cli_.CommandLine({"pinletter", "print", "--all"}));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("2 printed, 1 failed"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("printing letter " + std::to_string(*b)), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no-such-profile"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(state + "/pinletters/pinletter-" + std::to_string(*a) + ".pdf"));
  EXPECT_TRUE(fs::exists(state + "/pinletters/pinletter-" + std::to_string(*c) + ".pdf"));
  auto left = ListJson({"--state", "created"});
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0]["id"], *b);
  EXPECT_EQ(left[0]["secret"], "sealed");
}

TEST_F(LettersIT, ASealedSecretMovedToAnotherLetterDoesNotOpen) {
  auto a = Queue(RandomDigits(), "");
  auto b = Queue(RandomDigits(), "");
  ASSERT_TRUE(a.ok() && b.ok());
  // Someone with write access to the table copies letter a's sealed secret and key into b.
  auto moved = store::Sql(*conn_).Exec(
      "UPDATE pin_letters t JOIN pin_letters s ON s.id = ? SET t.sealed = s.sealed, "
      "t.wrapped_key = s.wrapped_key WHERE t.id = ?",
      {*a, *b});
  ASSERT_TRUE(moved.ok()) << moved.status().message();
  RunResult r = Print({"--id", std::to_string(*b)});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("printing letter " + std::to_string(*b)), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(QueueDir() + "/pinletter-" + std::to_string(*b) + ".pdf"));
  EXPECT_EQ(ListJson({"--state", "created"}).size(), 2u);
}

// The run-time account can write the letters table: it saves the sealed secret before the
// print and puts it back after, and the letter prints again (a second copy of the PIN). The
// print cannot tell; `audit verify` does, from the audit chain it cannot rewrite.
TEST_F(LettersIT, ASecondPrintFromARestoredSecretIsCaughtByAuditVerify) {
  auto id = Queue(RandomDigits(), RandomDigits());
  ASSERT_TRUE(id.ok()) << id.status().message();
  const std::string n = std::to_string(*id);
  ASSERT_TRUE(
      store::Sql(*conn_)
          .ExecScript("CREATE TABLE saved_letter AS SELECT * FROM pin_letters WHERE id = " + n)
          .ok());
  ASSERT_EQ(Print({"--id", n}).exit_code, 0);
  ASSERT_EQ(cli_.Run({"audit", "verify"}).exit_code, 0);
  ASSERT_TRUE(store::Sql(*conn_)
                  .Exec("UPDATE pin_letters p JOIN saved_letter s ON s.id = p.id SET p.state = "
                        "s.state, p.sealed = s.sealed, p.wrapped_key = s.wrapped_key, "
                        "p.kek_label = s.kek_label WHERE p.id = ?",
                        {*id})
                  .ok());
  ASSERT_EQ(Print({"--id", n}).exit_code, 0);
  RunResult v = cli_.Run({"audit", "verify"});
  EXPECT_EQ(v.exit_code, 1) << v.out;
  EXPECT_NE(v.err.find("pinletter:" + n +
                       " was printed 2 times: its secret is wiped when printed, so it was put "
                       "back"),
            std::string::npos)
      << v.err;
}

TEST_F(LettersIT, ASampleLetterIsMarkedSample) {
  const std::string out = cli_.dir() + "/sample.pdf";
  RunResult r = cli_.Run({"pinletter", "sample", "--profile", "employee-piv", "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string text = PdfText(out, /*raw=*/true);
  EXPECT_NE(text.find("SAMPLE"), std::string::npos) << text;
  EXPECT_NE(text.find("Your PIN for your new employee card"), std::string::npos) << text;
  RunResult soft = cli_.Run({"pinletter", "sample", "--profile", "nope", "--out", out});
  EXPECT_EQ(soft.exit_code, 1);
  // A given holder, as the window will show it; one that does not fit is refused by line.
  RunResult cjk =
      cli_.Run({"pinletter", "sample", "--profile", "employee-piv", "--out", out, "--holder",
                "山田 太郎", "--address", "東京都千代田区丸の内1-1-1", "100-0005 東京"});
  ASSERT_EQ(cjk.exit_code, 0) << cjk.err;
  EXPECT_NE(PdfText(out).find("山田 太郎\n東京都千代田区丸の内1-1-1\n100-0005 東京"),
            std::string::npos)
      << PdfText(out);
  RunResult wide =
      cli_.Run({"pinletter", "sample", "--profile", "employee-piv", "--out", out, "--holder", "A",
                "--address", "東京都千代田区丸の内一丁目一番一号東京駅前ビルディング二十階"});
  EXPECT_EQ(wide.exit_code, 1);
  EXPECT_NE(wide.err.find("postal address line 1 is wider than the envelope window"),
            std::string::npos)
      << wide.err;
}

TEST_F(LettersIT, TheRecipientComesFromTheRequestFields) {
  auto set = profiles::LoadProfiles(cli_.dir() + "/profiles");
  ASSERT_TRUE(set.ok()) << set.status().message();
  auto piv = set->Card("employee-piv");
  ASSERT_TRUE(piv.ok());
  auto r = kgs::RecipientFromFields(**piv, {{"given_name", "Анна"},
                                            {"surname", "Каренина"},
                                            {"address_line1", "ул. Тверская, д. 7"},
                                            {"postal_code", "125009"},
                                            {"city", "Москва"},
                                            {"country", "RU"}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->holder_name, "Анна Каренина");
  // address_line2 is empty: its line is left out.
  EXPECT_EQ(r->postal_address,
            (std::vector<std::string>{"ул. Тверская, д. 7", "125009 Москва", "RU"}));

  // A station's call, inside its own transaction: the letter exists once that commits.
  const std::string pin = RandomDigits();
  int64_t id = 0;
  Status st = store::RunTransaction(*conn_, [&](store::Connection& tx) -> Status {
    CP_ASSIGN_OR_RETURN(
        id, kgs::QueueLetterForCard(
                tx, *hsm_, kKek, **piv, 7, "CARD-0042",
                R"({"given_name":"山田","surname":"太郎","address_line1":"丸の内1-1",)"
                R"("postal_code":"100-0005","city":"東京","country":"JP","employee_id":"E000001"})",
                SecureString(pin), SecureString(), "station:test"));
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(Print({"--id", std::to_string(id)}).exit_code, 0);
  const std::string text = PdfText(QueueDir() + "/pinletter-" + std::to_string(id) + ".pdf");
  EXPECT_NE(text.find("山田 太郎\n丸の内1-1\n100-0005 東京\nJP"), std::string::npos) << text;
  EXPECT_NE(text.find(pin), std::string::npos);
  EXPECT_EQ(text.find("Your PUK"), std::string::npos) << text;
  auto bad = kgs::QueueLetterForCard(*conn_, *hsm_, kKek, **piv, 7, "CARD-0043", "[1]",
                                     SecureString(pin), SecureString(), "station:test");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("the fields of request 7 are not a JSON object"),
            std::string::npos)
      << bad.status().message();
}

}  // namespace
}  // namespace certpress
