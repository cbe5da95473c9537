#include "ca/authorities.h"

#include <algorithm>

#include "ca/issuance.h"
#include "ca/ledger.h"
#include "cardprofiles/cert_profile.h"
#include "signer/cert_info.h"
#include "signer/p11_uri.h"
#include "store/audit.h"
#include "store/certificates.h"

namespace certpress::ca {

namespace {

Status CheckNewCa(const NewCa& ca) {
  CP_RETURN_IF_ERROR(CheckCaLabel(ca.label));
  if (ca.days <= 0 || ca.days > 36500) return InvalidInput("--days must be between 1 and 36500");
  return Status::Ok();
}

Status CheckLabelFree(store::Connection& db, const std::string& label) {
  CP_ASSIGN_OR_RETURN(auto existing, store::FindCa(db, label));
  if (existing) return Conflict("a CA labelled '" + label + "' already exists");
  return Status::Ok();
}

// CaRecordFor is the CA row of a key just generated in |token|.
store::CaRecord CaRecordFor(CryptoToken& token, const NewCa& ca, const char* status) {
  store::CaRecord rec;
  rec.label = ca.label;
  rec.subject = FormatName(ca.name);
  rec.key_uri = token.KeyUri(ca.label);
  rec.key_type = std::string(KeyTypeName(ca.key_type));
  rec.status = status;
  return rec;
}

// IssueCaCertificate issues the certificate of CA |subject_ca_id| through the issuance core
// and, in the persisting transaction, stores it, activates the CA and audits |audit|.
Result<Bytes> IssueCaCertificate(store::Connection& db, const Issuer& issuer, int64_t issuer_id,
                                 Bytes subject_der, Bytes spki, int64_t subject_ca_id,
                                 const std::string& subject_text, store::AuditEvent audit) {
  Issuance item;
  item.issuer = &issuer;
  item.issuer_id = issuer_id;
  item.subject = subject_text;
  item.tbs = TbsInput{std::move(subject_der), std::move(spki), {}, 0};
  StoreLedger ledger(db);
  return IssueOne(ledger, item, [&](const Issuance& done) {
    return store::RunTransaction(db, [&](store::Connection& c) -> Status {
      CP_RETURN_IF_ERROR(store::StoreCertificates(c, {SignedCertOf(done)}));
      CP_RETURN_IF_ERROR(store::SetCaCertificate(c, subject_ca_id, done.der, "",
                                                 store::FormatUtc(done.prepared.not_after)));
      store::AuditEvent e = audit;
      e.details += " serial=" + done.intent.serial_hex;
      return store::AppendAudit(c, e);
    });
  });
}

// CheckPathLength refuses a sub-CA under |parent| when a pathLenConstraint on the way up
// forbids another CA (RFC 5280 4.2.1.9: pathLenConstraint is "the maximum number of
// non-self-issued intermediate certificates that may follow this certificate"; a verifier
// refuses every leaf below a CA that breaks it), and a |path_len| for the new CA that promises
// more than its ancestors allow.
Status CheckPathLength(store::Connection& db, const store::CaRecord& parent,
                       std::optional<int> path_len) {
  CP_ASSIGN_OR_RETURN(std::vector<std::string> chain, CaChain(db, parent.id));
  long below_new = -1;  // how many CAs the ancestors allow below the new one (-1: no limit)
  long following = 1;   // non-self-issued CA certificates after chain[i]: the new CA, ...
  for (size_t i = 0; i < chain.size(); ++i) {
    CP_ASSIGN_OR_RETURN(CertInfo c, ParseCertificate(AsBytes(chain[i])));
    if (c.path_len >= 0) {
      if (c.path_len < following) {
        const std::string who =
            i == 0 ? "CA '" + parent.label + "'" : "its issuer '" + c.subject + "'";
        return InvalidInput("CA '" + parent.label + "' may not have a sub-CA: " + who +
                            " has pathLenConstraint " + std::to_string(c.path_len) +
                            (i == 0 ? "" : ", which the CAs below it use up") +
                            " (RFC 5280 4.2.1.9)");
      }
      const long room = c.path_len - following;
      if (below_new < 0 || room < below_new) below_new = room;
    }
    if (!(c.self_signed || c.subject_der == c.issuer_der)) ++following;
  }
  if (path_len && below_new >= 0 && *path_len > below_new) {
    return InvalidInput("--path-len " + std::to_string(*path_len) + " is more than CA '" +
                        parent.label + "' and its issuers allow below the new CA (at most " +
                        std::to_string(below_new) + ")");
  }
  return Status::Ok();
}

Result<int64_t> InsertCaRow(store::Connection& db, const store::CaRecord& rec) {
  int64_t id = 0;
  CP_RETURN_IF_ERROR(store::RunTransaction(db, [&](store::Connection& c) -> Status {
    CP_ASSIGN_OR_RETURN(id, store::InsertCa(c, rec));
    return Status::Ok();
  }));
  return id;
}

}  // namespace

Status CheckCaLabel(const std::string& label) {
  if (label.empty() || label.size() > 64) return InvalidInput("a CA label has 1 to 64 characters");
  for (char c : label) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) {
      return InvalidInput("CA label '" + label + "' may use only letters, digits, '-', '_', '.'");
    }
  }
  return Status::Ok();
}

