// profile_letter.cc: the [card.NAME.letter] table of a profile, the template of its letters (a
// piv profile's PIN letters, a soft profile's activation-code letters). Each text is checked as a
// request field is (UTF-8, no control or bidirectional formatting characters), bounded so that the
// letter stays one A4 page, and its placeholders must be ones a letter knows (kLetterPlaceholders);
// an error names file, line, column and key.
#include <map>

#include "cardprofiles/profile_parser.h"
#include "cardprofiles/spelling.h"
#include "common/utf8.h"

namespace certpress::profiles {

namespace {

// The languages whose labels and date format kgs/letter_pdf.cc knows.
constexpr std::string_view kLanguages[] = {"en", "de", "fr"};

std::map<std::string, std::string> LetterProbe() {
  std::map<std::string, std::string> probe;
  for (auto p : kLetterPlaceholders) probe[std::string(p)] = "x";
  return probe;
}

std::string PlaceholderList() {
  std::string out;
  for (auto p : kLetterPlaceholders) out += (out.empty() ? "{" : ", {") + std::string(p) + "}";
  return out;
}

}  // namespace

LetterTemplate CodeLetterTemplate(std::string_view language) {
  LetterTemplate l;
  l.sender = {"CertPress", "Certificate Services"};
  if (language == "de") {
    l.language = "de";
    l.sender = {"CertPress", "Zertifikatsdienste"};
    l.title = "Ihr Aktivierungscode für Ihr Zertifikat";
    l.greeting = "Guten Tag {holder_name},";
    l.body =
        "Ihr Zertifikat liegt zur Abholung bereit. Den Link dazu haben wir Ihnen per E-Mail "
        "geschickt. Die Abholseite fragt nach dem Aktivierungscode unten: Er zeigt, dass, wer das "
        "Zertifikat abholt, auch Ihre Post erhält.\n\nDer Code gilt nur für Ihr Zertifikat "
        "(Antrag {request_id}) und nur für eine Abholung.";
    l.instructions = {
        "Öffnen Sie den Link aus unserer E-Mail und geben Sie diesen Code und ein Passwort Ihrer "
        "Wahl ein.",
        "Geben Sie den Code niemandem weiter: Wir werden Sie nie danach fragen.",
        "Wenn Sie diesen Brief nicht erwartet haben oder er geöffnet bei Ihnen ankam, melden Sie "
        "sich bitte sofort bei uns."};
    l.closing = "Mit freundlichen Grüßen\nZertifikatsdienste";
  } else if (language == "fr") {
    l.language = "fr";
    l.sender = {"CertPress", "Service des certificats"};
    l.title = "Votre code d'activation pour votre certificat";
    l.greeting = "Bonjour {holder_name},";
    l.body =
        "Votre certificat est prêt. Nous vous avons envoyé par courriel le lien pour le retirer. "
        "La page de retrait vous demandera le code d'activation ci-dessous : il montre que la "
        "personne qui retire le certificat reçoit aussi votre courrier.\n\nCe code ne vaut que "
        "pour votre certificat (demande {request_id}) et pour un seul retrait.";
    l.instructions = {
        "Ouvrez le lien du courriel que nous vous avons envoyé et saisissez ce code ainsi qu'un "
        "mot de passe de votre choix.",
        "Ne communiquez ce code à personne : nous ne vous le demanderons jamais.",
        "Si vous n'attendiez pas ce courrier, ou s'il vous est parvenu ouvert, prévenez-nous "
        "immédiatement."};
    l.closing = "Veuillez agréer nos salutations distinguées.\nService des certificats";
  } else {
    l.title = "Your activation code for your certificate";
    l.greeting = "Dear {holder_name},";
    l.body =
        "Your certificate is ready. We have sent you an e-mail with the link to pick it up. The "
        "pickup page asks for the activation code below: it shows that whoever picks the "
        "certificate up also receives your post.\n\nThe code works for your certificate only "
        "(request {request_id}), and for one pickup.";
    l.instructions = {
        "Open the link in the e-mail we sent you, then enter this code and a password of your "
        "choice.",
        "Never tell anyone this code: we will never ask you for it.",
        "If you did not expect this letter, or it reached you opened, tell us at once."};
    l.closing = "Kind regards,\nCertificate Services";
  }
  return l;
}

Status Parser::ParseLetter(const toml::table& t, const std::string& path, CardProfile* c) const {
  const toml::node* lnode = t.get("letter");
  const std::string lpath = path + ".letter";
  // A soft profile whose activation code goes by post writes letters too: to the postal
  // address its [letter] table makes from the request's fields.
  const bool code_letters =
      c->delivery == Delivery::kActivationEmail && c->activation.code == CodeChannel::kLetter;
  if (lnode == nullptr) {
    if (code_letters) {
      return toml_.Error(t, lpath,
                         "activation.code = \"letter\" needs a [" + lpath +
                             "] table with recipient and address templates (where the code is "
                             "posted)");
    }
    return Status::Ok();  // the defaults of LetterTemplate
  }
  const toml::table* lt = lnode->as_table();
  if (lt == nullptr) return toml_.Error(*lnode, lpath, "must be a table");
  if (c->token != TokenKind::kPiv && !code_letters) {
    return toml_.Error(*lnode, lpath,
                       "only piv profiles have PIN letters (and soft profiles whose "
                       "activation.code = \"letter\" their activation-code letters)");
  }
  CP_RETURN_IF_ERROR(
      toml_.KnownKeys(*lt, lpath,
                      {"language", "sender", "return_address", "recipient", "address", "title",
                       "greeting", "body", "instructions", "closing", "footer"}));
  LetterTemplate& l = c->letter;
  const auto probe = LetterProbe();
  // Text checks one text at |node|: the field text rule, at most |max| characters (and, with
  // |lines|, at most that many lines), placeholders a letter knows.
  auto text = [&](const std::string& value, const toml::node& node, const std::string& key,
                  size_t max, size_t lines, bool required) -> Status {
    const std::string kpath = lpath + "." + key;
    if (required && value.empty()) return toml_.Error(node, kpath, "must not be empty");
    // Line breaks are the one control character a letter text may hold (paragraphs).
    std::string flat = value;
    size_t breaks = 0;
    for (char& ch : flat) {
      if (ch == '\n') {
        ch = ' ';
        ++breaks;
      }
    }
    if (breaks + 1 > lines) {
      return toml_.Error(node, kpath, "at most " + std::to_string(lines) + " line(s)");
    }
    size_t offset = 0;
    if (Status st = CheckFieldText(flat, &offset); !st.ok()) {
      return toml_.Error(node, kpath, st.message());
    }
    if (Utf8Length(value) > max) {
      return toml_.Error(node, kpath,
                         std::to_string(Utf8Length(value)) + " characters; at most " +
                             std::to_string(max) + " fit the page");
    }
    if (auto r = RenderTemplate(value, probe); !r.ok()) {
      return toml_.Error(node, kpath,
                         r.status().message() + " (a letter knows " + PlaceholderList() + ")");
    }
    return Status::Ok();
  };
  // Reads the string |key| if present and checks it.
  auto str = [&](const char* key, std::string* out, size_t max, size_t lines,
                 bool required) -> Status {
    if (!lt->contains(key)) return Status::Ok();
    CP_ASSIGN_OR_RETURN(*out, toml_.Str(*lt, key, lpath, false));
    return text(*out, *lt->get(key), key, max, lines, required);
  };
  // Reads the array of strings |key| if present: |min| to |max_items| items, each checked.
  auto list = [&](const char* key, std::vector<std::string>* out, size_t min, size_t max_items,
                  size_t max_chars) -> Status {
    if (!lt->contains(key)) return Status::Ok();
    CP_ASSIGN_OR_RETURN(auto items, toml_.Strings(*lt, key, lpath, false));
    if (items.size() < min || items.size() > max_items) {
      return toml_.Error(*lt->get(key), lpath + "." + key,
                         "must have " + std::to_string(min) + " to " + std::to_string(max_items) +
                             " entries, not " + std::to_string(items.size()));
    }
    out->clear();
    for (auto& [value, node] : items) {
      CP_RETURN_IF_ERROR(text(value, *node, key, max_chars, 1, true));
      out->push_back(value);
    }
    return Status::Ok();
  };

  if (lt->contains("language")) {
    CP_ASSIGN_OR_RETURN(l.language, toml_.Str(*lt, "language", lpath, false));
    bool known = false;
    for (auto lang : kLanguages) known = known || lang == l.language;
    if (!known) {
      return toml_.Error(*lt->get("language"), lpath + ".language", "must be en, de or fr");
    }
  }
  if (code_letters) {
    // The wording of an activation-code letter in the letter's language, unless the table
    // says otherwise below.
    const std::string language = l.language;
    l = CodeLetterTemplate(language);
    l.language = language;
  }
  CP_RETURN_IF_ERROR(list("sender", &l.sender, 1, 8, 60));
  CP_RETURN_IF_ERROR(str("return_address", &l.return_address, 90, 1, false));
  // recipient and address are filled from the request: templates of the profile's fields.
  const auto fields = Probe(*c);
  auto field_template = [&](const std::string& value, const toml::node& node,
                            const std::string& kpath) -> Status {
    if (auto r = RenderTemplate(value, fields); !r.ok()) {
      return toml_.Error(node, kpath, r.status().message());
    }
    return Status::Ok();
  };
  if (lt->contains("recipient")) {
    CP_ASSIGN_OR_RETURN(l.recipient, toml_.Str(*lt, "recipient", lpath, false));
    CP_RETURN_IF_ERROR(field_template(l.recipient, *lt->get("recipient"), lpath + ".recipient"));
  }
  CP_ASSIGN_OR_RETURN(auto address, toml_.Strings(*lt, "address", lpath, false));
  if (address.size() > 5) {
    return toml_.Error(*lt->get("address"), lpath + ".address",
                       "at most 5 lines fit the envelope window below the name");
  }
  for (auto& [value, node] : address) {
    CP_RETURN_IF_ERROR(field_template(value, *node, lpath + ".address"));
    l.address.push_back(value);
  }
  if (l.address.empty() != l.recipient.empty()) {
    return toml_.Error(*lnode, lpath, "recipient and address go together: give both or neither");
  }
  if (code_letters && l.recipient.empty()) {
    return toml_.Error(*lnode, lpath,
                       "an activation-code letter needs recipient and address templates");
  }
  CP_RETURN_IF_ERROR(str("title", &l.title, 90, 1, true));
  CP_RETURN_IF_ERROR(str("greeting", &l.greeting, 90, 1, false));
  CP_RETURN_IF_ERROR(str("body", &l.body, 1200, 12, true));
  CP_RETURN_IF_ERROR(list("instructions", &l.instructions, 0, 6, 240));
  CP_RETURN_IF_ERROR(str("closing", &l.closing, 200, 4, false));
  CP_RETURN_IF_ERROR(str("footer", &l.footer, 300, 3, false));
  return Status::Ok();
}

}  // namespace certpress::profiles
