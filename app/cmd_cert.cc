// `certpress cert export` and `certpress cert pkcs12`.
#include <sys/stat.h>

#include <filesystem>
#include <optional>

#include "app/commands.h"
#include "ca/authorities.h"
#include "common/utf8.h"
#include "kgs/sealed_keys.h"
#include "signer/cert_info.h"
#include "signer/pkcs12.h"
#include "signer/serial.h"
#include "store/audit.h"
#include "store/certificates.h"

namespace certpress::app {

namespace {

// FindOne locates the certificate named by --request or --serial (with --ca if serials could
// be ambiguous across CAs).
Result<store::CertRecord> FindOne(Context& ctx, store::Connection& db) {
  const int64_t request = ctx.Get<int64_t>("request");
  const std::string serial = ctx.Get<std::string>("serial");
  if ((request > 0) == !serial.empty()) {
    return InvalidInput("give exactly one of --request ID, --serial S or --all");
  }
  if (request > 0) {
    CP_ASSIGN_OR_RETURN(auto certs, store::IssuedForRequest(db, request));
    if (certs.empty()) {
      return NotFound("request " + std::to_string(request) + " has no issued certificate");
    }
    return certs.back();
  }
  CP_ASSIGN_OR_RETURN(Serial s, SerialFromHex(serial));
  return store::FindIssuedBySerial(db, s.Hex());
}

CommandResult Export(Context& ctx) {
  const std::string format = ctx.Get<std::string>("format");
  if (format != "pem" && format != "der" && format != "chain") {
    return Usage("--format must be pem, der or chain");
  }
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  if (ctx.Flag("all")) {
    const std::string dir = ctx.Get<std::string>("out-dir");
    if (dir.empty()) return Usage("--all needs --out-dir DIR");
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Fail(InvalidInput("cannot create " + dir + ": " + ec.message()));
    const std::string profile = ctx.Get<std::string>("profile");
    int64_t after = 0, written = 0;
    for (;;) {
      auto page = store::ListIssued(**db, after, profile, 1000);
      if (!page.ok()) return Fail(page.status());
      if (page->empty()) break;
      for (const auto& c : *page) {
        after = c.id;
        std::string name =
            dir + "/" + std::to_string(c.request_id.value_or(0)) + "-" + c.serial_hex + ".pem";
        Status st = WriteFile(name, ToPem(AsBytes(c.der)), 0644);
        if (!st.ok()) return Fail(st);
        ++written;
      }
    }
    ctx.out << "wrote " << written << " certificate(s) to " << dir << "\n";
    return Ok();
  }
  auto cert = FindOne(ctx, **db);
  if (!cert.ok())
    return cert.status().kind() == ErrorKind::kInvalidInput ? Usage(cert.status().message())
                                                            : Fail(cert.status());
  std::string out;
  if (format == "der") {
    out = cert->der;
  } else {
    out = ToPem(AsBytes(cert->der));
    if (format == "chain") {
      // The issuing CA and those above it; the certificate itself is already in |out|.
      auto chain = ca::CaChain(**db, cert->issuer_id);
      if (!chain.ok()) return Fail(chain.status());
      for (const auto& c : *chain) out += ToPem(AsBytes(c));
    }
  }
  const std::string file = ctx.Get<std::string>("out");
  if (file.empty()) {
    ctx.out << out;
    return Ok();
  }
  Status st = WriteFile(file, out, 0644);
  return st.ok() ? Ok() : Fail(st);
}

CommandResult Pkcs12(Context& ctx) {
  const int64_t request = ctx.Get<int64_t>("request");
  const std::string out = ctx.Get<std::string>("out");
  const bool force = ctx.Flag("force");
  auto password = ReadSecretFile(ctx.Get<std::string>("password-file"));
  if (!password.ok()) return Fail(password.status().Wrap("reading the PKCS#12 password"));
  if (Status st = CheckPkcs12Password(password->view()); !st.ok()) {
    return Usage(st.message() + " (in " + ctx.Get<std::string>("password-file") + ")");
  }
  if (Utf8Length(password->view()) < kMinPkcs12Password) {
    return Usage("the PKCS#12 password in " + ctx.Get<std::string>("password-file") + " is " +
                 std::to_string(Utf8Length(password->view())) + " character(s); at least " +
                 std::to_string(kMinPkcs12Password) +
                 " are required (the password alone protects the private key in the file)");
  }
  // Refused before any work: an existing file (or a symlink) is replaced only with --force.
  if (struct stat st; !force && ::lstat(out.c_str(), &st) == 0) {
    return Usage(out + " already exists; pass --force to replace it");
  }
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  std::optional<Serial> serial;
  if (const std::string s = ctx.Get<std::string>("serial"); !s.empty()) {
    auto parsed = SerialFromHex(s);
    if (!parsed.ok()) return Usage(parsed.status().message());
    serial = *parsed;
  }
  const kgs::KeyChoice choice{ctx.Get<std::string>("key"), serial};
  auto stored = store::FindPrivateKeys(**db, request);
  if (!stored.ok()) return Fail(stored.status());
  if (Status st = kgs::CheckKeyChoice(request, *stored, choice); !st.ok()) {
    return Usage(st.message());
  }
  auto token = ctx.Token();
  if (!token.ok()) return Fail(token.status());
  auto picked = kgs::PickKeyAndCert(**db, **token, request, std::move(stored).value(), choice);
  if (!picked.ok()) return Fail(picked.status());
  const store::CertRecord& cert = picked->cert;
  auto chain = ca::CaChain(**db, cert.issuer_id);
  if (!chain.ok()) return Fail(chain.status());
  Pkcs12Options opt;
  opt.legacy = ctx.Flag("legacy");
  opt.friendly_name = cert.subject;
  auto p12 = BuildPkcs12(picked->key.get(), AsBytes(cert.der), *chain, *password, opt);
  if (!p12.ok()) return Fail(p12.status());
  // Audited before the key leaves in a file: a write that fails after this leaves the entry
  // saying it was attempted, and a second entry saying it failed.
  const std::string object = "request:" + std::to_string(request);
  const std::string details =
      "serial=" + cert.serial_hex + " out=" + out + (opt.legacy ? " legacy" : "");
  Status st = store::RunTransaction(**db, [&](store::Connection& c) {
    return store::AppendAudit(c, {ctx.Actor(), "cert.pkcs12", object, details});
  });
  if (!st.ok()) return Fail(st.Wrap("auditing the export; nothing written"));
  Status written = WriteNewFile(out, AsString(*p12), 0600, force);
  if (!written.ok()) {
    store::RunTransaction(**db, [&](store::Connection& c) {
      return store::AppendAudit(
          c, {ctx.Actor(), "cert.pkcs12-failed", object, details + " error=" + written.message()});
    }).IgnoreError();
    return Fail(written);
  }
  ctx.out << "wrote " << out << "\n";
  return Ok();
}

}  // namespace

void AddCertCommands(std::vector<Command>& out) {
  out.push_back({"cert export", "write issued certificates (one, or all as PEM files)", "",
                 [](po::options_description& d, po::positional_options_description&) {
                   d.add_options()("request", po::value<int64_t>()->default_value(0), "request id")(
                       "serial", po::value<std::string>()->default_value(""), "serial (hex)")(
                       "format", po::value<std::string>()->default_value("pem"),
                       "pem, der, or chain (PEM with the CA chain)")(
                       "out", po::value<std::string>()->default_value(""), "output file")(
                       "all", po::bool_switch(), "every issued certificate, one file each")(
                       "profile", po::value<std::string>()->default_value(""),
                       "with --all: only this card profile")(
                       "out-dir", po::value<std::string>()->default_value(""),
                       "with --all: the directory");
                 },
                 Export});
  out.push_back({"cert pkcs12", "package a server-generated key and its certificate (RFC 7292)", "",
                 [](po::options_description& d, po::positional_options_description&) {
                   d.add_options()("request", po::value<int64_t>()->required(), "request id")(
                       "key", po::value<std::string>()->default_value(""),
                       "the profile's key name, when the request has several keys")(
                       "serial", po::value<std::string>()->default_value(""),
                       "this certificate (hex) rather than the newest")(
                       "out", po::value<std::string>()->required(),
                       "output .p12 file, created 0600; an existing one only with --force")(
                       "force", po::bool_switch(),
                       "replace an existing --out (a new file renamed over it; a symlink is "
                       "replaced, never followed)")(
                       "password-file", po::value<std::string>()->required(),
                       "file holding the PKCS#12 password (at least 8 characters)")(
                       "legacy", po::bool_switch(),
                       "3DES and a SHA-1 MAC, for old Windows and Java importers");
                 },
                 Pkcs12});
}

}  // namespace certpress::app
