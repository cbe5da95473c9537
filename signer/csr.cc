// csr.cc: PKCS#10 requests read with our DER reader; the key policy and proof of possession
// are checked before anything else is taken from them (see csr.h).
#include "signer/csr.h"

#include <arpa/inet.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>

#include "common/ossl.h"
#include "signer/der.h"
#include "signer/ec_verify.h"
#include "signer/name.h"

namespace certpress {

namespace {

Status ReadSans(const GENERAL_NAMES* names, std::vector<SubjectAltName>* out) {
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    auto str = [](const ASN1_STRING* s) {
      return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                         static_cast<size_t>(ASN1_STRING_length(s)));
    };
    switch (gn->type) {
      case GEN_DNS:
        out->push_back({profiles::SanType::kDns, str(gn->d.dNSName)});
        break;
      case GEN_EMAIL:
        out->push_back({profiles::SanType::kEmail, str(gn->d.rfc822Name)});
        break;
      case GEN_URI:
        out->push_back({profiles::SanType::kUri, str(gn->d.uniformResourceIdentifier)});
        break;
      case GEN_IPADD: {
        std::string raw = str(gn->d.iPAddress);
        char buf[INET6_ADDRSTRLEN] = {};
        int af = raw.size() == 4 ? AF_INET : raw.size() == 16 ? AF_INET6 : -1;
        if (af < 0 || inet_ntop(af, raw.data(), buf, sizeof buf) == nullptr) {
          return InvalidInput("subjectAltName has a malformed IP address");
        }
        out->push_back({profiles::SanType::kIp, buf});
        break;
      }
      default:
        return InvalidInput("subjectAltName of type " + std::to_string(gn->type) +
                            " is not supported in requests");
    }
  }
  return Status::Ok();
}

}  // namespace

namespace {

Status CheckAllowed(KeyType type, const std::vector<std::string>& allowed) {
  if (!allowed.empty() &&
      std::find(allowed.begin(), allowed.end(), KeyTypeName(type)) == allowed.end()) {
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    return InvalidInput("key type " + std::string(KeyTypeName(type)) +
                        " is not allowed by the profile (allowed: " + list + ")");
  }
  return Status::Ok();
}

}  // namespace

Result<KeyType> CheckKeyPolicy(EVP_PKEY* key, const std::vector<std::string>& allowed) {
  CP_ASSIGN_OR_RETURN(KeyType type, KeyTypeOf(key));
  CP_RETURN_IF_ERROR(CheckAllowed(type, allowed));
  if (!IsEc(type)) {
    BIGNUM* e = nullptr;
    if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e)) {
      return OsslError("reading the RSA exponent", ErrorKind::kInvalidInput);
    }
    UniquePtr<BIGNUM> owned(e);
    if (!BN_is_odd(e) || BN_num_bits(e) > 256 || BN_get_word(e) < 65537) {
      return InvalidInput("RSA public exponent must be odd, at least 65537 and below 2^256");
    }
  }
  // For EC the quick check is SP 800-56A rev3 5.6.2.3.4 partial validation (on the curve, not
  // the point at infinity); on P-256 and P-384, whose cofactor is 1, that already puts the point
  // in the prime-order group, so the full check's extra scalar multiplication (n*Q = O) would
  // cost as much as a signature verification and prove nothing more. For RSA both run OpenSSL's
  // sanity checks (odd modulus, exponent range).
  UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx || (IsEc(type) ? EVP_PKEY_public_check_quick(ctx.get())
                          : EVP_PKEY_public_check(ctx.get())) != 1) {
    return OsslError("public key fails validation (e.g. an EC point off the curve)",
                     ErrorKind::kInvalidInput);
  }
  return type;
}

