#include "web/site.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <tuple>

#include "ca/authorities.h"
#include "common/log.h"
#include "common/utf8.h"
#include "kgs/invitation_links.h"
#include "kgs/sealed_keys.h"
#include "signer/cert_info.h"
#include "store/audit.h"
#include "store/certificates.h"
#include "store/pickup.h"
#include "web/invitations.h"
#include "web/multipart.h"
#include "web/pages.h"

namespace certpress::web {

namespace {

const log::Logger& Log() {
  static const log::Logger logger = log::Get("web");
  return logger;
}

// A PKCS#12 leaves us for good: its password alone protects the key (as `cert pkcs12`).
constexpr size_t kMaxPasswordChars = 256;

// Label is a field's label: the table's words for the fields the shipped profiles use, else
// the name turned into words ("address_line3" -> "Address line 3").
std::string Label(Lang lang, const std::string& name) {
  static const std::pair<std::string_view, Txt> kKnown[] = {
      {"given_name", Txt::kFieldGivenName},
      {"surname", Txt::kFieldSurname},
      {"name", Txt::kFieldName},
      {"email", Txt::kFieldEmail},
      {"employee_id", Txt::kFieldEmployeeId},
      {"cn", Txt::kFieldCn},
      {"dns", Txt::kFieldDns},
      {"ip", Txt::kFieldIp},
      {"department", Txt::kFieldDepartment},
      {"address_line1", Txt::kFieldAddressLine1},
      {"address_line2", Txt::kFieldAddressLine2},
      {"postal_code", Txt::kFieldPostalCode},
      {"city", Txt::kFieldCity},
      {"country", Txt::kFieldCountry}};
  for (const auto& [field, text] : kKnown) {
    if (field == name) return std::string(T(lang, text));
  }
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (std::isdigit(static_cast<unsigned char>(c)) && i > 0 &&
        std::isalpha(static_cast<unsigned char>(name[i - 1]))) {
      out += ' ';
    }
    out += c == '_' || c == '-' ? ' ' : c;
  }
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

// FormOrder puts a profile's fields in the order a person fills them in: required before
// optional, and within each the usual order of a name, address and identifiers (TOML tables
// keep no order of their own).
std::vector<const profiles::FieldSpec*> FormOrder(const profiles::CardProfile& p) {
  static const std::vector<std::string> kUsual = {
      "given_name", "surname", "name",       "email",         "employee_id",   "cn",
      "dns",        "ip",      "department", "address_line1", "address_line2", "postal_code",
      "city",       "country"};
  auto rank = [](const profiles::FieldSpec* f) {
    const auto at = std::find(kUsual.begin(), kUsual.end(), f->name);
    return std::make_tuple(!f->required, at - kUsual.begin(), f->name);
  };
  std::vector<const profiles::FieldSpec*> out;
  for (const auto& f : p.fields) out.push_back(&f);
  std::sort(out.begin(), out.end(), [&](auto* a, auto* b) { return rank(a) < rank(b); });
  return out;
}

std::string FieldHint(Lang lang, const profiles::FieldSpec& f) {
  switch (f.kind) {
    case profiles::FieldKind::kEmail:
      return std::string(T(lang, Txt::kHintEmail));
    case profiles::FieldKind::kDns:
      return std::string(T(lang, Txt::kHintDns));
    case profiles::FieldKind::kDnsList:
      return std::string(T(lang, Txt::kHintDnsList));
    case profiles::FieldKind::kIpList:
      return std::string(T(lang, Txt::kHintIpList));
    case profiles::FieldKind::kText:
      break;
  }
  if (!f.pattern.empty()) return Fill(T(lang, Txt::kHintPattern), {{"pattern", f.pattern}});
  return "";
}

// PercentEncode for RFC 8187 ext-values (filename*): attr-char stays, the rest is %XX.
std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '!' || c == '#' || c == '$' || c == '&' || c == '+' || c == '-' ||
        c == '.' || c == '^' || c == '_' || c == '`' || c == '|' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// AsciiFileName is |holder| made safe for a file name in ASCII ("Ada Lovelace" ->
// "Ada-Lovelace"), "certificate" when nothing is left.
std::string AsciiFileName(const std::string& holder) {
  std::string ascii;
  for (unsigned char c : holder) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.') {
      ascii += static_cast<char>(c);
    } else if (c == ' ' && !ascii.empty() && ascii.back() != '-') {
      ascii += '-';
    }
  }
  return ascii.empty() ? "certificate" : ascii;
}