Result<Bytes> CreateRoot(store::Connection& db, CryptoToken& token, const NewCa& ca) {
  CP_RETURN_IF_ERROR(CheckNewCa(ca));
  CP_ASSIGN_OR_RETURN(Bytes subject_der, EncodeName(ca.name));
  CP_RETURN_IF_ERROR(CheckLabelFree(db, ca.label));
  CP_ASSIGN_OR_RETURN(Bytes spki, token.GenerateKey(ca.label, ca.key_type));
  const store::CaRecord rec = CaRecordFor(token, ca, "pending");
  CP_ASSIGN_OR_RETURN(int64_t id, InsertCaRow(db, rec));
  // A root signs itself: it is its own issuer.
  CaKey self{&token, ca.label, ca.key_type, subject_der, spki, 0};
  CP_ASSIGN_OR_RETURN(Issuer issuer, Issuer::Create(profiles::RootCaProfile(ca.days), self));
  auto der = IssueCaCertificate(db, issuer, id, subject_der, spki, id, rec.subject,
                                {ca.actor, "ca.create-root", "ca:" + ca.label,
                                 "subject=" + rec.subject + " key=" + rec.key_uri});
  if (!der.ok()) return der.status().Wrap("issuing the root certificate");
  return der;
}

Result<Bytes> CreateSub(store::Connection& db, CryptoToken& token, const NewCa& ca,
                        const std::string& parent_label, std::optional<int> path_len) {
  CP_RETURN_IF_ERROR(CheckNewCa(ca));
  CP_ASSIGN_OR_RETURN(Bytes subject_der, EncodeName(ca.name));
  CP_RETURN_IF_ERROR(CheckLabelFree(db, ca.label));
  CP_ASSIGN_OR_RETURN(auto parent, store::FindCa(db, parent_label));
  if (!parent) return NotFound("no CA labelled '" + parent_label + "'");
  auto parent_key = CaKeyFor(*parent, token);
  if (!parent_key.ok()) return parent_key.status().Wrap("parent CA '" + parent_label + "'");
  CP_RETURN_IF_ERROR(CheckPathLength(db, *parent, path_len));
  CP_ASSIGN_OR_RETURN(Bytes spki, token.GenerateKey(ca.label, ca.key_type));
  store::CaRecord rec = CaRecordFor(token, ca, "pending");
  rec.parent_id = parent->id;
  CP_ASSIGN_OR_RETURN(int64_t id, InsertCaRow(db, rec));
  CP_ASSIGN_OR_RETURN(Issuer issuer,
                      Issuer::Create(profiles::SubCaProfile(ca.days, path_len), *parent_key));
  auto der = IssueCaCertificate(
      db, issuer, parent->id, subject_der, spki, id, rec.subject,
      {ca.actor, "ca.create-sub", "ca:" + ca.label,
       "parent=" + parent->label + " subject=" + rec.subject + " key=" + rec.key_uri});
  if (!der.ok()) return der.status().Wrap("issuing the sub-CA certificate");
  return der;
}

Result<Bytes> CreateSubForOfflineRoot(store::Connection& db, CryptoToken& token, const NewCa& ca,
                                      const std::string& note) {
  CP_RETURN_IF_ERROR(CheckNewCa(ca));
  CP_ASSIGN_OR_RETURN(Bytes subject_der, EncodeName(ca.name));
  CP_RETURN_IF_ERROR(CheckLabelFree(db, ca.label));
  CP_ASSIGN_OR_RETURN(Bytes spki, token.GenerateKey(ca.label, ca.key_type));
  const store::CaRecord rec = CaRecordFor(token, ca, "awaiting-cert");
  auto csr = BuildCsr(token, ca.label, ca.key_type, subject_der, spki);
  if (!csr.ok()) return csr.status().Wrap("building the CSR");
  CP_RETURN_IF_ERROR(store::RunTransaction(db, [&](store::Connection& c) -> Status {
    CP_ASSIGN_OR_RETURN(int64_t id, store::InsertCa(c, rec));
    (void)id;
    return store::AppendAudit(c, {ca.actor, "ca.create-sub.csr", "ca:" + ca.label,
                                  "subject=" + rec.subject + " key=" + rec.key_uri + " " + note});
  }));
  return csr;
}

