#include "signer/issuer.h"

#include <arpa/inet.h>
#include <openssl/sha.h>

#include <cstring>

#include "signer/der.h"
#include "signer/ec_verify.h"
#include "signer/lint.h"
#include "signer/oids.h"

namespace certpress {

namespace {

// AddExtension writes Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE, extnValue }.
// DER omits a FALSE critical flag (X.690 11.5: DEFAULT values are not encoded).
void AddExtension(der::Writer& w, ByteSpan oid, bool critical, ByteSpan value) {
  size_t ext = w.Begin(der::kSequence);
  w.OidContent(oid);
  if (critical) w.Boolean(true);
  w.Primitive(der::kOctetString, value);
  w.End(ext);
}

Bytes KeyUsageValue(uint16_t bits) {
  // KeyUsage is a named BIT STRING: DER drops trailing zero bits (X.690 11.2.2).
  int highest = 15;
  while (highest >= 0 && !(bits & (1u << highest))) --highest;
  uint8_t bytes[2] = {0, 0};
  for (int i = 0; i <= highest; ++i) {
    if (bits & (1u << i)) bytes[i / 8] |= static_cast<uint8_t>(0x80 >> (i % 8));
  }
  int nbytes = highest / 8 + 1;
  der::Writer w;
  w.BitString(ByteSpan(bytes, static_cast<size_t>(nbytes)), static_cast<uint8_t>(7 - highest % 8));
  return w.Take();
}

Result<Bytes> OidDer(const std::string& dotted) {
  CP_ASSIGN_OR_RETURN(Bytes content, der::EncodeOid(dotted));
  return content;
}

}  // namespace

Result<Bytes> SubjectKeyId(ByteSpan spki) {
  der::Reader r(spki);
  ByteSpan seq, bits;
  if (!r.Read(der::kSequence, &seq) || !r.empty()) {
    return InvalidInput("malformed SubjectPublicKeyInfo");
  }
  der::Reader s(seq);
  if (!s.Skip(der::kSequence) || !s.Read(der::kBitString, &bits) || bits.empty()) {
    return InvalidInput("malformed SubjectPublicKeyInfo");
  }
  Bytes out(SHA_DIGEST_LENGTH);
  SHA1(bits.data() + 1, bits.size() - 1, out.data());
  return out;
}

Result<bool> IsEcSpki(ByteSpan spki) {
  der::Reader r(spki);
  ByteSpan seq, alg, oid;
  if (!r.Read(der::kSequence, &seq) || !r.empty()) {
    return InvalidInput("malformed SubjectPublicKeyInfo");
  }
  der::Reader s(seq);
  if (!s.Read(der::kSequence, &alg)) return InvalidInput("malformed SubjectPublicKeyInfo");
  der::Reader a(alg);
  if (!a.Read(der::kOid, &oid)) return InvalidInput("malformed SubjectPublicKeyInfo");
  const std::string dotted = der::OidToString(oid);
  if (dotted == "1.2.840.10045.2.1") return true;
  if (dotted == "1.2.840.113549.1.1.1") return false;
  return InvalidInput("subject key algorithm " + dotted + " is neither EC nor RSA");
}

Result<Bytes> EncodeSans(const std::vector<SubjectAltName>& sans) {
  der::Writer w;
  size_t seq = w.Begin(der::kSequence);
  for (const auto& san : sans) {
    switch (san.type) {
      case profiles::SanType::kEmail:
        w.Primitive(der::ContextPrimitive(1), AsBytes(san.value));
        break;
      case profiles::SanType::kDns:
        w.Primitive(der::ContextPrimitive(2), AsBytes(san.value));
        break;
      case profiles::SanType::kUri:
        w.Primitive(der::ContextPrimitive(6), AsBytes(san.value));
        break;
      case profiles::SanType::kIp: {
        uint8_t buf[16];
        if (inet_pton(AF_INET, san.value.c_str(), buf) == 1) {
          w.Primitive(der::ContextPrimitive(7), ByteSpan(buf, 4));
        } else if (inet_pton(AF_INET6, san.value.c_str(), buf) == 1) {
          w.Primitive(der::ContextPrimitive(7), ByteSpan(buf, 16));
        } else {
          return InvalidInput("'" + san.value + "' is not an IP address");
        }
        break;
      }
      case profiles::SanType::kUpn: {
        // otherName [0] { type-id, value [0] EXPLICIT UTF8String }
        size_t other = w.Begin(der::ContextConstructed(0));
        w.OidContent(oid::kUpn);
        size_t val = w.Begin(der::ContextConstructed(0));
        w.Primitive(der::kUtf8String, AsBytes(san.value));
        w.End(val);
        w.End(other);
        break;
      }
    }
  }
  w.End(seq);
  return w.Take();
}

Result<Issuer> Issuer::Create(const profiles::CertProfile& profile, CaKey ca) {
  CP_RETURN_IF_ERROR(profiles::Validate(profile));
  if (ca.token == nullptr) return Internal("issuer without a token");
  Issuer is;
  is.profile_ = profile;
  CP_ASSIGN_OR_RETURN(is.ca_key_id_, SubjectKeyId(ca.spki));
  CP_ASSIGN_OR_RETURN(UniquePtr<EVP_PKEY> pub, ParseSpki(ca.spki));
  is.ca_pub_ = std::shared_ptr<EVP_PKEY>(std::move(pub));
  CP_ASSIGN_OR_RETURN(std::unique_ptr<internal::EcPublicKey> ec,
                      internal::EcPublicKey::FromSpki(ca.spki));
  is.ca_ec_ = std::move(ec);
  auto sa = SignatureAlgorithmDer(ca.key_type);
  is.sig_alg_.assign(sa.begin(), sa.end());

  // The head of the extensions, once per subject key type: only the key usage differs.
  auto head_for = [&](bool ec, Bytes* out, std::string* error) -> Status {
    const uint16_t ku = profiles::KeyUsageForKey(profile, ec);
    if (ku == 0) {
      *error = "profile '" + profile.name + "' leaves " + (ec ? "an EC" : "an RSA") +
               " key no key usage (" +
               (ec ? "EC keys cannot do keyEncipherment or dataEncipherment; ask for "
                     "keyAgreement (RFC 8813 3)"
                   : "RSA keys cannot do keyAgreement (RFC 3279 2.3.1)") +
               ")";
      return Status::Ok();
    }
    der::Writer head;
    {
      // RFC 5280 4.2.1.9: CAs MUST mark basicConstraints critical.
      der::Writer v;
      size_t s = v.Begin(der::kSequence);
      if (profile.is_ca) {
        v.Boolean(true);
        if (profile.path_len) v.SmallInteger(static_cast<uint64_t>(*profile.path_len));
      }
      v.End(s);
      AddExtension(head, oid::kBasicConstraints, true, v.bytes());
    }
    // RFC 5280 4.2.1.3: "conforming CAs SHOULD mark this extension as critical".
    AddExtension(head, oid::kKeyUsage, true, KeyUsageValue(ku));
    if (!profile.extended_key_usage.empty()) {
      der::Writer v;
      size_t s = v.Begin(der::kSequence);
      for (const auto& oid : profile.extended_key_usage) {
        CP_ASSIGN_OR_RETURN(Bytes o, OidDer(oid));
        v.OidContent(o);
      }
      v.End(s);
      AddExtension(head, oid::kExtKeyUsage, false, v.bytes());
    }
    *out = head.Take();
    return Status::Ok();
  };
  CP_RETURN_IF_ERROR(head_for(true, &is.exts_head_ec_, &is.head_error_ec_));
  CP_RETURN_IF_ERROR(head_for(false, &is.exts_head_rsa_, &is.head_error_rsa_));
  if (is.exts_head_ec_.empty() && is.exts_head_rsa_.empty()) {
    return InvalidInput("profile '" + profile.name + "' leaves no key type a key usage");
  }

  der::Writer tail;
  {
    der::Writer v;
    size_t s = v.Begin(der::kSequence);
    v.Primitive(der::ContextPrimitive(0), is.ca_key_id_);
    v.End(s);
    AddExtension(tail, oid::kAuthorityKeyId, false, v.bytes());
  }
  if (!profile.policies.empty()) {
    der::Writer v;
    size_t s = v.Begin(der::kSequence);
    for (const auto& oid : profile.policies) {
      CP_ASSIGN_OR_RETURN(Bytes o, OidDer(oid));
      size_t pi = v.Begin(der::kSequence);
      v.OidContent(o);
      v.End(pi);
    }
    v.End(s);
    AddExtension(tail, oid::kCertPolicies, false, v.bytes());
  }
  if (!profile.crl_urls.empty()) {
    der::Writer v;
    size_t s = v.Begin(der::kSequence);
    for (const auto& url : profile.crl_urls) {
      size_t dp = v.Begin(der::kSequence);
      size_t dpn = v.Begin(der::ContextConstructed(0));   // distributionPoint
      size_t full = v.Begin(der::ContextConstructed(0));  // fullName
      v.Primitive(der::ContextPrimitive(6), AsBytes(url));
      v.End(full);
      v.End(dpn);
      v.End(dp);
    }
    v.End(s);
    AddExtension(tail, oid::kCrlDp, false, v.bytes());
  }
  if (!profile.ocsp_urls.empty() || !profile.ca_issuers_urls.empty()) {
    der::Writer v;
    size_t s = v.Begin(der::kSequence);
    auto add = [&v](ByteSpan method, const std::string& url) {
      size_t ad = v.Begin(der::kSequence);
      v.OidContent(method);
      v.Primitive(der::ContextPrimitive(6), AsBytes(url));
      v.End(ad);
    };
    for (const auto& url : profile.ocsp_urls) add(oid::kOcsp, url);
    for (const auto& url : profile.ca_issuers_urls) add(oid::kCaIssuers, url);
    v.End(s);
    AddExtension(tail, oid::kAia, false, v.bytes());
  }
  is.exts_tail_ = tail.Take();
  is.ca_ = std::move(ca);
  return is;
}

Result<PreparedCert> Issuer::Prepare(const TbsInput& in) const {
  CP_ASSIGN_OR_RETURN(Serial serial, RandomSerial());
  return PrepareWithSerial(in, serial);
}

Result<PreparedCert> Issuer::PrepareWithSerial(const TbsInput& in, const Serial& serial) const {
  PreparedCert out;
  out.serial = serial;
  time_t now = in.now != 0 ? in.now : time(nullptr);
  out.not_before = now - profile_.backdate_seconds;
  out.not_after = out.not_before + static_cast<time_t>(profile_.validity_days) * 86400;
  // RFC 5280 6.1.3 (a)(2): a certificate is only usable while its issuer is; one that starts
  // before or ends after its issuer promises what the path cannot keep.
  if (ca_.not_before != 0 && out.not_before < ca_.not_before) out.not_before = ca_.not_before;
  if (ca_.not_after != 0 && out.not_after > ca_.not_after) out.not_after = ca_.not_after;
  if (out.not_after <= out.not_before) {
    return InvalidInput("the issuing CA expires before the certificate would start");
  }
  bool empty_subject = in.subject_der.size() <= 2;
  for (const auto& san : in.sans) {
    if (!profile_.AllowsSan(san.type)) {
      return InvalidInput("profile '" + profile_.name + "' does not allow " +
                          std::string(profiles::SanTypeName(san.type)) + " names");
    }
  }
  CP_ASSIGN_OR_RETURN(Bytes ski, SubjectKeyId(in.spki));
  CP_ASSIGN_OR_RETURN(bool ec, IsEcSpki(in.spki));
  const Bytes& head = ec ? exts_head_ec_ : exts_head_rsa_;
  if (head.empty()) return InvalidInput(ec ? head_error_ec_ : head_error_rsa_);

  der::Writer w;
  size_t tbs = w.Begin(der::kSequence);
  static constexpr uint8_t kV3[] = {0xa0, 0x03, 0x02, 0x01, 0x02};
  w.Raw(kV3);
  w.Integer(serial.span());
  w.Raw(sig_alg_);
  w.Raw(ca_.subject_der);
  size_t validity = w.Begin(der::kSequence);
  w.Time(out.not_before);
  w.Time(out.not_after);
  w.End(validity);
  w.Raw(in.subject_der);
  w.Raw(in.spki);
  size_t exts_outer = w.Begin(der::ContextConstructed(3));
  size_t exts = w.Begin(der::kSequence);
  w.Raw(head);
  {
    der::Writer v;
    v.Primitive(der::kOctetString, ski);
    AddExtension(w, oid::kSubjectKeyId, false, v.bytes());
  }
  w.Raw(exts_tail_);
  if (!in.sans.empty()) {
    CP_ASSIGN_OR_RETURN(Bytes sans, EncodeSans(in.sans));
    // RFC 5280 4.2.1.6: with an empty subject the SAN extension MUST be critical.
    AddExtension(w, oid::kSubjectAltName, empty_subject, sans);
  }
  w.End(exts);
  w.End(exts_outer);
  w.End(tbs);
  out.tbs = w.Take();

  LintOptions lint;
  lint.expected_sig_alg = sig_alg_;
  lint.issuer_ski = ca_key_id_;
  lint.max_validity_days = profile_.validity_days;
  lint.issuer_not_before = ca_.not_before;
  lint.issuer_not_after = ca_.not_after;
  lint.allow_internal_names = profile_.allow_internal_names;
  Status st = LintTbs(out.tbs, lint);
  if (!st.ok()) return st.Wrap("lint");
  SHA256(out.tbs.data(), out.tbs.size(), out.tbs_sha256.data());
  return out;
}

namespace {

// Sha256Of hashes |data| with SHA-256.
std::array<uint8_t, 32> Sha256Of(ByteSpan data) {
  std::array<uint8_t, 32> out;
  SHA256(data.data(), data.size(), out.data());
  return out;
}

// SignedTbs returns the TBSCertificate element of a DER Certificate (RFC 5280 4.1.1.1).
Result<ByteSpan> SignedTbs(ByteSpan cert) {
  der::Reader r(cert);
  ByteSpan body, tbs_el;
  if (!r.Read(der::kSequence, &body)) return Internal("assembled certificate does not parse");
  der::Reader b(body);
  if (!b.Read(der::kSequence, nullptr, &tbs_el)) {
    return Internal("assembled certificate has no TBSCertificate");
  }
  return tbs_el;
}

}  // namespace

Result<Bytes> Issuer::Sign(const PreparedCert& cert, const RecordedIntent& recorded) const {
  // Nothing is signed that differs from what was recorded: the serial, and the TBS hashed
  // afresh (not PreparedCert::tbs_sha256, which travels with the bytes it describes).
  if (cert.serial.len != recorded.serial().len ||
      std::memcmp(cert.serial.bytes, recorded.serial().bytes, cert.serial.len) != 0) {
    return Internal("serial " + cert.serial.Hex() + " is not the recorded serial " +
                    recorded.serial().Hex());
  }
  if (Sha256Of(cert.tbs) != recorded.tbs_sha256()) {
    return Internal("the TBSCertificate of serial " + cert.serial.Hex() +
                    " differs from the one recorded before signing; not signed");
  }
  // SHA-256 serves every CA but P-384 (RFC 5758 3.2, RFC 4055 5), for the token's signature
  // and for checking it.
  const EVP_MD* md = SignatureDigest(ca_.key_type);
  const bool sha256 = EVP_MD_get_type(md) == NID_sha256;
  auto digest_of = [&](ByteSpan tbs, uint8_t* buf) -> Result<ByteSpan> {
    unsigned int len = 0;
    if (!EVP_Digest(tbs.data(), tbs.size(), buf, &len, md, nullptr)) {
      return OsslError("hashing the TBSCertificate");
    }
    return ByteSpan(buf, len);
  };
  uint8_t sign_buf[EVP_MAX_MD_SIZE];
  ByteSpan digest = recorded.tbs_sha256();
  if (!sha256) {
    CP_ASSIGN_OR_RETURN(digest, digest_of(cert.tbs, sign_buf));
  }
  CP_ASSIGN_OR_RETURN(Bytes sig, ca_.token->SignDigest(ca_.key_label, ca_.key_type, digest));
  der::Writer w;
  size_t c = w.Begin(der::kSequence);
  w.Raw(cert.tbs);
  w.Raw(sig_alg_);
  w.BitString(sig);
  w.End(c);
  Bytes out = w.Take();

  // What the certificate carries is checked, not what was meant to go in: its TBS is read
  // back from the assembled DER and hashed, and must be the recorded one.
  CP_ASSIGN_OR_RETURN(ByteSpan signed_tbs, SignedTbs(out));
  const std::array<uint8_t, 32> signed_sha256 = Sha256Of(signed_tbs);
  if (signed_sha256 != recorded.tbs_sha256()) {
    return Internal("the signed TBSCertificate of serial " + cert.serial.Hex() +
                    " differs from the recorded one");
  }
  // Verify with the CA's public key over that TBS: a token that returns garbage (or a wrong
  // key under the label) must not produce a certificate.
  uint8_t check_buf[EVP_MAX_MD_SIZE];
  ByteSpan check = signed_sha256;
  if (!sha256) {
    CP_ASSIGN_OR_RETURN(check, digest_of(signed_tbs, check_buf));
  }
  bool verified = false;
  if (ca_ec_) {
    verified = ca_ec_->VerifyDigest(check, sig);
  } else {
    UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, ca_pub_.get(), nullptr));
    verified = ctx && EVP_PKEY_verify_init(ctx.get()) == 1 &&
               EVP_PKEY_CTX_set_signature_md(ctx.get(), md) == 1 &&
               EVP_PKEY_verify(ctx.get(), sig.data(), sig.size(), check.data(), check.size()) == 1;
  }
  if (!verified) {
    return OsslError("the token's signature does not verify with the CA public key",
                     ErrorKind::kHsm);
  }
  return out;
}

Result<Bytes> BuildCsr(CryptoToken& token, std::string_view label, KeyType type,
                       ByteSpan subject_der, ByteSpan spki) {
  der::Writer info;
  size_t s = info.Begin(der::kSequence);
  info.SmallInteger(0);  // RFC 2986 4.1: version 0
  info.Raw(subject_der);
  info.Raw(spki);
  info.Primitive(der::ContextConstructed(0), {});  // attributes: empty SET
  info.End(s);
  CP_ASSIGN_OR_RETURN(Bytes sig, SignData(token, label, type, info.bytes()));
  der::Writer w;
  size_t req = w.Begin(der::kSequence);
  w.Raw(info.bytes());
  w.Raw(SignatureAlgorithmDer(type));
  w.BitString(sig);
  w.End(req);
  return w.Take();
}

}  // namespace certpress