// ContentDisposition names a download after its holder: an ASCII fallback (RFC 6266 4.3) and
// the UTF-8 name (RFC 8187).
std::string ContentDisposition(const std::string& holder, const std::string& ext) {
  std::string name = holder.empty() ? "certificate" : holder;
  return "attachment; filename=\"" + AsciiFileName(holder) + ext + "\"; filename*=UTF-8''" +
         PercentEncode(name + ext);
}

std::string Hidden(std::string_view name, std::string_view value) {
  return "<input type=\"hidden\" name=\"" + HtmlEscape(name) + "\" value=\"" + HtmlEscape(value) +
         "\">\n";
}

std::string Get(const std::map<std::string, std::string>& form, const std::string& name) {
  auto it = form.find(name);
  return it == form.end() ? "" : it->second;
}

}  // namespace

Site::Site(DbPool& db, CryptoToken& token, const profiles::ProfileSet& profiles,
           std::shared_ptr<const kgs::ActivationKeys> keys, SiteOptions options)
    : db_(db),
      token_(token),
      profiles_(profiles),
      keys_(std::move(keys)),
      options_(std::move(options)),
      all_(options_.rate_per_minute, options_.rate_burst),
      posts_(options_.post_per_minute, options_.post_burst) {}

Lang Site::LangOf(const profiles::CardProfile& profile) {
  return profile.activation.language;
}

Response Site::Html(Lang lang, int status, std::string_view title, const std::string& body) const {
  Response r;
  r.status = status;
  r.body = Page(lang, title, body);
  return r;
}

Response Site::Unavailable(Lang lang, const std::string& what, const Status& why) {
  Log().Error("request failed", {{"route", what}, {"error", why.message()}});
  return Html(lang, 503, T(lang, Txt::kTryLaterTitle), Paragraphs(T(lang, Txt::kTryLaterBody)));
}

Response Site::InvalidLink(const Request& req, const std::string& route,
                           const kgs::KnownLink& known) {
  // One page for unknown, expired, used, replaced and locked links alike, with one status and
  // in the server's language (a profile's would tell which profile a link was for): a guesser
  // learns nothing from it (the audit log and the operator's `activation list` tell them
  // apart).
  if (known.id > 0) {
    const std::string object =
        (route == "apply" ? "invitation:" : "activation:") + std::to_string(known.id);
    if (auto db = db_.Get(); db.ok()) {
      store::RunTransaction(**db, [&](store::Connection& c) {
        return store::AppendAudit(
            c, {options_.actor + " " + req.remote, "web.link-refused", object,
                "route=" + route + " method=" + req.method + " reason=" + known.reason});
      }).IgnoreError();
    }
  } else {
    // Junk (a scanner, a mistyped or truncated link): counted and logged, never audited.
    const uint64_t n = unknown_links_.fetch_add(1, std::memory_order_relaxed) + 1;
    Log().Info("unknown link refused",
               {{"route", route}, {"remote", req.remote}, {"method", req.method}, {"count", n}});
  }
  const Lang lang = options_.lang;
  return Html(lang, 404, T(lang, Txt::kInvalidLinkTitle),
              Paragraphs(T(lang, Txt::kInvalidLinkBody)));
}

Response Site::Handle(const Request& req) {
  const Lang lang = options_.lang;
  int retry_after = 0;
  if (!all_.Allow(req.remote, &retry_after) ||
      (req.method == "POST" && !posts_.Allow(req.remote, &retry_after))) {
    Log().Warn("rate limited", {{"remote", req.remote}});
    Response r =
        Html(lang, 429, T(lang, Txt::kTooManyTitle), Paragraphs(T(lang, Txt::kTooManyBody)));
    r.headers.emplace_back("Retry-After", std::to_string(retry_after));
    return r;
  }
  const bool get = req.method == "GET" || req.method == "HEAD";
  const bool post = req.method == "POST";
  auto not_allowed = [&](const char* allow) {
    Response r = Html(lang, 405, T(lang, Txt::kMethodTitle), Paragraphs(T(lang, Txt::kMethodBody)));
    r.headers.emplace_back("Allow", allow);
    return r;
  };
  if (req.path == "/static/style.css") {
    if (!get) return not_allowed("GET");
    Response r;
    r.content_type = "text/css; charset=utf-8";
    r.body = std::string(StyleSheet());
    return r;
  }
  if (req.path == "/") {
    if (!get) return not_allowed("GET");
    return Html(lang, 200, T(lang, Txt::kIndexTitle), Paragraphs(T(lang, Txt::kIndexBody)));
  }
  // A query string never carries a secret here; one on a link page is refused rather than
  // ignored, so a link that leaked one is noticed.
  if (auto link = SplitLinkTarget(req.target)) {
    if (!get && !post) return not_allowed("GET, POST");
    if (link->has_query) {
      return Html(lang, 400, T(lang, Txt::kBadRequestTitle),
                  Paragraphs(T(lang, Txt::kBadRequestBody)));
    }
    if (!kgs::WellFormedLinkToken(link->token)) return InvalidLink(req, link->route);
    return link->route == "pickup" ? Pickup(req, link->token) : Apply(req, link->token);
  }
  return Html(lang, 404, T(lang, Txt::kNotFoundTitle), Paragraphs(T(lang, Txt::kNotFoundBody)));
}

