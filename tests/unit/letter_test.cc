// The PIN letter's layout (kgs/letter_pdf.h) read back by poppler, which we did not write:
// pdftotext finds the texts, pdftotext -bbox where they are on the page, pdffonts that every
// font is embedded. And the [letter] table of card profiles (cardprofiles/profile_letter.cc).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "cardprofiles/profile.h"
#include "common/bytes.h"
#include "kgs/letter_pdf.h"
#include "kgs/letters.h"
#include "tests/support/test_env.h"

namespace certpress::kgs {
namespace {

namespace fs = std::filesystem;
using certpress::testing::Quote;
using certpress::testing::RunResult;
using certpress::testing::Sh;

// A PDF written to a temporary file for poppler's tools, removed afterwards.
class PdfFile {
 public:
  explicit PdfFile(const SecureString& pdf)
      : path_(
            (fs::temp_directory_path() / ("letter-" + certpress::testing::RandomSuffix() + ".pdf"))
                .string()) {
    EXPECT_TRUE(WriteFile(path_, pdf.view(), 0600).ok());
  }
  ~PdfFile() { fs::remove(path_); }
  // Text is pdftotext's reading; |raw| keeps the content stream's order and also reads
  // text set at an angle (the SAMPLE stamp).
  std::string Text(bool raw = false) const {
    RunResult r =
        Sh(std::string("pdftotext ") + (raw ? "-raw " : "") + "-enc UTF-8 " + Quote(path_) + " -");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }
  // Fonts is pdffonts' table.
  std::string Fonts() const {
    RunResult r = Sh("pdffonts " + Quote(path_));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }
  // Box is the bounding box (mm, from the top left) of the first word equal to |word|.
  struct Box {
    double x0 = -1, y0 = -1, x1 = -1, y1 = -1;
  };
  Box WordBox(const std::string& word) const {
    RunResult r = Sh("pdftotext -bbox -enc UTF-8 " + Quote(path_) + " -");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::regex re(
        R"re(<word xMin="([0-9.]+)" yMin="([0-9.]+)" xMax="([0-9.]+)" yMax="([0-9.]+)">([^<]*)</word>)re");
    constexpr double kPtToMm = 25.4 / 72.0;
    for (auto it = std::sregex_iterator(r.out.begin(), r.out.end(), re);
         it != std::sregex_iterator(); ++it) {
      if ((*it)[5] == word) {
        return {std::stod((*it)[1]) * kPtToMm, std::stod((*it)[2]) * kPtToMm,
                std::stod((*it)[3]) * kPtToMm, std::stod((*it)[4]) * kPtToMm};
      }
    }
    ADD_FAILURE() << "no word '" << word << "' in the PDF";
    return {};
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct Fixture {
  profiles::LetterTemplate tmpl;
  LetterPage page;
  Fixture() {
    page.tmpl = &tmpl;
    page.letter_id = 731;
    page.request_id = 42;
    page.card_serial = "SN40593817";
    page.profile = "employee-piv";
    page.holder_name = "Zoë Łukasiewicz-Ångström";
    page.address = {"Hauptstraße 5", "80331 München", "GERMANY"};
    page.date = "2026-11-30";
    page.pin = "493027";
    page.puk = "81726354";
  }
  SecureString Render() {
    auto pdf = RenderLetterPdf(page);
    EXPECT_TRUE(pdf.ok()) << pdf.status().message();
    return pdf.ok() ? std::move(pdf).value() : SecureString();
  }
};

TEST(LetterPdfTest, TextShowsNameAddressPinPukSerialAndLetterId) {
  Fixture f;
  PdfFile pdf(f.Render());
  const std::string text = pdf.Text();
  for (const char* s : {"Zoë Łukasiewicz-Ångström", "Hauptstraße 5", "80331 München", "GERMANY",
                        "493027", "81726354", "SN40593817", "731", "30 November 2026", "Your PIN",
                        "Your PUK", "Personal and confidential"}) {
    EXPECT_NE(text.find(s), std::string::npos) << s << " not in:\n" << text;
  }
}

TEST(LetterPdfTest, CyrillicAndCjkNamesSurviveInEmbeddedFonts) {
  for (const char* name : {"Анна Сергеевна Каренина", "山田 太郎", "김민준"}) {
    Fixture f;
    f.page.holder_name = name;
    f.page.address = {"ул. Тверская, д. 7", "125009 Москва", "RUSSIA"};
    if (std::string(name) != "Анна Сергеевна Каренина")
      f.page.address = {"東京都千代田区丸の内1-1", "100-0005", "JAPAN"};
    PdfFile pdf(f.Render());
    const std::string text = pdf.Text();
    EXPECT_NE(text.find(name), std::string::npos) << name << " not in:\n" << text;
    EXPECT_NE(text.find(f.page.address[0]), std::string::npos) << text;
    const std::string fonts = pdf.Fonts();
    // Every font is embedded (pdffonts' "emb" column): the letter prints the same anywhere.
    std::istringstream lines(fonts);
    std::string line;
    int rows = 0;
    std::getline(lines, line);  // header
    std::getline(lines, line);  // rule
    while (std::getline(lines, line)) {
      if (line.empty()) continue;
      ++rows;
      EXPECT_NE(line.find(" yes "), std::string::npos) << "not embedded: " << line;
    }
    EXPECT_GE(rows, 2) << fonts;
    EXPECT_NE(fonts.find("DejaVuSans"), std::string::npos) << fonts;
    if (std::string(name) != "Анна Сергеевна Каренина") {
      EXPECT_NE(fonts.find("NotoSansCJK"), std::string::npos) << fonts;
    }
  }
}

TEST(LetterPdfTest, AddressSitsInTheEnvelopeWindowAndThePinBelowTheFold) {
  Fixture f;
  f.tmpl.return_address = "Returns: PO Box 7, Leeds LS1 1AA";
  PdfFile pdf(f.Render());
  // DIN 5008 form B: the address zone is x 20-105 mm, y 62.7-90 mm.
  for (const char* word : {"Zoë", "Hauptstraße", "München", "GERMANY"}) {
    auto b = pdf.WordBox(word);
    EXPECT_GE(b.x0, 20.0) << word;
    EXPECT_LE(b.x1, 105.0) << word;
    EXPECT_GE(b.y0, 62.7 - 1.0) << word;  // the font's ascent may reach a little above
    EXPECT_LE(b.y1, 90.0) << word;
  }
  // The return address line sits in the field's upper zone, above the recipient.
  auto ret = pdf.WordBox("Returns:");
  EXPECT_GE(ret.y0, 45.0);
  EXPECT_LE(ret.y1, 62.7);
  // The PIN and PUK are below the first fold (105 mm): the window never shows them.
  EXPECT_GT(pdf.WordBox("493027").y0, 105.0);
  EXPECT_GT(pdf.WordBox("81726354").y0, 105.0);
}

TEST(LetterPdfTest, APinOnlyLetterHasNoPukRow) {
  Fixture f;
  f.page.puk = "";
  PdfFile pdf(f.Render());
  const std::string text = pdf.Text();
  EXPECT_NE(text.find("493027"), std::string::npos);
  EXPECT_EQ(text.find("PUK (unblocking key)"), std::string::npos) << text;
}

TEST(LetterPdfTest, LanguageSetsLabelsAndDate) {
  Fixture f;
  f.tmpl.language = "de";
  PdfFile pdf(f.Render());
  const std::string text = pdf.Text();
  EXPECT_NE(text.find("30. November 2026"), std::string::npos) << text;
  EXPECT_NE(text.find("Ihre PIN"), std::string::npos) << text;
  EXPECT_NE(text.find("Persönlich / Vertraulich"), std::string::npos) << text;
  auto fr = FormatLetterDate("2026-02-01", "fr");
  ASSERT_TRUE(fr.ok());
  EXPECT_EQ(*fr, "1 février 2026");
  EXPECT_FALSE(FormatLetterDate("2026-13-01", "en").ok());
}

// An activation-code letter (issue 12): the code in the box, the request number where a PIN
// letter has the card serial, in the wording of CodeLetterTemplate.
// (In place: a Fixture's page points at its own template.)
void MakeCodeLetter(Fixture& f, const std::string& language) {
  f.tmpl = profiles::CodeLetterTemplate(language);
  f.page.profile = "employee-soft";
  f.page.card_serial.clear();
  f.page.pin = "";
  f.page.puk = "";
  f.page.code = "7K3QX-M9P2D";
}

TEST(LetterPdfTest, ACodeLetterShowsTheCodeAndTheRequestInsteadOfPinAndCard) {
  Fixture f;
  MakeCodeLetter(f, "en");
  PdfFile pdf(f.Render());
  const std::string text = pdf.Text();
  for (const char* s : {"7K3QX-M9P2D", "Your activation code", "Request no.",
                        "Your activation code for your certificate", "Dear Zoë", "(request 42)",
                        "Zoë Łukasiewicz-Ångström", "80331 München"}) {
    EXPECT_NE(text.find(s), std::string::npos) << s << " not in:\n" << text;
  }
  for (const char* s : {"Your PIN", "PUK", "Card serial"}) {
    EXPECT_EQ(text.find(s), std::string::npos) << s << " in:\n" << text;
  }
  // Below the first fold, as a PIN is: the envelope's window never shows it.
  EXPECT_GT(pdf.WordBox("7K3QX-M9P2D").y0, 105.0);
  // And it fits its box (120 mm wide from the 25 mm margin).
  EXPECT_LT(pdf.WordBox("7K3QX-M9P2D").x1, 145.0);
}

TEST(LetterPdfTest, CodeLettersSpeakGermanAndFrench) {
  struct Case {
    std::string language;
    std::vector<std::string> want;
  } cases[] = {
      {"de",
       {"Ihr Aktivierungscode für Ihr Zertifikat", "Ihr Aktivierungscode", "Antrags-Nr.",
        "Guten Tag Zoë", "30. November 2026"}},
      {"fr",
       {"Votre code d'activation pour votre certificat", "Votre code d'activation", "N° de demande",
        "Bonjour Zoë", "30 novembre 2026"}},
  };
  for (const auto& c : cases) {
    Fixture f;
    MakeCodeLetter(f, c.language);
    PdfFile pdf(f.Render());
    const std::string text = pdf.Text();
    for (const auto& w : c.want) {
      EXPECT_NE(text.find(w), std::string::npos) << c.language << ": " << w << " not in:\n" << text;
    }
  }
}

// CheckWindowFit (which a batch runs for every activation-code letter, and answers from cached
// character widths where it can) refuses exactly the lines the page itself cannot set.
TEST(LetterPdfTest, TheWindowCheckAgreesWithThePageAtTheEdge) {
  for (const char* unit : {"W", "m", "fi", "Ш", "Ǆ", "Ω", "山", "e\u0301", "AV"}) {
    int fits_up_to = 0;
    for (int n = 1; n <= 90; ++n) {
      std::string line;
      for (int i = 0; i < n; ++i) line += unit;
      Fixture f;
      f.page.address = {line};
      const bool page_ok = RenderLetterPdf(f.page).ok();
      EXPECT_EQ(CheckWindowFit(f.page.holder_name, {line}).ok(), page_ok) << unit << " x " << n;
      if (page_ok) fits_up_to = n;
    }
    EXPECT_GT(fits_up_to, 0) << unit;
    EXPECT_LT(fits_up_to, 90) << unit;
  }
}

TEST(LetterPdfTest, PlaceholdersAreFilled) {
  Fixture f;
  f.tmpl.title = "Card {card_serial} for {holder_name}";
  f.tmpl.body = "Letter {letter_id} of request {request_id}, {profile}, dated {date}.";
  PdfFile pdf(f.Render());
  const std::string text = pdf.Text();
  EXPECT_NE(text.find("Card SN40593817 for Zoë Łukasiewicz-Ångström"), std::string::npos) << text;
  EXPECT_NE(text.find("Letter 731 of request 42, employee-piv, dated 30 November 2026."),
            std::string::npos)
      << text;
}

TEST(LetterPdfTest, TextLongerThanThePageIsRefused) {
  Fixture f;
  f.tmpl.body.clear();
  for (int i = 0; i < 30; ++i)
    f.tmpl.body += "A paragraph that takes a line or two of the page.\n\n";
  auto pdf = RenderLetterPdf(f.page);
  ASSERT_FALSE(pdf.ok());
  EXPECT_EQ(pdf.status().kind(), ErrorKind::kInvalidInput);
  EXPECT_NE(pdf.status().message().find("past the footer"), std::string::npos)
      << pdf.status().message();
}

TEST(LetterPdfTest, AnAddressWiderThanTheWindowIsRefusedByLine) {
  Status ok = CheckWindowFit("Zoë Łukasiewicz-Ångström", {"Hauptstraße 5", "80331 München"});
  EXPECT_TRUE(ok.ok()) << ok.message();
  // A long line shrinks to fit (down to 8 pt) before it is refused.
  EXPECT_TRUE(CheckWindowFit("Maximilian Alexander von Hohenzollern-Sigmaringen", {"x"}).ok());
  Status wide = CheckWindowFit("A", {"x", "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW"});
  ASSERT_FALSE(wide.ok());
  EXPECT_NE(wide.message().find("postal address line 2 is wider than the envelope window"),
            std::string::npos)
      << wide.message();
}

TEST(LetterPdfTest, TheShippedPivProfileLaysOutASample) {
  auto set = profiles::LoadProfiles(CERTPRESS_SOURCE_DIR "/profiles");
  ASSERT_TRUE(set.ok()) << set.status().message();
  auto piv = set->Card("employee-piv");
  ASSERT_TRUE(piv.ok());
  auto pdf = SampleLetter(**piv);
  ASSERT_TRUE(pdf.ok()) << pdf.status().message();
  PdfFile file(*pdf);
  const std::string text = file.Text(/*raw=*/true);
  EXPECT_NE(text.find("SAMPLE"), std::string::npos) << text;
  EXPECT_NE(text.find((*piv)->letter.sender[0]), std::string::npos) << text;
}

// The [letter] table of a card profile.
constexpr const char* kPiv = R"([certificate.c]
validity_days = 365
key_usage = ["digitalSignature"]

[card.p]
token = "piv"
approvals = 1
subject = [["CN", "{name}"]]
[card.p.fields]
name = { required = true }
[[card.p.keys]]
name = "auth"
piv_slot = "9a"
algorithm = "ec-p256"
source = "card"
certificate = "c"
)";

Result<profiles::ProfileSet> Load(const std::string& letter) {
  return profiles::LoadProfilesFromString(std::string(kPiv) + letter, "p.toml");
}

TEST(LetterProfileTest, ALetterTableIsRead) {
  auto set = Load(R"(
[card.p.letter]
language = "de"
sender = ["Beispielbank AG", "Kartenservice", "Postfach 1", "60311 Frankfurt"]
title = "Ihre PIN für Karte {card_serial}"
body = """
Sehr geehrte Kundin, sehr geehrter Kunde,
anbei Ihre PIN.

Zweiter Absatz."""
instructions = ["Merken Sie sich die PIN.", "Vernichten Sie diesen Brief."]
footer = "Beispielbank AG · Sitz Frankfurt"
)");
  ASSERT_TRUE(set.ok()) << set.status().message();
  const auto& l = set->cards.at("p").letter;
  EXPECT_EQ(l.language, "de");
  EXPECT_EQ(l.sender.size(), 4u);
  EXPECT_EQ(l.title, "Ihre PIN für Karte {card_serial}");
  EXPECT_EQ(l.instructions.size(), 2u);
}

TEST(LetterProfileTest, ALetterIsNotPartOfTheProfileHash) {
  auto a = Load("");
  auto b = Load("[card.p.letter]\ntitle = \"Another title\"\nbody = \"Other words.\"\n");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->cards.at("p").content_hash, b->cards.at("p").content_hash);
}

TEST(LetterProfileTest, MistakesAreNamedWithTheirPlace) {
  struct Case {
    std::string letter, want;
  } cases[] = {
      {"[card.p.letter]\ntitle = \"PIN for {holder}\"\n",
       "p.toml:18:9: card.p.letter.title: template 'PIN for {holder}' refers to undeclared field "
       "'holder' (a letter knows {holder_name}, {card_serial}, {letter_id}, {request_id}, "
       "{profile}, {date})"},
      {"[card.p.letter]\nlanguage = \"es\"\n",
       "p.toml:18:12: card.p.letter.language: must be en, de or fr"},
      {"[card.p.letter]\ncolour = \"red\"\n",
       "p.toml:18:1: card.p.letter.colour: unknown key (expected one of: language, sender, "},
      {"[card.p.letter]\nsender = []\n", "card.p.letter.sender: must have 1 to 8 entries, not 0"},
      {"[card.p.letter]\ntitle = \"\"\n", "card.p.letter.title: must not be empty"},
      {"[card.p.letter]\nbody = \"tab\\there\"\n", "card.p.letter.body:"},
  };
  for (const auto& c : cases) {
    auto set = Load(c.letter);
    ASSERT_FALSE(set.ok()) << c.letter;
    EXPECT_EQ(set.status().kind(), ErrorKind::kInvalidInput);
    EXPECT_NE(set.status().message().find(c.want), std::string::npos)
        << "want: " << c.want << "\ngot:  " << set.status().message();
  }
}

TEST(LetterProfileTest, OnlyPivProfilesHaveLetters) {
  std::string soft = kPiv;
  soft.replace(soft.find("token = \"piv\""), 13, "token = \"soft\"");
  soft.replace(soft.find("piv_slot = \"9a\"\n"), 16, "");
  soft.replace(soft.find("source = \"card\""), 15, "source = \"server\"");
  auto set = profiles::LoadProfilesFromString(soft + "[card.p.letter]\ntitle = \"x\"\n", "s.toml");
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("card.p.letter: only piv profiles have PIN letters"),
            std::string::npos)
      << set.status().message();
}

// A soft profile that posts its activation code (activation.code = "letter").
constexpr const char* kSoftLetter = R"([certificate.c]
validity_days = 365
key_usage = ["digitalSignature"]

[card.s]
token = "soft"
approvals = 1
delivery = "activation-email"
subject = [["CN", "{name}"]]
[card.s.fields]
name = { required = true }
email = { required = true, kind = "email" }
street = { required = true }
city = { required = true }
[[card.s.keys]]
name = "auth"
algorithm = "ec-p256"
source = "server"
certificate = "c"
[card.s.activation]
code = "letter"
)";