namespace {

// The signature algorithms a request may use, by AlgorithmIdentifier OID (RFC 5758 3.2,
// RFC 4055 5), with the digest and whether the key must be EC.
struct SigAlg {
  const char* oid;
  const EVP_MD* (*md)();
  bool ec;
};
constexpr SigAlg kSigAlgs[] = {
    {"1.2.840.10045.4.3.2", EVP_sha256, true},    {"1.2.840.10045.4.3.3", EVP_sha384, true},
    {"1.2.840.10045.4.3.4", EVP_sha512, true},    {"1.2.840.113549.1.1.11", EVP_sha256, false},
    {"1.2.840.113549.1.1.12", EVP_sha384, false}, {"1.2.840.113549.1.1.13", EVP_sha512, false},
};

// ExtensionRequests returns the Extensions of an extensionRequest attribute (RFC 2985 5.4.2)
// in |attributes| (the content of the CertificationRequestInfo's [0]). Other attributes are
// ignored, as OpenSSL does.
Result<std::vector<UniquePtr<X509_EXTENSION>>> ExtensionRequests(ByteSpan attributes) {
  std::vector<UniquePtr<X509_EXTENSION>> out;
  der::Reader attrs(attributes);
  while (!attrs.empty()) {
    ByteSpan attr, oid, values;
    if (!attrs.Read(der::kSequence, &attr)) return InvalidInput("malformed request attribute");
    der::Reader a(attr);
    if (!a.Read(der::kOid, &oid) || !a.Read(0x31, &values) || !a.empty()) {
      return InvalidInput("malformed request attribute");
    }
    if (der::OidToString(oid) != "1.2.840.113549.1.9.14") continue;
    der::Reader v(values);
    ByteSpan exts;
    if (!v.Read(der::kSequence, &exts) || !v.empty()) {
      return InvalidInput("malformed extensionRequest attribute");
    }
    der::Reader e(exts);
    while (!e.empty()) {
      ByteSpan content, element;
      if (!e.Read(der::kSequence, &content, &element)) {
        return InvalidInput("malformed requested extension");
      }
      const unsigned char* p = element.data();
      X509_EXTENSION* x = d2i_X509_EXTENSION(nullptr, &p, static_cast<long>(element.size()));
      if (x == nullptr) return InvalidInput("malformed requested extension");
      out.emplace_back(x);
    }
  }
  return out;
}

Result<Bytes> RequestDer(ByteSpan in) {
  std::string_view text = AsString(in);
  if (text.find("-----BEGIN") == std::string_view::npos) return Bytes(in.begin(), in.end());
  UniquePtr<BIO> bio(BIO_new_mem_buf(in.data(), static_cast<int>(in.size())));
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long len = 0;
  // PEM_read_bio only un-base64s; the request itself is parsed below.
  const int read = PEM_read_bio(bio.get(), &name, &header, &data, &len);
  UniquePtr<char> owned_name(name);
  UniquePtr<char> owned_header(header);
  UniquePtr<unsigned char> owned_data(data);
  if (read != 1) {
    OpenSslErrors();
    return InvalidInput("not a PKCS#10 request (PEM or DER)");
  }
  const std::string label = name;
  Bytes der(data, data + len);
  if (label != "CERTIFICATE REQUEST" && label != "NEW CERTIFICATE REQUEST") {
    return InvalidInput("not a PKCS#10 request (PEM label '" + label + "')");
  }
  return der;
}

}  // namespace

namespace {

// The parts of a request that has passed VerifyRequest.
struct VerifiedRequest {
  ByteSpan spki;        // the SubjectPublicKeyInfo element
  ByteSpan subject_el;  // the subject Name element
  ByteSpan attributes;  // the content of the attributes [0]
  KeyType key_type = KeyType::kEcP256;
};

// VerifyRequest reads CertificationRequest ::= SEQUENCE { certificationRequestInfo,
// signatureAlgorithm, signature BIT STRING } (RFC 2986 4) with our DER reader, applies the key
// policy and checks the proof of possession. The spans point into |der|.
Result<VerifiedRequest> VerifyRequest(ByteSpan der, const std::vector<std::string>& allowed) {
  const Status malformed = InvalidInput("not a PKCS#10 request (PEM or DER)");
  der::Reader top(der);
  ByteSpan req, cri_body, cri, sig_alg, sig_bits;
  if (!top.Read(der::kSequence, &req) || !top.empty()) return malformed;
  der::Reader r(req);
  if (!r.Read(der::kSequence, &cri_body, &cri) || !r.Read(der::kSequence, &sig_alg) ||
      !r.Read(der::kBitString, &sig_bits) || !r.empty() || sig_bits.empty() || sig_bits[0] != 0) {
    return malformed;
  }
  VerifiedRequest out;
  der::Reader info(cri_body);
  ByteSpan version, subject, spki_body;
  if (!info.Read(der::kInteger, &version) || version.size() != 1 || version[0] != 0 ||
      !info.Read(der::kSequence, &subject, &out.subject_el) ||
      !info.Read(der::kSequence, &spki_body, &out.spki) ||
      !info.Read(der::ContextConstructed(0), &out.attributes) || !info.empty()) {
    return malformed;
  }
  // Explicit curve parameters and compressed points are refused before anything reads the
  // key (OpenSSL would accept both and match explicit P-256 parameters to the named curve).
  Status form = CheckSpkiForm(out.spki);
  if (!form.ok()) return InvalidInput("the request's " + form.message());
  // P-256 and P-384 keys take the shared-group path (ec_verify.h); others OpenSSL's.
  std::unique_ptr<internal::EcPublicKey> ec;
  UniquePtr<EVP_PKEY> key;
  auto fast = internal::EcPublicKey::FromSpki(out.spki);
  if (!fast.ok()) {
    return InvalidInput("the request's " + fast.status().message());
  }
  ec = std::move(fast).value();
  if (ec) {
    out.key_type = ec->key_type();
    CP_RETURN_IF_ERROR(CheckAllowed(out.key_type, allowed));
  } else {
    auto k = ParseSpki(out.spki);
    if (!k.ok()) {
      return InvalidInput(
          "the request's public key cannot be read (malformed, or an EC point off the curve)");
    }
    key = std::move(k).value();
    CP_ASSIGN_OR_RETURN(out.key_type, CheckKeyPolicy(key.get(), allowed));
  }
  // Proof of possession: the request is signed by the private half of the enclosed key, with
  // a signature algorithm that fits that key (RFC 2986 3).
  der::Reader alg(sig_alg);
  ByteSpan alg_oid;
  if (!alg.Read(der::kOid, &alg_oid)) return malformed;
  const std::string alg_name = der::OidToString(alg_oid);
  const SigAlg* sa = nullptr;
  for (const auto& s : kSigAlgs) {
    if (alg_name == s.oid) sa = &s;
  }
  if (sa == nullptr || sa->ec != IsEc(out.key_type)) {
    return InvalidInput("the request's signature algorithm " + alg_name +
                        " is not allowed for its " + std::string(KeyTypeName(out.key_type)) +
                        " key");
  }
  const ByteSpan sig = sig_bits.subspan(1);
  bool verified = false;
  if (ec) {
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    verified = EVP_Digest(cri.data(), cri.size(), digest, &len, sa->md(), nullptr) == 1 &&
               ec->VerifyDigest(ByteSpan(digest, len), sig);
  } else {
    UniquePtr<EVP_MD_CTX> md(EVP_MD_CTX_new());
    verified = md && EVP_DigestVerifyInit(md.get(), nullptr, sa->md(), nullptr, key.get()) == 1 &&
               EVP_DigestVerify(md.get(), sig.data(), sig.size(), cri.data(), cri.size()) == 1;
  }
  if (!verified) {
    OpenSslErrors();
    return InvalidInput(
        "the request's signature does not verify with its own key (no proof of possession)");
  }
  return out;
}

}  // namespace

