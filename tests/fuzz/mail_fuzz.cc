// mail_fuzz: libFuzzer target for the mail's message building (kgs/mail_message.cc): RFC 2047
// header encoding (EncodeHeaderText, FormatMailbox), the activation mail's templates
// (RenderMail, profiles::RenderTemplate) and the whole RFC 5322 message (BuildMessage).
//
// The input is split at NUL bytes into a display name, a subject template and a text
// template; the first byte also picks the language and the code channel. Properties: the
// header section holds only CRLF line ends, each line at most 78 characters and starting with
// a field we write or with folding whitespace (no header injection); the Subject's and the
// To name's encoded-words decode back to the text given; the HTML part holds the name only
// HTML-escaped.
#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "common/utf8.h"
#include "kgs/mail_message.h"

using namespace certpress;
using namespace certpress::kgs;

namespace {

void Fail(const char* what, std::string_view detail = "") {
  std::fprintf(stderr, "mail_fuzz: property violated: %s\n%.*s\n", what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

std::string DecodeBase64(std::string_view b64) {
  std::string out(b64.size() / 4 * 3 + 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(b64.data()),
                                static_cast<int>(b64.size()));
  if (n < 0) Fail("an encoded-word's base64 does not decode", b64);
  out.resize(static_cast<size_t>(n));
  // EVP_DecodeBlock keeps the padding's zero bytes.
  size_t pad = 0;
  for (size_t i = b64.size(); i > 0 && b64[i - 1] == '='; --i) ++pad;
  out.resize(out.size() - pad);
  return out;
}

// Unfold decodes a header value: encoded-words separated by folding whitespace are joined
// (RFC 2047 6.2); anything else is taken as is.
std::string Unfold(std::string_view value) {
  if (value.rfind("=?UTF-8?B?", 0) != 0) return std::string(value);
  std::string out;
  size_t i = 0;
  while (i < value.size()) {
    if (value.substr(i, 10) != "=?UTF-8?B?") Fail("text between encoded-words", value);
    const size_t end = value.find("?=", i + 10);
    if (end == std::string_view::npos) Fail("an encoded-word does not end", value);
    if (end + 2 - i > 75) Fail("an encoded-word longer than 75 characters", value);
    out += DecodeBase64(value.substr(i + 10, end - i - 10));
    i = end + 2;
    if (value.substr(i, 3) == "\r\n ") i += 3;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 4096) return 0;
  const uint8_t pick = data[0];
  std::vector<std::string> pieces(3);
  size_t at = 0;
  for (size_t i = 1; i < size; ++i) {
    if (data[i] == 0 && at < 2) {
      ++at;
    } else {
      pieces[at] += static_cast<char>(data[i]);
    }
  }
  const std::string& name = pieces[0];

  profiles::ActivationSpec spec;
  spec.language = kLangs[pick % 3];
  spec.code = static_cast<profiles::CodeChannel>((pick / 3) % 3);
  if (pick & 0x80) {
    spec.mail_subject = pieces[1];
    spec.mail_text = pieces[2];
  }
  auto mail = RenderMail(spec, name, "https://pickup.example/pickup/TOKEN", "2026-12-07 10:00 UTC");
  if (!mail.ok()) return 0;  // a template with an unknown {reference}
  // The HTML part is the same mail rendered for a marker name, the marker replaced by the
  // name escaped (common/utf8.h HtmlEscape): the name never reaches it raw.
  auto marked = RenderMail(spec, "NAME-MARKER", "https://pickup.example/pickup/TOKEN",
                           "2026-12-07 10:00 UTC");
  if (!marked.ok()) Fail("a template renders for one name and not another");
  std::string want = marked->html.str();
  const std::string escaped = HtmlEscape(name);
  for (size_t at = want.find("NAME-MARKER"); at != std::string::npos;
       at = want.find("NAME-MARKER", at + escaped.size())) {
    want.replace(at, 11, escaped);
  }
  if (mail->html.str() != want)
    Fail("the HTML part does not hold the name escaped", mail->html.str());

  MailMessage m;
  m.from_name = "CertPress";
  m.from_address = "certpress@example.org";
  m.to_name = name;
  m.to_address = "holder@example.org";
  m.subject = mail->subject;
  m.message_id = "0123456789abcdef@example.org";
  m.date = "Mon, 30 Nov 2026 10:00:00 +0000";
  m.text = std::move(mail->text);
  m.html = std::move(mail->html);
  const SecureString message = BuildMessage(m);
  const std::string_view all = message.view();
  const size_t end = all.find("\r\n\r\n");
  if (end == std::string_view::npos) Fail("no end of the header section");
  const std::string_view headers = all.substr(0, end + 2);
  std::string subject, to;
  std::string* current = nullptr;
  size_t start = 0;
  while (start < headers.size()) {
    const size_t eol = headers.find("\r\n", start);
    if (eol == std::string_view::npos) Fail("a header line without CRLF", headers);
    const std::string_view line = headers.substr(start, eol - start);
    if (line.find_first_of("\r\n") != std::string_view::npos) Fail("a bare CR or LF", line);
    if (line.size() > 78) Fail("a header line longer than 78 characters", line);
    if (line.empty()) Fail("an empty line inside the headers", headers);
    if (line[0] == ' ') {
      if (current) *current += std::string(line);  // unfolding keeps the WSP after the CRLF
    } else {
      static constexpr std::string_view kFields[] = {
          "From: ",       "To: ",           "Subject: ",        "Date: ",
          "Message-ID: ", "MIME-Version: ", "Auto-Submitted: ", "Content-Type: "};
      bool known = false;
      for (auto f : kFields) known = known || line.rfind(f, 0) == 0;
      if (!known) Fail("a header line we did not write", line);
      current = nullptr;
      if (line.rfind("Subject: ", 0) == 0) {
        subject = std::string(line.substr(9));
        current = &subject;
      } else if (line.rfind("To: ", 0) == 0) {
        to = std::string(line.substr(4));
        current = &to;
      }
    }
    start = eol + 2;
  }
  // Folding: the CRLF went, the WSP stays; between encoded-words it is dropped on decoding.
  auto refold = [](std::string v) {
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) {
      if (v.compare(i, 3, "?= ") == 0 && v.compare(i + 3, 2, "=?") == 0) {
        out += "?=\r\n ";
        i += 2;
      } else {
        out += v[i];
      }
    }
    return out;
  };
  if (Unfold(refold(subject)) != m.subject && subject.rfind("=?", 0) == 0) {
    Fail("the Subject does not decode to the subject", subject);
  }
  if (subject.rfind("=?", 0) != 0 && subject != m.subject) Fail("a plain Subject changed", subject);
  if (!name.empty() && to.rfind("=?", 0) == 0) {
    const size_t lt = to.rfind(" <");
    std::string words = refold(to.substr(0, lt));
    while (!words.empty() &&
           (words.back() == ' ' || words.back() == '\n' || words.back() == '\r')) {
      words.pop_back();
    }
    if (Unfold(words) != name) Fail("the To name does not decode to the name", to);
  }
  return 0;
}