// ---- Pickup ----

namespace {

struct PickupView {
  Lang lang = Lang::kEn;
  const kgs::Activation* act = nullptr;
  bool csr = false;  // the holder has the key: the certificate and chain, not a PKCS#12
  std::string token;
  std::string csrf;
  std::string code;
  std::string general_error;
  std::string code_error, password_error, password2_error;
};

std::string PickupBody(const PickupView& v) {
  const Lang lang = v.lang;
  std::vector<FormField> fields;
  if (v.act->code_required) {
    FormField f{"code", std::string(T(lang, Txt::kCodeLabel))};
    f.hint = T(lang, Txt::kCodeHint);
    f.value = v.code;
    f.error = v.code_error;
    f.autocomplete = "one-time-code";
    f.required = true;
    f.max_length = 32;
    fields.push_back(f);
  }
  if (!v.csr) {
    FormField p{"password", std::string(T(lang, Txt::kPasswordLabel)), "password"};
    p.hint = Fill(T(lang, Txt::kPasswordHint), {{"min", std::to_string(kMinPkcs12Password)}});
    p.error = v.password_error;
    p.autocomplete = "new-password";
    p.required = true;
    p.min_length = kMinPkcs12Password;
    p.max_length = kMaxPasswordChars;
    fields.push_back(p);
    FormField p2{"password2", std::string(T(lang, Txt::kPassword2Label)), "password"};
    p2.error = v.password2_error;
    p2.autocomplete = "new-password";
    p2.required = true;
    p2.min_length = kMinPkcs12Password;
    p2.max_length = kMaxPasswordChars;
    fields.push_back(p2);
  }
  std::string body = ErrorSummary(lang, v.general_error, fields);
  body += Paragraphs(T(lang, Txt::kHandsOutCertOf)) + "<dl>\n";
  body += "<dt>" + HtmlEscape(T(lang, Txt::kHolderName)) + "</dt><dd>" +
          HtmlEscape(v.act->holder_name) + "</dd>\n";
  body += "<dt>" + HtmlEscape(T(lang, Txt::kHolderEmail)) + "</dt><dd>" +
          HtmlEscape(v.act->recipient) + "</dd>\n";
  body += "<dt>" + HtmlEscape(T(lang, Txt::kLinkValidUntil)) + "</dt><dd>" +
          HtmlEscape(v.act->expires_at) + " UTC</dd>\n</dl>\n";
  body += Paragraphs(T(lang, v.csr ? Txt::kCsrNotice : Txt::kPkcs12Notice), "notice");
  body += "<form method=\"post\" action=\"/pickup/" + HtmlEscape(v.token) + "\">\n";
  body += Hidden("csrf", v.csrf);
  for (const auto& f : fields) body += FieldHtml(lang, f);
  body += "<button type=\"submit\">" +
          HtmlEscape(T(lang, v.csr ? Txt::kShowCert : Txt::kDownloadPkcs12)) +
          "</button>\n</form>\n";
  return body;
}

// Base64 (RFC 4648 4, padded, one line) by OpenSSL.
std::string Base64(ByteSpan data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(),
                                static_cast<int>(data.size()));
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

// DataUri is |data| as an RFC 2397 data: URL of |type|, for a download link on a page that
// a one-time link shows once.
std::string DataUri(std::string_view type, ByteSpan data) {
  return "data:" + std::string(type) + ";base64," + Base64(data);
}

// CertificateBody is what a CSR-based request's pickup shows: its certificate alone (DER,
// RFC 2585 4.1 application/pkix-cert) and with its chain (PEM, RFC 8555 9.1
// application/pem-certificate-chain) as download links, and the PEM to copy. Certificates
// are public; the page is still no-store like every other.
std::string CertificateBody(Lang lang, const std::string& holder, const std::string& der,
                            const std::string& pem_chain) {
  const std::string file = AsciiFileName(holder);
  std::string body = Paragraphs(T(lang, Txt::kCertReadyBody), "notice");
  body += "<ul class=\"downloads\">\n";
  body += "<li><a id=\"pem\" href=\"" +
          DataUri("application/pem-certificate-chain", AsBytes(pem_chain)) + "\" download=\"" +
          HtmlEscape(file) + ".pem\">" + HtmlEscape(T(lang, Txt::kDownloadPem)) + "</a></li>\n";
  body += "<li><a id=\"der\" href=\"" + DataUri("application/pkix-cert", AsBytes(der)) +
          "\" download=\"" + HtmlEscape(file) + ".cer\">" + HtmlEscape(T(lang, Txt::kDownloadDer)) +
          "</a></li>\n</ul>\n";
  body += Paragraphs(T(lang, Txt::kPemBelow));
  body += "<pre>" + HtmlEscape(pem_chain) + "</pre>\n";
  return body;
}

}  // namespace