Result<CertInfo> ImportCaCertificate(store::Connection& db, CryptoToken& token,
                                     const std::string& label, const std::vector<CertInfo>& certs,
                                     const std::string& actor) {
  if (certs.empty()) return InvalidInput("no certificate given");
  const CertInfo& cert = certs[0];
  const std::vector<CertInfo> chain(certs.begin() + 1, certs.end());
  CP_ASSIGN_OR_RETURN(auto ca, store::FindCa(db, label));
  if (!ca) return NotFound("no CA labelled '" + label + "'");
  if (ca->status != "awaiting-cert") {
    return Conflict("CA '" + label + "' is " + ca->status + ", not awaiting a certificate");
  }
  CP_ASSIGN_OR_RETURN(Bytes spki, token.PublicKey(label));
  if (spki != cert.spki) {
    return InvalidInput("the certificate's public key is not the key of CA '" + label + "'");
  }
  if (!cert.is_ca) return InvalidInput("the certificate is not a CA certificate");

  // The issuer is either a CA of ours or the chain given with it, ending in a root.
  std::optional<int64_t> parent_id;
  std::vector<CertInfo> trust;
  CP_ASSIGN_OR_RETURN(auto all, store::ListCas(db));
  for (const auto& other : all) {
    if (other.cert_der.empty()) continue;
    auto oc = ParseCertificate(AsBytes(other.cert_der));
    if (oc.ok() && oc->subject_der == cert.issuer_der && VerifySignedBy(cert, *oc)) {
      parent_id = other.id;
      trust.push_back(*oc);
    }
  }
  for (const auto& c : chain) trust.push_back(c);
  Status verified = VerifyChain(cert, trust);
  if (!verified.ok()) {
    return verified.Wrap("include the issuing chain up to the root after the certificate");
  }
  std::string chain_pem;
  for (const auto& c : chain) chain_pem += ToPem(c.der);
  CP_RETURN_IF_ERROR(store::RunTransaction(db, [&](store::Connection& c) -> Status {
    CP_RETURN_IF_ERROR(store::SetImportedCaCertificate(
        c, ca->id, parent_id, cert.subject, cert.der, chain_pem, store::FormatUtc(cert.not_after)));
    return store::AppendAudit(c, {actor, "ca.import-cert", "ca:" + label,
                                  "issuer=" + cert.issuer + " serial=" + cert.serial_hex});
  }));
  return cert;
}

Result<CaKey> CaKeyFor(const store::CaRecord& ca, CryptoToken& token) {
  if (ca.status != "active") {
    return InvalidInput("CA '" + ca.label + "' is not active (status " + ca.status + ")");
  }
  CP_ASSIGN_OR_RETURN(CertInfo cert, ParseCertificate(AsBytes(ca.cert_der)));
  CP_ASSIGN_OR_RETURN(KeyType kt, ParseKeyType(ca.key_type));
  std::string label = ca.label;
  if (ca.key_uri.rfind("pkcs11:", 0) == 0) {
    CP_ASSIGN_OR_RETURN(Pkcs11Uri uri, ParsePkcs11Uri(ca.key_uri));
    label = uri.object;
  }
  CaKey key;
  key.token = &token;
  key.key_label = label;
  key.key_type = kt;
  key.subject_der = cert.subject_der;
  key.spki = cert.spki;
  key.not_before = cert.not_before;
  key.not_after = cert.not_after;
  return key;
}

Result<CaKey> LoadCaKey(store::Connection& db, CryptoToken& token, int64_t ca_id) {
  CP_ASSIGN_OR_RETURN(auto ca, store::FindCaById(db, ca_id));
  if (!ca) return NotFound("CA " + std::to_string(ca_id) + " does not exist");
  return CaKeyFor(*ca, token);
}

Result<std::vector<std::string>> CaChain(store::Connection& db, int64_t ca_id) {
  std::vector<std::string> ders;
  CP_ASSIGN_OR_RETURN(std::optional<store::CaRecord> cur, store::FindCaById(db, ca_id));
  if (!cur) return NotFound("no CA with id " + std::to_string(ca_id));
  std::string extra_pem;
  for (int depth = 0; cur && depth < 16; ++depth) {
    if (cur->cert_der.empty()) {
      return InvalidInput("CA '" + cur->label + "' has no certificate yet");
    }
    ders.push_back(cur->cert_der);
    if (!cur->chain_pem.empty()) extra_pem = cur->chain_pem;
    if (!cur->parent_id) break;
    CP_ASSIGN_OR_RETURN(cur, store::FindCaById(db, *cur->parent_id));
  }
  if (!extra_pem.empty()) {
    CP_ASSIGN_OR_RETURN(auto extra, ParsePemCertificates(extra_pem));
    for (const auto& c : extra) {
      std::string d(c.der.begin(), c.der.end());
      if (std::find(ders.begin(), ders.end(), d) == ders.end()) ders.push_back(d);
    }
  }
  return ders;
}

}  // namespace certpress::ca
