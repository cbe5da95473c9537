// Activation mail building (kgs/mailer.h: RFC 2047 header words, RFC 5322 mailboxes, the
// multipart message, templates), activation codes and keys (kgs/activations.h) and the
// profile's [card.NAME.activation] table. Python's email package reads real messages in
// tests/integration/mail_it.cc; here each rule is checked on its own.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <regex>

#include "cardprofiles/profile.h"
#include "common/utf8.h"
#include "kgs/activations.h"
#include "kgs/mailer.h"

namespace certpress::kgs {
namespace {

size_t Occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string Unbase64(const std::string& b64) {
  std::string out(b64.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(b64.data()),
                          static_cast<int>(b64.size()));
  if (n < 0) return "<bad base64>";
  size_t pad = 0;
  for (size_t i = b64.size(); i > 0 && b64[i - 1] == '='; --i) ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

// DecodeWords undoes EncodeHeaderText with OpenSSL's base64, word by word.
std::string DecodeWords(const std::string& header, std::vector<std::string>* words) {
  static const std::regex kWord(R"(=\?UTF-8\?B\?([A-Za-z0-9+/=]+)\?=)");
  std::string out;
  for (std::sregex_iterator it(header.begin(), header.end(), kWord), end; it != end; ++it) {
    words->push_back(it->str());
    out += Unbase64((*it)[1].str());
  }
  return out;
}

TEST(MailTest, AsciiHeaderTextStaysAsItIs) {
  EXPECT_EQ(EncodeHeaderText("Your certificate is ready"), "Your certificate is ready");
}

TEST(MailTest, NonAsciiHeaderTextBecomesEncodedWordsOfWholeCharacters) {
  const std::string name =
      "山田花子 Jørgen Ærø-Østergård 山田花子 山田花子 山田花子 山田花子 終わり";
  const std::string h = EncodeHeaderText(name);
  std::vector<std::string> words;
  EXPECT_EQ(DecodeWords(h, &words), name);
  ASSERT_GT(words.size(), 1u);
  for (const auto& w : words) {
    EXPECT_LE(w.size(), 75u) << w;  // RFC 2047 2
    std::vector<std::string> one;
    // Each word alone is whole UTF-8: no character is split between two words (RFC 2047 5(3)).
    EXPECT_TRUE(ValidateUtf8(DecodeWords(w, &one))) << w;
  }
  // Words are separated by folding whitespace only; nothing raw is left.
  std::string between;
  for (size_t i = 1; i < words.size(); ++i) between += "\r\n ";
  EXPECT_EQ(std::regex_replace(h, std::regex(R"(=\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=)"), ""), between);
}

TEST(MailTest, HeaderTextWithALineBreakOrAnEncodedWordLookalikeIsEncoded) {
  // A CR LF in a subject would start a new header (header injection); "=?" would be read as
  // an encoded-word.
  const std::string evil = "Hi\r\nBcc: victim@example.org";
  const std::string h = EncodeHeaderText(evil);
  EXPECT_EQ(h.find("\r\nBcc"), std::string::npos) << h;
  std::vector<std::string> words;
  EXPECT_EQ(DecodeWords(h, &words), evil);
  EXPECT_NE(EncodeHeaderText("a =?x?= b"), "a =?x?= b");
}

// Found while writing mail_fuzz's properties: plain ASCII went out as it was, however long, so
// a long name or subject made a header line over RFC 5322's 78 (and, past 998, over its
// limit). Now text that does not fit its line is encoded-words, folded between words.
TEST(MailTest, LongAsciiHeaderTextIsFoldedAsEncodedWords) {
  const std::string longname(120, 'a');
  const std::string subject = "Your CertPress certificate is ready, " + longname;
  const std::string h = EncodeHeaderText(subject, 9);
  EXPECT_EQ(h.rfind("=?UTF-8?B?", 0), 0u) << h;
  std::vector<std::string> words;
  EXPECT_EQ(DecodeWords(h, &words), subject);
  size_t start = 0, line = 9;  // "Subject: "
  for (size_t nl = h.find("\r\n");; nl = h.find("\r\n", start)) {
    const size_t end = nl == std::string::npos ? h.size() : nl;
    EXPECT_LE(line + end - start, 78u);
    if (nl == std::string::npos) break;
    start = nl + 2;
    line = 0;
  }
  // Short ASCII stays as it is, at the limit too.
  EXPECT_EQ(EncodeHeaderText(std::string(69, 'x'), 9), std::string(69, 'x'));
  const std::string m = FormatMailbox("Alexander " + longname, "a@example.org", 4);
  EXPECT_EQ(m.rfind("=?UTF-8?B?", 0), 0u) << m;
  EXPECT_NE(m.find("<a@example.org>"), std::string::npos);
  for (size_t at = 0, nl; at < m.size(); at = nl + 2) {
    nl = m.find("\r\n", at);
    if (nl == std::string::npos) nl = m.size();
    EXPECT_LE(nl - at + (at == 0 ? 4 : 0), 78u) << m;
  }
}

TEST(MailTest, MailboxesQuoteSpecialsAndEncodeNonAscii) {
  EXPECT_EQ(FormatMailbox("", "a@example.org"), "a@example.org");
  EXPECT_EQ(FormatMailbox("Alice Andersen", "a@example.org"), "Alice Andersen <a@example.org>");
  EXPECT_EQ(FormatMailbox("Doe, John \"JD\"", "j@example.org"),
            "\"Doe, John \\\"JD\\\"\" <j@example.org>");
  const std::string m = FormatMailbox("Jørgen", "j@example.org");
  EXPECT_EQ(m.rfind("=?UTF-8?B?", 0), 0u) << m;
  EXPECT_NE(m.find(" <j@example.org>"), std::string::npos);
  std::string name, addr;
  SplitMailbox("CertPress <certpress@example.org>", &name, &addr);
  EXPECT_EQ(name, "CertPress");
  EXPECT_EQ(addr, "certpress@example.org");
  SplitMailbox("\"Doe, J\" <j@example.org>", &name, &addr);
  EXPECT_EQ(name, "Doe, J");
  SplitMailbox("plain@example.org", &name, &addr);
  EXPECT_EQ(name, "");
  EXPECT_EQ(addr, "plain@example.org");
}

TEST(MailTest, TheMessageIsMultipartAlternativeWithCrlfLinesAndBase64Parts) {
  MailMessage m;
  m.from_name = "CertPress";
  m.from_address = "certpress@example.org";
  m.to_name = "山田花子 Jørgen Ærø-Østergård 山田花子 山田花子 山田花子 山田花子";
  m.to_address = "h@example.jp";
  m.subject = "Your CertPress certificate is ready, 山田花子 Jørgen Ærø-Østergård";
  m.message_id = "activation.7.abcd@example.org";
  m.date = "Mon, 30 Nov 2026 06:00:00 +0000";
  m.text = SecureString(std::string(200, 'x') + "\nline two\n");
  m.html = SecureString("<p>hi</p>\n");
  const std::string msg = BuildMessage(m).str();
  for (size_t i = 0; i < msg.size(); ++i) {
    if (msg[i] == '\n') {
      ASSERT_GT(i, 0u);
      EXPECT_EQ(msg[i - 1], '\r') << "bare LF at " << i;
    }
  }
  const size_t end = msg.find("\r\n\r\n");
  ASSERT_NE(end, std::string::npos);
  const std::string headers = msg.substr(0, end + 2);
  EXPECT_NE(headers.find("Message-ID: <activation.7.abcd@example.org>\r\n"), std::string::npos);
  EXPECT_NE(headers.find("MIME-Version: 1.0\r\n"), std::string::npos);
  EXPECT_NE(headers.find("To: =?UTF-8?B?"), std::string::npos);
  EXPECT_NE(headers.find("Subject: =?UTF-8?B?"), std::string::npos);
  std::smatch b;
  ASSERT_TRUE(std::regex_search(headers, b, std::regex("boundary=\"([^\"]+)\"")));
  const std::string boundary = b[1];
  EXPECT_EQ(Occurrences(msg, "\r\n--" + boundary + "\r\n"), 2u);
  EXPECT_NE(msg.find("\r\n--" + boundary + "--\r\n"), std::string::npos);
  // Every line, headers too, is within RFC 5322's 78 characters (2.1.1).
  size_t start = 0;
  for (size_t nl = msg.find("\r\n"); nl != std::string::npos; nl = msg.find("\r\n", start)) {
    EXPECT_LE(nl - start, 78u);
    start = nl + 2;
  }
}

TEST(MailTest, TemplatesFillNameLinkAndExpiryEscapingOnlyTheHtml) {
  profiles::ActivationSpec spec;
  spec.code = profiles::CodeChannel::kOperator;
  auto r =
      RenderMail(spec, "<b>Eve</b> & Co", "https://x.example/pickup/T", "2026-12-07 06:00 UTC");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_NE(r->text.str().find("Hello <b>Eve</b> & Co,"), std::string::npos);
  EXPECT_NE(r->html.str().find("&lt;b&gt;Eve&lt;/b&gt; &amp; Co"), std::string::npos);
  EXPECT_EQ(r->html.str().find("<b>Eve"), std::string::npos);
  EXPECT_NE(r->text.str().find("https://x.example/pickup/T"), std::string::npos);
  EXPECT_NE(r->text.str().find("2026-12-07 06:00 UTC"), std::string::npos);
  EXPECT_NE(r->text.str().find("activation code"), std::string::npos);
  spec.code = profiles::CodeChannel::kNone;
  spec.mail_subject = "Hi {name}";
  spec.mail_text = "Go to {link} by {expiry}.";
  auto own = RenderMail(spec, "Bo", "L", "E");
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(own->subject, "Hi Bo");
  EXPECT_EQ(own->text.str(), "Go to L by E.");
  EXPECT_EQ(own->html.str().find("activation code"), std::string::npos);
}

TEST(MailTest, DefaultTextsAreInTheProfilesLanguage) {
  profiles::ActivationSpec spec;
  spec.code = profiles::CodeChannel::kLetter;
  spec.language = Lang::kDe;
  auto de = RenderMail(spec, "Jörg Müller", "https://x.example/pickup/T", "2026-12-07 06:00 UTC");
  ASSERT_TRUE(de.ok()) << de.status().message();
  EXPECT_EQ(de->subject, "Ihr Zertifikat liegt zur Abholung bereit");
  EXPECT_NE(de->text.str().find("Hallo Jörg Müller,"), std::string::npos) << de->text.str();
  EXPECT_NE(de->text.str().find("Aktivierungscode aus dem Brief"), std::string::npos);
  EXPECT_NE(de->html.str().find("<html lang=\"de\">"), std::string::npos);
  spec.language = Lang::kFr;
  spec.code = profiles::CodeChannel::kNone;
  auto fr = RenderMail(spec, "Zoé", "L", "E");
  ASSERT_TRUE(fr.ok());
  EXPECT_EQ(fr->subject, "Votre certificat est prêt à être retiré");
  EXPECT_EQ(fr->text.str().find("code"), std::string::npos);
  // The subject's encoded-word carries the UTF-8 of the German and French subjects.
  EXPECT_NE(EncodeHeaderText(fr->subject, 9).find("=?UTF-8?B?"), std::string::npos);
  // A profile's own subject wins over the language's default.
  spec.mail_subject = "Zertifikat für {name}";
  auto own = RenderMail(spec, "Zoé", "L", "E");
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(own->subject, "Zertifikat für Zoé");
}

TEST(MailTest, SettingsSayWhatIsMissingOrInconsistent) {
  auto good = [](MailSettings& s) {
    s.smtp_url = "smtp://127.0.0.1:2525";
    s.tls = SmtpTls::kNone;
    s.from = "CertPress <certpress@example.org>";
    s.public_url = "https://pickup.example.org";
    s.claimer = "mailer:test";
  };
  MailSettings s;
  good(s);
  EXPECT_TRUE(CheckMailSettings(s).ok());
  auto bad = [&](auto change, const std::string& says) {
    MailSettings t;
    good(t);
    change(t);
    Status st = CheckMailSettings(t);
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.message().find(says), std::string::npos) << st.message();
  };
  bad([](MailSettings& t) { t.smtp_url = ""; }, "mail.smtp-url");
  bad([](MailSettings& t) { t.smtp_url = "http://x"; }, "smtp://");
  bad([](MailSettings& t) { t.tls = SmtpTls::kImplicit; }, "smtps://");
  bad([](MailSettings& t) { t.smtp_url = "smtps://x:465"; }, "mail.tls = implicit");
  bad([](MailSettings& t) { t.from = "nobody"; }, "mail.from");
  bad([](MailSettings& t) { t.public_url = ""; }, "web.public-url");
  // Links and passwords never cross a network in clear: tls = none only on this machine, the
  // pickup base https (http only on this machine).
  bad([](MailSettings& t) { t.smtp_url = "smtp://mail.example.org:25"; }, "mail.tls = none");
  bad([](MailSettings& t) { t.smtp_url = "smtp://10.0.0.1:25"; }, "'10.0.0.1' in mail.smtp-url");
  bad([](MailSettings& t) { t.smtp_url = "smtp://127.0.0.1.evil.example:25"; }, "mail.tls");
  bad([](MailSettings& t) { t.smtp_url = "smtp://[2001:db8::1]:25"; }, "mail.tls = none");
  bad([](MailSettings& t) { t.smtp_url = "smtp://localhost@mail.example.org:25"; }, "mail.tls");
  bad([](MailSettings& t) { t.public_url = "http://pickup.example.org"; }, "web.public-url");
  bad([](MailSettings& t) { t.public_url = "pickup.example.org"; }, "web.public-url");
  bad([](MailSettings& t) { t.public_url = "https://"; }, "web.public-url has no host");
  for (const char* loopback : {"smtp://127.0.0.1:2525", "smtp://127.8.9.10:25",
                               "smtp://localhost:25", "smtp://[::1]:2525", "smtp://LOCALHOST"}) {
    MailSettings t;
    good(t);
    t.smtp_url = loopback;
    EXPECT_TRUE(CheckMailSettings(t).ok()) << loopback << ": " << CheckMailSettings(t).message();
  }
  {
    MailSettings t;
    good(t);
    t.smtp_url = "smtp://mail.example.org:587";
    t.tls = SmtpTls::kStartTls;
    t.public_url = "http://127.0.0.1:8080/";
    EXPECT_TRUE(CheckMailSettings(t).ok()) << CheckMailSettings(t).message();
    t.public_url = "http://[::1]:8080";
    EXPECT_TRUE(CheckMailSettings(t).ok()) << CheckMailSettings(t).message();
  }
  EXPECT_EQ(UrlHost("smtps://user@Mail.Example.org:465/x"), "mail.example.org");
  EXPECT_EQ(UrlHost("smtp://[::1]:25"), "::1");
  EXPECT_FALSE(IsLoopbackHost("127.0.0.1.example"));
  EXPECT_FALSE(IsLoopbackHost("128.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.255.0.1"));
  EXPECT_FALSE(ParseSmtpTls("ssl").ok());
  EXPECT_EQ(*ParseSmtpTls("implicit"), SmtpTls::kImplicit);
}

TEST(ActivationTest, CodesAreNormalizedAsPeopleTypeThem) {
  EXPECT_EQ(NormalizeCode(" ab1cd-efGh0 "), "AB1CDEFGH0");
  // Crockford's look-alikes.
  EXPECT_EQ(NormalizeCode("oil-OIL"), "011011");
}

TEST(ActivationTest, MacsDependOnKeyAndPurpose) {
  std::map<int64_t, SecureString> keys;
  keys.emplace(1, SecureString(std::string(32, 'a')));
  keys.emplace(2, SecureString(std::string(32, 'b')));
  auto ring = ActivationKeys::ForTest(std::move(keys));
  EXPECT_EQ(ring->current_id(), 2);
  const std::string a = ring->Mac(1, "link", "T");
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, ring->Mac(2, "link", "T"));
  EXPECT_NE(a, ring->Mac(1, "code", "T"));
  EXPECT_EQ(a, ring->Mac(1, "link", "T"));
  EXPECT_EQ(ring->Mac(3, "link", "T"), "");
  EXPECT_EQ(ring->LinkMacs("T").size(), 2u);
}

// The [card.NAME.activation] table.
constexpr const char* kSoft = R"([certificate.c]
validity_days = 365
key_usage = ["digitalSignature"]

[card.k]
token = "soft"
approvals = 1
delivery = "activation-email"
subject = [["CN", "{given} {family}"]]
[card.k.fields]
given = { required = true }
family = { required = true }
email = { required = true, kind = "email" }
[[card.k.keys]]
name = "auth"
algorithm = "ec-p256"
source = "server"
certificate = "c"
)";

