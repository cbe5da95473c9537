// The table of texts (common/texts.h): every text is present in every language, row i is text
// i, and the languages of a text have the same placeholders (a translation that dropped {n}
// would show a wrong count; one that added {x} would print it raw).
#include "common/texts.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace certpress {
namespace {

TEST(TextsTest, EveryTextIsInEveryLanguageWithTheSamePlaceholders) {
  for (size_t row = 0; row < static_cast<size_t>(Txt::kCount_); ++row) {
    const Txt id = static_cast<Txt>(row);
    EXPECT_EQ(TxtOfRow(row), id) << "row " << row << " holds another text";
    EXPECT_FALSE(TxtName(id).empty()) << "row " << row;
    auto want = Placeholders(T(Lang::kEn, id));
    std::sort(want.begin(), want.end());
    for (Lang lang : kLangs) {
      const std::string_view text = T(lang, id);
      EXPECT_FALSE(text.empty()) << TxtName(id) << " is missing in " << LangTag(lang);
      auto got = Placeholders(text);
      std::sort(got.begin(), got.end());
      EXPECT_EQ(got, want) << TxtName(id) << " in " << LangTag(lang);
      // No stray tab or carriage return; no leading or trailing space.
      EXPECT_EQ(text.find_first_of("\t\r"), std::string_view::npos) << TxtName(id);
      EXPECT_NE(text.front(), ' ') << TxtName(id);
      EXPECT_NE(text.back(), ' ') << TxtName(id);
    }
    // A translation is a translation: only names, brands and a few words are the same.
    const bool same = T(Lang::kDe, id) == T(Lang::kEn, id) && T(Lang::kFr, id) == T(Lang::kEn, id);
    EXPECT_FALSE(same && TxtName(id).size() > 12) << TxtName(id) << " is untranslated";
  }
}

TEST(TextsTest, LanguagesParseAndFillReplacesOnlyNamedPlaceholders) {
  EXPECT_EQ(ParseLang("de"), Lang::kDe);
  EXPECT_EQ(ParseLang("fr"), Lang::kFr);
  EXPECT_EQ(ParseLang("en"), Lang::kEn);
  EXPECT_FALSE(ParseLang("DE").has_value());
  EXPECT_FALSE(ParseLang("").has_value());
  EXPECT_FALSE(ParseLang("de-CH").has_value());
  for (Lang l : kLangs) EXPECT_EQ(ParseLang(LangTag(l)), l);
  EXPECT_EQ(Fill("{n} of {m} {", {{"n", "3"}}), "3 of {m} {");
  EXPECT_EQ(Fill(T(Lang::kDe, Txt::kWrongCode), {{"n", "2"}}),
            "Der Aktivierungscode ist nicht korrekt. Verbleibende Versuche: 2.");
  EXPECT_EQ(Placeholders("a {x} b {y}"), (std::vector<std::string>{"x", "y"}));
}

}  // namespace
}  // namespace certpress
