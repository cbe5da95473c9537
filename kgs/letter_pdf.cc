// letter_pdf.cc: the PIN letter's page (letter_pdf.h). All positions are in millimetres from
// the top left corner of the A4 sheet (the cairo context is scaled so); font sizes are given in
// points and converted.
#include "kgs/letter_pdf.h"

#include <cairo-pdf.h>
#include <cairo.h>
#include <openssl/crypto.h>
#include <pango/pangocairo.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <map>
#include <memory>

#include "common/utf8.h"

namespace certpress::kgs {

namespace {

constexpr double kPageW = 210.0, kPageH = 297.0;
constexpr double kMmToPt = 72.0 / 25.4;
constexpr double Pt(double points) {
  return points / kMmToPt;
}

// DIN 5008 form B.
constexpr double kLeft = 25.0;                   // text margin
constexpr double kRight = 190.0;                 // 20 mm right margin
constexpr double kAddressX = 20.0;               // address field, left edge
constexpr double kAddressTop = 45.0;             // address field, top (form B)
constexpr double kAddressZoneTop = 45.0 + 17.7;  // recipient lines below the remark zone
constexpr double kInfoX = 125.0;                 // information block
constexpr double kFolds[] = {105.0, 210.0};
constexpr double kPunch = 148.5;
constexpr double kFooterTop = 276.0;
constexpr double kLastLine = 272.0;  // text must end above the footer

// A colour scheme a bank would use: dark blue accents, grey small print.
struct Rgb {
  double r, g, b;
};
constexpr Rgb kInk{0.10, 0.10, 0.12};
constexpr Rgb kAccent{0.05, 0.20, 0.42};
constexpr Rgb kGrey{0.40, 0.42, 0.45};
constexpr Rgb kBoxFill{0.94, 0.96, 0.99};

// The fixed words of a letter, per language.
struct Labels {
  const char* personal;
  const char* date;
  const char* letter;
  const char* card;
  const char* pin;
  const char* puk;
  const char* steps;
  const char* sample;
  const char* keep_secret;
  const char* months[12];
  // An activation-code letter's.
  const char* code;
  const char* code_secret;
  const char* request;
};

const Labels& LabelsFor(std::string_view language) {
  static const Labels kEn{"Personal and confidential",
                          "Date",
                          "Letter no.",
                          "Card serial no.",
                          "Your PIN",
                          "Your PUK (unblocking key)",
                          "What to do now",
                          "SAMPLE",
                          "Confidential: keep separate from your card",
                          {"January", "February", "March", "April", "May", "June", "July", "August",
                           "September", "October", "November", "December"},
                          "Your activation code",
                          "Confidential: for picking up your certificate only",
                          "Request no."};
  static const Labels kDe{"Persönlich / Vertraulich",
                          "Datum",
                          "Brief-Nr.",
                          "Karten-Seriennr.",
                          "Ihre PIN",
                          "Ihre PUK (Entsperrschlüssel)",
                          "So geht es weiter",
                          "MUSTER",
                          "Vertraulich: getrennt von der Karte aufbewahren",
                          {"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
                           "September", "Oktober", "November", "Dezember"},
                          "Ihr Aktivierungscode",
                          "Vertraulich: nur für die Abholung Ihres Zertifikats",
                          "Antrags-Nr."};
  static const Labels kFr{"Personnel et confidentiel",
                          "Date",
                          "Lettre n°",
                          "N° de série de la carte",
                          "Votre code PIN",
                          "Votre code PUK (déblocage)",
                          "Que faire maintenant",
                          "SPÉCIMEN",
                          "Confidentiel : à conserver séparément de la carte",
                          {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
                           "septembre", "octobre", "novembre", "décembre"},
                          "Votre code d'activation",
                          "Confidentiel : uniquement pour retirer votre certificat",
                          "N° de demande"};
  if (language == "de") return kDe;
  if (language == "fr") return kFr;
  return kEn;
}

struct CairoDeleter {
  void operator()(cairo_t* p) const { cairo_destroy(p); }
  void operator()(cairo_surface_t* p) const { cairo_surface_destroy(p); }
  void operator()(PangoFontDescription* p) const { pango_font_description_free(p); }
  void operator()(PangoAttrList* p) const { pango_attr_list_unref(p); }
  void operator()(cairo_font_options_t* p) const { cairo_font_options_destroy(p); }
};
struct GObjectDeleter {
  void operator()(void* p) const { g_object_unref(p); }
};
using Cairo = std::unique_ptr<cairo_t, CairoDeleter>;
using Surface = std::unique_ptr<cairo_surface_t, CairoDeleter>;
using FontDesc = std::unique_ptr<PangoFontDescription, CairoDeleter>;
using FontOptions = std::unique_ptr<cairo_font_options_t, CairoDeleter>;
using Layout = std::unique_ptr<PangoLayout, GObjectDeleter>;

// WipedSink collects the PDF as cairo writes it. It grows by copying into a larger buffer and
// wiping the old one, so no copy of the PIN is left behind in freed memory.
struct WipedSink {
  std::string buf;
  ~WipedSink() { OPENSSL_cleanse(buf.data(), buf.size()); }
  static cairo_status_t Write(void* closure, const unsigned char* data, unsigned int length) {
    auto* self = static_cast<WipedSink*>(closure);
    std::string& b = self->buf;
    if (b.size() + length > b.capacity()) {
      std::string bigger;
      bigger.reserve(std::max<size_t>(2 * b.capacity(), b.size() + length));
      bigger.append(b);
      OPENSSL_cleanse(b.data(), b.size());
      b.swap(bigger);
    }
    b.append(reinterpret_cast<const char*>(data), length);
    return CAIRO_STATUS_SUCCESS;
  }
};

// Font is a face and a size in points.
struct Font {
  const char* family = "DejaVu Sans";
  double size_pt = 10;
  bool bold = false;
  bool italic = false;
};

// Page draws text and lines on the cairo context |cr|, scaled to millimetres.
class Page {
 public:
  Page(cairo_t* cr, std::string_view language) : cr_(cr), language_(language) {}