Response Site::Pickup(const Request& req, const std::string& token) {
  const std::string actor = options_.actor + " " + req.remote;
  auto db = db_.Get();
  if (!db.ok()) return Unavailable(options_.lang, "pickup", db.status());
  std::map<std::string, std::string> form;
  if (req.method == "POST") {
    auto parsed = ParseForm(req.body);
    if (!parsed.ok()) {
      return Html(options_.lang, 400, T(options_.lang, Txt::kBadRequestTitle),
                  Paragraphs(T(options_.lang, Txt::kFormUnreadable)));
    }
    form = std::move(parsed).value();
  }
  kgs::KnownLink known;
  auto act = kgs::FindActivation(**db, *keys_, token, req.method != "POST", actor, &known);
  if (!act.ok()) {
    if (act.status().kind() == ErrorKind::kNotFound) return InvalidLink(req, "pickup", known);
    return Unavailable(options_.lang, "pickup", act.status());
  }
  auto profile = profiles_.Card(act->profile);
  if (!profile.ok()) return Unavailable(options_.lang, "pickup", profile.status());
  const Lang lang = LangOf(**profile);
  PickupView view;
  view.lang = lang;
  view.act = &*act;
  view.csr = (*profile)->token == profiles::TokenKind::kCsr;
  view.token = token;
  const Csrf::Issued csrf = csrf_.Issue(req);
  view.csrf = csrf.form_value;
  auto form_page = [&](int status) {
    Response r = Html(lang, status, T(lang, Txt::kPickupTitle), PickupBody(view));
    if (!csrf.set_cookie.empty()) r.headers.emplace_back("Set-Cookie", csrf.set_cookie);
    return r;
  };
  if (req.method != "POST") return form_page(200);

  if (!csrf_.Check(req, Get(form, std::string(Csrf::kField)))) {
    Log().Warn("csrf refused", {{"route", "pickup"}, {"remote", req.remote}});
    view.general_error = T(lang, Txt::kFormExpiredFillAgain);
    return form_page(403);
  }
  view.code = Get(form, "code");
  SecureString password(Get(form, "password"));
  SecureString password2(Get(form, "password2"));
  for (auto* k : {"password", "password2"}) {
    if (auto it = form.find(k); it != form.end())
      OPENSSL_cleanse(it->second.data(), it->second.size());
  }
  bool bad = false;
  if (act->code_required && kgs::NormalizeCode(view.code).empty()) {
    view.code_error = T(lang, Txt::kEnterCode);
    bad = true;
  }
  if (!view.csr) {
    const size_t len = Utf8Length(password.view());
    if (ValidateUtf8(password.view()) && !CheckPkcs12Password(password.view()).ok()) {
      // A %00 decodes to a NUL that PKCS12_create would stop at (an empty password), and
      // other controls cannot be typed alike into every importer: refused, never cut.
      view.password_error = T(lang, Txt::kPasswordControl);
      bad = true;
    } else if (!ValidateUtf8(password.view()) || len < kMinPkcs12Password) {
      view.password_error =
          Fill(T(lang, Txt::kPasswordTooShort), {{"n", std::to_string(kMinPkcs12Password)}});
      bad = true;
    } else if (len > kMaxPasswordChars) {
      view.password_error =
          Fill(T(lang, Txt::kPasswordTooLong), {{"n", std::to_string(kMaxPasswordChars)}});
      bad = true;
    } else if (!ConstantTimeEquals(password.view(), password2.view())) {
      view.password2_error = T(lang, Txt::kPasswordsDiffer);
      bad = true;
    }
  }
  if (bad) return form_page(400);

  // Built inside Redeem's transaction, after the link and code were accepted and the
  // activation marked used: if anything fails the whole pickup rolls back. Re-runnable.
  Response download;
  const profiles::CardProfile& card = **profile;
  auto deliver = [&](store::Connection& c, const kgs::Activation& a) -> Status {
    download = Response();
    download.wipe_body = true;
    std::string serial;
    if (view.csr) {
      // The holder has the key: a page with the certificate and its chain, both formats (the
      // link works once, so one answer gives everything).
      CP_ASSIGN_OR_RETURN(auto certs, store::IssuedForRequest(c, a.request_id));
      if (certs.empty())
        return NotFound("request " + std::to_string(a.request_id) + " has no certificate");
      const store::CertRecord& cert = certs.back();
      serial = cert.serial_hex;
      CP_ASSIGN_OR_RETURN(auto chain, ca::CaChain(c, cert.issuer_id));
      std::string pem = ToPem(AsBytes(cert.der));
      for (const auto& d : chain) pem += ToPem(AsBytes(d));
      download.wipe_body = false;
      download.body = Page(lang, T(lang, Txt::kCertReadyTitle),
                           CertificateBody(lang, a.holder_name, cert.der, pem));
    } else {
      // Every key the server made for the request (the stored ones: a requester's key is
      // never here) goes in the one PKCS#12, each with its certificate and named after its
      // key, because all of them are destroyed below: the link works once, so a key left out
      // would be a key nobody can ever have.
      CP_ASSIGN_OR_RETURN(auto stored, store::FindPrivateKeys(c, a.request_id));
      if (stored.empty()) {
        return NotFound("request " + std::to_string(a.request_id) + " has no stored key");
      }
      std::vector<kgs::KeyAndCert> picked;
      std::vector<std::string> names, chain;
      for (auto& k : stored) {
        names.push_back(k.key_name);
        kgs::KeyChoice choice;
        choice.key_name = k.key_name;
        std::vector<store::EncryptedKey> one;
        one.push_back(std::move(k));
        CP_ASSIGN_OR_RETURN(auto p,
                            kgs::PickKeyAndCert(c, token_, a.request_id, std::move(one), choice));
        CP_ASSIGN_OR_RETURN(auto ca_chain, ca::CaChain(c, p.cert.issuer_id));
        for (auto& d : ca_chain) {
          if (std::find(chain.begin(), chain.end(), d) == chain.end()) chain.push_back(d);
        }
        picked.push_back(std::move(p));
      }
      std::vector<Pkcs12Entry> entries;
      for (size_t n = 0; n < picked.size(); ++n) {
        // One key keeps the subject as its name (what importers show); several are told
        // apart by the profile's key names ("Ada Lovelace (signature)").
        std::string name = picked[n].cert.subject;
        if (picked.size() > 1) name += " (" + names[n] + ")";
        entries.push_back({picked[n].key.get(), AsBytes(picked[n].cert.der), std::move(name)});
        serial += (serial.empty() ? "" : ",") + picked[n].cert.serial_hex;
      }
      Pkcs12Options opt;
      opt.iterations = options_.pkcs12_iterations;
      CP_ASSIGN_OR_RETURN(Bytes p12, BuildPkcs12(entries, chain, password, opt));
      download.content_type = "application/x-pkcs12";
      download.body.assign(p12.begin(), p12.end());
      OPENSSL_cleanse(p12.data(), p12.size());
      download.headers.emplace_back("Content-Disposition",
                                    ContentDisposition(a.holder_name, ".p12"));
      // The server's copy of the key goes with the pickup unless the profile archives keys.
      if (!card.archive_keys) {
        CP_ASSIGN_OR_RETURN(int64_t destroyed, store::DestroyPrivateKeys(c, a.request_id));
        if (destroyed != static_cast<int64_t>(picked.size())) {
          // A key stored meanwhile would go undelivered: roll the pickup back instead.
          return Conflict("request " + std::to_string(a.request_id) + ": " +
                          std::to_string(destroyed) + " keys to destroy, " +
                          std::to_string(picked.size()) + " delivered");
        }
        CP_RETURN_IF_ERROR(
            store::AppendAudit(c, {actor, "key.destroy", "request:" + std::to_string(a.request_id),
                                   "keys=" + std::to_string(destroyed) + " after pickup"}));
      }
    }
    CP_RETURN_IF_ERROR(store::MarkDelivered(c, a.request_id));
    return store::AppendAudit(
        c, {actor, "web.pickup", "request:" + std::to_string(a.request_id),
            "serial=" + serial + " format=" + (view.csr ? std::string("certificate") : "pkcs12")});
  };
  auto redeemed = kgs::Redeem(**db, *keys_, token, view.code, actor, deliver);
  if (!redeemed.ok()) return Unavailable(lang, "pickup", redeemed.status());
  if (redeemed->ok) {
    Log().Info("picked up", {{"request", redeemed->activation.request_id}});
    return download;
  }
  if (redeemed->refusal == kgs::Refusal::kWrongCode) {
    view.code.clear();
    view.code_error =
        Fill(T(lang, Txt::kWrongCode), {{"n", std::to_string(redeemed->attempts_left)}});
    return form_page(400);
  }
  // Redeem audited the refusal of an existing link itself (activation.refused).
  return InvalidLink(req, "pickup");
}

