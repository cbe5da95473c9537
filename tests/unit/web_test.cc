// The web server's pieces that need no socket: form parsing, HTML escaping, the CSRF token
// and the per-address rate limiter.
#include <gtest/gtest.h>

#include "web/multipart.h"
#include "web/pages.h"
#include "web/security.h"

namespace certpress::web {
namespace {

TEST(WebTest, FormsAreDecodedAndRepeatedOrBrokenOnesRefused) {
  auto f = ParseForm("a=1&b=x+y%21&c=&d&e=%C3%A6");
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->at("a"), "1");
  EXPECT_EQ(f->at("b"), "x y!");
  EXPECT_EQ(f->at("c"), "");
  EXPECT_EQ(f->at("d"), "");
  EXPECT_EQ(f->at("e"), "\xC3\xA6");
  EXPECT_FALSE(ParseForm("a=1&a=2").ok());
  EXPECT_FALSE(ParseForm("a=%4").ok());
  EXPECT_FALSE(ParseForm("a=%zz").ok());
  EXPECT_FALSE(ParseForm("a=%").ok());
}

TEST(WebTest, HtmlIsEscapedInTextAndAttributes) {
  EXPECT_EQ(HtmlEscape("<a href=\"x\">O'Neil & co</a>"),
            "&lt;a href=&quot;x&quot;&gt;O&#39;Neil &amp; co&lt;/a&gt;");
  FormField f{"n", "Name <b>"};
  f.value = "\"><script>";
  f.error = "<bad>";
  const std::string html = FieldHtml(Lang::kEn, f);
  EXPECT_EQ(html.find("<script>"), std::string::npos) << html;
  EXPECT_EQ(html.find("<bad>"), std::string::npos) << html;
  EXPECT_NE(html.find("aria-invalid=\"true\""), std::string::npos);
  EXPECT_NE(html.find("aria-describedby=\"f-n-error\""), std::string::npos);
  FormField p{"pw", "Password", "password"};
  p.value = "secret";
  EXPECT_EQ(FieldHtml(Lang::kEn, p).find("secret"), std::string::npos);  // never shown back
}

TEST(WebTest, Base64UrlMatchesRfc4648Vectors) {
  // RFC 4648 10, in the URL-safe alphabet without padding.
  EXPECT_EQ(Base64Url(AsBytes("")), "");
  EXPECT_EQ(Base64Url(AsBytes("f")), "Zg");
  EXPECT_EQ(Base64Url(AsBytes("fo")), "Zm8");
  EXPECT_EQ(Base64Url(AsBytes("foo")), "Zm9v");
  EXPECT_EQ(Base64Url(AsBytes("foob")), "Zm9vYg");
  EXPECT_EQ(Base64Url(AsBytes("fooba")), "Zm9vYmE");
  EXPECT_EQ(Base64Url(AsBytes("foobar")), "Zm9vYmFy");
  EXPECT_EQ(Base64Url(Bytes{0xfb, 0xff}), "-_8");
  EXPECT_EQ(RandomToken(32).size(), 43u);
  EXPECT_NE(RandomToken(32), RandomToken(32));
}

Request Post(const std::string& cookie, const std::string& origin = "",
             const std::string& site = "") {
  Request r;
  r.method = "POST";
  r.headers["host"] = "pickup.example.org";
  if (!cookie.empty()) r.headers["cookie"] = "other=1; " + cookie;
  if (!origin.empty()) r.headers["origin"] = origin;
  if (!site.empty()) r.headers["sec-fetch-site"] = site;
  return r;
}

TEST(WebTest, CsrfTokenIsTheCookiesSignatureUnderThisServersKey) {
  Csrf csrf;
  Request get;
  get.method = "GET";
  const Csrf::Issued first = csrf.Issue(get);
  ASSERT_EQ(first.set_cookie.rfind("__Host-certpress-csrf=", 0), 0u);
  EXPECT_NE(first.set_cookie.find("Secure"), std::string::npos);
  EXPECT_NE(first.set_cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(first.set_cookie.find("SameSite=Strict"), std::string::npos);
  const std::string cookie = first.set_cookie.substr(0, first.set_cookie.find(';'));
  // The same cookie keeps its form value and gets no new cookie.
  Request again = get;
  again.headers["cookie"] = cookie;
  EXPECT_EQ(csrf.Issue(again).form_value, first.form_value);
  EXPECT_TRUE(csrf.Issue(again).set_cookie.empty());

  EXPECT_TRUE(csrf.Check(Post(cookie), first.form_value));
  EXPECT_TRUE(
      csrf.Check(Post(cookie, "https://pickup.example.org", "same-origin"), first.form_value));
  EXPECT_TRUE(csrf.Check(Post(cookie, "null", "same-origin"), first.form_value));
  EXPECT_FALSE(csrf.Check(Post(""), first.form_value));
  EXPECT_FALSE(csrf.Check(Post(cookie), ""));
  EXPECT_FALSE(csrf.Check(Post(cookie), first.form_value + "x"));
  EXPECT_FALSE(csrf.Check(Post(cookie, "https://evil.example"), first.form_value));
  EXPECT_FALSE(csrf.Check(Post(cookie, "null", "cross-site"), first.form_value));
  EXPECT_FALSE(csrf.Check(Post(cookie, "", "same-site"), first.form_value));
  // Another server (another key) does not accept this one's value.
  Csrf other;
  EXPECT_FALSE(other.Check(Post(cookie), first.form_value));
  // A planted cookie of another shape is not used.
  Request planted = get;
  planted.headers["cookie"] = "__Host-certpress-csrf=short";
  EXPECT_FALSE(csrf.Issue(planted).set_cookie.empty());
}

TEST(WebTest, RateLimiterAllowsTheBurstThenRefusesPerAddress) {
  RateLimiter limiter(/*per_minute=*/1, /*burst=*/3);
  int retry = 0;
  EXPECT_TRUE(limiter.Allow("192.0.2.1", &retry));
  EXPECT_TRUE(limiter.Allow("192.0.2.1", &retry));
  EXPECT_TRUE(limiter.Allow("192.0.2.1", &retry));
  EXPECT_FALSE(limiter.Allow("192.0.2.1", &retry));
  EXPECT_GT(retry, 0);
  EXPECT_LE(retry, 60);
  EXPECT_TRUE(limiter.Allow("192.0.2.2", &retry));  // another address has its own bucket
}

TEST(WebTest, PagesDeclareTheirLanguageAndLoadOnlyOurStylesheet) {
  const std::string html = Page(Lang::kEn, "T <1>", "<p>x</p>");
  EXPECT_NE(html.find("<html lang=\"en\">"), std::string::npos);
  EXPECT_NE(Page(Lang::kDe, "T", "").find("<html lang=\"de\">"), std::string::npos);
  EXPECT_NE(Page(Lang::kFr, "T", "").find("<html lang=\"fr\">"), std::string::npos);
  EXPECT_NE(html.find("<title>T &lt;1&gt; - CertPress</title>"), std::string::npos);
  EXPECT_NE(html.find("href=\"/static/style.css\""), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http"), std::string::npos);  // no external asset
}

TEST(WebTest, MultipartBoundaryIsReadFromTheContentType) {
  EXPECT_EQ(*MultipartBoundary("multipart/form-data; boundary=----WebKitFormBoundaryAb12"),
            "----WebKitFormBoundaryAb12");
  EXPECT_EQ(*MultipartBoundary("Multipart/Form-Data;boundary=\"a b:c\""), "a b:c");
  EXPECT_FALSE(MultipartBoundary("application/x-www-form-urlencoded").ok());
  EXPECT_FALSE(MultipartBoundary("multipart/form-data").ok());
  EXPECT_FALSE(MultipartBoundary("multipart/form-data; boundary=").ok());
  EXPECT_FALSE(MultipartBoundary("multipart/form-data; boundary=\"a \"").ok());  // ends in space
  EXPECT_FALSE(MultipartBoundary("multipart/form-data; boundary=" + std::string(71, 'x')).ok());
  EXPECT_FALSE(MultipartBoundary("multipart/form-data; boundary=a; boundary=b").ok());
  EXPECT_FALSE(MultipartBoundary("multipart/form-data; boundary=\"a\x01\"").ok());
}

TEST(WebTest, MultipartBodiesAsBrowsersSendThemAreRead) {
  const std::string der("\x30\x82\x00\r\n--x\x00", 10);  // binary, a near-delimiter inside
  const std::string body =
      "--B\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntok\r\n"
      "--B\r\nContent-Disposition: form-data; name=\"csr\"\r\n\r\n\r\n"
      "--B\r\ncontent-disposition: form-data; name=\"csr_file\"; filename=\"my \\\"a\\\".der\"\r\n"
      "Content-Type: application/octet-stream\r\n\r\n" +
      der + "\r\n--B--\r\n";
  auto parts = ParseMultipart(body, "B");
  ASSERT_TRUE(parts.ok()) << parts.status().message();
  ASSERT_EQ(parts->size(), 3u);
  EXPECT_EQ(parts->at("csrf").data, "tok");
  EXPECT_FALSE(parts->at("csrf").is_file);
  EXPECT_EQ(parts->at("csr").data, "");
  const FormPart& f = parts->at("csr_file");
  EXPECT_TRUE(f.is_file);
  EXPECT_EQ(f.filename, "my \"a\".der");
  EXPECT_EQ(f.content_type, "application/octet-stream");
  EXPECT_EQ(f.data, der);
}

TEST(WebTest, MalformedMultipartBodiesAreRefusedWithTheReason) {
  const std::string ok_part = "Content-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"preamble\r\n--B\r\n" + ok_part + "--B--", "does not start with its boundary"},
      {"--B\r\n" + ok_part + "--B\r\n" + ok_part + "--B--", "repeated"},
      {"--B\r\nContent-Type: text/plain\r\n\r\n1\r\n--B--", "no Content-Disposition"},
      {"--B\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\n1\r\n--B--", "form-data"},
      {"--B\r\nContent-Disposition: form-data; filename=\"a\"\r\n\r\n1\r\n--B--", "no name"},
      {"--B\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Transfer-Encoding: "
       "base64\r\n\r\nMQ==\r\n--B--",
       "Content-Transfer-Encoding"},
      {"--B\r\nContent-Disposition: form-data; name=\"a\r\n\r\n1\r\n--B--", "Content-Disposition"},
      {"--B\r\nContent-Type: text/plain;\r\n charset=utf-8\r\n" + ok_part + "--B--", "folded"},
      {"--B\r\n" + ok_part, "ends inside a part"},
      {"--B\r\n" + std::string("Content-Disposition: form-data; name=\"a\"\r\n\r\n1"),
       "ends inside"},
      {"--Bx\r\n" + ok_part + "--B--", "not followed by CRLF"},
      {"--B\r\nX-Long: " + std::string(3000, 'x') + "\r\n" + ok_part + "--B--", "longer than"},
  };
  for (const auto& [body, why] : cases) {
    auto r = ParseMultipart(body, "B");
    ASSERT_FALSE(r.ok()) << why;
    EXPECT_NE(r.status().message().find(why), std::string::npos)
        << "want: " << why << "\n got: " << r.status().message();
  }
  MultipartLimits two;
  two.max_parts = 2;
  std::string three = "--B";
  for (const char* n : {"a", "b", "c"}) {
    three += "\r\nContent-Disposition: form-data; name=\"" + std::string(n) + "\"\r\n\r\nv\r\n--B";
  }
  three += "--";
  EXPECT_TRUE(ParseMultipart(three, "B").ok());
  auto capped = ParseMultipart(three, "B", two);
  ASSERT_FALSE(capped.ok());
  EXPECT_NE(capped.status().message().find("more than 2 parts"), std::string::npos);
}

TEST(WebTest, FormsSpeakTheirLanguage) {
  FormField f{"dept", "Abteilung"};
  EXPECT_NE(FieldHtml(Lang::kDe, f).find("(optional)"), std::string::npos);
  EXPECT_NE(FieldHtml(Lang::kFr, f).find("(facultatif)"), std::string::npos);
  f.error = "x";
  EXPECT_NE(ErrorSummary(Lang::kDe, "", {f}).find("Bitte korrigieren Sie Folgendes"),
            std::string::npos);
  EXPECT_EQ(Paragraphs("a <b>\n\nc", "notice"),
            "<p class=\"notice\">a &lt;b&gt;</p>\n<p class=\"notice\">c</p>\n");
}

}  // namespace
}  // namespace certpress::web