Result<CheckedCsr> CheckCsr(ByteSpan der, const std::vector<std::string>& allowed) {
  CP_ASSIGN_OR_RETURN(VerifiedRequest v, VerifyRequest(der, allowed));
  return CheckedCsr{Bytes(v.spki.begin(), v.spki.end()), v.key_type};
}

Result<ParsedCsr> ParseCsr(ByteSpan in, const std::vector<std::string>& allowed) {
  CP_ASSIGN_OR_RETURN(Bytes der, RequestDer(in));
  CP_ASSIGN_OR_RETURN(VerifiedRequest v, VerifyRequest(der, allowed));
  const Status malformed = InvalidInput("not a PKCS#10 request (PEM or DER)");
  // Our reader decodes only what we use and skips other attributes' values; the request kept
  // must still be one OpenSSL reads whole (csr_fuzz found an attribute value that was not DER).
  const unsigned char* rp = der.data();
  UniquePtr<X509_REQ> whole(d2i_X509_REQ(nullptr, &rp, static_cast<long>(der.size())));
  if (!whole || rp != der.data() + der.size()) {
    OpenSslErrors();
    return malformed;
  }
  const ByteSpan spki = v.spki, subject_el = v.subject_el, attributes = v.attributes;
  ParsedCsr out;
  out.key_type = v.key_type;
  out.spki.assign(spki.begin(), spki.end());
  out.subject_der.assign(subject_el.begin(), subject_el.end());
  out.subject = FormatNameDer(out.subject_der);
  const unsigned char* np = subject_el.data();
  UniquePtr<X509_NAME> name(d2i_X509_NAME(nullptr, &np, static_cast<long>(subject_el.size())));
  if (!name) return malformed;
  int idx = X509_NAME_get_index_by_NID(name.get(), NID_commonName, -1);
  if (idx >= 0) {
    ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name.get(), idx));
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, cn);
    UniquePtr<unsigned char> owned_utf8(utf8);
    if (len >= 0) out.common_name.assign(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  }
  CP_ASSIGN_OR_RETURN(auto exts, ExtensionRequests(attributes));
  Status st;
  for (size_t i = 0; i < exts.size() && st.ok(); ++i) {
    X509_EXTENSION* ext = exts[i].get();
    const ASN1_OBJECT* obj = X509_EXTENSION_get_object(ext);
    if (OBJ_obj2nid(obj) == NID_subject_alt_name) {
      UniquePtr<GENERAL_NAMES> names(static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext)));
      if (!names) {
        st = InvalidInput("the requested subjectAltName is malformed");
      } else {
        st = ReadSans(names.get(), &out.sans);
      }
    } else {
      char buf[128];
      OBJ_obj2txt(buf, sizeof buf, obj, 0);
      out.other_extensions.push_back(buf);
    }
  }
  OpenSslErrors();
  if (!st.ok()) return st;
  out.der = std::move(der);
  return out;
}

}  // namespace certpress