// ---- Apply ----

namespace {

// ProblemText says a field problem of the request builder in |lang|, or "" for a kind the
// table does not have (the builder's English message is shown then).
std::string ProblemText(Lang lang, const profiles::CardProfile& profile,
                        const ra::FieldProblem& p) {
  using Kind = ra::FieldProblem::Kind;
  const profiles::FieldSpec* spec = profile.Field(p.field);
  switch (p.kind) {
    case Kind::kRequired:
      return std::string(T(lang, Txt::kErrRequired));
    case Kind::kTooLong:
      return Fill(T(lang, Txt::kErrTooLong),
                  {{"max", spec ? std::to_string(spec->max_length) : "?"}, {"n", p.value}});
    case Kind::kSpaces:
      return std::string(T(lang, Txt::kErrSpaces));
    case Kind::kNotEmail:
      return Fill(T(lang, Txt::kErrNotEmail), {{"value", p.value}});
    case Kind::kNotDns:
      return Fill(T(lang, Txt::kErrNotDns), {{"value", p.value}});
    case Kind::kNotIp:
      return Fill(T(lang, Txt::kErrNotIp), {{"value", p.value}});
    case Kind::kPattern:
      return Fill(T(lang, Txt::kErrPattern),
                  {{"value", p.value}, {"pattern", spec ? spec->pattern : ""}});
    case Kind::kOther:
      break;
  }
  return "";
}

// ReadForm reads a POSTed form as application/x-www-form-urlencoded or, for a file upload,
// multipart/form-data (web/multipart.h): field name to value (a file's content).
Result<std::map<std::string, std::string>> ReadForm(const Request& req) {
  const std::string& type = req.Header("content-type");
  if (type.empty() || type.rfind("application/x-www-form-urlencoded", 0) == 0) {
    return ParseForm(req.body);
  }
  CP_ASSIGN_OR_RETURN(std::string boundary, MultipartBoundary(type));
  CP_ASSIGN_OR_RETURN(auto parts, ParseMultipart(req.body, boundary));
  std::map<std::string, std::string> out;
  for (auto& [name, part] : parts) out.emplace(name, std::move(part.data));
  return out;
}

struct ApplyView {
  Lang lang = Lang::kEn;
  const store::InvitationRow* inv = nullptr;
  const profiles::CardProfile* profile = nullptr;
  std::string token;
  std::string csrf;
  std::map<std::string, std::string> values;
  std::map<std::string, std::string> errors;
  std::map<std::string, std::string> fixed;  // set by the invitation: read-only
  std::string general_error;
};

std::string ApplyBody(const ApplyView& v) {
  const Lang lang = v.lang;
  std::vector<FormField> fields;
  for (const profiles::FieldSpec* field : FormOrder(*v.profile)) {
    const profiles::FieldSpec& spec = *field;
    FormField f{spec.name, Label(lang, spec.name)};
    f.type = spec.kind == profiles::FieldKind::kEmail ? "email" : "text";
    f.value = v.values.count(spec.name) ? v.values.at(spec.name) : "";
    f.hint = FieldHint(lang, spec);
    f.error = v.errors.count(spec.name) ? v.errors.at(spec.name) : "";
    f.required = spec.required;
    f.max_length = spec.max_length;
    if (spec.name == "given_name") f.autocomplete = "given-name";
    if (spec.name == "surname") f.autocomplete = "family-name";
    if (spec.kind == profiles::FieldKind::kEmail) f.autocomplete = "email";
    // A CSR fills the names it carries when the form leaves them empty (ra::SubmitCsr).
    const bool csr = v.profile->token == profiles::TokenKind::kCsr;
    if (csr && (spec.name == "cn" || spec.name == "dns" || spec.name == "ip")) {
      f.required = false;
      f.hint += (f.hint.empty() ? "" : " ") + std::string(T(lang, Txt::kHintFromCsr));
    }
    if (auto it = v.fixed.find(spec.name); it != v.fixed.end()) {
      // The invitation's value, whatever was posted: the server takes it from there.
      f.value = it->second;
      f.read_only = true;
      f.hint = T(lang, Txt::kHintFromInvitation);
    }
    fields.push_back(f);
  }
  if (v.profile->token == profiles::TokenKind::kCsr) {
    FormField f{"csr", std::string(T(lang, Txt::kCsrLabel)), "textarea"};
    f.hint = T(lang, Txt::kCsrHint);
    f.value = v.values.count("csr") ? v.values.at("csr") : "";
    f.error = v.errors.count("csr") ? v.errors.at("csr") : "";
    f.mark_optional = false;  // one of the two is needed
    fields.push_back(f);
    // Or the request as a file (the same field's errors are shown at the textarea).
    FormField file{"csr_file", std::string(T(lang, Txt::kCsrFileLabel)), "file"};
    file.hint = T(lang, Txt::kCsrFileHint);
    file.accept = ".csr,.req,.pem,.der,application/pkcs10";
    file.required = false;
    file.mark_optional = false;
    fields.push_back(file);
  }
  std::string body = ErrorSummary(lang, v.general_error, fields);
  const std::string what =
      v.profile->description.empty() ? v.profile->name : v.profile->description;
  body += "<p>" +
          Fill(HtmlEscape(T(lang, Txt::kInvitedTo)),
               {{"name", HtmlEscape(v.inv->name)},
                {"what", "<strong>" + HtmlEscape(what) + "</strong>"}}) +
          "</p>\n";
  body += Paragraphs(T(lang, Txt::kReviewNotice), "notice");
  // A profile that takes a CSR takes it as a file too: the form is then multipart/form-data
  // (RFC 7578); the others stay urlencoded.
  body +=
      "<form method=\"post\" action=\"/apply/" + HtmlEscape(v.token) + "\"" +
      (v.profile->token == profiles::TokenKind::kCsr ? " enctype=\"multipart/form-data\"" : "") +
      ">\n";
  body += Hidden("csrf", v.csrf);
  for (const auto& f : fields) body += FieldHtml(lang, f);
  body += "<button type=\"submit\">" + HtmlEscape(T(lang, Txt::kSubmitApplication)) +
          "</button>\n</form>\n";
  return body;
}

}  // namespace

