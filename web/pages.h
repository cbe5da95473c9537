// pages.h: the HTML of the server's pages: plain, accessible HTML5 (one <main>, labelled
// fields, errors tied to their fields with aria-describedby and listed in a summary that
// takes focus order first), no script, no external asset: one stylesheet served by us.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/texts.h"

namespace certpress::web {

// Page wraps |body_html| (already escaped) in a document titled |title|, <html lang> set to
// |lang|.
std::string Page(Lang lang, std::string_view title, std::string_view body_html);

// Paragraphs escapes |text| (a text of common/texts.h) and wraps each of its paragraphs
// (separated by a blank line) in <p>, with |css_class| when given.
std::string Paragraphs(std::string_view text, std::string_view css_class = "");

// The stylesheet at /static/style.css.
std::string_view StyleSheet();

// FormField is one input of a form.
struct FormField {
  std::string name;
  std::string label;
  std::string type = "text";  // text, email, password, textarea, file
  std::string value;          // shown back (never for passwords)
  std::string hint;
  std::string error;
  std::string autocomplete;
  bool required = false;
  size_t max_length = 0;
  size_t min_length = 0;
  std::string accept;         // file inputs: the file types offered
  bool mark_optional = true;  // "(optional)" after the label of a field not required
  bool read_only = false;     // shown, sent back, not editable (a value the server fixed)
};

// FieldHtml renders a labelled input with its hint and error.
std::string FieldHtml(Lang lang, const FormField& f);
// ErrorSummary lists the fields' errors (and |general|) as links to the fields.
std::string ErrorSummary(Lang lang, std::string_view general, const std::vector<FormField>& fields);

}  // namespace certpress::web
