#include "ra/operators.h"

#include <openssl/sha.h>

#include <ctime>

#include "ca/authorities.h"
#include "ca/issuance.h"
#include "ca/ledger.h"
#include "cardprofiles/cert_profile.h"
#include "signer/name.h"
#include "store/audit.h"
#include "store/cas.h"
#include "store/certificates.h"

namespace certpress::ra {

namespace {

store::OperatorRecord RecordFor(const std::string& name, const CertInfo& cert,
                                const std::string& actor) {
  store::OperatorRecord rec;
  rec.name = name;
  rec.cert_der.assign(cert.der.begin(), cert.der.end());
  rec.cert_sha256.resize(32);
  SHA256(cert.der.data(), cert.der.size(), reinterpret_cast<uint8_t*>(rec.cert_sha256.data()));
  rec.subject = cert.subject;
  rec.not_after = store::FormatUtc(cert.not_after);
  rec.status = "active";
  rec.created_by = actor;
  return rec;
}

Status CheckEndEntity(const CertInfo& cert) {
  if (cert.is_ca) return InvalidInput("an operator certificate must not be a CA certificate");
  const time_t now = std::time(nullptr);
  if (cert.not_before > now || cert.not_after < now) {
    return InvalidInput("the operator certificate is not valid now (" +
                        store::FormatUtc(cert.not_before) + " to " +
                        store::FormatUtc(cert.not_after) + ")");
  }
  return Status::Ok();
}

// OperatorCa returns the operator CA's signing view, creating the CA on first use.
Result<CaKey> OperatorCa(store::Connection& db, CryptoToken& token, const std::string& actor) {
  CP_ASSIGN_OR_RETURN(auto found, store::FindCa(db, kOperatorCaLabel));
  if (!found) {
    ca::NewCa n;
    n.label = kOperatorCaLabel;
    CP_ASSIGN_OR_RETURN(n.name, ParseName("CN=CertPress Operator CA,O=CertPress"));
    n.key_type = KeyType::kEcP256;
    n.days = 3650;
    n.actor = actor;
    CP_RETURN_IF_ERROR(ca::CreateRoot(db, token, n).status().Wrap("creating the operator CA"));
    CP_ASSIGN_OR_RETURN(found, store::FindCa(db, kOperatorCaLabel));
    if (!found) return Internal("the operator CA vanished after its creation");
  }
  return ca::CaKeyFor(*found, token);
}

}  // namespace

Result<std::string> CanonicalOperatorName(std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return InvalidInput("an operator name has 1 to 64 characters");
  }
  std::string out;
  for (char c : name) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
      return InvalidInput("operator name '" + std::string(name) +
                          "' may use only letters a-z, digits, '.', '_' and '-'");
    }
    out += c;
  }
  return out;
}

Result<Enrolled> EnrollOperator(store::Connection& db, CryptoToken& token, std::string_view name_in,
                                int days, const std::string& actor) {
  CP_ASSIGN_OR_RETURN(std::string name, CanonicalOperatorName(name_in));
  if (days <= 0 || days > 3650) return InvalidInput("--days must be between 1 and 3650");
  CP_ASSIGN_OR_RETURN(auto existing, store::FindOperator(db, name));
  if (existing) return Conflict("operator '" + name + "' already exists");
  CP_ASSIGN_OR_RETURN(CaKey ca_key, OperatorCa(db, token, actor));
  CP_ASSIGN_OR_RETURN(auto ca_rec, store::FindCa(db, kOperatorCaLabel));
  CP_ASSIGN_OR_RETURN(Issuer issuer, Issuer::Create(profiles::OperatorProfile(days), ca_key));
  Enrolled out;
  CP_ASSIGN_OR_RETURN(out.key, GenerateSoftKey(KeyType::kEcP256));
  CP_ASSIGN_OR_RETURN(Bytes spki, SpkiDer(out.key.get()));
  CP_ASSIGN_OR_RETURN(Name subject, ParseName("CN=" + name + ",OU=Operators,O=CertPress"));
  CP_ASSIGN_OR_RETURN(Bytes subject_der, EncodeName(subject));
  ca::Issuance item;
  item.issuer = &issuer;
  item.issuer_id = ca_rec->id;
  item.subject = FormatName(subject);
  item.tbs = TbsInput{std::move(subject_der), std::move(spki), {}, 0};
  ca::StoreLedger ledger(db);
  auto persist = [&](const ca::Issuance& done) -> Status {
    CP_ASSIGN_OR_RETURN(CertInfo cert, ParseCertificate(done.der));
    const store::OperatorRecord rec = RecordFor(name, cert, actor);
    return store::RunTransaction(db, [&](store::Connection& c) -> Status {
      CP_RETURN_IF_ERROR(store::StoreCertificates(c, {ca::SignedCertOf(done)}));
      CP_RETURN_IF_ERROR(store::InsertOperator(c, rec).status());
      return store::AppendAudit(c, {actor, "operator.enroll", "operator:" + name,
                                    "serial=" + cert.serial_hex + " subject=" + cert.subject});
    });
  };
  CP_ASSIGN_OR_RETURN(out.cert_der, ca::IssueOne(ledger, item, persist));
  return out;
}

