// letter_pdf.h: the PIN letter (or an activation-code letter) as a one-page A4 PDF, laid out with
// cairo and pango (so that accented, Cyrillic and CJK names print right: pango falls back through
// fontconfig from DejaVu Sans to Noto Sans CJK glyph by glyph, and cairo embeds the subsets it
// used).
//
// The page follows DIN 5008 form B for a windowed envelope: the address field is 85 x 45 mm at
// 20 mm from the left edge and 45 mm from the top (the return address and the "personal and
// confidential" remark in its upper 17.7 mm, the holder's name and up to five address lines in
// the lower 27.3 mm), fold marks at 105 and 210 mm and the punch mark at 148.5 mm. Folded in
// three, it fits a DL envelope (110 x 220 mm) or a C5/6 (114 x 229 mm) with the DIN 680 window
// (90 x 45 mm, 20 mm from the left, 15 mm from the bottom), which shows the address field and
// nothing else: the PIN box sits well below the first fold, behind the envelope's back.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cardprofiles/profile.h"
#include "common/bytes.h"
#include "common/status.h"

namespace certpress::kgs {

// LetterPage is everything one letter shows.
struct LetterPage {
  const profiles::LetterTemplate* tmpl = nullptr;
  int64_t letter_id = 0;
  int64_t request_id = 0;
  std::string card_serial;
  std::string profile;
  std::string holder_name;
  std::vector<std::string> address;
  std::string date;      // "YYYY-MM-DD", printed in the template's language
  std::string_view pin;  // views into wiped memory (SecureString); never copied here
  std::string_view puk;  // empty: the letter has the PIN only
  // An activation-code letter (issue 12): the code, "XXXXX-XXXXX", printed in the box instead
  // of PIN and PUK (which are then empty), and the request number instead of a card serial.
  std::string_view code;
  bool sample = false;  // a design sample: stamped SAMPLE beside the PIN box
};

// RenderLetterPdf lays |page| out and returns the PDF in memory that is wiped when it is
// dropped (the PDF holds the PIN). A text that does not fit one page is invalid input naming
// what overflowed.
Result<SecureString> RenderLetterPdf(const LetterPage& page);

// CheckWindowFit checks that the holder's name and each address line fit the envelope window
// on one line (10 pt, or down to 8 pt for long lines), as RenderLetterPdf will print them; the
// message names the line that does not.
[[nodiscard]] Status CheckWindowFit(const std::string& holder_name,
                                    const std::vector<std::string>& address);

// FormatLetterDate renders "YYYY-MM-DD" as a letter in |language| dates it: "30 November
// 2026", "30. November 2026", "30 novembre 2026".
Result<std::string> FormatLetterDate(std::string_view ymd, std::string_view language);

}  // namespace certpress::kgs
