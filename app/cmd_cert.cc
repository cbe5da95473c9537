// `certpress cert export` and `certpress cert pkcs12`.
#include <openssl/err.h>
#include <openssl/x509.h>

#include <filesystem>
#include <optional>

#include "app/commands.h"
#include "batch/package.h"
#include "signer/cert_info.h"
#include "signer/serial.h"
#include "store/audit.h"
#include "store/cas.h"
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
  CP_ASSIGN_OR_RETURN(auto rows, db.Query("SELECT issuer_id FROM certificates WHERE serial = ? "
                                          "AND status = 'issued'",
                                          {s.Hex()}));
  if (rows.empty()) return NotFound("no issued certificate with serial " + s.Hex());
  if (rows.size() > 1) {
    return InvalidInput("serial " + s.Hex() + " was issued by several CAs; use --request");
  }
  CP_ASSIGN_OR_RETURN(auto rec, store::FindCertificate(db, rows[0].Int(0), s.Hex()));
  return *rec;
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
      auto rows = (*db)->Query(
          "SELECT c.id, c.serial, c.request_id, c.der FROM certificates c LEFT JOIN requests r "
          "ON r.id = c.request_id WHERE c.status = 'issued' AND c.request_id IS NOT NULL AND "
          "c.id > ? AND (? = '' OR r.profile = ?) ORDER BY c.id LIMIT 1000",
          {after, profile, profile});
      if (!rows.ok()) return Fail(rows.status());
      if (rows->empty()) break;
      for (const auto& r : *rows) {
        after = r.Int(0);
        std::string name = dir + "/" + std::to_string(r.Int(2)) + "-" + r.Str(1) + ".pem";
        Status st = WriteFile(name, ToPem(r.Blob(3)), 0644);
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
      auto chain = CaChain(**db, cert->issuer_id);
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

// The certificate to package and its key. A soft profile may have several keys (say
// authentication and signature), each with its own certificate, and a request re-issued after
// a crash keeps certificates whose key was replaced; so a certificate goes with the stored key
// whose public half it carries, never by position. Newest first; --serial or --key narrow it,
// (the caller asks for one when the request has several keys). Only the keys that can match
// are decrypted.
struct KeyAndCert {
  UniquePtr<EVP_PKEY> key;
  store::CertRecord cert;
};

// |stored| is the request's keys (store::FindPrivateKeys).
Result<KeyAndCert> PickKeyAndCert(store::Connection& db, CryptoToken& token, int64_t request,
                                  std::vector<store::EncryptedKey> stored,
                                  const std::string& key_name,
                                  const std::optional<Serial>& serial) {
  const std::string what = "request " + std::to_string(request);
  CP_ASSIGN_OR_RETURN(auto certs, store::IssuedForRequest(db, request));
  if (certs.empty()) return NotFound(what + " has no issued certificate");
  if (stored.empty()) return NotFound(what + " has no server-generated private key");
  if (!key_name.empty()) {
    std::erase_if(stored, [&](const store::EncryptedKey& k) { return k.key_name != key_name; });
    if (stored.empty()) return NotFound(what + " has no key named '" + key_name + "'");
  }
  if (serial) {
    std::erase_if(certs, [&](const store::CertRecord& c) { return c.serial_hex != serial->Hex(); });
    if (certs.empty()) return NotFound(what + " has no issued certificate " + serial->Hex());
  }
  std::vector<UniquePtr<EVP_PKEY>> keys;
  for (const auto& k : stored) {
    CP_ASSIGN_OR_RETURN(auto key, batch::OpenPrivateKey(db, token, k));
    keys.push_back(std::move(key));
  }
  for (auto c = certs.rbegin(); c != certs.rend(); ++c) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(c->der.data());
    UniquePtr<X509> x(d2i_X509(nullptr, &p, static_cast<long>(c->der.size())));
    if (!x) return OsslError("parsing certificate " + c->serial_hex);
    for (auto& k : keys) {
      if (EVP_PKEY_eq(X509_get0_pubkey(x.get()), k.get()) == 1) {
        return KeyAndCert{std::move(k), std::move(*c)};
      }
    }
  }
  ERR_clear_error();
  std::string which = serial ? "certificate " + serial->Hex() : "issued certificate";
  if (!key_name.empty()) which += " for key '" + key_name + "'";
  return NotFound(what + " has no " + which + " whose private key is stored");
}

CommandResult Pkcs12(Context& ctx) {
  const int64_t request = ctx.Get<int64_t>("request");
  const std::string out = ctx.Get<std::string>("out");
  auto password = ReadSecretFile(ctx.Get<std::string>("password-file"));
  if (!password.ok()) return Fail(password.status().Wrap("reading the PKCS#12 password"));
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  std::optional<Serial> serial;
  if (const std::string s = ctx.Get<std::string>("serial"); !s.empty()) {
    auto parsed = SerialFromHex(s);
    if (!parsed.ok()) return Usage(parsed.status().message());
    serial = *parsed;
  }
  const std::string key_name = ctx.Get<std::string>("key");
  auto stored = store::FindPrivateKeys(**db, request);
  if (!stored.ok()) return Fail(stored.status());
  if (key_name.empty() && !serial && stored->size() > 1) {
    std::string names;
    for (const auto& k : *stored) names += (names.empty() ? "" : ", ") + k.key_name;
    return Usage("request " + std::to_string(request) + " has " + std::to_string(stored->size()) +
                 " keys (" + names + "): name one with --key NAME or --serial S");
  }
  auto token = ctx.Token();
  if (!token.ok()) return Fail(token.status());
  auto picked = PickKeyAndCert(**db, **token, request, std::move(stored).value(), key_name, serial);
  if (!picked.ok()) return Fail(picked.status());
  const store::CertRecord& cert = picked->cert;
  EVP_PKEY* key = picked->key.get();
  auto chain = CaChain(**db, cert.issuer_id);
  if (!chain.ok()) return Fail(chain.status());
  batch::Pkcs12Options opt;
  opt.legacy = ctx.Flag("legacy");
  opt.friendly_name = cert.subject;
  auto p12 = batch::BuildPkcs12(key, AsBytes(cert.der), *chain, *password, opt);
  if (!p12.ok()) return Fail(p12.status());
  Status st = WriteFile(out, AsString(*p12), 0600);
  if (!st.ok()) return Fail(st);
  st = store::RunTransaction(**db, [&](store::Connection& c) {
    return store::AppendAudit(c, {ctx.Actor(), "cert.pkcs12", "request:" + std::to_string(request),
                                  "serial=" + cert.serial_hex + (opt.legacy ? " legacy" : "")});
  });
  if (!st.ok()) return Fail(st);
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
                       "out", po::value<std::string>()->required(), "output .p12 file")(
                       "password-file", po::value<std::string>()->required(),
                       "file holding the PKCS#12 password")(
                       "legacy", po::bool_switch(),
                       "3DES and a SHA-1 MAC, for old Windows and Java importers");
                 },
                 Pkcs12});
}

}  // namespace certpress::app
