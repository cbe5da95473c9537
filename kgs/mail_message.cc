#include "kgs/mail_message.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <map>

#include "common/texts.h"
#include "common/utf8.h"

namespace certpress::kgs {

namespace {

std::string Base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// Base64Lines is a body part's base64 in lines of 76 characters (RFC 2045 6.8).
void AppendBase64Lines(std::string* out, std::string_view data) {
  std::string b64 = Base64(data);
  for (size_t i = 0; i < b64.size(); i += 76) {
    out->append(b64, i, 76);
    out->append("\r\n");
  }
  OPENSSL_cleanse(b64.data(), b64.size());
}

bool PlainAscii(std::string_view s) {
  for (unsigned char ch : s) {
    if (ch < 0x20 || ch > 0x7e) return false;
  }
  // "=?" would be read as the start of an encoded-word (RFC 2047 5).
  return s.find("=?") == std::string_view::npos;
}

// Utf8Len is the length of the UTF-8 sequence starting with |lead| (1 for stray bytes).
size_t Utf8Len(unsigned char lead) {
  if (lead >= 0xf0) return 4;
  if (lead >= 0xe0) return 3;
  if (lead >= 0xc0) return 2;
  return 1;
}

std::string RandomHex(size_t n) {
  Bytes b(n);
  if (RAND_bytes(b.data(), static_cast<int>(n)) != 1) return "0";
  return HexEncode(b);
}

}  // namespace

namespace {

// EncodedWords is |text| as RFC 2047 encoded-words, whatever it holds.
std::string EncodedWords(std::string_view text, size_t used) {
  // RFC 2047 2: an encoded-word is at most 75 characters, and a header line should keep to
  // 78 (RFC 5322 2.1.1): the first word shares its line with the field name (|used|), the
  // others follow folding whitespace. "=?UTF-8?B?" and "?=" take 12 characters; base64 takes 4
  // for each 3 bytes; a character is never split between words (RFC 2047 5(3)).
  std::string out;
  size_t i = 0;
  size_t room = std::min<size_t>(75, used + 20 < 78 ? 78 - used : 20);
  while (i < text.size()) {
    const size_t max_bytes = (room - 12) / 4 * 3;
    size_t end = i;
    while (end < text.size()) {
      const size_t n = Utf8Len(static_cast<unsigned char>(text[end]));
      if (end + n - i > max_bytes) break;
      end += n;
    }
    if (end == i) end = std::min(text.size(), i + 1);
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + Base64(text.substr(i, end - i)) + "?=";
    i = end;
    room = 75;  // a continuation line: one space, then the word (76 of 78)
  }
  return out;
}

}  // namespace

std::string EncodeHeaderText(std::string_view text, size_t used) {
  // Plain ASCII that fits its line goes as it is; longer text is encoded too (words can be
  // folded anywhere; RFC 5322 2.2.3 folds only at whitespace).
  if (PlainAscii(text) && used + text.size() <= 78) return std::string(text);
  return EncodedWords(text, used);
}

std::string FormatMailbox(std::string_view name, std::string_view address, size_t used) {
  if (name.empty()) return std::string(address);
  if (PlainAscii(name)) {
    std::string shown;
    if (name.find_first_of("()<>[]:;@\\,.\"") != std::string_view::npos) {
      shown = "\"";
      for (char ch : name) {
        if (ch == '"' || ch == '\\') shown.push_back('\\');
        shown.push_back(ch);
      }
      shown += "\"";
    } else {
      shown = std::string(name);
    }
    if (used + shown.size() + 3 + address.size() <= 78) {
      return shown + " <" + std::string(address) + ">";
    }
  }
  // Not ASCII (RFC 2047 5(3)), or too long for its line: encoded-words, folded between words;
  // the address goes on a line of its own when the last word's line would be too long.
  const std::string shown = EncodedWords(name, used);
  const size_t last = shown.rfind('\n');
  const size_t line = last == std::string::npos ? used + shown.size() : shown.size() - last;
  if (line + 3 + address.size() > 78) return shown + "\r\n <" + std::string(address) + ">";
  return shown + " <" + std::string(address) + ">";
}

void SplitMailbox(std::string_view mailbox, std::string* name, std::string* address) {
  const size_t lt = mailbox.rfind('<');
  const size_t gt = mailbox.rfind('>');
  if (lt == std::string_view::npos || gt == std::string_view::npos || gt < lt) {
    name->clear();
    *address = std::string(mailbox);
    return;
  }
  *address = std::string(mailbox.substr(lt + 1, gt - lt - 1));
  std::string n(mailbox.substr(0, lt));
  while (!n.empty() && n.back() == ' ') n.pop_back();
  if (n.size() >= 2 && n.front() == '"' && n.back() == '"') n = n.substr(1, n.size() - 2);
  *name = n;
}

SecureString BuildMessage(const MailMessage& m) {
  const std::string boundary = "=_certpress_" + RandomHex(12);
  std::string out;
  out.reserve(1024 + 2 * (m.text.size() + m.html.size()));
  out += "From: " + FormatMailbox(m.from_name, m.from_address, 6) + "\r\n";
  out += "To: " + FormatMailbox(m.to_name, m.to_address, 4) + "\r\n";
  out += "Subject: " + EncodeHeaderText(m.subject, 9) + "\r\n";
  out += "Date: " + m.date + "\r\n";
  out += "Message-ID: <" + m.message_id + ">\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += "Auto-Submitted: auto-generated\r\n";  // RFC 3834 5: no auto-replies, please
  out += "Content-Type: multipart/alternative;\r\n boundary=\"" + boundary + "\"\r\n\r\n";
  out += "This is a MIME message: text and HTML.\r\n";
  out += "\r\n--" + boundary + "\r\n";
  out += "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  AppendBase64Lines(&out, m.text.view());
  out += "\r\n--" + boundary + "\r\n";
  out += "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  AppendBase64Lines(&out, m.html.view());
  out += "\r\n--" + boundary + "--\r\n";
  return SecureString(std::move(out));
}

Result<RenderedMail> RenderMail(const profiles::ActivationSpec& spec, std::string_view name,
                                std::string_view link, std::string_view expiry) {
  // The defaults come from the table of texts in the profile's language; a profile's own
  // templates are used as written.
  const Lang lang = spec.language;
  std::string_view code_hint;
  if (spec.code == profiles::CodeChannel::kLetter) code_hint = T(lang, Txt::kCodeHintLetter);
  if (spec.code == profiles::CodeChannel::kOperator) code_hint = T(lang, Txt::kCodeHintOperator);
  const std::string subject =
      spec.mail_subject.empty() ? std::string(T(lang, Txt::kActivationSubject)) : spec.mail_subject;
  const std::string text = spec.mail_text.empty() ? Fill(T(lang, Txt::kActivationText),
                                                         {{"code_hint", std::string(code_hint)}})
                                                  : spec.mail_text;
  const std::string html = spec.mail_html.empty() ? Fill(T(lang, Txt::kActivationHtml),
                                                         {{"code_hint", HtmlEscape(code_hint)}})
                                                  : spec.mail_html;
  std::map<std::string, std::string> plain = {
      {"name", std::string(name)}, {"link", std::string(link)}, {"expiry", std::string(expiry)}};
  std::map<std::string, std::string> escaped = {
      {"name", HtmlEscape(name)}, {"link", HtmlEscape(link)}, {"expiry", HtmlEscape(expiry)}};
  RenderedMail out;
  CP_ASSIGN_OR_RETURN(out.subject, profiles::RenderTemplate(subject, plain));
  auto t = profiles::RenderTemplate(text, plain);
  auto h = profiles::RenderTemplate(html, escaped);
  for (auto* m : {&plain, &escaped}) {
    for (auto& [k, v] : *m) OPENSSL_cleanse(v.data(), v.size());
  }
  if (!t.ok()) return t.status();
  if (!h.ok()) return h.status();
  out.text = SecureString(std::move(t).value());
  out.html = SecureString(std::move(h).value());
  return out;
}

}  // namespace certpress::kgs
