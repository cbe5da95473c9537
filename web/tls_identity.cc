#include "web/tls_identity.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <filesystem>

#include "ca/authorities.h"
#include "ca/issuance.h"
#include "ca/ledger.h"
#include "common/ossl.h"
#include "ra/request_builder.h"
#include "ra/submit.h"
#include "signer/cert_info.h"
#include "store/audit.h"

namespace certpress::web {

namespace {

Result<UniquePtr<EVP_PKEY>> LoadOrCreateKey(const std::string& path, SecureString* pem_out) {
  if (std::filesystem::exists(path)) {
    CP_ASSIGN_OR_RETURN(SecureString pem, ReadSecretFile(path));
    UniquePtr<BIO> bio(BIO_new_mem_buf(pem.str().data(), static_cast<int>(pem.size())));
    UniquePtr<EVP_PKEY> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (!key) return OsslError("reading the TLS key " + path, ErrorKind::kInvalidInput);
    *pem_out = std::move(pem);
    return key;
  }
  UniquePtr<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (!key) return OsslError("generating the TLS key");
  UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PKCS8PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                            nullptr) != 1) {
    return OsslError("encoding the TLS key");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  SecureString pem(std::string(data, static_cast<size_t>(len)));
  OPENSSL_cleanse(data, static_cast<size_t>(len));
  // Created 0600 from the start, never over an existing file or through a symlink.
  CP_RETURN_IF_ERROR(WriteNewFile(path, pem.view(), 0600, false));
  *pem_out = std::move(pem);
  return key;
}

Result<Bytes> Spki(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(key, &der);
  if (len <= 0) return OsslError("encoding the TLS public key");
  UniquePtr<unsigned char> owned(der);
  return Bytes(der, der + len);
}

// Fields splits |names| as the card profile's fields want them: the first as cn, the other
// DNS names as dns, IP addresses as ip (comma-separated lists).
ra::Fields FieldsFor(const std::vector<std::string>& names) {
  ra::Fields f;
  std::string dns, ip;
  for (size_t i = 0; i < names.size(); ++i) {
    if (ra::IsIpAddress(names[i])) {
      ip += (ip.empty() ? "" : ",") + names[i];
    } else if (i == 0) {
      f["cn"] = names[i];
    } else {
      dns += (dns.empty() ? "" : ",") + names[i];
    }
  }
  if (!f.count("cn") && !names.empty()) f["cn"] = names[0];
  if (!dns.empty()) f["dns"] = dns;
  if (!ip.empty()) f["ip"] = ip;
  return f;
}

// Usable: the certificate in |pem| carries |spki|, is valid for |renew_days| more and has
// the subject and the names that were asked for.
bool Usable(const std::string& pem, ByteSpan spki, const ra::BuiltRequest& want, int renew_days) {
  auto certs = ParsePemCertificates(pem);
  if (!certs.ok() || certs->empty()) return false;
  const CertInfo& c = certs->front();
  if (c.spki != Bytes(spki.begin(), spki.end()) || c.subject_der != want.subject_der) return false;
  if (c.not_after < std::time(nullptr) + int64_t{renew_days} * 86400) return false;
  return true;
}

}  // namespace

Result<TlsIdentity> EnsureTlsIdentity(store::Connection& db, CryptoToken& token,
                                      const profiles::ProfileSet& profiles,
                                      const TlsIdentityOptions& o) {
  if (o.names.empty()) return InvalidInput("web.tls-names: give at least one name for the server");
  std::error_code ec;
  std::filesystem::create_directories(o.dir, ec);
  if (ec) return InvalidInput("cannot create " + o.dir + ": " + ec.message());
  ::chmod(o.dir.c_str(), 0700);
  CP_ASSIGN_OR_RETURN(const profiles::CardProfile* card, profiles.Card(o.profile));
  if (card->token != profiles::TokenKind::kCsr || card->keys.size() != 1) {
    return InvalidInput("web.tls-profile: card profile '" + o.profile +
                        "' must have one key held by the requester (token = \"csr\")");
  }
  CP_ASSIGN_OR_RETURN(ra::RequestBuilder builder, ra::RequestBuilder::Create(*card));
  const ra::Fields fields = FieldsFor(o.names);
  if (auto problems = builder.Check(fields); !problems.empty()) {
    return InvalidInput(
        "web.tls-names: " + (problems[0].field.empty() ? "" : problems[0].field + ": ") +
        problems[0].message);
  }
  ra::FieldProblem problem;
  auto built = builder.Build(fields, &problem);
  if (!built.ok()) return built.status().Wrap("web.tls-names");

  const std::string key_path = o.dir + "/tls.key";
  const std::string cert_path = o.dir + "/tls.crt";
  TlsIdentity out;
  CP_ASSIGN_OR_RETURN(UniquePtr<EVP_PKEY> key, LoadOrCreateKey(key_path, &out.key_pem));
  CP_ASSIGN_OR_RETURN(Bytes spki, Spki(key.get()));
  if (std::filesystem::exists(cert_path)) {
    CP_ASSIGN_OR_RETURN(std::string pem, ReadFile(cert_path));
    if (Usable(pem, spki, *built, o.renew_days)) {
      out.cert_chain_pem = std::move(pem);
      auto certs = ParsePemCertificates(out.cert_chain_pem);
      if (certs.ok() && !certs->empty()) out.serial_hex = certs->front().serial_hex;
      return out;
    }
  }

  // Issue through the core, as every certificate is issued.
  CP_ASSIGN_OR_RETURN(int64_t ca_id, ra::ResolveCa(db, *card, ""));
  CP_ASSIGN_OR_RETURN(const profiles::CertProfile* cp,
                      profiles.Certificate(card->keys[0].cert_profile));
  CP_ASSIGN_OR_RETURN(CaKey ca_key, ca::LoadCaKey(db, token, ca_id));
  CP_ASSIGN_OR_RETURN(Issuer issuer, Issuer::Create(*cp, std::move(ca_key)));
  ca::Issuance item;
  item.issuer = &issuer;
  item.issuer_id = ca_id;
  item.subject = built->subject;
  item.tbs = TbsInput{built->subject_der, spki, built->sans, 0};
  ca::StoreLedger ledger(db);
  auto der = ca::IssueOne(ledger, item, [&](const ca::Issuance& done) {
    return store::RunTransaction(db, [&](store::Connection& c) -> Status {
      CP_RETURN_IF_ERROR(store::StoreCertificates(c, {ca::SignedCertOf(done)}));
      return store::AppendAudit(c,
                                {o.actor, "web.tls-certificate", "serial:" + done.intent.serial_hex,
                                 "profile=" + o.profile + " subject=" + done.subject});
    });
  });
  if (!der.ok()) return der.status().Wrap("issuing the web server's TLS certificate");
  CP_ASSIGN_OR_RETURN(std::vector<std::string> chain, ca::CaChain(db, ca_id));
  out.cert_chain_pem = ToPem(*der);
  // The root stays out: a client must already trust it, and sending it costs every handshake.
  for (size_t i = 0; i + 1 < chain.size(); ++i) out.cert_chain_pem += ToPem(AsBytes(chain[i]));
  if (chain.size() == 1) out.cert_chain_pem += ToPem(AsBytes(chain[0]));
  CP_RETURN_IF_ERROR(WriteFile(cert_path, out.cert_chain_pem, 0644));
  out.serial_hex = item.intent.serial_hex;
  out.issued_now = true;
  return out;
}

}  // namespace certpress::web