Result<store::OperatorRecord> RegisterOperator(store::Connection& db, CryptoToken& token,
                                               std::string_view name_in,
                                               const std::vector<CertInfo>& certs,
                                               const std::vector<CertInfo>& anchors,
                                               const std::string& actor) {
  CP_ASSIGN_OR_RETURN(std::string name, CanonicalOperatorName(name_in));
  if (certs.empty()) return InvalidInput("no certificate given");
  const CertInfo& cert = certs[0];
  CP_RETURN_IF_ERROR(CheckEndEntity(cert));
  // Trusted: the administrator's anchors (a file outside the database), and each CA of ours
  // whose certificate holds the token's key under its label. A CA row is working state the
  // run-time account can write; the key in the token it cannot. The chain given after the
  // certificate only helps build the path: a root in it is not trusted for being there.
  std::vector<CertInfo> trust = anchors;
  CP_ASSIGN_OR_RETURN(auto cas, store::ListCas(db));
  for (const auto& c : cas) {
    if (c.cert_der.empty()) continue;
    auto info = ParseCertificate(AsBytes(c.cert_der));
    auto key = token.PublicKey(c.label);
    if (info.ok() && key.ok() && *key == info->spki) trust.push_back(std::move(info).value());
  }
  Status verified =
      VerifyChainTo(cert, trust, std::vector<CertInfo>(certs.begin() + 1, certs.end()));
  if (!verified.ok()) {
    return verified.Wrap(
        "the operator certificate does not chain to a CA of ours or to an anchor of "
        "operators.trust-anchors");
  }
  // One key, one operator: a second certificate for a registered operator's key is that
  // operator again, not another person.
  CP_ASSIGN_OR_RETURN(auto registered, store::ListOperators(db));
  for (const auto& op : registered) {
    auto other = ParseCertificate(AsBytes(op.cert_der));
    if (other.ok() && other->spki == cert.spki) {
      return Conflict("the certificate's key is operator '" + op.name +
                      "''s already; one key is one operator");
    }
  }
  store::OperatorRecord rec = RecordFor(name, cert, actor);
  CP_RETURN_IF_ERROR(store::RunTransaction(db, [&](store::Connection& c) -> Status {
    CP_ASSIGN_OR_RETURN(rec.id, store::InsertOperator(c, rec));
    return store::AppendAudit(
        c, {actor, "operator.add", "operator:" + name,
            "issuer=" + cert.issuer + " serial=" + cert.serial_hex + " subject=" + cert.subject});
  }));
  return rec;
}

Status DisableOperator(store::Connection& db, std::string_view name_in, const std::string& actor) {
  CP_ASSIGN_OR_RETURN(std::string name, CanonicalOperatorName(name_in));
  return store::RunTransaction(db, [&](store::Connection& c) -> Status {
    CP_RETURN_IF_ERROR(store::SetOperatorStatus(c, name, "disabled"));
    return store::AppendAudit(c, {actor, "operator.disable", "operator:" + name, ""});
  });
}

Result<std::string> ProveSubmitter(store::Connection& db, const profiles::CardProfile& profile,
                                   const std::string& op, StatementKey* key,
                                   const std::string& what, std::string_view data,
                                   std::string* signature_hex) {
  if (profile.submitter_may_approve) return op;
  auto canonical = CanonicalOperatorName(op);
  if (key == nullptr || !canonical.ok()) {
    return InvalidInput("profile '" + profile.name +
                        "' keeps whoever submits a request from approving it, so the submitter "
                        "must be a registered operator who signs the submission: give "
                        "--operator NAME --key KEY");
  }
  CP_ASSIGN_OR_RETURN(store::OperatorRecord rec, ActiveOperator(db, *canonical));
  uint8_t md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const uint8_t*>(data.data()), data.size(), md);
  const std::string text = "certpress-submission-v1\noperator: " + *canonical +
                           "\nprofile: " + profile.name + "\n" + what + " sha256 " +
                           HexEncode(ByteSpan(md, sizeof md)) + "\n";
  CP_ASSIGN_OR_RETURN(Bytes sig, key->Sign(AsBytes(text)));
  CP_RETURN_IF_ERROR(VerifyStatementSignature(AsBytes(rec.cert_der), AsBytes(text), sig)
                         .Wrap("submitter '" + *canonical + "'"));
  if (signature_hex != nullptr) *signature_hex = HexEncode(sig);
  return *canonical;
}

Result<store::OperatorRecord> ActiveOperator(store::Connection& db, std::string_view name_in) {
  CP_ASSIGN_OR_RETURN(std::string name, CanonicalOperatorName(name_in));
  CP_ASSIGN_OR_RETURN(auto op, store::FindOperator(db, name));
  if (!op) {
    return NotFound("'" + name + "' is not a registered operator (`certpress operator list`)");
  }
  if (op->status != "active") return Conflict("operator '" + name + "' is " + op->status);
  CP_ASSIGN_OR_RETURN(CertInfo cert, ParseCertificate(AsBytes(op->cert_der)));
  CP_RETURN_IF_ERROR(CheckEndEntity(cert).Wrap("operator '" + name + "'"));
  return *op;
}

}  // namespace certpress::ra