Response Site::Apply(const Request& req, const std::string& token) {
  const std::string actor = options_.actor + " " + req.remote;
  auto db = db_.Get();
  if (!db.ok()) return Unavailable(options_.lang, "apply", db.status());
  kgs::KnownLink known;
  auto inv = FindOpenInvitation(**db, *keys_, token, &known);
  if (!inv.ok()) {
    if (inv.status().kind() == ErrorKind::kNotFound) return InvalidLink(req, "apply", known);
    return Unavailable(options_.lang, "apply", inv.status());
  }
  auto profile = profiles_.Card(inv->profile);
  if (!profile.ok()) return Unavailable(options_.lang, "apply", profile.status());
  const Lang lang = LangOf(**profile);
  ApplyView view;
  view.lang = lang;
  view.inv = &*inv;
  view.profile = *profile;
  view.token = token;
  view.fixed = InvitationFixedFields(**profile, *inv);
  const Csrf::Issued csrf = csrf_.Issue(req);
  view.csrf = csrf.form_value;
  auto form_page = [&](int status) {
    Response r = Html(lang, status, T(lang, Txt::kApplyTitle), ApplyBody(view));
    if (!csrf.set_cookie.empty()) r.headers.emplace_back("Set-Cookie", csrf.set_cookie);
    return r;
  };
  // What the invitation already knows fills the form, read-only (ApplyBody).
  if (req.method != "POST") return form_page(200);
  auto form = ReadForm(req);
  if (!form.ok()) {
    Log().Warn("form refused", {{"route", "apply"}, {"error", form.status().message()}});
    return Html(lang, 400, T(lang, Txt::kBadRequestTitle),
                Paragraphs(T(lang, Txt::kFormUnreadable)));
  }
  Application app;
  bool field_problem = false;
  for (const auto& f : view.profile->fields) {
    const std::string v = Get(*form, f.name);
    view.values[f.name] = v;
    app.fields[f.name] = v;
    // A value the invitation fixed may not be changed (web::Apply refuses it too; here it is
    // said in the profile's language). Left out, it is the invitation's.
    if (auto it = view.fixed.find(f.name);
        it != view.fixed.end() && !v.empty() && v != it->second) {
      view.errors[f.name] = Fill(T(lang, Txt::kErrFixedByInvitation), {{"value", it->second}});
      field_problem = true;
    }
  }
  bool csr_problem = false;
  if (view.profile->token == profiles::TokenKind::kCsr) {
    // Pasted (PEM) or uploaded (PEM or DER): one of them.
    const std::string pasted = Get(*form, "csr");
    const std::string file = Get(*form, "csr_file");
    view.values["csr"] = pasted;
    const bool has_pasted = pasted.find_first_not_of(" \t\r\n") != std::string::npos;
    if (has_pasted && !file.empty()) {
      view.errors["csr"] = T(lang, Txt::kCsrOneOfBoth);
      csr_problem = true;
    } else if (!has_pasted && file.empty()) {
      view.errors["csr"] = T(lang, Txt::kCsrMissing);
      csr_problem = true;
    }
    app.csr = has_pasted ? pasted : file;
  }
  if (!csrf_.Check(req, Get(*form, std::string(Csrf::kField)))) {
    Log().Warn("csrf refused", {{"route", "apply"}, {"remote", req.remote}});
    view.general_error = T(lang, Txt::kFormExpiredSubmitAgain);
    return form_page(403);
  }
  if (field_problem) {
    // web::Apply refuses it too, with the other fields' problems (shown together).
    Log().Warn("application changes a field the invitation fixed",
               {{"route", "apply"}, {"remote", req.remote}, {"invitation", inv->id}});
  }
  if (csr_problem) return form_page(400);
  auto outcome = web::Apply(**db, profiles_, *keys_, token, app, actor);
  if (!outcome.ok()) {
    if (outcome.status().kind() == ErrorKind::kNotFound) {
      // Taken meanwhile by another application of the same invitation.
      return InvalidLink(req, "apply", {inv->id, "used"});
    }
    return Unavailable(lang, "apply", outcome.status());
  }
  if (!outcome->problems.empty()) {
    for (const auto& p : outcome->problems) {
      if (p.field.empty() || !(view.profile->Field(p.field) || p.field == "csr")) {
        view.general_error += (view.general_error.empty() ? "" : " ") + p.message;
      } else if (!view.errors.count(p.field)) {
        if (std::string m = ProblemText(lang, *view.profile, p); !m.empty()) {
          view.errors[p.field] = m;
          continue;
        }
        if (p.field == "csr") {
          view.errors[p.field] = Fill(T(lang, Txt::kCsrRefused), {{"detail", p.message}});
          continue;
        }
        // The builder's messages name the field ("employee_id: 'X42' does not match ...",
        // "country is required"); next to the field its label says that already.
        std::string m = p.message;
        if (m.rfind(p.field + ": ", 0) == 0) {
          m = m.substr(p.field.size() + 2);
        } else if (m.rfind(p.field + " ", 0) == 0) {
          m = Label(lang, p.field) + m.substr(p.field.size());
        }
        if (!m.empty()) m[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(m[0])));
        view.errors[p.field] = m;
      }
    }
    return form_page(400);
  }
  Log().Info("application", {{"request", outcome->request_id}});
  return Html(lang, 200, T(lang, Txt::kReceivedTitle),
              Fill(Paragraphs(T(lang, Txt::kReceivedBody)),
                   {{"n", "<strong>" + std::to_string(outcome->request_id) + "</strong>"}}));
}

}  // namespace certpress::web