  // Text draws |text| at (x, y), its top, wrapped to |width| (0: no wrapping), and returns
  // the height it took. |align| is PANGO_ALIGN_*; |indent| < 0 hangs the lines after the first.
  double Text(double x, double y, double width, std::string_view text, const Font& f, Rgb color,
              PangoAlignment align = PANGO_ALIGN_LEFT, double line_spacing = 1.0, double indent = 0,
              bool underline = false) {
    Layout layout = MakeLayout(text, f, width, align, line_spacing, indent, underline);
    cairo_set_source_rgb(cr_, color.r, color.g, color.b);
    cairo_move_to(cr_, x, y);
    pango_cairo_show_layout(cr_, layout.get());
    return Height(layout.get());
  }

  // Measure returns the height and width |text| would take.
  std::pair<double, double> Measure(std::string_view text, const Font& f, double width = 0) {
    Layout layout = MakeLayout(text, f, width, PANGO_ALIGN_LEFT, 1.0, 0, false);
    int w = 0, h = 0;
    pango_layout_get_size(layout.get(), &w, &h);
    return {static_cast<double>(h) / PANGO_SCALE, static_cast<double>(w) / PANGO_SCALE};
  }

  void Line(double x0, double y0, double x1, double y1, double width, Rgb c) {
    cairo_set_source_rgb(cr_, c.r, c.g, c.b);
    cairo_set_line_width(cr_, width);
    cairo_move_to(cr_, x0, y0);
    cairo_line_to(cr_, x1, y1);
    cairo_stroke(cr_);
  }

  void RoundedBox(double x, double y, double w, double h, double r, Rgb fill, Rgb stroke,
                  double stroke_width) {
    cairo_new_sub_path(cr_);
    cairo_arc(cr_, x + w - r, y + r, r, -G_PI / 2, 0);
    cairo_arc(cr_, x + w - r, y + h - r, r, 0, G_PI / 2);
    cairo_arc(cr_, x + r, y + h - r, r, G_PI / 2, G_PI);
    cairo_arc(cr_, x + r, y + r, r, G_PI, 3 * G_PI / 2);
    cairo_close_path(cr_);
    cairo_set_source_rgb(cr_, fill.r, fill.g, fill.b);
    cairo_fill_preserve(cr_);
    cairo_set_source_rgb(cr_, stroke.r, stroke.g, stroke.b);
    cairo_set_line_width(cr_, stroke_width);
    cairo_stroke(cr_);
  }

  cairo_t* cr() { return cr_; }

