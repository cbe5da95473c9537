#include "signer/csr.h"

#include <arpa/inet.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>

#include "signer/der.h"
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

Result<KeyType> CheckKeyPolicy(EVP_PKEY* key, const std::vector<std::string>& allowed) {
  CP_ASSIGN_OR_RETURN(KeyType type, KeyTypeOf(key));
  if (!allowed.empty() &&
      std::find(allowed.begin(), allowed.end(), KeyTypeName(type)) == allowed.end()) {
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    return InvalidInput("key type " + std::string(KeyTypeName(type)) +
                        " is not allowed by the profile (allowed: " + list + ")");
  }
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

// EcKeyFromSpki imports an EC SubjectPublicKeyInfo through the key manager (EVP_PKEY_fromdata)
// rather than d2i_PUBKEY: OpenSSL 3.0 decodes keys through OSSL_DECODER, whose per-call
// lookup under a global lock cost more than the signature check itself. Returns null (no
// error) for anything that is not a named-curve P-256/P-384 key, which then takes the
// library path.
Result<UniquePtr<EVP_PKEY>> EcKeyFromSpki(ByteSpan spki) {
  der::Reader outer(spki);
  ByteSpan body, alg, bits;
  if (!outer.Read(der::kSequence, &body) || !outer.empty()) return UniquePtr<EVP_PKEY>();
  der::Reader b(body);
  if (!b.Read(der::kSequence, &alg) || !b.Read(der::kBitString, &bits) || !b.empty()) {
    return UniquePtr<EVP_PKEY>();
  }
  der::Reader a(alg);
  ByteSpan oid, curve;
  if (!a.Read(der::kOid, &oid) || der::OidToString(oid) != "1.2.840.10045.2.1" ||
      !a.Read(der::kOid, &curve) || !a.empty() || bits.empty() || bits[0] != 0) {
    return UniquePtr<EVP_PKEY>();
  }
  const std::string c = der::OidToString(curve);
  const char* group = c == "1.2.840.10045.3.1.7" ? "P-256"
                      : c == "1.3.132.0.34"      ? "P-384"
                                                 : nullptr;
  if (group == nullptr) return UniquePtr<EVP_PKEY>();
  ByteSpan point = bits.subspan(1);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(group), 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<uint8_t*>(point.data()),
                                        point.size()),
      OSSL_PARAM_construct_end()};
  thread_local UniquePtr<EVP_PKEY_CTX> ctx;
  if (!ctx) {
    ctx.reset(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) {
      ctx.reset();
      return OsslError("preparing EC key import");
    }
  }
  EVP_PKEY* key = nullptr;
  // Importing decodes the point and refuses one that is not on the curve.
  if (EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params) != 1 || key == nullptr) {
    return OsslError("the request's public key is not a valid point on " + std::string(group),
                     ErrorKind::kInvalidInput);
  }
  return UniquePtr<EVP_PKEY>(key);
}

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
  if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) {
    OpenSslErrors();
    return InvalidInput("not a PKCS#10 request (PEM or DER)");
  }
  const std::string label = name;
  Bytes der(data, data + len);
  OPENSSL_free(name);
  OPENSSL_free(header);
  OPENSSL_free(data);
  if (label != "CERTIFICATE REQUEST" && label != "NEW CERTIFICATE REQUEST") {
    return InvalidInput("not a PKCS#10 request (PEM label '" + label + "')");
  }
  return der;
}

}  // namespace

Result<ParsedCsr> ParseCsr(ByteSpan in, const std::vector<std::string>& allowed) {
  // CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm,
  // signature BIT STRING } (RFC 2986 4), read with our DER reader.
  CP_ASSIGN_OR_RETURN(Bytes der, RequestDer(in));
  const Status malformed = InvalidInput("not a PKCS#10 request (PEM or DER)");
  der::Reader top(der);
  ByteSpan req, cri_body, cri, sig_alg, sig_bits;
  if (!top.Read(der::kSequence, &req) || !top.empty()) return malformed;
  der::Reader r(req);
  if (!r.Read(der::kSequence, &cri_body, &cri) || !r.Read(der::kSequence, &sig_alg) ||
      !r.Read(der::kBitString, &sig_bits) || !r.empty() || sig_bits.empty() || sig_bits[0] != 0) {
    return malformed;
  }
  der::Reader info(cri_body);
  ByteSpan version, subject, subject_el, spki_body, spki, attributes;
  if (!info.Read(der::kInteger, &version) || version.size() != 1 || version[0] != 0 ||
      !info.Read(der::kSequence, &subject, &subject_el) ||
      !info.Read(der::kSequence, &spki_body, &spki) ||
      !info.Read(der::ContextConstructed(0), &attributes) || !info.empty()) {
    return malformed;
  }
  ParsedCsr out;
  CP_ASSIGN_OR_RETURN(UniquePtr<EVP_PKEY> key, EcKeyFromSpki(spki));
  if (!key) {
    auto k = ParseSpki(spki);
    if (!k.ok()) {
      return InvalidInput(
          "the request's public key cannot be read (malformed, or an EC point off the curve)");
    }
    key = std::move(k).value();
  }
  CP_ASSIGN_OR_RETURN(out.key_type, CheckKeyPolicy(key.get(), allowed));
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
  UniquePtr<EVP_MD_CTX> md(EVP_MD_CTX_new());
  if (!md || EVP_DigestVerifyInit(md.get(), nullptr, sa->md(), nullptr, key.get()) != 1 ||
      EVP_DigestVerify(md.get(), sig_bits.data() + 1, sig_bits.size() - 1, cri.data(),
                       cri.size()) != 1) {
    OpenSslErrors();
    return InvalidInput(
        "the request's signature does not verify with its own key (no proof of possession)");
  }
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
    if (len >= 0) out.common_name.assign(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
    OPENSSL_free(utf8);
  }
  CP_ASSIGN_OR_RETURN(auto exts, ExtensionRequests(attributes));
  Status st;
  for (size_t i = 0; i < exts.size() && st.ok(); ++i) {
    X509_EXTENSION* ext = exts[i].get();
    const ASN1_OBJECT* obj = X509_EXTENSION_get_object(ext);
    if (OBJ_obj2nid(obj) == NID_subject_alt_name) {
      GENERAL_NAMES* names = static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext));
      if (names == nullptr) {
        st = InvalidInput("the requested subjectAltName is malformed");
      } else {
        st = ReadSans(names, &out.sans);
        GENERAL_NAMES_free(names);
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
