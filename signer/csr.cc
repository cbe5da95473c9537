#include "signer/csr.h"

#include <arpa/inet.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>

#include "signer/name.h"

namespace certpress {

namespace {

UniquePtr<X509_REQ> ReadReq(ByteSpan in) {
  std::string_view text = AsString(in);
  if (text.find("-----BEGIN") != std::string_view::npos) {
    UniquePtr<BIO> bio(BIO_new_mem_buf(in.data(), static_cast<int>(in.size())));
    return UniquePtr<X509_REQ>(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  }
  const unsigned char* p = in.data();
  UniquePtr<X509_REQ> req(d2i_X509_REQ(nullptr, &p, static_cast<long>(in.size())));
  if (req && p != in.data() + in.size()) req.reset();
  return req;
}

template <class T, class F>
Bytes ToDer(T* obj, F i2d) {
  int len = i2d(obj, nullptr);
  if (len <= 0) return {};
  Bytes out(static_cast<size_t>(len));
  unsigned char* p = out.data();
  i2d(obj, &p);
  return out;
}

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

Result<ParsedCsr> ParseCsr(ByteSpan in, const std::vector<std::string>& allowed) {
  UniquePtr<X509_REQ> req = ReadReq(in);
  if (!req) return OsslError("not a PKCS#10 request (PEM or DER)", ErrorKind::kInvalidInput);
  ParsedCsr out;
  // Reading the key can already fail for a point that is off its curve.
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (key == nullptr) {
    return OsslError(
        "the request's public key cannot be read (malformed, or an EC point off "
        "the curve)",
        ErrorKind::kInvalidInput);
  }
  CP_ASSIGN_OR_RETURN(out.key_type, CheckKeyPolicy(key, allowed));
  // Proof of possession: the request is signed by the private half of the enclosed key.
  if (X509_REQ_verify(req.get(), key) != 1) {
    return OsslError(
        "the request's signature does not verify with its own key (no proof of "
        "possession)",
        ErrorKind::kInvalidInput);
  }
  out.der = ToDer(req.get(), i2d_X509_REQ);
  out.spki = ToDer(X509_REQ_get_X509_PUBKEY(req.get()), i2d_X509_PUBKEY);
  out.subject_der = ToDer(X509_REQ_get_subject_name(req.get()), i2d_X509_NAME);
  out.subject = FormatNameDer(out.subject_der);
  int idx = X509_NAME_get_index_by_NID(X509_REQ_get_subject_name(req.get()), NID_commonName, -1);
  if (idx >= 0) {
    ASN1_STRING* cn =
        X509_NAME_ENTRY_get_data(X509_NAME_get_entry(X509_REQ_get_subject_name(req.get()), idx));
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, cn);
    if (len >= 0) out.common_name.assign(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
    OPENSSL_free(utf8);
  }
  UniquePtr<STACK_OF(X509_EXTENSION)> exts(X509_REQ_get_extensions(req.get()));
  Status st;
  for (int i = 0; exts && i < sk_X509_EXTENSION_num(exts.get()) && st.ok(); ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts.get(), i);
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
  return out;
}

}  // namespace certpress