  Layout MakeLayout(std::string_view text, const Font& f, double width, PangoAlignment align,
                    double line_spacing, double indent, bool underline) {
    Layout layout(pango_cairo_create_layout(cr_));
    PangoContext* ctx = pango_layout_get_context(layout.get());
    // Unhinted metrics: the PDF is scaled freely, and hinted advances would shift glyphs.
    FontOptions fo(cairo_font_options_create());
    cairo_font_options_set_hint_metrics(fo.get(), CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_hint_style(fo.get(), CAIRO_HINT_STYLE_NONE);
    pango_cairo_context_set_font_options(ctx, fo.get());
    // Pango rounds glyph positions to whole user units by default: millimetres here, which
    // scatters the letters of a word (and pdftotext reads "Servi ces").
    pango_context_set_round_glyph_positions(ctx, FALSE);
    pango_context_set_language(ctx, pango_language_from_string(language_.c_str()));
    pango_layout_context_changed(layout.get());
    FontDesc desc(pango_font_description_new());
    pango_font_description_set_family(desc.get(), f.family);
    pango_font_description_set_weight(desc.get(), f.bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
    pango_font_description_set_style(desc.get(),
                                     f.italic ? PANGO_STYLE_ITALIC : PANGO_STYLE_NORMAL);
    // Absolute size: in user units, which are millimetres here.
    pango_font_description_set_absolute_size(desc.get(), Pt(f.size_pt) * PANGO_SCALE);
    pango_layout_set_font_description(layout.get(), desc.get());
    if (width > 0) {
      pango_layout_set_width(layout.get(), static_cast<int>(width * PANGO_SCALE));
      pango_layout_set_wrap(layout.get(), PANGO_WRAP_WORD_CHAR);
    }
    pango_layout_set_alignment(layout.get(), align);
    if (line_spacing != 1.0) pango_layout_set_line_spacing(layout.get(), line_spacing);
    if (indent != 0) pango_layout_set_indent(layout.get(), static_cast<int>(indent * PANGO_SCALE));
    if (underline) {
      std::unique_ptr<PangoAttrList, CairoDeleter> attrs(pango_attr_list_new());
      pango_attr_list_insert(attrs.get(), pango_attr_underline_new(PANGO_UNDERLINE_SINGLE));
      pango_layout_set_attributes(layout.get(), attrs.get());
    }
    // Plain text, never markup: a name may hold '<' or '&'.
    pango_layout_set_text(layout.get(), text.data(), static_cast<int>(text.size()));
    return layout;
  }

 private:
  static double Height(PangoLayout* layout) {
    int w = 0, h = 0;
    pango_layout_get_size(layout, &w, &h);
    return static_cast<double>(h) / PANGO_SCALE;
  }

  cairo_t* cr_;
  std::string language_;
};

// Paragraphs splits a body text at blank lines; single line breaks inside a paragraph are
// spaces (the TOML author wraps lines freely).
std::vector<std::string> Paragraphs(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  size_t i = 0;
  while (i <= text.size()) {
    size_t nl = text.find('\n', i);
    std::string line = text.substr(i, nl == std::string::npos ? std::string::npos : nl - i);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
    size_t lead = line.find_first_not_of(' ');
    line = lead == std::string::npos ? "" : line.substr(lead);
    if (line.empty()) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += (cur.empty() ? "" : " ") + line;
    }
    if (nl == std::string::npos) break;
    i = nl + 1;
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

// Expand fills a template's placeholders.
Result<std::string> Expand(const std::string& tmpl, const std::map<std::string, std::string>& v) {
  // RenderTemplate trims the ends, which would eat a paragraph's break: expand line by line.
  std::string out;
  size_t i = 0;
  while (i <= tmpl.size()) {
    size_t nl = tmpl.find('\n', i);
    std::string line = tmpl.substr(i, nl == std::string::npos ? std::string::npos : nl - i);
    CP_ASSIGN_OR_RETURN(std::string done, profiles::RenderTemplate(line, v));
    out += done;
    if (nl == std::string::npos) break;
    out += '\n';
    i = nl + 1;
  }
  return out;
}

// The recipient's lines are 10 pt, or smaller down to 8 pt where a line would be wider than
// the 80 mm the address field leaves for text (85 mm less the 5 mm inset).
constexpr double kRecipientSizes[] = {10.0, 9.0, 8.0};
constexpr double kWindowTextWidth = 80.0;

// RecipientSizes picks each line's size; |width|(text, index into kRecipientSizes) is the
// width the line takes at that size.
template <class Width>
Result<std::vector<double>> RecipientSizes(const Width& width, const std::string& name,
                                           const std::vector<std::string>& address) {
  std::vector<double> out;
  for (size_t i = 0; i <= address.size(); ++i) {
    const std::string& line = i == 0 ? name : address[i - 1];
    double size = 0;
    for (size_t k = 0; k < std::size(kRecipientSizes); ++k) {
      if (width(line, k) <= kWindowTextWidth) {
        size = kRecipientSizes[k];
        break;
      }
    }
    if (size == 0) {
      return InvalidInput(
          (i == 0 ? std::string("the holder's name") : "postal address line " + std::to_string(i)) +
          " is wider than the envelope window (80 mm at 8 pt)");
    }
    out.push_back(size);
  }
  return out;
}

cairo_status_t Discard(void*, const unsigned char*, unsigned int) {
  return CAIRO_STATUS_SUCCESS;
}

// WindowMeasurer measures recipient lines as RenderLetterPdf sets them, with one pango layout
// per size made once per thread: the check runs for every activation-code letter in the issuing
// transaction, where a cairo surface and fresh layouts per letter cost about 100 us
// (BM_CodeLetterPerRequest); setting a layout's text again reshapes only the text.
class WindowMeasurer {
 public:
  WindowMeasurer()
      : surface_(cairo_pdf_surface_create_for_stream(&Discard, nullptr, kPageW * kMmToPt,
                                                     kPageH * kMmToPt)),
        cr_(cairo_create(surface_.get())) {
    cairo_scale(cr_.get(), kMmToPt, kMmToPt);
    Page p(cr_.get(), "en");
    for (double size : kRecipientSizes) {
      layouts_.push_back(p.MakeLayout("", {"DejaVu Sans", size}, 0, PANGO_ALIGN_LEFT, 1.0, 0,
                                      /*underline=*/false));
    }
  }
  double Width(std::string_view text, size_t size_index) const {
    // Most lines are short Latin, Greek or Cyrillic text: the sum of their characters'
    // advances, each measured once, bounds the line's width closely (DejaVu Sans kerns these
    // scripts by small amounts, mostly closer). A sum well inside the window answers without
    // shaping the line; anything else (other scripts, combining marks, a line near the edge)
    // is shaped and measured as the page will set it.
    double sum = 0;
    bool simple = true;
    for (size_t pos = 0; pos < text.size() && simple;) {
      const long cp = DecodeUtf8(text, &pos);
      simple = cp >= 0x20 &&
               (cp < 0x0300 || (cp >= 0x0370 && cp < 0x0483) || (cp >= 0x048A && cp < 0x0530));
      if (simple) sum += Advance(cp, size_index);
    }
    if (simple && sum <= 0.95 * kWindowTextWidth) return sum;
    return Shaped(text, size_index);
  }

 private:
  double Advance(long cp, size_t size_index) const {
    auto [it, added] = advances_[size_index].try_emplace(cp, 0.0);
    if (added) {
      char utf8[4];
      size_t n = 0;
      if (cp < 0x80) {
        utf8[n++] = static_cast<char>(cp);
      } else if (cp < 0x800) {
        utf8[n++] = static_cast<char>(0xC0 | (cp >> 6));
        utf8[n++] = static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        utf8[n++] = static_cast<char>(0xE0 | (cp >> 12));
        utf8[n++] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        utf8[n++] = static_cast<char>(0x80 | (cp & 0x3F));
      }
      it->second = Shaped(std::string_view(utf8, n), size_index);
    }
    return it->second;
  }

  double Shaped(std::string_view text, size_t size_index) const {
    PangoLayout* layout = layouts_[size_index].get();
    pango_layout_set_text(layout, text.data(), static_cast<int>(text.size()));
    int w = 0, h = 0;
    pango_layout_get_size(layout, &w, &h);
    return static_cast<double>(w) / PANGO_SCALE;
  }

 private:
  Surface surface_;
  Cairo cr_;
  std::vector<Layout> layouts_;
  // Per size, the advance of each character measured so far.
  mutable std::vector<std::map<long, double>> advances_ =
      std::vector<std::map<long, double>>(std::size(kRecipientSizes));
};

}  // namespace

Status CheckWindowFit(const std::string& holder_name, const std::vector<std::string>& address) {
  thread_local const WindowMeasurer measurer;
  return RecipientSizes([&](std::string_view text, size_t k) { return measurer.Width(text, k); },
                        holder_name, address)
      .status();
}

Result<std::string> FormatLetterDate(std::string_view ymd, std::string_view language) {
  int y = 0, m = 0, d = 0;
  if (ymd.size() != 10 || std::sscanf(std::string(ymd).c_str(), "%4d-%2d-%2d", &y, &m, &d) != 3 ||
      m < 1 || m > 12 || d < 1 || d > 31) {
    return InvalidInput("letter date '" + std::string(ymd) + "': must be YYYY-MM-DD");
  }
  const Labels& l = LabelsFor(language);
  const std::string day = std::to_string(d), year = std::to_string(y);
  if (language == "de") return day + ". " + l.months[m - 1] + " " + year;
  return day + " " + l.months[m - 1] + " " + year;
}

Result<SecureString> RenderLetterPdf(const LetterPage& page) {
  if (page.tmpl == nullptr) return Internal("RenderLetterPdf: no letter template");
  const profiles::LetterTemplate& t = *page.tmpl;
  const Labels& labels = LabelsFor(t.language);
  CP_ASSIGN_OR_RETURN(std::string date, FormatLetterDate(page.date, t.language));
  const std::string letter_no = std::to_string(page.letter_id);
  const std::map<std::string, std::string> values = {
      {"holder_name", page.holder_name}, {"card_serial", page.card_serial},
      {"letter_id", letter_no},          {"request_id", std::to_string(page.request_id)},
      {"profile", page.profile},         {"date", date}};
  auto expand = [&](const std::string& s, const char* what) -> Result<std::string> {
    auto r = Expand(s, values);
    if (!r.ok()) return r.status().Wrap(std::string("letter ") + what);
    return r;
  };

  WipedSink sink;
  sink.buf.reserve(64 * 1024);
  Surface surface(cairo_pdf_surface_create_for_stream(&WipedSink::Write, &sink, kPageW * kMmToPt,
                                                      kPageH * kMmToPt));
  if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS) {
    return Internal(std::string("creating the PDF: ") +
                    cairo_status_to_string(cairo_surface_status(surface.get())));
  }
  cairo_pdf_surface_restrict_to_version(surface.get(), CAIRO_PDF_VERSION_1_5);
  const bool code_letter = !page.code.empty();
  const std::string title = std::string(page.sample ? "Sample " : "") +
                            (code_letter ? "Activation code letter " : "PIN letter ") + letter_no;
  cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_TITLE, title.c_str());
  cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_CREATOR, "CertPress");
  Cairo cr(cairo_create(surface.get()));
  cairo_scale(cr.get(), kMmToPt, kMmToPt);
  Page p(cr.get(), t.language);