TEST(LetterProfileTest, ASoftProfileThatPostsItsCodeNeedsARecipientAndAnAddress) {
  auto none = profiles::LoadProfilesFromString(kSoftLetter, "s.toml");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("card.s.letter: activation.code = \"letter\" needs a "
                                         "[card.s.letter] table with recipient and address"),
            std::string::npos)
      << none.status().message();
  auto no_address = profiles::LoadProfilesFromString(
      std::string(kSoftLetter) + "[card.s.letter]\ntitle = \"x\"\n", "s.toml");
  ASSERT_FALSE(no_address.ok());
  EXPECT_NE(no_address.status().message().find("needs recipient and address templates"),
            std::string::npos)
      << no_address.status().message();
  auto bad_field = profiles::LoadProfilesFromString(
      std::string(kSoftLetter) +
          "[card.s.letter]\nrecipient = \"{name}\"\naddress = [\"{zip} {city}\"]\n",
      "s.toml");
  ASSERT_FALSE(bad_field.ok());
  EXPECT_NE(bad_field.status().message().find("card.s.letter.address"), std::string::npos)
      << bad_field.status().message();
}

TEST(LetterProfileTest, ACodeLetterTakesTheWordingOfItsLanguage) {
  const std::string letter =
      "[card.s.letter]\nlanguage = \"fr\"\nrecipient = \"{name}\"\naddress = "
      "[\"{street}\", \"{city}\"]\n";
  auto set = profiles::LoadProfilesFromString(std::string(kSoftLetter) + letter, "s.toml");
  ASSERT_TRUE(set.ok()) << set.status().message();
  const auto& l = set->cards.at("s").letter;
  EXPECT_EQ(l.language, "fr");
  EXPECT_EQ(l.title, profiles::CodeLetterTemplate("fr").title);
  EXPECT_EQ(l.title, "Votre code d'activation pour votre certificat");
  EXPECT_EQ(l.address.size(), 2u);
  // What the table says wins over the defaults.
  auto own = profiles::LoadProfilesFromString(
      std::string(kSoftLetter) + letter + "title = \"Votre code\"\n", "s.toml");
  ASSERT_TRUE(own.ok()) << own.status().message();
  EXPECT_EQ(own->cards.at("s").letter.title, "Votre code");
  EXPECT_EQ(own->cards.at("s").letter.body, profiles::CodeLetterTemplate("fr").body);
  // The defaults fit a page in every language, with a long name.
  for (const char* lang : {"en", "de", "fr"}) {
    Fixture f;
    MakeCodeLetter(f, lang);
    f.page.holder_name = "Maximiliane Hohenzollern-Sigmaringen";
    auto pdf = RenderLetterPdf(f.page);
    EXPECT_TRUE(pdf.ok()) << lang << ": " << pdf.status().message();
  }
}

}  // namespace
}  // namespace certpress::kgs