Result<profiles::ProfileSet> Load(const std::string& extra) {
  return profiles::LoadProfilesFromString(std::string(kSoft) + extra, "t.toml");
}

TEST(ActivationProfileTest, DefaultsAndChoices) {
  auto plain = Load("");
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  const auto& a = (*plain->Card("k"))->activation;
  EXPECT_EQ(a.recipient, "{email}");
  EXPECT_EQ(a.name, "{given} {family}");  // the subject's CN
  EXPECT_EQ(a.code, profiles::CodeChannel::kNone);
  EXPECT_EQ(a.validity_seconds, 7 * 24 * 3600);
  EXPECT_EQ(a.max_attempts, 10);
  auto set = Load(
      "[card.k.activation]\nrecipient = \"{given}@example.org\"\ncode = \"letter\"\nvalidity_hours "
      "= 48\n"
      "max_attempts = 5\nsubject = \"For {name}\"\n"
      // A code that goes by post needs the address it goes to.
      "[card.k.letter]\nrecipient = \"{given} {family}\"\naddress = [\"{email}\"]\n");
  ASSERT_TRUE(set.ok()) << set.status().message();
  const auto& b = (*set->Card("k"))->activation;
  EXPECT_EQ(b.recipient, "{given}@example.org");
  EXPECT_EQ(b.code, profiles::CodeChannel::kLetter);
  EXPECT_EQ(b.validity_seconds, 48 * 3600);
  EXPECT_EQ(b.max_attempts, 5);
  EXPECT_EQ(b.mail_subject, "For {name}");
  // The shipped soft profile asks for a code shown to an operator (SP 800-63B).
  auto shipped = profiles::LoadProfiles(CERTPRESS_SOURCE_DIR "/profiles");
  ASSERT_TRUE(shipped.ok()) << shipped.status().message();
  EXPECT_EQ((*shipped->Card("employee-soft"))->activation.code, profiles::CodeChannel::kOperator);
}