  // Fold marks and the punch mark at the left edge (DIN 5008 form B).
  for (double y : kFolds) p.Line(4.0, y, 9.0, y, 0.15, kGrey);
  p.Line(4.0, kPunch, 11.0, kPunch, 0.15, kGrey);

  // Letterhead: the organisation as a word mark at the left, a rule in the accent colour, and
  // the sender block at the right.
  const std::string org = t.sender.empty() ? "" : t.sender[0];
  p.Text(kLeft, 14.0, 95.0, org, {"DejaVu Sans", 17, true}, kAccent);
  p.Line(kLeft, 27.0, kRight, 27.0, 0.6, kAccent);
  // The sender's address and contacts under the rule, at the right, above the information
  // block.
  double sy = 30.0;
  for (size_t i = 1; i < t.sender.size(); ++i) {
    sy += p.Text(kInfoX, sy, kRight - kInfoX, t.sender[i], {"DejaVu Sans", 7.5}, kGrey,
                 PANGO_ALIGN_RIGHT);
  }
  if (sy > 62.0) return InvalidInput("letter sender: too many lines for the letterhead");

  // Address field: return address (underlined, small), the remark, then the recipient.
  std::string ret = t.return_address;
  if (ret.empty()) {
    for (size_t i = 0; i < t.sender.size() && i < 3; ++i) ret += (i ? " · " : "") + t.sender[i];
  }
  // One line (DIN 5008): 6.5 pt, or smaller down to 5 pt for a long one.
  double ret_size = 0;
  for (double size : {6.5, 6.0, 5.5, 5.0}) {
    if (p.Measure(ret, {"DejaVu Sans", size}).second <= kWindowTextWidth) {
      ret_size = size;
      break;
    }
  }
  if (ret_size == 0) {
    return InvalidInput("letter return_address: wider than the envelope window (80 mm at 5 pt)");
  }
  p.Text(kAddressX + 5, kAddressTop + 2.0, 0, ret, {"DejaVu Sans", ret_size}, kGrey,
         PANGO_ALIGN_LEFT, 1.0, 0, true);
  p.Text(kAddressX + 5, kAddressTop + 8.5, 80.0, labels.personal, {"DejaVu Sans", 8.5, true}, kInk);
  CP_ASSIGN_OR_RETURN(std::vector<double> sizes,
                      RecipientSizes(
                          [&](std::string_view text, size_t k) {
                            return p.Measure(text, {"DejaVu Sans", kRecipientSizes[k]}).second;
                          },
                          page.holder_name, page.address));
  double ay = kAddressZoneTop;
  std::vector<std::string> recipient{page.holder_name};
  recipient.insert(recipient.end(), page.address.begin(), page.address.end());
  for (size_t i = 0; i < recipient.size(); ++i) {
    // One line each, never wrapped: a wrapped line would push the last one out of the window.
    ay += p.Text(kAddressX + 5, ay, 0, recipient[i], {"DejaVu Sans", sizes[i]}, kInk);
  }
  if (ay > kAddressTop + 45.0) {
    return InvalidInput("the holder's name and address take more than the address field");
  }

