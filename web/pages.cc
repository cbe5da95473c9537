#include "web/pages.h"

#include "web/security.h"

namespace certpress::web {

std::string Page(Lang lang, std::string_view title, std::string_view body_html) {
  std::string out;
  out.reserve(body_html.size() + 512);
  out += "<!DOCTYPE html>\n<html lang=\"" + std::string(LangTag(lang)) + "\">\n<head>\n";
  out += "<meta charset=\"utf-8\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += "<title>" + HtmlEscape(title) + " - CertPress</title>\n";
  out += "<link rel=\"stylesheet\" href=\"/static/style.css\">\n</head>\n<body>\n";
  out += "<header><p class=\"brand\">CertPress</p></header>\n<main>\n";
  out += "<h1>" + HtmlEscape(title) + "</h1>\n";
  out += body_html;
  out += "</main>\n</body>\n</html>\n";
  return out;
}

std::string Paragraphs(std::string_view text, std::string_view css_class) {
  const std::string open =
      css_class.empty() ? "<p>" : "<p class=\"" + HtmlEscape(css_class) + "\">";
  std::string out;
  while (!text.empty()) {
    const size_t end = text.find("\n\n");
    out += open + HtmlEscape(text.substr(0, end)) + "</p>\n";
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 2);
  }
  return out;
}

std::string_view StyleSheet() {
  return R"(:root { color-scheme: light; }
body { font-family: "DejaVu Sans", system-ui, sans-serif; margin: 0; background: #f4f5f7;
       color: #1d2330; line-height: 1.5; }
header { background: #1f3a5f; color: #fff; padding: 0.6rem 1.5rem; }
.brand { margin: 0; font-weight: bold; letter-spacing: 0.05em; }
main { max-width: 38rem; margin: 2rem auto; background: #fff; padding: 1.5rem 2rem 2rem;
       border-radius: 6px; box-shadow: 0 1px 3px rgba(0,0,0,0.15); }
h1 { font-size: 1.5rem; margin-top: 0; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; }
dt { font-weight: bold; }
dd { margin: 0; overflow-wrap: anywhere; }
.field { margin: 1rem 0; }
label { display: block; font-weight: bold; margin-bottom: 0.25rem; }
input[type=text], input[type=email], input[type=password], textarea {
  width: 100%; box-sizing: border-box; padding: 0.5rem; font-size: 1rem;
  border: 1px solid #6b7280; border-radius: 4px; }
textarea { font-family: "DejaVu Sans Mono", monospace; font-size: 0.85rem; min-height: 8rem; }
input[readonly] { background: #f3f4f6; color: #374151; }
input:focus, textarea:focus, button:focus { outline: 3px solid #f5a623; outline-offset: 1px; }
.hint { color: #4b5563; font-size: 0.9rem; margin: 0.2rem 0; }
.error { color: #b00020; font-weight: bold; margin: 0.2rem 0; }
.field.invalid input, .field.invalid textarea { border: 2px solid #b00020; }
.summary { border: 2px solid #b00020; padding: 0.5rem 1rem; margin-bottom: 1rem; }
.summary h2 { font-size: 1.1rem; margin: 0.3rem 0; color: #b00020; }
.notice { border-left: 4px solid #1f3a5f; padding: 0.5rem 1rem; background: #eef2f7; }
pre { overflow-x: auto; background: #f4f5f7; padding: 0.5rem; font-size: 0.8rem; }
.downloads li { margin: 0.4rem 0; }
button { background: #1f3a5f; color: #fff; border: 0; border-radius: 4px; padding: 0.7rem 1.2rem;
         font-size: 1rem; cursor: pointer; }
fieldset { border: 1px solid #d1d5db; border-radius: 4px; margin: 1rem 0; }
)";
}

std::string FieldHtml(Lang lang, const FormField& f) {
  const std::string id = "f-" + HtmlEscape(f.name);
  std::string describedby;
  std::string out = "<div class=\"field" + std::string(f.error.empty() ? "" : " invalid") + "\">\n";
  out += "<label for=\"" + id + "\">" + HtmlEscape(f.label) +
         (f.required || !f.mark_optional
              ? ""
              : " <span class=\"hint\">" + HtmlEscape(T(lang, Txt::kOptional)) + "</span>") +
         "</label>\n";
  if (!f.hint.empty()) {
    out += "<p class=\"hint\" id=\"" + id + "-hint\">" + HtmlEscape(f.hint) + "</p>\n";
    describedby += id + "-hint";
  }
  if (!f.error.empty()) {
    out += "<p class=\"error\" id=\"" + id + "-error\">" + HtmlEscape(f.error) + "</p>\n";
    describedby += (describedby.empty() ? "" : " ") + id + "-error";
  }
  std::string attrs = " id=\"" + id + "\" name=\"" + HtmlEscape(f.name) + "\"";
  if (f.required) attrs += " required";
  if (f.read_only) attrs += " readonly";
  if (f.max_length) attrs += " maxlength=\"" + std::to_string(f.max_length) + "\"";
  if (f.min_length) attrs += " minlength=\"" + std::to_string(f.min_length) + "\"";
  if (!f.autocomplete.empty()) attrs += " autocomplete=\"" + HtmlEscape(f.autocomplete) + "\"";
  if (!describedby.empty()) attrs += " aria-describedby=\"" + describedby + "\"";
  if (!f.error.empty()) attrs += " aria-invalid=\"true\"";
  if (!f.accept.empty()) attrs += " accept=\"" + HtmlEscape(f.accept) + "\"";
  if (f.type == "textarea") {
    out += "<textarea" + attrs + " spellcheck=\"false\">" + HtmlEscape(f.value) + "</textarea>\n";
  } else {
    out += "<input type=\"" + f.type + "\"" + attrs;
    if (f.type != "password" && f.type != "file") out += " value=\"" + HtmlEscape(f.value) + "\"";
    out += ">\n";
  }
  out += "</div>\n";
  return out;
}

std::string ErrorSummary(Lang lang, std::string_view general,
                         const std::vector<FormField>& fields) {
  std::string items;
  if (!general.empty()) items += "<li>" + HtmlEscape(general) + "</li>\n";
  for (const auto& f : fields) {
    if (f.error.empty()) continue;
    items += "<li><a href=\"#f-" + HtmlEscape(f.name) + "\">" + HtmlEscape(f.label) + ": " +
             HtmlEscape(f.error) + "</a></li>\n";
  }
  if (items.empty()) return "";
  return "<div class=\"summary\" role=\"alert\">\n<h2>" +
         HtmlEscape(T(lang, Txt::kCorrectTheFollowing)) + "</h2>\n<ul>\n" + items +
         "</ul>\n</div>\n";
}

}  // namespace certpress::web