TEST(ActivationProfileTest, MistakesNameTheirPlace) {
  struct Case {
    std::string extra, error;
  } cases[] = {
      {"[card.k.activation]\ncode = \"sms\"\n",
       "t.toml:20:8: card.k.activation.code: must be none, operator or letter"},
      {"[card.k.activation]\ncolour = 1\n", "t.toml:20:1: card.k.activation.colour: unknown key"},
      {"[card.k.activation]\nrecipient = \"{mail}\"\n",
       "card.k.activation.recipient: template '{mail}' refers to undeclared field 'mail'"},
      {"[card.k.activation]\ntext = \"see {url}\"\n",
       "card.k.activation.text: template 'see {url}' refers to undeclared field 'url'"},
      {"[card.k.activation]\nmax_attempts = 0\n", "card.k.activation.max_attempts: must be 1"},
      {"[card.k.activation]\nvalidity_hours = 0\n", "card.k.activation.validity_hours: must be"},
  };
  for (const auto& c : cases) {
    auto r = Load(c.extra);
    ASSERT_FALSE(r.ok()) << c.extra;
    EXPECT_NE(r.status().message().find(c.error), std::string::npos)
        << r.status().message() << "\nwanted: " << c.error;
  }
  // The default recipient, {email}, needs an email field when the table does not name another.
  std::string no_email(kSoft);
  no_email.replace(no_email.find("email = {"), 5, "mail");
  auto defaulted = profiles::LoadProfilesFromString(no_email, "t.toml");
  ASSERT_FALSE(defaulted.ok());
  EXPECT_NE(defaulted.status().message().find("card.k.activation.recipient: template '{email}'"),
            std::string::npos)
      << defaulted.status().message();
  auto station = profiles::LoadProfilesFromString(
      std::string(kSoft).replace(std::string(kSoft).find("activation-email"), 16, "station") +
          "[card.k.activation]\ncode = \"operator\"\n",
      "t.toml");
  ASSERT_FALSE(station.ok());
  EXPECT_NE(station.status().message().find("needs delivery = \"activation-email\""),
            std::string::npos)
      << station.status().message();
}

}  // namespace
}  // namespace certpress::kgs