  // Information block: date, letter number, card serial.
  double iy = std::max(52.0, sy + 4.0);
  const std::pair<const char*, std::string> info[] = {
      {labels.date, date},
      {labels.letter, letter_no},
      code_letter
          ? std::pair<const char*, std::string>{labels.request, std::to_string(page.request_id)}
          : std::pair<const char*, std::string>{labels.card, page.card_serial}};
  for (const auto& [label, value] : info) {
    // A label may wrap (French runs long): the row is as tall as its taller column.
    const double lh = p.Text(kInfoX, iy, 32.0, label, {"DejaVu Sans", 7.5}, kGrey);
    const double vh =
        p.Text(kInfoX + 33.0, iy - 0.4, kRight - kInfoX - 33.0, value, {"DejaVu Sans", 9}, kInk);
    iy += std::max(lh, vh) + 1.2;
  }

  // Subject, greeting, body.
  CP_ASSIGN_OR_RETURN(std::string subject, expand(t.title, "title"));
  double y = 100.0;
  y += p.Text(kLeft, y, kRight - kLeft, subject, {"DejaVu Sans", 12, true}, kInk);
  y += 7.0;
  if (!t.greeting.empty()) {
    CP_ASSIGN_OR_RETURN(std::string greeting, expand(t.greeting, "greeting"));
    y += p.Text(kLeft, y, kRight - kLeft, greeting, {"DejaVu Sans", 10}, kInk);
    y += 3.5;
  }
  CP_ASSIGN_OR_RETURN(std::string body, expand(t.body, "body"));
  for (const auto& para : Paragraphs(body)) {
    y += p.Text(kLeft, y, kRight - kLeft, para, {"DejaVu Sans", 10}, kInk, PANGO_ALIGN_LEFT, 1.15);
    y += 3.0;
  }

  // The PIN box: label at the left, the digits large in a monospaced face, one row each. An
  // activation-code letter has one row: the code.
  y += 3.0;
  const bool with_puk = !code_letter && !page.puk.empty();
  const double row_h = 13.0;
  const double box_h = 8.0 + row_h * (with_puk ? 2 : 1) + 1.0;
  const double box_w = 120.0;
  p.RoundedBox(kLeft, y, box_w, box_h, 2.0, kBoxFill, kAccent, 0.5);
  p.Text(kLeft + 5.0, y + 2.2, box_w - 10.0, code_letter ? labels.code_secret : labels.keep_secret,
         {"DejaVu Sans", 7, true}, kAccent);
  double ry = y + 8.0;
  const std::pair<const char*, std::string_view> rows[] = {
      {code_letter ? labels.code : labels.pin, code_letter ? page.code : page.pin},
      {labels.puk, with_puk ? page.puk : std::string_view()}};
  for (const auto& [label, value] : rows) {
    if (value.empty()) continue;
    // The label centred on the digits' line, whether it takes one line or wraps to two.
    const Font digits{"DejaVu Sans Mono", 22, true};
    const Font label_font{"DejaVu Sans", 9.5, true};
    const double dh = p.Measure(value, digits).first;
    const double lh = p.Measure(label, label_font, 52.0).first;
    p.Text(kLeft + 5.0, ry + (dh - lh) / 2, 52.0, label, label_font, kInk);
    p.Text(kLeft + 60.0, ry, 0, value, digits, kInk);
    ry += row_h;
  }
  if (page.sample) {
    // A rubber stamp beside the PIN box, so that a sample is never taken for a letter.
    auto [h, w] = p.Measure(labels.sample, {"DejaVu Sans", 20, true});
    cairo_save(cr.get());
    cairo_translate(cr.get(), kLeft + box_w + (kRight - kLeft - box_w) / 2, y + box_h / 2);
    cairo_rotate(cr.get(), -G_PI / 12);
    constexpr Rgb kStamp{0.78, 0.10, 0.12};
    p.RoundedBox(-w / 2 - 3, -h / 2 - 1.5, w + 6, h + 3, 1.5, {1, 1, 1}, kStamp, 0.8);
    p.Text(-w / 2, -h / 2, 0, labels.sample, {"DejaVu Sans", 20, true}, kStamp);
    cairo_restore(cr.get());
  }
  y += box_h + 7.0;

  // Instructions, numbered with a hanging indent.
  if (!t.instructions.empty()) {
    y += p.Text(kLeft, y, kRight - kLeft, labels.steps, {"DejaVu Sans", 10, true}, kInk);
    y += 1.5;
    int n = 0;
    for (const auto& step : t.instructions) {
      CP_ASSIGN_OR_RETURN(std::string s, expand(step, "instructions"));
      const std::string num = std::to_string(++n) + ".";
      p.Text(kLeft, y, 6.0, num, {"DejaVu Sans", 9.5}, kAccent);
      y += p.Text(kLeft + 6.0, y, kRight - kLeft - 6.0, s, {"DejaVu Sans", 9.5}, kInk,
                  PANGO_ALIGN_LEFT, 1.1);
      y += 1.5;
    }
    y += 4.0;
  }

  // Closing: line breaks kept (the signature lines).
  if (!t.closing.empty()) {
    CP_ASSIGN_OR_RETURN(std::string closing, expand(t.closing, "closing"));
    y += 2.0;
    y += p.Text(kLeft, y, kRight - kLeft, closing, {"DejaVu Sans", 10}, kInk);
  }
  if (y > kLastLine) {
    return InvalidInput("the letter's text runs to " + std::to_string(static_cast<int>(y)) +
                        " mm, past the footer at " + std::to_string(static_cast<int>(kLastLine)) +
                        " mm: shorten the body or the instructions");
  }

  // Footer: small print at the left, the letter's reference at the right.
  p.Line(kLeft, kFooterTop, kRight, kFooterTop, 0.2, kGrey);
  if (!t.footer.empty()) {
    CP_ASSIGN_OR_RETURN(std::string footer, expand(t.footer, "footer"));
    p.Text(kLeft, kFooterTop + 1.5, 120.0, footer, {"DejaVu Sans", 6.5}, kGrey);
  }
  p.Text(kRight - 60.0, kFooterTop + 1.5, 60.0,
         std::string(labels.letter) + " " + letter_no + " · " +
             (code_letter ? std::string(labels.request) + " " + std::to_string(page.request_id)
                          : page.card_serial),
         {"DejaVu Sans", 6.5}, kGrey, PANGO_ALIGN_RIGHT);

  cairo_show_page(cr.get());
  cr.reset();
  cairo_surface_finish(surface.get());
  if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS) {
    return Internal(std::string("writing the PDF: ") +
                    cairo_status_to_string(cairo_surface_status(surface.get())));
  }
  surface.reset();
  return SecureString(std::move(sink.buf));
}

}  // namespace certpress::kgs
